//! Reading whole topics from the beginning to their current end, without a consumer group:
//! for tests and tools that count what is in a topic ([`read_topic`], `read_dlq`) and for the
//! throughput baseline of a bare librdkafka consumer ([`raw_consume`]).

use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Nothing is committed and partitions are assigned, not subscribed: the group id only
/// satisfies librdkafka, which wants one even for `assign`.
const READER_ENFORCED: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
];

/// One record read by [`read_topic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// Record timestamp, UTC milliseconds (0 when the record has none).
    pub timestamp_ms: i64,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    /// Headers in record order; a header without a value reads as empty.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What [`raw_consume`] read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawConsume {
    pub records: u64,
    /// Key plus value bytes.
    pub bytes: u64,
    /// From the call to the last record, connection and metadata included.
    pub elapsed: Duration,
    /// From the first record to the last (`None` when the topics were empty): the steady
    /// read rate, without connection set-up.
    pub since_first: Option<Duration>,
}

/// Every record of Kafka topic `name` (the full name, prefix included), from the beginning to
/// the high watermarks read at the start, in partition order.
pub fn read_topic(config: &KafkaConfig, name: &str) -> Result<Vec<ReadRecord>, Error> {
    let mut out = Vec::new();
    consume_to_end(config, &[name.to_string()], "gigstream-reader", &mut |m| {
        out.push(ReadRecord {
            topic: m.topic().to_string(),
            partition: u32::try_from(m.partition()).unwrap_or(0),
            offset: u64::try_from(m.offset()).unwrap_or(0),
            timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
            key: m.key().map(<[u8]>::to_vec),
            value: m.payload().map(<[u8]>::to_vec),
            headers: m
                .headers()
                .map(|h| {
                    h.iter()
                        .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                        .collect()
                })
                .unwrap_or_default(),
        })
    })?;
    out.sort_by_key(|r| (r.partition, r.offset));
    Ok(out)
}

/// Reads gigstream `topics` whole (beginning to the high watermarks read at the start) with a
/// plain librdkafka consumer that does nothing per record but count, as `group` (no join, no
/// commit): the baseline a [`crate::KafkaSource`]'s throughput is compared with.
pub fn raw_consume(
    config: &KafkaConfig,
    topics: &[Topic],
    group: &str,
) -> Result<RawConsume, Error> {
    let names: Vec<String> = topics.iter().map(|t| config.topic_name(*t)).collect();
    let mut bytes = 0u64;
    let end = consume_to_end(config, &names, group, &mut |m| {
        bytes += (m.key_len() + m.payload_len()) as u64;
    })?;
    Ok(RawConsume {
        records: end.records,
        bytes,
        elapsed: end.elapsed,
        since_first: end.first.map(|f| end.last.saturating_duration_since(f)),
    })
}

struct End {
    records: u64,
    elapsed: Duration,
    first: Option<Instant>,
    last: Instant,
}

/// Assigns every partition of `names` from the beginning and hands each record to `f` until
/// every partition reaches the high watermark it had at the start.
///
/// Fails when no record arrives for three request timeouts while some are still expected.
fn consume_to_end(
    config: &KafkaConfig,
    names: &[String],
    group: &str,
    f: &mut dyn FnMut(&BorrowedMessage<'_>),
) -> Result<End, Error> {
    let started = Instant::now();
    let mut cc = crate::config::client_config(config, &[], READER_ENFORCED);
    cc.set("group.id", group);
    let consumer: BaseConsumer = cc.create().map_err(|source| Error::Client {
        client: "reader",
        source,
    })?;
    // (index in names, partition) → high watermark still to reach.
    let index: HashMap<&str, usize> = names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let mut left: HashMap<(usize, i32), i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    let mut expected = 0u64;
    for (i, name) in names.iter().enumerate() {
        let md = consumer
            .fetch_metadata(Some(name), config.request_timeout)
            .map_err(|e| Error::kafka(format!("metadata of {name}"), e))?;
        let topic = md
            .topics()
            .iter()
            .find(|t| t.name() == name)
            .filter(|t| t.error().is_none() && !t.partitions().is_empty())
            .ok_or_else(|| Error::Setting {
                key: format!("topic {name}"),
                reason: "does not exist on the brokers; produce to it first".into(),
            })?;
        for p in topic.partitions() {
            let (lo, hi) = consumer
                .fetch_watermarks(name, p.id(), config.request_timeout)
                .map_err(|e| Error::kafka(format!("watermarks of {name}/{}", p.id()), e))?;
            if hi > lo {
                expected += (hi - lo) as u64;
                left.insert((i, p.id()), hi);
                tpl.add_partition_offset(name, p.id(), Offset::Beginning)
                    .map_err(|e| Error::kafka("assign", e))?;
            }
        }
    }
    let mut end = End {
        records: 0,
        elapsed: Duration::ZERO,
        first: None,
        last: Instant::now(),
    };
    if left.is_empty() {
        end.elapsed = started.elapsed();
        return Ok(end);
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::kafka("assign partitions", e))?;
    let stall = config.request_timeout * 3;
    let mut last_progress = Instant::now();
    while !left.is_empty() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                f(&m);
                end.records += 1;
                end.last = Instant::now();
                end.first.get_or_insert(end.last);
                last_progress = end.last;
                if let Some(&i) = index.get(m.topic()) {
                    let k = (i, m.partition());
                    if left.get(&k).is_some_and(|hi| m.offset() + 1 >= *hi) {
                        left.remove(&k);
                    }
                }
            }
            Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                return Err(Error::kafka("consume", e))
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka reader error (retried)"),
            None => {}
        }
        if last_progress.elapsed() >= stall {
            return Err(Error::Timeout {
                what: format!(
                    "reading the remaining {} of {expected} records of {names:?}",
                    expected.saturating_sub(end.records)
                ),
                secs: stall.as_secs(),
                brokers: config.brokers.clone(),
                cause: None,
            });
        }
    }
    end.elapsed = end.last.saturating_duration_since(started);
    Ok(end)
}
