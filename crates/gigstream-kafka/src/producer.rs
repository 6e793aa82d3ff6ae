//! Writing gigstream events to Kafka.

use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Properties the producer sets unless the user's properties say otherwise.
const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("linger.ms", "5"),
    ("batch.num.messages", "10000"),
    ("queue.buffering.max.messages", "200000"),
    ("message.timeout.ms", "120000"),
];

/// Properties gigstream relies on; they override the user's.
///
/// - `partitioner=murmur2_random`: the Java client's default partitioner (murmur2 of the key,
///   sign bit cleared, modulo the partition count), which `gigstream_log::partition_for`
///   implements too, so an entity's events land in the same partition number in Kafka and in
///   the embedded log. (`_random` only matters for records without a key; gigstream always
///   sends one.)
/// - `enable.idempotence=true`: librdkafka's retries neither duplicate nor reorder records
///   within a partition, which the per-entity order of the projections relies on.
const PRODUCER_ENFORCED: &[(&str, &str)] = &[
    ("partitioner", "murmur2_random"),
    ("enable.idempotence", "true"),
];

/// Records acknowledged by a [`KafkaProducer::produce`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProduceSummary {
    pub delivered: u64,
    pub elapsed: Duration,
}

/// An idempotent Kafka producer that places records by key like the Java client.
pub struct KafkaProducer {
    producer: FutureProducer,
    config: KafkaConfig,
}

/// Delivery reports awaited at most this many records behind the newest send, so memory stays
/// bounded while librdkafka keeps batches full.
const MAX_IN_FLIGHT: usize = 100_000;

/// How often the progress callback is told (in acknowledged records).
const PROGRESS_EVERY: u64 = 10_000;

impl KafkaProducer {
    pub fn new(config: &KafkaConfig) -> Result<KafkaProducer, Error> {
        let producer = config
            .client_config(PRODUCER_DEFAULTS, PRODUCER_ENFORCED)
            .create::<FutureProducer>()
            .map_err(|source| Error::Client {
                client: "producer",
                source,
            })?;
        Ok(KafkaProducer {
            producer,
            config: config.clone(),
        })
    }

    /// Sends `(topic, key, value, timestamp_ms)` records in order, the Kafka key being the
    /// entity key and the record timestamp the event's append time, and waits until every
    /// one is acknowledged. `progress` is told the acknowledged count every 10,000 records
    /// and at the end.
    ///
    /// On the first failed delivery it returns an error; records sent before it are in
    /// Kafka, later ones may or may not be (a rerun appends duplicates, which the services'
    /// event-id deduplication absorbs).
    pub async fn produce<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        events: &[(Topic, K, V, i64)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error> {
        let started = Instant::now();
        let names: Vec<(Topic, String)> = Topic::ALL
            .iter()
            .map(|t| (*t, self.config.topic_name(*t)))
            .collect();
        let name_of = |t: Topic| {
            names
                .iter()
                .find(|(x, _)| *x == t)
                .map(|(_, n)| n.as_str())
                .expect("invariant: names holds every Topic")
        };
        let mut pending: VecDeque<(DeliveryFuture, Topic)> = VecDeque::new();
        let mut delivered = 0u64;
        for (topic, key, value, ts) in events {
            let name = name_of(*topic);
            loop {
                let record = FutureRecord::to(name)
                    .key(key.as_ref())
                    .payload(value.as_ref())
                    .timestamp(*ts);
                match self.producer.send_result(record) {
                    Ok(fut) => {
                        pending.push_back((fut, *topic));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // librdkafka's queue is full: wait for the oldest record, then retry.
                        match pending.pop_front() {
                            Some(front) => {
                                self.settle(front, name_of, &mut delivered, progress)
                                    .await?
                            }
                            None => tokio::time::sleep(Duration::from_millis(10)).await,
                        }
                    }
                    Err((source, _)) => {
                        return Err(Error::Delivery {
                            topic: name.to_string(),
                            source,
                        })
                    }
                }
            }
            if pending.len() >= MAX_IN_FLIGHT {
                if let Some(front) = pending.pop_front() {
                    self.settle(front, name_of, &mut delivered, progress)
                        .await?;
                }
            }
        }
        while let Some(front) = pending.pop_front() {
            self.settle(front, name_of, &mut delivered, progress)
                .await?;
        }
        progress(delivered);
        Ok(ProduceSummary {
            delivered,
            elapsed: started.elapsed(),
        })
    }

    async fn settle<'n>(
        &self,
        (fut, topic): (DeliveryFuture, Topic),
        name_of: impl Fn(Topic) -> &'n str,
        delivered: &mut u64,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), Error> {
        match fut.await {
            Ok(Ok(_)) => {
                *delivered += 1;
                if delivered.is_multiple_of(PROGRESS_EVERY) {
                    progress(*delivered);
                }
                Ok(())
            }
            Ok(Err((source, _))) => Err(Error::Delivery {
                topic: name_of(topic).to_string(),
                source,
            }),
            // The producer dropped the report: only happens when librdkafka is torn down.
            Err(_) => Err(Error::Delivery {
                topic: name_of(topic).to_string(),
                source: KafkaError::Canceled,
            }),
        }
    }

    /// [`KafkaProducer::produce`] for callers without an async runtime.
    pub fn produce_blocking<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        events: &[(Topic, K, V, i64)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(|source| Error::Local {
                what: "a tokio runtime for the producer",
                source,
            })?;
        rt.block_on(self.produce(events, progress))
    }

    /// Waits until everything sent is acknowledged (`produce` already does).
    pub fn flush(&self, timeout: Duration) -> Result<(), Error> {
        self.producer
            .flush(timeout)
            .map_err(|e| Error::kafka("producer flush", e))
    }

    /// The underlying rdkafka producer, for callers that need more (headers, other topics).
    pub fn inner(&self) -> &FutureProducer {
        &self.producer
    }
}
