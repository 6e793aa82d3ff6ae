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

use gigstream_avro::{Codec, Registry};
use gigstream_clickhouse::{ClickHouseConfig, ClickHouseSink};
use gigstream_core::{Projection, RefData, Topic};
use gigstream_kafka::{DeadLetterRef, DlqProducer, KafkaConfig, KafkaSource};
use gigstream_log::Log;
use gigstream_parquet::ParquetStore;
use gigstream_runtime::service::{
    init_tracing, install_stop_handler, load_refdata, DataDir, DEFAULT_PARTITIONS,
};
use gigstream_runtime::{
    run_with, DeadLetter, DeadLetterOutput, EmbeddedSource, Progress, RunOptions, RunSummary, Sink,
    Source,
};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

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
    /// Backends from the environment; embedded ones when nothing is set.
    pub fn from_env(
        data_dir: Option<PathBuf>,
        reference_dir: Option<PathBuf>,
        run: RunOptions,
    ) -> Result<ServiceOptions, ServiceError> {
        Ok(ServiceOptions {
            data_dir: DataDir::resolve(data_dir),
            reference_dir,
            run,
            kafka: KafkaConfig::from_env().map_err(|e| ServiceError::Setup {
                what: "the Kafka settings (GIGSTREAM_KAFKA_*)".into(),
                message: e.to_string(),
            })?,
            clickhouse: ClickHouseConfig::from_env(),
        })
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

/// Sends dead letters to `<topic>.dlq`, waiting for delivery before the commit goes on.
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
    let existing = gigstream_kafka::topic_partitions(k).map_err(|e| e.to_string())?;
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
    Ok(run_with::<P>(
        codec,
        refdata,
        source.as_mut(),
        sink.as_mut(),
        out,
        &opts.run,
        stop,
        progress,
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
        "usage: {name} [--data-dir DIR] [--reference-dir DIR] [--follow]\n\n\
         Runs the {svc} service. Input: the embedded event log in DIR/log (default ./data, or\n\
         GIGSTREAM_DATA_DIR), or Kafka when GIGSTREAM_KAFKA_BROKERS is set (consumer group\n\
         '{svc}' after GIGSTREAM_KAFKA_TOPIC_PREFIX; other librdkafka settings as\n\
         GIGSTREAM_KAFKA_<KEY>). Output: Parquet tables in\n\
         DIR/tables, or ClickHouse when GIGSTREAM_CLICKHOUSE_URL is set (with\n\
         GIGSTREAM_CLICKHOUSE_USER, _PASSWORD, _DATABASE). Without --follow it stops when caught\n\
         up; with it, it keeps reading until interrupted (Ctrl-C / SIGTERM), committing every\n\
         GIGSTREAM_COMMIT_INTERVAL_MS (default 1000 when following).",
        svc = name.trim_start_matches("gigstream-")
    )
}

/// `main` of a service binary (`gigstream-billing`, `gigstream-sla`, `gigstream-market`).
pub fn service_main<P: Projection>() -> ExitCode {
    let name = format!("gigstream-{}", P::NAME);
    let mut data_dir = None;
    let mut reference_dir = None;
    let mut follow = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = args.next().map(PathBuf::from),
            "--reference-dir" => reference_dir = args.next().map(PathBuf::from),
            "--follow" => follow = true,
            "-h" | "--help" => {
                println!("{}", usage(&name));
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("{name}: unknown argument '{other}'\n\n{}", usage(&name));
                return ExitCode::from(2);
            }
        }
    }
    init_tracing();
    let mut run = RunOptions {
        follow,
        ..RunOptions::default()
    };
    if follow {
        run.commit_interval = Duration::from_millis(1000);
    }
    if let Some(ms) = std::env::var("GIGSTREAM_COMMIT_INTERVAL_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        run.commit_interval = Duration::from_millis(ms);
    }
    let result = ServiceOptions::from_env(data_dir, reference_dir, run).and_then(|opts| {
        let stop = Arc::new(AtomicBool::new(false));
        install_stop_handler(stop.clone());
        run_service::<P>(&opts, &stop, &mut |p| {
            tracing::debug!(records = p.records, lag = ?p.lag, "progress");
        })
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
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
}
