//! What the tests against the real broker and database share: a private namespace (topic
//! prefix, consumer groups, ClickHouse database) per test, producing, running the services as
//! `gigstream run` processes, waiting until they have caught up, and `gigstream verify`.
//!
//! They need both Kafka and ClickHouse (`GIGSTREAM_KAFKA_BROKERS`, `GIGSTREAM_CLICKHOUSE_URL`;
//! the CI script starts Apache Kafka and ClickHouse); the harness (`main.rs`) skips them
//! otherwise.

use gigstream_avro::{Codec, Registry};
use gigstream_cli::produce_cmd::{self, ProduceArgs, ProduceReport};
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink, Connection};
use gigstream_core::{RefData, Topic};
use gigstream_gen::GenConfig;
use gigstream_kafka::KafkaConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A test's own topics, groups and database on the shared broker and server.
pub struct Backends {
    pub kafka: KafkaConfig,
    pub clickhouse: ClickHouseConfig,
    pub dir: tempfile::TempDir,
    pub seed: u64,
    pub rng: ChaCha8Rng,
    /// The Kafka session timeout of the processes started (10 s: a loaded 2-core machine still
    /// answers heartbeats in time; a test of kills may shorten it).
    pub session_timeout_ms: u64,
    /// Held for the test's life: the tests against the one broker run one at a time (several
    /// at once on a 2-core machine make each other's Kafka sessions time out).
    _serial: std::sync::MutexGuard<'static, ()>,
    /// Commands run so far (names their output files).
    runs: std::sync::atomic::AtomicUsize,
    /// More variables for every process started (e.g. Kafka security settings).
    pub extra_env: Vec<(String, String)>,
    /// The services started (process ids): the ones still running when the test ends (it
    /// failed) are killed, so that they do not load the broker under the next tests.
    spawned: std::sync::Mutex<Vec<u32>>,
}

fn nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos()
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The backends of test `name` with a fresh namespace. The seed of the test's random choices is
/// `GIGSTREAM_TEST_SEED` when set, else the clock's; it is printed, and every failure message
/// of these tests repeats it.
pub fn backends(name: &str) -> Backends {
    let kafka = gigstream_testkit::services::kafka();
    let mut clickhouse = gigstream_testkit::services::clickhouse();
    let seed = gigstream_testkit::services::var("SEED")
        .and_then(|s| s.parse().ok())
        .unwrap_or((nanos() % 1_000_000_007) as u64);
    println!("{name}: seed {seed} (rerun with GIGSTREAM_TEST_SEED={seed})");
    let ns = format!("{name}_{}_{}", std::process::id(), nanos() % 1_000_000_000);
    let kafka = kafka.with_topic_prefix(format!("{ns}."));
    clickhouse.database = format!("gs_{ns}");
    clickhouse.request_timeout = Duration::from_secs(60);
    let dir = tempfile::tempdir().expect("temp dir");
    Backends {
        kafka,
        clickhouse,
        dir,
        seed,
        rng: ChaCha8Rng::seed_from_u64(seed),
        session_timeout_ms: 10_000,
        _serial: SERIAL.lock().unwrap_or_else(|p| p.into_inner()),
        runs: Default::default(),
        spawned: Default::default(),
        extra_env: Vec::new(),
    }
}

impl Backends {
    /// A random duration in `[lo, hi)` milliseconds from the test's seeded generator.
    pub fn pause(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(self.rng.random_range(lo..hi))
    }

    /// Failure context: the seed to rerun with.
    pub fn ctx(&self) -> String {
        format!("(seed {0}; rerun with GIGSTREAM_TEST_SEED={0})", self.seed)
    }

    /// Produces a generated stream (see `gigstream produce`) into the test's topics, four
    /// partitions each, at `rate` events/s or as fast as possible.
    pub fn produce(&self, gen: &GenConfig, rate: Option<f64>) -> ProduceReport {
        produce_to(&self.kafka, gen, rate)
    }

    /// The settings a `gigstream` process gets: the test's namespace, Kafka sessions of 10 s
    /// (a killed instance's partitions move on soon, while a loaded 2-core machine still answers
    /// heartbeats in time) and a short commit interval.
    pub fn envs(&self) -> Vec<(String, String)> {
        let mut v = vec![
            ("GIGSTREAM_KAFKA_BROKERS".into(), self.kafka.brokers.clone()),
            (
                "GIGSTREAM_KAFKA_TOPIC_PREFIX".into(),
                self.kafka.topic_prefix.clone(),
            ),
            (
                "GIGSTREAM_KAFKA_SESSION_TIMEOUT_MS".into(),
                self.session_timeout_ms.to_string(),
            ),
            (
                "GIGSTREAM_KAFKA_HEARTBEAT_INTERVAL_MS".into(),
                (self.session_timeout_ms / 6).to_string(),
            ),
            (
                "GIGSTREAM_CLICKHOUSE_URL".into(),
                self.clickhouse.url.clone(),
            ),
            (
                "GIGSTREAM_CLICKHOUSE_DATABASE".into(),
                self.clickhouse.database.clone(),
            ),
            ("GIGSTREAM_COMMIT_INTERVAL_MS".into(), "300".into()),
            (
                "RUST_LOG".into(),
                "info,gigstream_runtime::runner=debug".into(),
            ),
        ];
        if !self.clickhouse.user.is_empty() {
            v.push((
                "GIGSTREAM_CLICKHOUSE_USER".into(),
                self.clickhouse.user.clone(),
            ));
        }
        v.extend(self.extra_env.iter().cloned());
        v
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_gigstream"));
        c.arg("--data-dir").arg(self.dir.path()).args(args);
        for (k, v) in self.envs() {
            c.env(k, v);
        }
        c
    }

    /// Runs `gigstream args...` to the end.
    pub fn gigstream(&self, args: &[&str]) -> Output {
        // A hung command fails the test (naming the seed) instead of hanging CI.
        const LIMIT: Duration = Duration::from_secs(300);
        let n = self.runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (out_path, err_path) = (
            self.dir.path().join(format!("cmd-{n}.out")),
            self.dir.path().join(format!("cmd-{n}.err")),
        );
        let mut child = self
            .command(args)
            .stdout(std::fs::File::create(&out_path).expect("stdout file"))
            .stderr(std::fs::File::create(&err_path).expect("stderr file"))
            .stdin(Stdio::null())
            .spawn()
            .expect("the gigstream binary runs");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for gigstream") {
                break status;
            }
            if started.elapsed() > LIMIT {
                kill(&mut child);
                panic!(
                    "gigstream {} did not finish within {LIMIT:?} {}\n{}",
                    args.join(" "),
                    self.ctx(),
                    String::from_utf8_lossy(&std::fs::read(&err_path).unwrap_or_default())
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        Output {
            status,
            stdout: std::fs::read(&out_path).unwrap_or_default(),
            stderr: std::fs::read(&err_path).unwrap_or_default(),
        }
    }

    /// Starts `gigstream run SERVICE --follow`; its output goes to `<tmp>/<label>.log`.
    pub fn spawn(&self, service: &str, label: &str) -> Child {
        self.spawn_with(label, &[service])
    }

    /// Starts `gigstream run --follow ARGS...`; its output goes to `<tmp>/<label>.log`.
    pub fn spawn_with(&self, label: &str, args: &[&str]) -> Child {
        self.spawn_env(label, args, &[])
    }

    /// [`Backends::spawn_with`] with more variables (over the test's own).
    pub fn spawn_env(&self, label: &str, args: &[&str], env: &[(&str, &str)]) -> Child {
        let log = self.log_path(label);
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("service log file");
        let mut all = vec!["run", "--follow"];
        all.extend_from_slice(args);
        let mut command = self.command(&all);
        for (k, v) in env {
            command.env(k, v);
        }
        let child = command
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .stdin(Stdio::null())
            .spawn()
            .expect("the gigstream binary starts");
        self.adopt(&child);
        child
    }

    /// Kills `child` (a process started with this test's `--data-dir`) when the test ends, if
    /// it still runs then.
    pub fn adopt(&self, child: &Child) {
        self.spawned
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(child.id());
    }

    /// Kills the adopted processes that still run: a process whose command line names this
    /// test's directory (a reaped one's process id may have been reused).
    fn kill_leftovers(&self) {
        let dir = self.dir.path().to_string_lossy().into_owned();
        let pids = std::mem::take(&mut *self.spawned.lock().unwrap_or_else(|p| p.into_inner()));
        for pid in pids {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&dir) {
                println!("killing the leftover process {pid}");
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
            }
        }
    }

    pub fn log_path(&self, label: &str) -> PathBuf {
        self.dir.path().join(format!("{label}.log"))
    }

    /// How many lines of a service's log contain `needle`.
    pub fn log_count(&self, label: &str, needle: &str) -> usize {
        std::fs::read_to_string(self.log_path(label))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// The last lines of a service's log, for failure messages.
    pub fn log_tail(&self, label: &str) -> String {
        let text = std::fs::read_to_string(self.log_path(label)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The service logs of this test.
    fn logs(&self) -> Vec<PathBuf> {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        logs
    }

    /// The last lines of every service log of this test, for failure messages.
    pub fn all_log_tails(&self) -> String {
        self.logs()
            .iter()
            .filter_map(|p| Some(p.file_stem()?.to_str()?.to_string()))
            .map(|label| format!("\n--- {label}.log (last lines)\n{}", self.log_tail(&label)))
            .collect()
    }

    /// Next offset per partition stored with `service`'s output (none before its first commit).
    pub fn stored_offsets(&self, service: &str) -> BTreeMap<(Topic, u32), u64> {
        let Ok(sink) = ClickHouseSink::connect(self.clickhouse.clone()) else {
            return BTreeMap::new();
        };
        sink.stored_tasks(service, None, false)
            .map(|tasks| {
                tasks
                    .into_iter()
                    .map(|t| ((t.topic, t.partition), t.next_offset))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Waits until the output stored for `service` reflects every record of its topics.
    pub fn wait_caught_up(&self, service: &str, topics: &[Topic], timeout: Duration) {
        let end = gigstream_kafka::end_offsets(&self.kafka, topics).expect("end offsets");
        let deadline = Instant::now() + timeout;
        loop {
            let stored = self.stored_offsets(service);
            if end.iter().all(|(k, e)| stored.get(k) == Some(e)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{service} did not catch up within {timeout:?}: end {end:?}, stored {stored:?} {}{}",
                self.ctx(),
                self.all_log_tails()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `gigstream verify SERVICES`: asserts exit 0 (every stored table equals a recomputation
    /// from the log) and that it compared the whole log.
    pub fn assert_verified(&self, services: &[&str]) -> String {
        let mut args = vec!["verify"];
        args.extend_from_slice(services);
        let out = self.gigstream(&args);
        let stdout = text(&out.stdout);
        assert!(
            out.status.success(),
            "verify failed ({:?}) {}\n{stdout}\n{}",
            out.status.code(),
            self.ctx(),
            text(&out.stderr)
        );
        stdout
    }

    /// An admin connection for direct queries.
    pub fn connection(&self) -> Connection {
        Connection::new(self.clickhouse.clone(), true).expect("ClickHouse connection")
    }
}

impl Drop for Backends {
    /// Drops the database of a passed test. A failed test's database is left for inspection,
    /// and its service logs (the test's directory is removed) are copied to
    /// `GIGSTREAM_TEST_KEEP_LOGS=DIR`, when set, as `DIR/<seed>-<label>.log`.
    fn drop(&mut self) {
        self.kill_leftovers();
        if !std::thread::panicking() {
            if let Ok(c) = Connection::new(self.clickhouse.clone(), false) {
                let db = &self.clickhouse.database;
                let _ = c.execute(
                    "dropping the test database",
                    &format!("DROP DATABASE IF EXISTS `{db}`"),
                );
            }
            return;
        }
        let Some(keep) = gigstream_testkit::services::var("KEEP_LOGS") else {
            return;
        };
        for p in self.logs() {
            if let Some(name) = p.file_name().and_then(|n| n.to_str()) {
                let to = Path::new(&keep).join(format!("{}-{name}", self.seed));
                match std::fs::copy(&p, &to) {
                    Ok(_) => println!("kept {}", to.display()),
                    Err(e) => println!("cannot keep {}: {e}", p.display()),
                }
            }
        }
    }
}

/// Produces generated events to the topics of `kafka` (four partitions each).
pub fn produce_to(kafka: &KafkaConfig, gen: &GenConfig, rate: Option<f64>) -> ProduceReport {
    try_produce_to(kafka, gen, rate).expect("produce succeeds")
}

/// [`produce_to`], failing with the error.
pub fn try_produce_to(
    kafka: &KafkaConfig,
    gen: &GenConfig,
    rate: Option<f64>,
) -> anyhow::Result<ProduceReport> {
    let args = ProduceArgs {
        from: Vec::new(),
        brokers: Some(kafka.brokers.clone()),
        topic_prefix: Some(kafka.topic_prefix.clone()),
        partitions: 4,
        rate,
        timestamp: None,
    };
    let codec = Codec::new(Registry::builtin());
    let refdata = RefData::builtin();
    produce_cmd::run(&args, Some(kafka.clone()), gen, &codec, &refdata)
}

/// A load (a thread producing at a steady rate) that is still running: `load` if it runs,
/// else a new one producing `gen` at 800 events/s, started a second ago. On a busy machine,
/// joining the group and the first commits can outlast any fixed load.
pub fn still_loading(
    kafka: &KafkaConfig,
    load: std::thread::JoinHandle<ProduceReport>,
    gen: &GenConfig,
) -> std::thread::JoinHandle<ProduceReport> {
    if !load.is_finished() {
        return load;
    }
    load.join().expect("producer thread");
    let (kafka, gen) = (kafka.clone(), gen.clone());
    let load = std::thread::spawn(move || produce_to(&kafka, &gen, Some(800.0)));
    std::thread::sleep(Duration::from_secs(1));
    load
}

/// SIGKILL, then reap.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// SIGTERM, then wait up to `deadline` for the exit (SIGKILL after it); the exit status.
/// What a child process is doing, for a failure message: its exit status, or each thread's
/// name, state and wait channel (`/proc`), which tells a hang from a busy loop.
pub fn process_state(child: &mut Child) -> String {
    if let Ok(Some(status)) = child.try_wait() {
        return format!("process {} exited: {status}", child.id());
    }
    let dir = format!("/proc/{}/task", child.id());
    let mut threads: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.flatten()
                .map(|t| {
                    let p = t.path();
                    let read = |f: &str| {
                        std::fs::read_to_string(p.join(f))
                            .unwrap_or_default()
                            .trim()
                            .to_string()
                    };
                    let stat = read("stat");
                    // "pid (comm) S ...": the state follows the parenthesised name.
                    let state = stat
                        .rsplit_once(") ")
                        .map(|(_, rest)| rest.chars().next().unwrap_or('?'))
                        .unwrap_or('?');
                    format!("{}:{state}:{}", read("comm"), read("wchan"))
                })
                .collect()
        })
        .unwrap_or_default();
    threads.sort();
    format!(
        "process {} runs; threads (name:state:wait) {}",
        child.id(),
        threads.join(" ")
    )
}

pub fn terminate(child: &mut Child, deadline: Duration) -> Option<i32> {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    kill(child);
    None
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A path in the repository (for the service scripts).
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A TCP proxy to `target` that the test can cut: while cut, it closes every connection and
/// refuses new ones (the other side sees a reset, like a network partition).
pub struct Proxy {
    addr: std::net::SocketAddr,
    up: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    pub fn start(target: std::net::SocketAddr) -> Proxy {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::{Arc, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("proxy listens");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(AtomicBool::new(true));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (up2, open2) = (up.clone(), open.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let client = match client {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("proxy to {target}: accept failed: {e}");
                        continue;
                    }
                };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(std::net::Shutdown::Both);
                    continue;
                }
                let server = match std::net::TcpStream::connect(target) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("proxy to {target}: connect failed: {e}");
                        continue;
                    }
                };
                let mut list = open2.lock().unwrap_or_else(|p| p.into_inner());
                // Forget the connections that have ended (their peers are gone).
                list.retain(|s| s.peer_addr().is_ok() && s.take_error().ok().flatten().is_none());
                for s in [&client, &server] {
                    if let Ok(c) = s.try_clone() {
                        list.push(c);
                    }
                }
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ]
                .into_iter()
                .filter_map(|(a, b)| Some((a.ok()?, b.ok()?)))
                {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Write);
                    });
                }
            }
        });
        Proxy { addr, up, open }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes every connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        for c in self
            .open
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// GET `path`: status and body (the ops crate's own probe client).
pub use gigstream_ops::http::get as http_get;

/// The value of the series `name{labels}` (labels exactly as rendered), if present.
pub fn metric_value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// `gigstream --data-dir DATA ARGS...` on the embedded default, with `stdin` piped in.
pub fn embedded_in(data: &Path, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_gigstream"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        // The embedded default, even where the environment configures Kafka and ClickHouse.
        .env_remove("GIGSTREAM_KAFKA_BROKERS")
        .env_remove("GIGSTREAM_CLICKHOUSE_URL")
        .env_remove("GIGSTREAM_CONFIG")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the gigstream binary runs");
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        pipe.write_all(bytes).expect("write stdin");
    }
    child.wait_with_output().expect("gigstream ends")
}

/// `gigstream --data-dir DATA ARGS...` on the embedded default.
pub fn embedded(data: &Path, args: &[&str]) -> Output {
    embedded_in(data, args, None)
}
