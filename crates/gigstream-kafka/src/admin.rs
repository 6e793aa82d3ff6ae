//! Topic administration and broker readiness.

use crate::{config::dlq_of, Error, KafkaConfig};
use gigstream_core::Topic;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::{ClientContext, DefaultClientContext};
use rdkafka::config::RDKafkaLogLevel;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What [`ensure_topics`] found or did for one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub name: String,
    pub partitions: u32,
    /// Whether this call created it.
    pub created: bool,
}

/// A client context that keeps the last error librdkafka reported (a refused connection, a
/// failed TLS handshake or authentication), so that a timeout can say what went wrong.
#[derive(Default)]
pub(crate) struct Diagnosed {
    last: Mutex<Option<String>>,
}

impl Diagnosed {
    pub(crate) fn last_error(&self) -> Option<String> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Serves the client's queued events, so that errors reach [`Diagnosed`]; the last error.
fn last_error(client: &BaseConsumer<Diagnosed>) -> Option<String> {
    for _ in 0..100 {
        match client.poll(Duration::ZERO) {
            Some(Err(e)) => client.context().keep(&e.to_string()),
            Some(Ok(_)) => {}
            None => break,
        }
    }
    client.context().last_error()
}

impl rdkafka::consumer::ConsumerContext for Diagnosed {}

impl Diagnosed {
    fn keep(&self, message: &str) {
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some(message.to_string());
    }
}

impl ClientContext for Diagnosed {
    /// librdkafka logs a failed connection, TLS handshake or authentication from its own
    /// threads at once (errors only reach [`ClientContext::error`] when the client is polled).
    fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
        match level {
            RDKafkaLogLevel::Emerg
            | RDKafkaLogLevel::Alert
            | RDKafkaLogLevel::Critical
            | RDKafkaLogLevel::Error => {
                tracing::error!(target: "librdkafka", "{fac} {message}");
                self.keep(message);
            }
            RDKafkaLogLevel::Warning => {
                tracing::warn!(target: "librdkafka", "{fac} {message}");
                self.keep(message);
            }
            RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => {
                tracing::info!(target: "librdkafka", "{fac} {message}");
                // A connection that failed (e.g. plaintext to a TLS listener) is only info.
                if fac == "FAIL" {
                    self.keep(message);
                }
            }
            RDKafkaLogLevel::Debug => tracing::debug!(target: "librdkafka", "{fac} {message}"),
        }
    }

    fn error(&self, error: KafkaError, reason: &str) {
        tracing::warn!(target: "librdkafka", %error, "{reason}");
        self.keep(reason);
    }
}

fn metadata_client(config: &KafkaConfig) -> Result<BaseConsumer<Diagnosed>, Error> {
    crate::config::client_config(config, &[], &[])
        .create_with_context::<_, BaseConsumer<Diagnosed>>(Diagnosed::default())
        .map_err(|source| Error::Client {
            client: "metadata client",
            source,
        })
}

/// The error of a failed metadata request, with librdkafka's last error as its cause.
fn metadata_error(config: &KafkaConfig, client: &BaseConsumer<Diagnosed>, e: KafkaError) -> Error {
    match (&e, last_error(client)) {
        (KafkaError::MetadataFetch(RDKafkaErrorCode::OperationTimedOut), cause) => Error::Timeout {
            what: "a kafka metadata answer".into(),
            secs: config.request_timeout.as_secs(),
            brokers: config.brokers.clone(),
            cause,
        },
        (_, Some(cause)) => Error::Unusable(format!(
            "metadata request failed: {e}{}",
            crate::error::advice(&config.brokers, Some(&cause))
        )),
        (_, None) => Error::kafka("metadata request", e),
    }
}

/// Partition count of every topic in the cluster (one metadata request for all topics: on a
/// cluster with many topics, [`partitions_of`] asks for less).
pub fn topic_partitions(config: &KafkaConfig) -> Result<BTreeMap<String, u32>, Error> {
    let client = metadata_client(config)?;
    let md = client
        .fetch_metadata(None, config.request_timeout)
        .map_err(|e| metadata_error(config, &client, e))?;
    Ok(md
        .topics()
        .iter()
        .filter(|t| t.error().is_none())
        .map(|t| (t.name().to_string(), t.partitions().len() as u32))
        .collect())
}

/// Partition count of each of the topics `names` that exists (a metadata request per topic;
/// missing topics are left out, never created).
///
/// A metadata request for all topics grows with the cluster: tansu 0.6 took 3.5 s to list 460
/// topics, and more than the 10 s request timeout under load.
pub fn partitions_of(
    config: &KafkaConfig,
    names: &[String],
) -> Result<BTreeMap<String, u32>, Error> {
    let client = metadata_client(config)?;
    partitions_with(config, &client, names)
}

fn partitions_with(
    config: &KafkaConfig,
    client: &BaseConsumer<Diagnosed>,
    names: &[String],
) -> Result<BTreeMap<String, u32>, Error> {
    let mut out = BTreeMap::new();
    for name in names {
        let md = client
            .fetch_metadata(Some(name), config.request_timeout)
            .map_err(|e| metadata_error(config, client, e))?;
        for t in md.topics() {
            if t.error().is_none() && t.name() == name && !t.partitions().is_empty() {
                out.insert(t.name().to_string(), t.partitions().len() as u32);
            }
        }
    }
    Ok(out)
}

/// Waits until the brokers answer a metadata request about topic `probe` (which need not
/// exist, and is not created), retrying until `timeout`; returns the number of brokers they
/// advertise.
pub fn wait_ready(config: &KafkaConfig, probe: &str, timeout: Duration) -> Result<usize, Error> {
    let client = metadata_client(config)?;
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match client.fetch_metadata(Some(probe), left.min(Duration::from_secs(2))) {
            Ok(md) if !md.brokers().is_empty() => return Ok(md.brokers().len()),
            Ok(_) | Err(_) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(200))
            }
            _ => {
                return Err(Error::Timeout {
                    what: "a kafka metadata answer".into(),
                    secs: timeout.as_secs(),
                    brokers: config.brokers.clone(),
                    cause: last_error(&client),
                })
            }
        }
    }
}

/// Creates the topics in `topics` (name, partitions) that are missing, each with its
/// `<name>.dlq` dead-letter topic of the same partition count, and checks that existing ones
/// have the asked partition count (murmur2 placement depends on it).
///
/// New topics get [`KafkaConfig::replication_factor`] replicas.
pub async fn ensure_topics(
    config: &KafkaConfig,
    topics: &[(&str, u32)],
) -> Result<Vec<TopicStatus>, Error> {
    let mut wanted: Vec<(String, u32)> = Vec::new();
    for (name, parts) in topics {
        if *parts == 0 {
            return Err(Error::Setting {
                key: format!("partitions of {name}"),
                reason: "must be at least 1".into(),
            });
        }
        wanted.push((name.to_string(), *parts));
        wanted.push((dlq_of(name), *parts));
    }
    let cfg = config.clone();
    let names: Vec<String> = wanted.iter().map(|(n, _)| n.clone()).collect();
    let existing = tokio::task::spawn_blocking(move || partitions_of(&cfg, &names))
        .await
        .map_err(|e| Error::Local {
            what: "the metadata request task",
            source: std::io::Error::other(e),
        })??;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for (name, parts) in &wanted {
        match existing.get(name) {
            Some(&actual) if actual != *parts => {
                return Err(Error::PartitionMismatch {
                    topic: name.clone(),
                    expected: *parts,
                    actual,
                })
            }
            Some(_) => out.push(TopicStatus {
                name: name.clone(),
                partitions: *parts,
                created: false,
            }),
            None => missing.push((name.clone(), *parts)),
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let admin: AdminClient<DefaultClientContext> = crate::config::client_config(config, &[], &[])
        .create()
        .map_err(|source| Error::Client {
            client: "admin client",
            source,
        })?;
    let rf = config.replication_factor;
    let new: Vec<NewTopic<'_>> = missing
        .iter()
        .map(|(name, parts)| {
            // The log is the record of truth (services replay it from offset 0), and generated
            // records carry backdated timestamps that a time retention would delete unread.
            NewTopic::new(name, *parts as i32, TopicReplication::Fixed(rf))
                .set("retention.ms", "-1")
                .set("retention.bytes", "-1")
        })
        .collect();
    let opts = AdminOptions::new().request_timeout(Some(config.request_timeout));
    let results = admin
        .create_topics(new.iter(), &opts)
        .await
        .map_err(|e| Error::kafka("create topics", e))?;
    for r in results {
        match r {
            Ok(_) => {}
            // Another process created it between our metadata read and the request.
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => {
                return Err(Error::kafka(
                    format!("create topic {name}"),
                    rdkafka::error::KafkaError::AdminOp(code),
                ))
            }
        }
    }
    for (name, parts) in missing {
        out.push(TopicStatus {
            name,
            partitions: parts,
            created: true,
        });
    }
    Ok(out)
}

/// The end (high watermark: the offset the next record will get) of every partition of
/// `topics`, which must exist.
pub fn end_offsets(
    config: &KafkaConfig,
    topics: &[Topic],
) -> Result<BTreeMap<(Topic, u32), u64>, Error> {
    EndOffsets::new(config, topics)?.read()
}

/// Reads the end offsets of the partitions of some topics again and again with one client
/// (for sampling: a client per read costs a connection and a metadata request each time).
pub struct EndOffsets {
    client: BaseConsumer<Diagnosed>,
    partitions: Vec<(Topic, String, u32)>,
    timeout: Duration,
}

impl EndOffsets {
    /// The partitions of `topics` as they are now (each topic must exist).
    pub fn new(config: &KafkaConfig, topics: &[Topic]) -> Result<EndOffsets, Error> {
        let client = metadata_client(config)?;
        let names: Vec<String> = topics.iter().map(|t| config.topic_name(*t)).collect();
        let counts = partitions_with(config, &client, &names)?;
        let mut partitions = Vec::new();
        for &topic in topics {
            let name = config.topic_name(topic);
            let Some(&n) = counts.get(&name) else {
                return Err(Error::Setting {
                    key: format!("topic {name}"),
                    reason: "does not exist: produce to it first (gigstream produce)".into(),
                });
            };
            partitions.extend((0..n).map(|p| (topic, name.clone(), p)));
        }
        Ok(EndOffsets {
            client,
            partitions,
            timeout: config.request_timeout,
        })
    }

    /// The end offset (high watermark) of every partition.
    pub fn read(&self) -> Result<BTreeMap<(Topic, u32), u64>, Error> {
        let mut out = BTreeMap::new();
        for (topic, name, p) in &self.partitions {
            let (_, high) = self
                .client
                .fetch_watermarks(name, *p as i32, self.timeout)
                .map_err(|e| Error::kafka(format!("watermarks of {name}/{p}"), e))?;
            out.insert((*topic, *p), high.max(0) as u64);
        }
        Ok(out)
    }
}

/// Sets the committed offsets of consumer group `group` on every partition of `topics` to the
/// partition's start, as `kafka-consumer-groups --reset-offsets --to-earliest` does. The group
/// must have no active member (stop its services first); gigstream's services resume from the
/// positions stored with their output, so this changes only the progress hint, which is what
/// a replay must not depend on.
pub fn reset_group_to_earliest(
    config: &KafkaConfig,
    group: &str,
    topics: &[Topic],
) -> Result<usize, Error> {
    let mut cc = crate::config::client_config(config, &[], &[("enable.auto.commit", "false")]);
    cc.set("group.id", group);
    let consumer: BaseConsumer = cc.create().map_err(|source| Error::Client {
        client: "group offsets client",
        source,
    })?;
    let names: Vec<String> = topics.iter().map(|t| config.topic_name(*t)).collect();
    let counts = partitions_of(config, &names)?;
    let mut tpl = TopicPartitionList::new();
    for &topic in topics {
        let name = config.topic_name(topic);
        let n = counts.get(&name).copied().unwrap_or(0);
        for p in 0..n {
            let (low, _) = consumer
                .fetch_watermarks(&name, p as i32, config.request_timeout)
                .map_err(|e| Error::kafka(format!("watermarks of {name}/{p}"), e))?;
            tpl.add_partition_offset(&name, p as i32, Offset::Offset(low.max(0)))
                .map_err(|e| Error::kafka(format!("offset of {name}/{p}"), e))?;
        }
    }
    let n = tpl.count();
    if n > 0 {
        consumer
            .commit(&tpl, CommitMode::Sync)
            .map_err(|e| Error::kafka(format!("committing group {group}'s offsets"), e))?;
    }
    Ok(n)
}
