//! Hosting a projection as a service: the configured source and sink around the runtime.
//!
//! | input                                   | output                                        |
//! |-----------------------------------------|-----------------------------------------------|
//! | embedded log in `DATA_DIR/log` (default) | Parquet tables in `DATA_DIR/tables` (default) |
//! | Kafka when `[kafka] brokers` is set     | ClickHouse when `[clickhouse] url` is set     |
//!
//! Confluent schema ids are the catalog's (`schemas/catalog.json`), or, with `[schema_registry]
//! url` set, resolved through that registry ([`service_codec`]): producers with Confluent's
//! serializers write the ids it assigns. While it cannot be reached, records wait (see
//! `gigstream_runtime::run`); an id it does not know is an `unknown_schema` dead letter.
//!
//! With Kafka, each service is its own consumer group (`gigstream-<service>` after the topic
//! prefix; `[kafka] group_id`), dead letters also go to `<topic>.dlq`
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

mod binary;

pub use binary::{service_main, ServiceArgs};

use gigstream_avro::DecodeError;
use gigstream_avro::{Codec, Registry};
use gigstream_clickhouse::ClickHouseSink;
use gigstream_config::{ClickHouseConfig, Config, DataDir, KafkaConfig};
use gigstream_core::validate::Invalid;
use gigstream_core::{Projection, RefData, Topic};
use gigstream_kafka::{DeadLetterRef, DlqProducer, DlqStage, KafkaSource};
use gigstream_log::{EmbeddedSource, Log};
use gigstream_parquet::ParquetStore;
use gigstream_registry::{RegistryConfig, SchemaRegistry};
use gigstream_runtime::{
    DeadLetter, DeadLetterOutput, Pipeline, Progress, RunObserver, RunOptions, RunSummary, Sink,
    Source,
};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a service reads and writes: the embedded backends under `data_dir`, or Kafka and
/// ClickHouse when configured.
#[derive(Debug, Clone)]
pub struct Backends {
    pub data_dir: DataDir,
    /// Kafka instead of the embedded log.
    pub kafka: Option<KafkaConfig>,
    /// ClickHouse instead of Parquet.
    pub clickhouse: Option<ClickHouseConfig>,
}

impl Backends {
    /// The embedded log and Parquet tables under `data_dir`.
    pub fn embedded(data_dir: DataDir) -> Backends {
        Backends {
            data_dir,
            kafka: None,
            clickhouse: None,
        }
    }

    /// The configured backends; `data_dir` (a command-line flag) wins over the configured one.
    pub fn from_config(cfg: &Config, data_dir: Option<PathBuf>) -> Backends {
        Backends {
            data_dir: data_dir.map(DataDir::new).unwrap_or_else(|| cfg.data_dir()),
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

/// One run of a service: where, how, and what every service of a process shares.
#[derive(Clone)]
pub struct ServiceRun<'a> {
    pub backends: &'a Backends,
    pub options: RunOptions,
    pub codec: Codec,
    pub refdata: Arc<RefData>,
    /// Metrics and readiness.
    pub observer: Option<&'a dyn RunObserver>,
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

/// The codec of a service reading `backends`: the catalog's schemas (the reader of every
/// topic); Confluent ids of Kafka records are resolved through the schema registry when
/// `registry` is given (`Config::schema_registry`), else they are the catalog's, as without a
/// registry. The embedded log holds what gigstream wrote itself (`gen`, `produce --from`), with
/// the catalog's ids: it is read with them whatever is configured.
pub fn service_codec(
    registry: Option<RegistryConfig>,
    backends: &Backends,
) -> Result<Codec, ServiceError> {
    let codec = Codec::new(Registry::builtin());
    let Some(config) = registry else {
        return Ok(codec);
    };
    if backends.kafka.is_none() {
        tracing::info!(
            registry = %config.url,
            "a schema registry is configured, but the input is the embedded log, whose records carry the catalog's schema ids: the registry is not used"
        );
        return Ok(codec);
    }
    let strategy = config.subject_strategy;
    let client = SchemaRegistry::new(config)
        .map_err(|e| setup("the schema registry client")(e.to_string()))?;
    tracing::info!(
        registry = client.url(),
        subject_strategy = %strategy,
        "schema ids are resolved through the schema registry"
    );
    Ok(codec.with_writer_schemas(Arc::new(client)))
}

/// Where a codec takes the writer schemas of Confluent ids from, for logs: `schema registry
/// <url>` (never a credential) or the catalog.
pub fn describe_schemas(codec: &Codec) -> String {
    codec
        .writer_schemas()
        .map(|w| w.describe())
        .unwrap_or_else(|| "catalog schemas/catalog.json".to_string())
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
                    stage: if DecodeError::CODES.contains(&d.code.as_str()) {
                        DlqStage::Decode
                    } else {
                        DlqStage::Process
                    },
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
            let n = existing
                .get(&name)
                .copied()
                .unwrap_or(gigstream_core::DEFAULT_PARTITIONS);
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
    run: &ServiceRun<'_>,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<RunSummary, ServiceError> {
    let b = run.backends;
    let (input, output) = b.describe();
    let schemas = describe_schemas(&run.codec);
    tracing::info!(service = P::NAME, %input, %output, %schemas, "starting");

    let mut sink: Box<dyn Sink> = match &b.clickhouse {
        Some(c) => Box::new(
            ClickHouseSink::connect(c.clone())
                .map_err(|e| setup("the ClickHouse sink")(e.to_string()))?,
        ),
        None => Box::new(ParquetStore::new(b.data_dir.tables())),
    };
    let mut dlq: Option<KafkaDeadLetters> = None;
    let mut source: Box<dyn Source> = match &b.kafka {
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
            let log = Log::open(&b.data_dir.log())
                .map_err(|e| setup("the embedded log")(e.to_string()))?;
            Box::new(
                EmbeddedSource::new(
                    log,
                    P::NAME,
                    P::topics(),
                    gigstream_core::DEFAULT_PARTITIONS,
                )
                .map_err(|e| setup("the embedded log")(e.to_string()))?,
            )
        }
    };
    let pipeline = Pipeline {
        codec: run.codec.clone(),
        refdata: run.refdata.clone(),
        source: source.as_mut(),
        sink: sink.as_mut(),
        dead_letters: dlq.as_mut().map(|d| d as &mut dyn DeadLetterOutput),
        observer: run.observer,
    };
    Ok(gigstream_runtime::run::<P>(
        pipeline,
        &run.options,
        stop,
        progress,
    )?)
}

/// The consumer group of a service: the topic prefix, then `[kafka] group_id` with
/// `{service}` replaced (default `gigstream-<service>`), so that deployments sharing a cluster
/// under different prefixes (`staging.`, a test's own prefix) never share a group and
/// gigstream's groups are told apart from other applications' (see
/// [`KafkaConfig::group_of`]).
pub fn consumer_group(k: &KafkaConfig, service: &str) -> String {
    k.group_of(service)
}

/// Sets `stop` on SIGINT/SIGTERM so the loop commits and exits cleanly.
pub fn install_stop_handler(stop: Arc<AtomicBool>) {
    let _ = ctrlc::set_handler(move || stop.store(true, Ordering::SeqCst));
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
