//! Dead-letter topics: a record a service cannot use goes to `<topic>.dlq` with its original
//! key and value bytes and the reason in headers, so it can be inspected and replayed with any
//! Kafka tool.
//!
//! Headers (all UTF-8 text; numbers in decimal):
//! `gigstream.reason.code` (stable code such as `bad_magic` or `late`), `gigstream.reason`
//! (what exactly was wrong), `gigstream.service`, and where the record was read:
//! `gigstream.topic` (the Kafka topic name, prefix included), `gigstream.partition`,
//! `gigstream.offset`, `gigstream.timestamp` (its record timestamp, UTC milliseconds).
//!
//! Beside them, the names Kafka Connect's dead-letter queue uses (Apache Kafka's
//! `connect-runtime` `DeadLetterQueueReporter`: `__connect.errors.` + a name, values UTF-8
//! text, numbers in decimal), so tools built for Connect's DLQs read gigstream's too:
//!
//! | header | value |
//! |---|---|
//! | `__connect.errors.topic`, `.partition`, `.offset` | where the original was read (same as `gigstream.topic`, ...) |
//! | `__connect.errors.connector.name` | `gigstream-<service>` |
//! | `__connect.errors.stage` | Connect's stage name: `VALUE_CONVERTER` for a record that cannot be decoded, `TASK_PUT` for one that was decoded but refused (invalid, late, a service rule) |
//! | `__connect.errors.class.name` | what refused it: `gigstream.decode` or `gigstream.<service>` |
//! | `__connect.errors.exception.class.name` | the reason code (`bad_magic`, `late`, ...) |
//! | `__connect.errors.exception.message` | the reason (as `gigstream.reason`) |
//!
//! Connect's `task.id` and `exception.stacktrace` are not written: gigstream has no Connect
//! tasks and no stack traces.

use crate::producer::{PRODUCER_DEFAULTS, PRODUCER_ENFORCED};
use crate::read::read_topic;
use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::ClientContext;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const HEADER_REASON_CODE: &str = "gigstream.reason.code";
pub const HEADER_REASON: &str = "gigstream.reason";
pub const HEADER_SERVICE: &str = "gigstream.service";
pub const HEADER_TOPIC: &str = "gigstream.topic";
pub const HEADER_PARTITION: &str = "gigstream.partition";
pub const HEADER_OFFSET: &str = "gigstream.offset";
pub const HEADER_TIMESTAMP: &str = "gigstream.timestamp";

/// The prefix of Kafka Connect's dead-letter headers (`DeadLetterQueueReporter.HEADER_PREFIX`).
pub const CONNECT_HEADER_PREFIX: &str = "__connect.errors.";
pub const CONNECT_HEADER_TOPIC: &str = "__connect.errors.topic";
pub const CONNECT_HEADER_PARTITION: &str = "__connect.errors.partition";
pub const CONNECT_HEADER_OFFSET: &str = "__connect.errors.offset";
pub const CONNECT_HEADER_CONNECTOR_NAME: &str = "__connect.errors.connector.name";
pub const CONNECT_HEADER_STAGE: &str = "__connect.errors.stage";
pub const CONNECT_HEADER_EXECUTING_CLASS: &str = "__connect.errors.class.name";
pub const CONNECT_HEADER_EXCEPTION: &str = "__connect.errors.exception.class.name";
pub const CONNECT_HEADER_EXCEPTION_MESSAGE: &str = "__connect.errors.exception.message";

/// Where in the pipeline a record was refused, in Kafka Connect's terms (its `Stage` enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DlqStage {
    /// The record could not be decoded (Connect: `VALUE_CONVERTER`).
    Decode,
    /// Decoded, then refused: invalid, beyond the allowed lateness, or a service's own rule
    /// (Connect: `TASK_PUT`, the sink task's processing).
    Process,
}

impl DlqStage {
    /// Connect's name of the stage.
    pub fn connect_name(self) -> &'static str {
        match self {
            DlqStage::Decode => "VALUE_CONVERTER",
            DlqStage::Process => "TASK_PUT",
        }
    }
}

/// A dead letter to send: the record as it was read, and why it was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLetterRef<'a> {
    /// The service that rejected it (billing, sla, market).
    pub service: &'a str,
    /// The topic it was read from; the letter goes to that topic's `.dlq` twin.
    pub topic: Topic,
    pub partition: u32,
    pub offset: u64,
    /// Record timestamp of the original, UTC milliseconds.
    pub timestamp_ms: i64,
    /// Stable reason code.
    pub code: &'a str,
    /// Human-readable detail.
    pub reason: &'a str,
    /// Decoding or processing (for the Kafka Connect headers).
    pub stage: DlqStage,
    pub key: &'a [u8],
    pub value: &'a [u8],
}

/// A dead letter read back by [`read_dlq`], headers parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DlqRecord {
    /// Where it is in the `.dlq` topic.
    pub partition: u32,
    pub offset: u64,
    /// When it was dead-lettered (the DLQ record's timestamp), UTC milliseconds.
    pub timestamp_ms: i64,
    /// The original key and value bytes (absent ones read as empty).
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub code: String,
    pub reason: String,
    pub service: String,
    /// Where the original was read: Kafka topic name, partition, offset, record timestamp.
    pub source_topic: String,
    pub source_partition: u32,
    pub source_offset: u64,
    pub source_timestamp_ms: i64,
    /// Every header as read, in order (the gigstream and the Kafka Connect names).
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Delivery outcomes, filled by librdkafka's delivery callback on the producer's thread.
#[derive(Default)]
struct Outcomes {
    delivered: AtomicU64,
    /// Descriptions of the letters that failed since the last flush.
    failed: Mutex<Vec<String>>,
}

impl ClientContext for Outcomes {}

impl ProducerContext for Outcomes {
    /// What the letter is, for error messages.
    type DeliveryOpaque = Box<String>;

    fn delivery(&self, result: &DeliveryResult<'_>, what: Box<String>) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
                failed.push(format!("{what} to {}: {e}", m.topic()));
            }
        }
    }
}

/// Sends dead letters to the `.dlq` topics; [`DlqProducer::flush`] says whether they all
/// arrived.
///
/// A service must flush before it commits the positions of the records it dead-lettered:
/// otherwise a crash between the two loses letters (the positions say "done", the letters
/// never arrived). Same idempotent, murmur2-partitioned settings as [`crate::KafkaProducer`],
/// so a letter lands in the partition number its original came from (twins have the same
/// partition count).
pub struct DlqProducer {
    producer: ThreadedProducer<Outcomes>,
    config: KafkaConfig,
}

impl DlqProducer {
    pub fn new(config: &KafkaConfig) -> Result<DlqProducer, Error> {
        let producer = crate::config::client_config(config, PRODUCER_DEFAULTS, PRODUCER_ENFORCED)
            .create_with_context(Outcomes::default())
            .map_err(|source| Error::Client {
                client: "dead-letter producer",
                source,
            })?;
        Ok(DlqProducer {
            producer,
            config: config.clone(),
        })
    }

    /// Queues one dead letter (delivery happens in the background; see
    /// [`DlqProducer::flush`]). Waits up to the request timeout when librdkafka's queue is
    /// full.
    pub fn send(&self, letter: &DeadLetterRef<'_>) -> Result<(), Error> {
        let source_topic = self.config.topic_name(letter.topic);
        let dlq = self.config.dlq_name(letter.topic);
        let (partition, offset, timestamp) = (
            letter.partition.to_string(),
            letter.offset.to_string(),
            letter.timestamp_ms.to_string(),
        );
        let connector = format!("gigstream-{}", letter.service);
        let executing = match letter.stage {
            DlqStage::Decode => "gigstream.decode".to_string(),
            DlqStage::Process => format!("gigstream.{}", letter.service),
        };
        let headers = [
            (HEADER_REASON_CODE, letter.code),
            (HEADER_REASON, letter.reason),
            (HEADER_SERVICE, letter.service),
            (HEADER_TOPIC, source_topic.as_str()),
            (HEADER_PARTITION, partition.as_str()),
            (HEADER_OFFSET, offset.as_str()),
            (HEADER_TIMESTAMP, timestamp.as_str()),
            (CONNECT_HEADER_TOPIC, source_topic.as_str()),
            (CONNECT_HEADER_PARTITION, partition.as_str()),
            (CONNECT_HEADER_OFFSET, offset.as_str()),
            (CONNECT_HEADER_CONNECTOR_NAME, connector.as_str()),
            (CONNECT_HEADER_STAGE, letter.stage.connect_name()),
            (CONNECT_HEADER_EXECUTING_CLASS, executing.as_str()),
            (CONNECT_HEADER_EXCEPTION, letter.code),
            (CONNECT_HEADER_EXCEPTION_MESSAGE, letter.reason),
        ]
        .into_iter()
        .fold(OwnedHeaders::new_with_capacity(15), |h, (key, value)| {
            h.insert(Header {
                key,
                value: Some(value),
            })
        });
        let what = format!(
            "the {} dead letter of {source_topic}/{}@{} ({})",
            letter.service, letter.partition, letter.offset, letter.code
        );
        let mut record = BaseRecord::with_opaque_to(&dlq, Box::new(what))
            .key(letter.key)
            .payload(letter.value)
            .headers(headers);
        let deadline = Instant::now() + self.config.request_timeout;
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                    if Instant::now() < deadline =>
                {
                    // The producer's thread is delivering; give it a moment.
                    record = back;
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err((source, _)) => return Err(Error::Delivery { topic: dlq, source }),
            }
        }
    }

    /// Waits until every queued letter is delivered or failed; returns how many were
    /// delivered since the previous flush, or an error naming the ones that failed (or that
    /// `timeout` passed with letters still in flight).
    pub fn flush(&self, timeout: Duration) -> Result<u64, Error> {
        let flushed = self.producer.flush(timeout);
        let ctx = self.producer.context();
        let failed = std::mem::take(&mut *ctx.failed.lock().unwrap_or_else(|p| p.into_inner()));
        let delivered = ctx.delivered.swap(0, Ordering::Relaxed);
        if let Some(first) = failed.first() {
            return Err(Error::DeadLetters {
                failed: failed.len() as u64,
                first: first.clone(),
            });
        }
        match flushed {
            Ok(()) => Ok(delivered),
            Err(_) => Err(Error::Timeout {
                what: format!(
                    "delivery of {} dead letters",
                    self.producer.in_flight_count()
                ),
                secs: timeout.as_secs(),
                brokers: self.config.brokers.clone(),
                cause: None,
            }),
        }
    }
}

/// Every dead letter in `topic`'s `.dlq` twin (prefix rules of `config`), from the beginning
/// to the current end, in partition and offset order.
pub fn read_dlq(config: &KafkaConfig, topic: Topic) -> Result<Vec<DlqRecord>, Error> {
    let name = config.dlq_name(topic);
    read_topic(config, &name)?
        .into_iter()
        .map(|r| {
            let h = LetterHeaders {
                at: format!("{name}/{}@{}", r.partition, r.offset),
                headers: &r.headers,
            };
            Ok(DlqRecord {
                code: h.text(HEADER_REASON_CODE)?,
                reason: h.text(HEADER_REASON)?,
                service: h.text(HEADER_SERVICE)?,
                source_topic: h.text(HEADER_TOPIC)?,
                source_partition: h.number(HEADER_PARTITION)?,
                source_offset: h.number(HEADER_OFFSET)?,
                source_timestamp_ms: h.number(HEADER_TIMESTAMP)?,
                partition: r.partition,
                offset: r.offset,
                timestamp_ms: r.timestamp_ms,
                key: r.key.clone().unwrap_or_default(),
                value: r.value.clone().unwrap_or_default(),
                headers: r.headers.clone(),
            })
        })
        .collect()
}

/// The headers of the dead letter at `at` (`topic/partition@offset`, for errors).
struct LetterHeaders<'a> {
    at: String,
    headers: &'a [(String, Vec<u8>)],
}

impl LetterHeaders<'_> {
    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            what: format!("dead letter {}", self.at),
            reason,
        }
    }

    fn text(&self, key: &str) -> Result<String, Error> {
        let (_, v) = self
            .headers
            .iter()
            .find(|(k, _)| k == key)
            .ok_or_else(|| self.malformed(format!("header {key} is missing")))?;
        String::from_utf8(v.clone())
            .map_err(|_| self.malformed(format!("header {key} is not utf-8")))
    }

    fn number<T: std::str::FromStr>(&self, key: &str) -> Result<T, Error> {
        let t = self.text(key)?;
        t.parse().map_err(|_| {
            self.malformed(format!(
                "header {key} is {t:?}, not a number of type {}",
                std::any::type_name::<T>()
            ))
        })
    }
}
