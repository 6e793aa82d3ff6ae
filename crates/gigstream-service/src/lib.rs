//! Running one service (a projection) against its configured backends.
//!
//! | input                                   | output                                        |
//! |-----------------------------------------|-----------------------------------------------|
//! | embedded log in `DATA_DIR/log` (default) | Parquet tables in `DATA_DIR/tables` (default) |
//! | Kafka when `GIGSTREAM_KAFKA_BROKERS` is set | ClickHouse when `GIGSTREAM_CLICKHOUSE_URL` is set |
//!
//! With Kafka, each service is its own consumer group, dead letters also go to `<topic>.dlq`
//! with headers naming the reason and the origin, and several instances of a service split the
//! partitions (their state moves with the partitions through the checkpoints in the sink).
//! Several instances need a shared sink, i.e. ClickHouse.
//!
//! The service binaries ([`service_main`]) read their settings with `gigstream-config`
//! (`--config FILE` / `GIGSTREAM_CONFIG`, then `GIGSTREAM_<SECTION>_<KEY>` variables), serve
//! `/health`, `/ready` and `/metrics` on `[http] listen` (`--http-listen ADDR`; see
//! `gigstream-ops`), and on SIGTERM/Ctrl-C stop reading, commit, and exit 0 within
//! `[service] shutdown_deadline` (else exit 1: the uncommitted input is read again at the next
//! start).

use gigstream_avro::{Codec, DecodeError, Registry};
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink};
use gigstream_config::Config;
use gigstream_core::validate::Invalid;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_kafka::{DeadLetterRef, DlqProducer, KafkaConfig, KafkaSource};
use gigstream_log::Log;
use gigstream_ops::Ops;
use gigstream_parquet::ParquetStore;
use gigstream_runtime::service::{install_stop_handler, load_refdata, DataDir, DEFAULT_PARTITIONS};
use gigstream_runtime::{
    run_observed, DeadLetter, DeadLetterOutput, EmbeddedSource, Progress, RunError, RunHooks,
    RunOptions, RunSummary, Sink, Source,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to run a service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    pub data_dir: DataDir,
    pub reference_dir: Option<PathBuf>,
    pub run: RunOptions,
    /// Kafka instead of the embedded log (default: from `GIGSTREAM_KAFKA_*`).
    pub kafka: Option<KafkaConfig>,
    /// ClickHouse instead of Parquet (default: from `GIGSTREAM_CLICKHOUSE_*`).
    pub clickhouse: Option<ClickHouseConfig>,
}

impl ServiceOptions {
    /// Backends and run options from a loaded configuration; `data_dir` and `reference_dir`
    /// (command-line flags) win over the configured ones.
    pub fn from_config(
        cfg: &Config,
        data_dir: Option<PathBuf>,
        reference_dir: Option<PathBuf>,
        run: RunOptions,
    ) -> ServiceOptions {
        ServiceOptions {
            data_dir: data_dir
                .map(|root| DataDir { root })
                .unwrap_or_else(|| cfg.data_dir()),
            reference_dir: reference_dir.or_else(|| cfg.data.reference_dir.clone()),
            run,
            kafka: cfg.kafka(),
            clickhouse: cfg.clickhouse(),
        }
    }

    /// `embedded log` / `kafka (brokers)` and `parquet (dir)` / `clickhouse (url)`, for logs.
    pub fn describe(&self) -> (String, String) {
        let input = match &self.kafka {
            Some(k) => format!("kafka {}", k.brokers),
            None => format!("embedded log {}", self.data_dir.log().display()),
        };
        let output = match &self.clickhouse {
            Some(c) => format!("clickhouse {} database {}", c.url, c.database),
            None => format!("parquet {}", self.data_dir.tables().display()),
        };
        (input, output)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("cannot set up {what}: {message}")]
    Setup { what: String, message: String },
    #[error(transparent)]
    Run(#[from] gigstream_runtime::RunError),
}

fn setup(what: impl Into<String>) -> impl FnOnce(String) -> ServiceError {
    let what = what.into();
    move |message| ServiceError::Setup { what, message }
}

/// Whether a dead letter's reason lies in the record itself (it cannot be decoded, is
/// invalid, or is beyond the allowed lateness), so that every service reading the topic gives
/// the record the same letter; otherwise the reason is a service's own rule (a proposal for an
/// unknown deal, say).
pub fn record_level(code: &str) -> bool {
    DecodeError::CODES.contains(&code) || Invalid::CODES.contains(&code) || code == "late"
}

/// The service that publishes the record-level dead letters of `topic` to `<topic>.dlq`, so
/// that a bad record is there once although several services read the topic (billing and
/// market read orders; billing and sla read telemetry). Every service still keeps its own
/// letters in its `dead_letters` table and counts them in its metrics; letters of a service's
/// own rules are published by that service.
pub fn dead_letter_publisher(topic: Topic) -> &'static str {
    match topic {
        Topic::Orders | Topic::Usage => "billing",
        Topic::Telemetry => "sla",
    }
}

/// Sends dead letters to `<topic>.dlq` (see [`dead_letter_publisher`]), waiting for delivery
/// before the commit goes on.
struct KafkaDeadLetters {
    producer: DlqProducer,
    timeout: Duration,
}

impl DeadLetterOutput for KafkaDeadLetters {
    fn send(&mut self, letters: &[&DeadLetter]) -> Result<(), String> {
        for d in letters {
            let Some(topic) = Topic::from_name(&d.topic) else {
                return Err(format!("dead letter from unknown topic {}", d.topic));
            };
            if record_level(&d.code) && d.service != dead_letter_publisher(topic) {
                continue;
            }
            self.producer
                .send(&DeadLetterRef {
                    service: &d.service,
                    topic,
                    partition: d.partition,
                    offset: d.offset,
                    timestamp_ms: d.timestamp_ms,
                    code: &d.code,
                    reason: &d.reason,
                    key: &d.key,
                    value: &d.value,
                })
                .map_err(|e| e.to_string())?;
        }
        self.producer
            .flush(self.timeout)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Creates the `<topic>.dlq` twins of the service's topics when missing, with the partition
/// count of their topic (a topic missing altogether is created with the default count).
fn ensure_dlq_topics(k: &KafkaConfig, topics: &[Topic]) -> Result<(), String> {
    let wanted: Vec<String> = topics.iter().map(|t| k.topic_name(*t)).collect();
    let existing = gigstream_kafka::partitions_of(k, &wanted).map_err(|e| e.to_string())?;
    let names: Vec<(String, u32)> = topics
        .iter()
        .map(|t| {
            let name = k.topic_name(*t);
            let n = existing.get(&name).copied().unwrap_or(DEFAULT_PARTITIONS);
            (name, n)
        })
        .collect();
    let list: Vec<(&str, u32)> = names.iter().map(|(n, p)| (n.as_str(), *p)).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a tokio runtime: {e}"))?;
    rt.block_on(gigstream_kafka::ensure_topics(k, &list))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Runs projection `P` with the configured backends until caught up (or until `stop` when
/// following).
pub fn run_service<P: Projection>(
    opts: &ServiceOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, ServiceError> {
    let refdata = load_refdata(opts.reference_dir.clone())
        .map_err(|e| setup("the reference data")(e.to_string()))?;
    let codec = Codec::new(Registry::builtin());
    run_service_with::<P>(opts, codec, refdata, stop, progress)
}

/// [`run_service`] with the codec and reference data given (several services in one process
/// share them).
pub fn run_service_with<P: Projection>(
    opts: &ServiceOptions,
    codec: Codec,
    refdata: Arc<RefData>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, ServiceError> {
    run_service_hooked::<P>(opts, codec, refdata, stop, progress, RunHooks::default())
}

/// [`run_service_with`] with an observer (metrics, readiness) and a shutdown deadline.
pub fn run_service_hooked<P: Projection>(
    opts: &ServiceOptions,
    codec: Codec,
    refdata: Arc<RefData>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
    hooks: RunHooks<'_>,
) -> Result<RunSummary, ServiceError> {
    let (input, output) = opts.describe();
    tracing::info!(service = P::NAME, %input, %output, "starting");

    let mut sink: Box<dyn Sink> = match &opts.clickhouse {
        Some(c) => Box::new(
            ClickHouseSink::connect(c.clone())
                .map_err(|e| setup("the ClickHouse sink")(e.to_string()))?,
        ),
        None => Box::new(ParquetStore::new(opts.data_dir.tables())),
    };
    let mut dlq: Option<KafkaDeadLetters> = None;
    let mut source: Box<dyn Source> = match &opts.kafka {
        Some(k) => {
            ensure_dlq_topics(k, P::topics()).map_err(setup("the dead-letter topics"))?;
            dlq = Some(KafkaDeadLetters {
                producer: DlqProducer::new(k)
                    .map_err(|e| setup("the dead-letter producer")(e.to_string()))?,
                timeout: k.request_timeout,
            });
            Box::new(
                KafkaSource::new(k, &consumer_group(k, P::NAME), P::topics())
                    .map_err(|e| setup("the Kafka consumer")(e.to_string()))?,
            )
        }
        None => {
            let log = Log::open(&opts.data_dir.log())
                .map_err(|e| setup("the embedded log")(e.to_string()))?;
            Box::new(
                EmbeddedSource::new(log, P::NAME, P::topics(), DEFAULT_PARTITIONS)
                    .map_err(|e| setup("the embedded log")(e.to_string()))?,
            )
        }
    };
    let out = dlq.as_mut().map(|d| d as &mut dyn DeadLetterOutput);
    Ok(run_observed::<P>(
        codec,
        refdata,
        source.as_mut(),
        sink.as_mut(),
        out,
        &opts.run,
        stop,
        progress,
        hooks,
    )?)
}

/// The consumer group of a service: its name after the topic prefix, so that deployments
/// sharing a cluster under different prefixes (`staging.`, a test's own prefix) never share a
/// group.
pub fn consumer_group(k: &KafkaConfig, service: &str) -> String {
    format!("{}{service}", k.topic_prefix)
}

fn usage(name: &str) -> String {
    format!(
        "usage: {name} [--config FILE] [--data-dir DIR] [--reference-dir DIR] [--http-listen ADDR] [--follow]\n\n\
         Runs the {svc} service. Settings: defaults, then the TOML file of --config (or\n\
         GIGSTREAM_CONFIG; see infra/gigstream.example.toml), then GIGSTREAM_<SECTION>_<KEY>\n\
         variables, then these flags. Input: the embedded event log in DIR/log (default ./data),\n\
         or Kafka when [kafka] brokers / GIGSTREAM_KAFKA_BROKERS is set (consumer group '{svc}'\n\
         after the topic prefix; other librdkafka settings as GIGSTREAM_KAFKA_<KEY>). Output:\n\
         Parquet tables in DIR/tables, or ClickHouse when [clickhouse] url /\n\
         GIGSTREAM_CLICKHOUSE_URL is set. Without --follow it stops when caught up; with it, it\n\
         keeps reading until SIGTERM/Ctrl-C, then commits and exits 0 within [service]\n\
         shutdown_deadline (default 20s; else exit 1). /health, /ready and /metrics are served on\n\
         [http] listen (default 127.0.0.1:9464; --http-listen ADDR, port 0 for any free port).",
        svc = name.trim_start_matches("gigstream-")
    )
}

/// Command-line arguments of a service binary.
#[derive(Debug, Default)]
struct Args {
    config: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    reference_dir: Option<PathBuf>,
    http_listen: Option<SocketAddr>,
    follow: bool,
}

fn parse_args(name: &str, mut args: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = Args::default();
    let value = |flag: &str, v: Option<String>| v.ok_or(format!("{flag} needs a value"));
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut arg = |flag: &str| value(flag, inline.clone().or_else(|| args.next()));
        match flag.as_str() {
            "--config" => out.config = Some(PathBuf::from(arg("--config")?)),
            "--data-dir" => out.data_dir = Some(PathBuf::from(arg("--data-dir")?)),
            "--reference-dir" => out.reference_dir = Some(PathBuf::from(arg("--reference-dir")?)),
            "--http-listen" => {
                let v = arg("--http-listen")?;
                out.http_listen = Some(v.parse().map_err(|_| {
                    format!("--http-listen: `{v}` is not an address:port (e.g. 127.0.0.1:9464)")
                })?);
            }
            "--follow" => out.follow = true,
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown argument '{other}'\n\n{}", usage(name))),
        }
    }
    Ok(Some(out))
}

/// Ends the process (exit 1) if it is still running `deadline` after `stop` was set: the last
/// resort when the last commit (or something before the run loop) does not finish in time.
/// `program` names the process in the message (`gigstream-billing`, `gigstream run`).
pub fn start_shutdown_watchdog(program: String, stop: Arc<AtomicBool>, deadline: Duration) {
    let spawned = std::thread::Builder::new()
        .name("gigstream-shutdown-watchdog".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let seen = Instant::now();
            // The runner gives up on its own at the deadline; this covers what it cannot
            // interrupt (a slow sink request, a poll during a rebalance, the start-up).
            std::thread::sleep(deadline + Duration::from_millis(500));
            tracing::error!(
                program,
                deadline = ?deadline,
                waited_ms = seen.elapsed().as_millis() as u64,
                "shutdown deadline passed: exiting without finishing the last commit (the uncommitted input is read again at the next start)"
            );
            eprintln!("{program}: shutdown deadline of {deadline:?} passed; exiting with status 1");
            std::process::exit(1);
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start the shutdown watchdog");
    }
}

/// `main` of a service binary (`gigstream-billing`, `gigstream-sla`, `gigstream-market`).
pub fn service_main<P: Projection>() -> ExitCode {
    let name = format!("gigstream-{}", P::NAME);
    let args = match parse_args(&name, std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{}", usage(&name));
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let loaded = match Config::load(args.config.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let cfg = &loaded.config;
    cfg.log.init_tracing();
    tracing::info!(service = P::NAME, "{}", loaded.describe());
    if !loaded.env_ignored.is_empty() {
        tracing::warn!(service = P::NAME, variables = ?loaded.env_ignored, "environment variables that set nothing (a typo?)");
    }
    let opts = ServiceOptions::from_config(
        cfg,
        args.data_dir,
        args.reference_dir,
        cfg.run_options(args.follow),
    );

    let ops = Arc::new(Ops::new());
    ops.register_service(P::NAME);
    let _server = if cfg.http.enabled || args.http_listen.is_some() {
        let addr = args.http_listen.unwrap_or(cfg.http.listen);
        match ops.serve(addr) {
            Ok(server) => {
                let bound = server.local_addr();
                tracing::info!(
                    service = P::NAME,
                    "listening on http://{bound} (/health, /ready, /metrics)"
                );
                Some(server)
            }
            Err(e) => {
                eprintln!(
                    "{name}: cannot listen on {addr} for /health, /ready and /metrics: {e} \
                     (set --http-listen ADDR or [http] listen / GIGSTREAM_HTTP_LISTEN, or disable \
                     it with [http] enabled = false / GIGSTREAM_HTTP_ENABLED=false)"
                );
                return ExitCode::FAILURE;
            }
        }
    } else {
        None
    };

    let deadline = cfg.service.shutdown_deadline;
    let stop = Arc::new(AtomicBool::new(false));
    install_stop_handler(stop.clone());
    start_shutdown_watchdog(name.clone(), stop.clone(), deadline);
    let hooks = RunHooks {
        observer: Some(ops.as_ref()),
        shutdown_deadline: Some(deadline),
    };
    let result = load_refdata(opts.reference_dir.clone())
        .map_err(|e| setup("the reference data")(e.to_string()))
        .and_then(|refdata| {
            let codec = Codec::new(Registry::builtin());
            run_service_hooked::<P>(
                &opts,
                codec,
                refdata,
                &stop,
                &mut |p| {
                    tracing::debug!(records = p.records, lag = ?p.lag, "progress");
                },
                hooks,
            )
        });
    match result {
        Ok(s) => {
            tracing::info!(
                service = P::NAME,
                records = s.records,
                commits = s.commits,
                applied = s.stats.applied_total(),
                duplicates = s.stats.duplicates,
                dead_lettered = s.stats.dead_lettered_total(),
                elapsed_ms = s.elapsed.as_millis() as u64,
                "stopped; tables committed"
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            if matches!(e, ServiceError::Run(RunError::ShutdownDeadline { .. })) {
                tracing::error!(service = P::NAME, error = %e, "shutdown deadline passed");
            }
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Option<Args>, String> {
        parse_args("gigstream-sla", args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn arguments() {
        let a = parse(&[
            "--config",
            "/etc/g.toml",
            "--http-listen=127.0.0.1:0",
            "--follow",
            "--data-dir",
            "d",
        ])
        .unwrap()
        .unwrap();
        assert_eq!(a.config, Some(PathBuf::from("/etc/g.toml")));
        assert_eq!(a.http_listen, Some("127.0.0.1:0".parse().unwrap()));
        assert!(a.follow);
        assert_eq!(a.data_dir, Some(PathBuf::from("d")));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--http-listen", "nowhere"])
            .unwrap_err()
            .contains("not an address:port"));
        assert!(parse(&["--config"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--bogus"])
            .unwrap_err()
            .starts_with("unknown argument '--bogus'"));
    }
}
