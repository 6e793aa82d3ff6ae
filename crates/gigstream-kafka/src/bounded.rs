//! Reading exact prefixes of partitions: every record of each given partition from offset 0 up
//! to (excluding) a given end offset, never beyond, with a throwaway consumer (manual
//! `assign`, no subscription, nothing committed). `gigstream verify` uses it to recompute the
//! tables from exactly the records the stored checkpoints claim to reflect, even when the
//! topics have grown since.

use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use gigstream_runtime::RecordRef;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Nothing is committed and partitions are assigned, not subscribed; the end of a partition is
/// reported so that a prefix whose last offsets hold no record (a transaction marker) ends too.
const BOUNDED_ENFORCED: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "true"),
];

/// Hands `f` every record of each `(topic, partition, end)` from offset 0 to `end` (excluded),
/// partitions interleaved but each in offset order; returns how many records it handed over.
///
/// Fails, before reading anything, when a partition no longer holds offset 0 (retention
/// deleted the start: the prefix cannot be recomputed) or holds fewer than `end` offsets (the
/// topic was recreated); and when no record arrives for three request timeouts while some are
/// still expected.
pub fn read_partitions_until(
    config: &KafkaConfig,
    parts: &[(Topic, u32, u64)],
    f: &mut dyn FnMut(RecordRef<'_>),
) -> Result<u64, Error> {
    let mut cc = crate::config::client_config(config, &[], BOUNDED_ENFORCED);
    cc.set(
        "group.id",
        format!("gigstream-verify-{}", std::process::id()),
    );
    let consumer: BaseConsumer = cc.create().map_err(|source| Error::Client {
        client: "bounded reader",
        source,
    })?;
    let names: HashMap<String, Topic> = parts
        .iter()
        .map(|(t, _, _)| (config.topic_name(*t), *t))
        .collect();
    // (topic, partition) → end offset, for the partitions not finished yet.
    let mut left: HashMap<(Topic, i32), i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    for &(topic, partition, end) in parts {
        if end == 0 {
            continue;
        }
        let name = config.topic_name(topic);
        let p = i32::try_from(partition).map_err(|_| Error::Setting {
            key: format!("partition {name}/{partition}"),
            reason: "is beyond Kafka's partition numbers".into(),
        })?;
        let end = i64::try_from(end).map_err(|_| Error::Setting {
            key: format!("end offset of {name}/{partition}"),
            reason: format!("{end} is beyond Kafka's offsets"),
        })?;
        let (lo, hi) = consumer
            .fetch_watermarks(&name, p, config.request_timeout)
            .map_err(|e| Error::kafka(format!("watermarks of {name}/{partition}"), e))?;
        if lo > 0 {
            return Err(Error::Setting {
                key: format!("topic {name} partition {partition}"),
                reason: format!(
                    "starts at offset {lo}: the records before it were deleted (retention), so the {end} offsets the stored tables reflect cannot be read again; raise the topic's retention or replay the services"
                ),
            });
        }
        if hi < end {
            return Err(Error::Setting {
                key: format!("topic {name} partition {partition}"),
                reason: format!(
                    "ends at offset {hi} but the stored tables reflect {end} offsets: the topic was recreated or is another cluster's; point GIGSTREAM_KAFKA_BROKERS at the right cluster or replay the services"
                ),
            });
        }
        left.insert((topic, p), end);
        tpl.add_partition_offset(&name, p, Offset::Beginning)
            .map_err(|e| Error::kafka("assign", e))?;
    }
    if left.is_empty() {
        return Ok(0);
    }
    consumer
        .assign(&tpl)
        .map_err(|e| Error::kafka("assign partitions", e))?;
    let expected: i64 = left.values().sum();
    let stall = config.request_timeout * 3;
    let mut last_progress = Instant::now();
    let mut records = 0u64;
    while !left.is_empty() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                last_progress = Instant::now();
                let Some(&topic) = names.get(m.topic()) else {
                    continue;
                };
                let key = (topic, m.partition());
                let Some(&end) = left.get(&key) else {
                    // Finished already: records past the end are not part of the prefix.
                    continue;
                };
                let offset = m.offset();
                if offset < end {
                    f(RecordRef {
                        topic,
                        partition: u32::try_from(m.partition()).unwrap_or(0),
                        offset: u64::try_from(offset).unwrap_or(0),
                        // Kafka records without a timestamp read as 0, as in KafkaSource.
                        timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
                        key: m.key().unwrap_or_default(),
                        value: m.payload().unwrap_or_default(),
                        origin: None,
                    });
                    records += 1;
                }
                if offset + 1 >= end {
                    left.remove(&key);
                    pause(&consumer, m.topic(), m.partition());
                }
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                // At the high watermark, which is at or past the end (checked above).
                let done: Vec<(Topic, i32)> = left.keys().filter(|k| k.1 == p).copied().collect();
                for k in done {
                    if consumer_at_end(&consumer, config, k, left[&k]) {
                        left.remove(&k);
                    }
                }
                last_progress = Instant::now();
            }
            Some(Err(e @ KafkaError::MessageConsumptionFatal(_))) => {
                return Err(Error::kafka("consume", e))
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka bounded reader error (retried)"),
            None => {}
        }
        if last_progress.elapsed() >= stall {
            return Err(Error::Timeout {
                what: format!(
                    "reading the remaining records of {} partitions (of {expected} offsets)",
                    left.len()
                ),
                secs: stall.as_secs(),
                brokers: config.brokers.clone(),
                cause: None,
            });
        }
    }
    Ok(records)
}

/// Stops fetching a finished partition (only saves work: its records are skipped anyway).
fn pause(consumer: &BaseConsumer, name: &str, partition: i32) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition(name, partition);
    if let Err(e) = consumer.pause(&tpl) {
        tracing::debug!(error = %e, "could not pause a finished partition");
    }
}

/// Whether the consumer's position in partition `k` has reached `end` (an end-of-partition
/// event names only the partition number, so the topic is checked through the position).
fn consumer_at_end(
    consumer: &BaseConsumer,
    config: &KafkaConfig,
    (topic, partition): (Topic, i32),
    end: i64,
) -> bool {
    let name = config.topic_name(topic);
    let Ok(positions) = consumer.position() else {
        return false;
    };
    positions
        .find_partition(&name, partition)
        .and_then(|e| match e.offset() {
            Offset::Offset(o) => Some(o >= end),
            _ => None,
        })
        .unwrap_or(false)
}
