//! `gigstream bench-steady`: what a commit costs once history is folded, against the
//! configured Kafka and ClickHouse (topics and databases of its own, removed at the end).
//!
//! For each history length H (days): a generated history of H days is produced and folded by
//! the service (SLA by default; catch-up, as a process of its own); then N instances of
//! `gigstream run SERVICE --follow` (N = 1, then 2, in one consumer group) commit every second while events arrive at
//! a steady rate R for S seconds, one day after the history. Measured over the steady part:
//!
//! - rows and bytes inserted into ClickHouse per input event (the server's own counters,
//!   `system.events` `InsertedRows` and `InsertedBytes`);
//! - commit latency p50 and p99 (each instance logs every commit);
//! - checkpoint bytes written per commit (the chunks the sink wrote, see
//!   `gigstream_runtime::chunks`) and state bytes held (the instance's task checkpoints);
//! - rows written per instance, and resident memory (RSS, peak RSS) of each process.
//!
//! Then the ratios the targets are stated in: H = max against H = min (the same within 1.2×),
//! and two instances against one (each holds and writes about half).

use crate::bench_kafka::produce;
use crate::services::Service;
use anyhow::{bail, Context, Result};
use gigstream_avro::Codec;
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink, Connection};
use gigstream_core::{RefData, Topic};
use gigstream_gen::GenConfig;
use gigstream_kafka::KafkaConfig;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The service measured.
    pub service: Service,
    pub history_days: Vec<u32>,
    /// Events of history per day (the generator's mix: about 80% telemetry).
    pub events_per_day: u64,
    pub rate: f64,
    pub seconds: u64,
    pub commit_interval_ms: u64,
    pub instances: Vec<usize>,
}

/// One steady run: H days of history, N instances.
#[derive(Debug, Clone, Serialize)]
pub struct SteadyRun {
    pub history_days: u32,
    pub instances: usize,
    pub events: u64,
    /// The server's counters (every writer's inserts: run the benchmark on a server nobody
    /// else writes to).
    pub inserted_rows: u64,
    pub inserted_bytes: u64,
    pub rows_per_event: f64,
    /// The rows the instances say they wrote: table rows (upserts and deletes), checkpoint
    /// rows and chunk rows, per input event.
    pub own_rows_per_event: f64,
    pub bytes_per_event: f64,
    pub commits: usize,
    pub commit_p50_ms: f64,
    pub commit_p99_ms: f64,
    pub checkpoint_bytes_per_commit: f64,
    /// Per instance: rows it wrote, state bytes it held at the end, RSS and peak RSS (bytes).
    pub per_instance: Vec<InstanceFigures>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceFigures {
    pub rows_written: u64,
    pub state_bytes: u64,
    pub rss_bytes: u64,
    pub peak_rss_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SteadyReport {
    pub service: &'static str,
    pub rate: f64,
    pub seconds: u64,
    pub commit_interval_ms: u64,
    pub runs: Vec<SteadyRun>,
    /// Figure → (longest history / shortest history), with one instance.
    pub history_ratios: BTreeMap<String, f64>,
    /// Figure → (per instance with two / with one), at the longest history.
    pub scale_out_ratios: BTreeMap<String, f64>,
}

impl SteadyReport {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "steady state: {:.0} events/s for {} s, commits every {} ms ({} service)",
            self.rate, self.seconds, self.commit_interval_ms, self.service
        );
        let _ = writeln!(
            s,
            "{:>8} {:>5} {:>9} {:>9} {:>10} {:>8} {:>9} {:>9} {:>13} {:>9} {:>8}",
            "history",
            "inst",
            "rows/ev",
            "own r/ev",
            "bytes/ev",
            "commits",
            "p50 ms",
            "p99 ms",
            "ckpt B/commit",
            "state MB",
            "RSS MB"
        );
        for r in &self.runs {
            let state: u64 = r
                .per_instance
                .iter()
                .map(|i| i.state_bytes)
                .max()
                .unwrap_or(0);
            let rss: u64 = r
                .per_instance
                .iter()
                .map(|i| i.rss_bytes)
                .max()
                .unwrap_or(0);
            let _ = writeln!(
                s,
                "{:>7}d {:>5} {:>9.2} {:>9.2} {:>10.0} {:>8} {:>9.1} {:>9.1} {:>13.0} {:>9.1} {:>8.1}",
                r.history_days,
                r.instances,
                r.rows_per_event,
                r.own_rows_per_event,
                r.bytes_per_event,
                r.commits,
                r.commit_p50_ms,
                r.commit_p99_ms,
                r.checkpoint_bytes_per_commit,
                state as f64 / 1e6,
                rss as f64 / 1e6
            );
        }
        for (title, ratios) in [
            ("longest history / shortest", &self.history_ratios),
            ("two instances / one (per instance)", &self.scale_out_ratios),
        ] {
            if ratios.is_empty() {
                continue;
            }
            let list: Vec<String> = ratios.iter().map(|(k, v)| format!("{k} {v:.2}")).collect();
            let _ = writeln!(s, "{title}: {}", list.join(", "));
        }
        s
    }
}

/// The server's cumulative insert counters.
fn inserted(conn: &Connection) -> Result<(u64, u64)> {
    let out = conn.query_tsv(
        "reading the insert counters",
        "SELECT event, value FROM system.events WHERE event IN ('InsertedRows', 'InsertedBytes')",
    )?;
    let mut rows = 0;
    let mut bytes = 0;
    for line in out.lines() {
        let mut f = line.split('\t');
        match (
            f.next(),
            f.next().and_then(|v| v.trim().parse::<u64>().ok()),
        ) {
            (Some("InsertedRows"), Some(v)) => rows = v,
            (Some("InsertedBytes"), Some(v)) => bytes = v,
            _ => {}
        }
    }
    Ok((rows, bytes))
}

/// The service's dead letters in its tables.
fn dead_letters(conn: &Connection, service: Service) -> Result<u64> {
    let out = conn.query_tsv(
        "counting the dead letters",
        &format!(
            "SELECT count() FROM dead_letters FINAL WHERE service = '{}'",
            service.name()
        ),
    )?;
    Ok(out.trim().parse().unwrap_or(0))
}

/// Fails when most of `events` were dead-lettered (the generator damages about 1 % on
/// purpose), naming the most common reasons: a benchmark of dead letters measures nothing.
fn check_folded(conn: &Connection, service: Service, events: u64, what: &str) -> Result<()> {
    let letters = dead_letters(conn, service)?;
    if letters * 10 <= events {
        return Ok(());
    }
    let reasons = conn.query_tsv(
        "reading the dead-letter reasons",
        &format!(
            "SELECT code, count() AS n FROM dead_letters FINAL WHERE service = '{}' \
             GROUP BY code ORDER BY n DESC LIMIT 3",
            service.name()
        ),
    )?;
    bail!(
        "{letters} of the {events} events of {what} were dead-lettered (by reason: {}): the \
         figures would measure dead letters, not folds",
        reasons.trim().replace('\t', " ").replace('\n', ", ")
    )
}

/// VmRSS and VmHWM of a process, bytes.
fn rss(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        text.lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    (kb("VmRSS:"), kb("VmHWM:"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// One `gigstream run SERVICE --follow` process of the benchmark, logging JSON to a file.
struct Instance {
    child: Child,
    log: PathBuf,
}

impl Instance {
    fn start(
        exe: &Path,
        service: Service,
        env: &[(String, String)],
        dir: &Path,
        label: &str,
    ) -> Result<Instance> {
        let log = dir.join(format!("{label}.log"));
        let out = std::fs::File::create(&log)?;
        let child = Command::new(exe)
            .args(["run", service.name(), "--follow"])
            .arg("--data-dir")
            .arg(dir)
            .envs(env.iter().cloned())
            .env("GIGSTREAM_LOG_FORMAT", "json")
            .env(
                "RUST_LOG",
                "info,gigstream_runtime::runner=debug,gigstream_clickhouse::sink=debug",
            )
            .env("GIGSTREAM_HTTP_ENABLED", "false")
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .with_context(|| format!("cannot start {}", exe.display()))?;
        Ok(Instance { child, log })
    }

    fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    fn stop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let until = Instant::now() + Duration::from_secs(30);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The fields of a log line (`fields.<name>`).
fn field<'a>(v: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    v.get("fields").and_then(|f| f.get(name))
}

fn message(v: &serde_json::Value) -> &str {
    field(v, "message").and_then(|m| m.as_str()).unwrap_or("")
}

/// Next offset per input partition stored with the service's output.
fn stored(sink: &ClickHouseSink, service: Service) -> BTreeMap<(Topic, u32), u64> {
    sink.stored_tasks(service.name(), None, false)
        .map(|ts| {
            ts.into_iter()
                .map(|t| ((t.topic, t.partition), t.next_offset))
                .collect()
        })
        .unwrap_or_default()
}

/// Waits until the stored positions reach the topics' end.
fn wait_caught_up(
    kafka: &KafkaConfig,
    sink: &ClickHouseSink,
    service: Service,
    limit: Duration,
) -> Result<()> {
    let end = gigstream_kafka::end_offsets(kafka, service.topics())?;
    let started = Instant::now();
    loop {
        let have = stored(sink, service);
        if end
            .iter()
            .all(|(p, o)| have.get(p).copied().unwrap_or(0) >= *o)
        {
            return Ok(());
        }
        if started.elapsed() > limit {
            bail!(
                "the {} service did not catch up within {limit:?}: end {end:?}, stored {have:?}",
                service.name()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs the plan (see the module doc).
pub fn run(
    kafka: &KafkaConfig,
    clickhouse: &ClickHouseConfig,
    codec: &Codec,
    refdata: &Arc<RefData>,
    plan: &Plan,
) -> Result<SteadyReport> {
    let exe = std::env::current_exe().context("cannot find the gigstream binary")?;
    let id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    let tmp = std::env::temp_dir().join(format!("gigstream-bench-steady-{id}"));
    std::fs::create_dir_all(&tmp)?;
    let admin = Connection::new(clickhouse.clone(), false)?;
    let mut runs = Vec::new();
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
    for &h in &plan.history_days {
        let k = kafka
            .clone()
            .with_topic_prefix(format!("{}steady-{id}-h{h}.", kafka.topic_prefix));
        let mut ch = clickhouse.clone();
        ch.database = format!("{}_steady_{id}_h{h}", clickhouse.database);
        let history = GenConfig {
            events: plan.events_per_day * u64::from(h),
            days: h,
            end,
            ..GenConfig::default()
        };
        eprintln!(
            "{h} days of history: producing {} events ...",
            history.events
        );
        produce(&k, &history, None, refdata, codec)?;
        let mut env: Vec<(String, String)> = vec![
            ("GIGSTREAM_KAFKA_BROKERS".into(), k.brokers.clone()),
            (
                "GIGSTREAM_KAFKA_TOPIC_PREFIX".into(),
                k.topic_prefix.clone(),
            ),
            ("GIGSTREAM_CLICKHOUSE_URL".into(), ch.url.clone()),
            ("GIGSTREAM_CLICKHOUSE_DATABASE".into(), ch.database.clone()),
            ("GIGSTREAM_CLICKHOUSE_USER".into(), ch.user.clone()),
            ("GIGSTREAM_CLICKHOUSE_PASSWORD".into(), ch.password.clone()),
            // The benchmark's producer frames records with the catalog's schema ids; a schema
            // registry configured for the user's own producers would read those ids as its
            // own (other schemas, or none) and dead-letter every record.
            ("GIGSTREAM_SCHEMA_REGISTRY_URL".into(), String::new()),
        ];
        for (key, v) in &k.properties {
            env.push((
                format!(
                    "GIGSTREAM_KAFKA_{}",
                    key.to_ascii_uppercase().replace('.', "_")
                ),
                v.clone(),
            ));
        }
        eprintln!("{h} days of history: folding it ...");
        let started = Instant::now();
        let out = Command::new(&exe)
            .args(["run", plan.service.name()])
            .arg("--data-dir")
            .arg(&tmp)
            .envs(env.iter().cloned())
            .output()?;
        if !out.status.success() {
            bail!(
                "folding the history failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        eprintln!("  folded in {:.1} s", started.elapsed().as_secs_f64());
        let sink = ClickHouseSink::connect(ch.clone())?;
        let conn = Connection::new(ch.clone(), true)?;
        check_folded(&conn, plan.service, history.events, "the history")?;
        env.push((
            "GIGSTREAM_SERVICE_COMMIT_INTERVAL".into(),
            format!("{}ms", plan.commit_interval_ms),
        ));
        for (round, &n) in plan.instances.iter().enumerate() {
            eprintln!("{h} days of history, {n} instance(s): steady load ...");
            let mut instances: Vec<Instance> = (0..n)
                .map(|i| Instance::start(&exe, plan.service, &env, &tmp, &format!("h{h}-n{n}-{i}")))
                .collect::<Result<_>>()?;
            // Every instance holds partitions and the group is quiet.
            let ready = Instant::now();
            loop {
                let adopted = instances.iter().all(|i| {
                    i.lines()
                        .iter()
                        .any(|l| message(l).starts_with("adopted assigned partitions"))
                });
                if adopted {
                    break;
                }
                if ready.elapsed() > Duration::from_secs(120) {
                    for i in &mut instances {
                        i.stop();
                    }
                    bail!("the instances did not all get partitions within 120 s");
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            std::thread::sleep(Duration::from_secs(5));
            let marks: Vec<usize> = instances.iter().map(|i| i.lines().len()).collect();
            let (rows0, bytes0) = inserted(&conn)?;
            // The history's services (same seed), on a day after it and after the rounds
            // before: nothing is late, and no event id repeats within its day.
            let day = end + chrono::Days::new(1 + round as u64);
            let steady = GenConfig {
                events: (plan.rate * plan.seconds as f64) as u64,
                days: 1,
                end: day + chrono::Days::new(1),
                ..GenConfig::default()
            };
            let letters0 = dead_letters(&conn, plan.service)?;
            let sent = produce(&k, &steady, Some(plan.rate), refdata, codec)?;
            wait_caught_up(&k, &sink, plan.service, Duration::from_secs(120))?;
            // The last commit is in.
            std::thread::sleep(Duration::from_millis(plan.commit_interval_ms * 2));
            let (rows1, bytes1) = inserted(&conn)?;
            let letters = dead_letters(&conn, plan.service)?.saturating_sub(letters0);
            if letters * 10 > sent {
                for i in &mut instances {
                    i.stop();
                }
                bail!(
                    "{letters} of the {sent} steady events were dead-lettered (see the                      dead_letters table of {}): the figures would measure dead letters, not folds",
                    ch.database
                );
            }
            let mut latencies = Vec::new();
            let mut chunk_bytes = Vec::new();
            let mut own_rows = 0u64;
            let mut per_instance = Vec::new();
            for (inst, mark) in instances.iter().zip(&marks) {
                let lines = inst.lines();
                let mut rows_written = 0;
                let mut state = 0;
                for l in &lines[*mark..] {
                    match message(l) {
                        "committed" => {
                            if let Some(d) = field(l, "duration_ms").and_then(|v| v.as_f64()) {
                                latencies.push(d);
                            }
                            rows_written += field(l, "rows").and_then(|v| v.as_u64()).unwrap_or(0);
                            state = field(l, "state_bytes")
                                .and_then(|v| v.as_u64())
                                .unwrap_or(state);
                        }
                        "checkpoint chunks written" => {
                            chunk_bytes.push(
                                field(l, "chunk_bytes")
                                    .and_then(|v| v.as_u64())
                                    .unwrap_or(0),
                            );
                            own_rows +=
                                field(l, "chunk_rows").and_then(|v| v.as_u64()).unwrap_or(0)
                                    + field(l, "tasks").and_then(|v| v.as_u64()).unwrap_or(0);
                        }
                        _ => {}
                    }
                }
                let (rss_now, peak) = rss(inst.child.id());
                own_rows += rows_written;
                per_instance.push(InstanceFigures {
                    rows_written,
                    state_bytes: state,
                    rss_bytes: rss_now,
                    peak_rss_bytes: peak,
                });
            }
            for i in &mut instances {
                i.stop();
            }
            latencies.sort_by(f64::total_cmp);
            let events = sent.max(1);
            let commits = latencies.len();
            runs.push(SteadyRun {
                history_days: h,
                instances: n,
                events: sent,
                inserted_rows: rows1 - rows0,
                inserted_bytes: bytes1 - bytes0,
                rows_per_event: (rows1 - rows0) as f64 / events as f64,
                own_rows_per_event: own_rows as f64 / events as f64,
                bytes_per_event: (bytes1 - bytes0) as f64 / events as f64,
                commits,
                commit_p50_ms: percentile(&latencies, 0.5),
                commit_p99_ms: percentile(&latencies, 0.99),
                checkpoint_bytes_per_commit: chunk_bytes.iter().sum::<u64>() as f64
                    / chunk_bytes.len().max(1) as f64,
                per_instance,
            });
        }
        let _ = admin.execute(
            "dropping a benchmark database",
            &format!("DROP DATABASE IF EXISTS `{}`", ch.database),
        );
    }
    if std::env::var_os("GIGSTREAM_BENCH_KEEP").is_some() {
        eprintln!("the instances' logs are kept in {}", tmp.display());
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let figures = |r: &SteadyRun| -> BTreeMap<String, f64> {
        let max =
            |f: fn(&InstanceFigures) -> u64| r.per_instance.iter().map(f).max().unwrap_or(0) as f64;
        BTreeMap::from([
            ("rows_per_event".to_string(), r.rows_per_event),
            ("own_rows_per_event".to_string(), r.own_rows_per_event),
            ("bytes_per_event".to_string(), r.bytes_per_event),
            ("commit_p50_ms".to_string(), r.commit_p50_ms),
            ("commit_p99_ms".to_string(), r.commit_p99_ms),
            (
                "checkpoint_bytes_per_commit".to_string(),
                r.checkpoint_bytes_per_commit,
            ),
            ("state_bytes".to_string(), max(|i| i.state_bytes)),
            ("rss_bytes".to_string(), max(|i| i.rss_bytes)),
            ("rows_written".to_string(), max(|i| i.rows_written)),
        ])
    };
    let one = |h: u32, n: usize| {
        runs.iter()
            .find(|r| r.history_days == h && r.instances == n)
    };
    let ratio = |a: &SteadyRun, b: &SteadyRun| -> BTreeMap<String, f64> {
        let (fa, fb) = (figures(a), figures(b));
        fa.iter()
            .filter_map(|(k, va)| Some((k.clone(), va / fb.get(k).copied().filter(|v| *v > 0.0)?)))
            .collect()
    };
    let (lo, hi) = (
        plan.history_days.iter().min().copied(),
        plan.history_days.iter().max().copied(),
    );
    let history_ratios = match (lo, hi) {
        (Some(lo), Some(hi)) if lo != hi => match (one(hi, 1), one(lo, 1)) {
            (Some(a), Some(b)) => ratio(a, b),
            _ => BTreeMap::new(),
        },
        _ => BTreeMap::new(),
    };
    let scale_out_ratios = match hi.and_then(|h| Some((one(h, 2)?, one(h, 1)?))) {
        Some((two, single)) => {
            let mut r = ratio(two, single);
            r.retain(|k, _| k == "state_bytes" || k == "rows_written" || k == "rss_bytes");
            r
        }
        None => BTreeMap::new(),
    };
    Ok(SteadyReport {
        service: plan.service.name(),
        rate: plan.rate,
        seconds: plan.seconds,
        commit_interval_ms: plan.commit_interval_ms,
        runs,
        history_ratios,
        scale_out_ratios,
    })
}
