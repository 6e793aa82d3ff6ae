//! Writing gigstream events to Kafka.

use crate::{Error, KafkaConfig};
use gigstream_core::Topic;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{DeliveryFuture, FutureProducer, FutureRecord, Producer};
use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Properties the producer sets unless the user's properties say otherwise.
pub(crate) const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
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
pub(crate) const PRODUCER_ENFORCED: &[(&str, &str)] = &[
    ("partitioner", "murmur2_random"),
    ("enable.idempotence", "true"),
];

/// Records acknowledged by a [`KafkaProducer::produce`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProduceSummary {
    pub delivered: u64,
    /// Acknowledged records per topic (topics without records are absent).
    pub per_topic: BTreeMap<Topic, u64>,
    pub elapsed: Duration,
}

/// One record for [`KafkaProducer::produce_iter`]: topic, key, value and record timestamp
/// (UTC milliseconds; `None` lets librdkafka stamp the produce time).
pub type OutRecord<K, V> = (Topic, K, V, Option<i64>);

/// An idempotent Kafka producer that places records by key like the Java client.
pub struct KafkaProducer {
    producer: FutureProducer,
    config: KafkaConfig,
}

/// Delivery reports awaited at most this many records behind the newest send, so memory stays
/// bounded while librdkafka keeps batches full.
const MAX_IN_FLIGHT: usize = 100_000;

/// How often the progress callback is told (in acknowledged records) ...
const PROGRESS_EVERY: u64 = 10_000;
/// ... or in time, whichever comes first (slow, paced produces still show progress).
const PROGRESS_INTERVAL: Duration = Duration::from_millis(250);

/// Counts acknowledgements and tells the progress callback.
struct Acks<'p> {
    delivered: u64,
    per_topic: BTreeMap<Topic, u64>,
    last_report: Instant,
    progress: &'p mut dyn FnMut(u64),
}

impl Acks<'_> {
    fn ack(&mut self, topic: Topic) {
        self.delivered += 1;
        *self.per_topic.entry(topic).or_insert(0) += 1;
        if self.delivered.is_multiple_of(PROGRESS_EVERY)
            || self.last_report.elapsed() >= PROGRESS_INTERVAL
        {
            self.last_report = Instant::now();
            (self.progress)(self.delivered);
        }
    }
}

impl KafkaProducer {
    pub fn new(config: &KafkaConfig) -> Result<KafkaProducer, Error> {
        let producer = crate::config::client_config(config, PRODUCER_DEFAULTS, PRODUCER_ENFORCED)
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
    /// (or 250 ms) and at the end.
    ///
    /// On the first failed delivery it returns an error; records sent before it are in
    /// Kafka, later ones may or may not be (a rerun appends duplicates, which the services'
    /// event-id deduplication absorbs).
    pub async fn produce<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        events: &[(Topic, K, V, i64)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error> {
        let records = events
            .iter()
            .map(|(t, k, v, ts)| (*t, k.as_ref(), v.as_ref(), Some(*ts)));
        self.produce_iter(records, None, progress).await
    }

    /// [`KafkaProducer::produce`] over records pulled one by one (so a large stream need not be
    /// in memory), optionally paced at `rate` records per second: record `i` is sent no earlier
    /// than `i / rate` seconds after the start, a steady rate for freshness measurements
    /// rather than bursts. Waits until every record is acknowledged.
    pub async fn produce_iter<K, V, I>(
        &self,
        records: I,
        rate: Option<f64>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = OutRecord<K, V>>,
    {
        if let Some(r) = rate {
            if !(r.is_finite() && r > 0.0) {
                return Err(Error::Setting {
                    key: "rate".into(),
                    reason: format!("{r} is not a positive number of records per second"),
                });
            }
        }
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
        let mut acks = Acks {
            delivered: 0,
            per_topic: BTreeMap::new(),
            last_report: Instant::now(),
            progress,
        };
        for (i, (topic, key, value, ts)) in records.into_iter().enumerate() {
            if let Some(rate) = rate {
                let due = started + Duration::from_secs_f64(i as f64 / rate);
                self.wait_until(due, &mut pending, name_of, &mut acks)
                    .await?;
            }
            let name = name_of(topic);
            loop {
                let mut record = FutureRecord::to(name)
                    .key(key.as_ref())
                    .payload(value.as_ref());
                if let Some(ts) = ts {
                    record = record.timestamp(ts);
                }
                match self.producer.send_result(record) {
                    Ok(fut) => {
                        pending.push_back((fut, topic));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                        // librdkafka's queue is full: wait for the oldest record, then retry.
                        match pending.pop_front() {
                            Some(front) => settle(front, name_of, &mut acks).await?,
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
                    settle(front, name_of, &mut acks).await?;
                }
            }
        }
        while let Some(front) = pending.pop_front() {
            settle(front, name_of, &mut acks).await?;
        }
        (acks.progress)(acks.delivered);
        Ok(ProduceSummary {
            delivered: acks.delivered,
            per_topic: acks.per_topic,
            elapsed: started.elapsed(),
        })
    }

    /// Waits until `due`, settling delivery reports meanwhile so progress keeps moving.
    async fn wait_until<'n>(
        &self,
        due: Instant,
        pending: &mut VecDeque<(DeliveryFuture, Topic)>,
        name_of: impl Fn(Topic) -> &'n str + Copy,
        acks: &mut Acks<'_>,
    ) -> Result<(), Error> {
        while let Some(wait) = due.checked_duration_since(Instant::now()) {
            let Some((front, _)) = pending.front_mut() else {
                tokio::time::sleep(wait).await;
                return Ok(());
            };
            match tokio::time::timeout(wait, front).await {
                Ok(report) => {
                    let (_, topic) = pending
                        .pop_front()
                        .expect("invariant: the front report was just awaited");
                    check(report, topic, name_of, acks)?;
                }
                Err(_elapsed) => return Ok(()),
            }
        }
        Ok(())
    }

    /// [`KafkaProducer::produce`] for callers without an async runtime.
    pub fn produce_blocking<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        events: &[(Topic, K, V, i64)],
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error> {
        blocking_runtime()?.block_on(self.produce(events, progress))
    }

    /// [`KafkaProducer::produce_iter`] for callers without an async runtime.
    pub fn produce_iter_blocking<K, V, I>(
        &self,
        records: I,
        rate: Option<f64>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<ProduceSummary, Error>
    where
        K: AsRef<[u8]>,
        V: AsRef<[u8]>,
        I: IntoIterator<Item = OutRecord<K, V>>,
    {
        blocking_runtime()?.block_on(self.produce_iter(records, rate, progress))
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

fn blocking_runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|source| Error::Local {
            what: "a tokio runtime for the producer",
            source,
        })
}

async fn settle<'n>(
    (fut, topic): (DeliveryFuture, Topic),
    name_of: impl Fn(Topic) -> &'n str,
    acks: &mut Acks<'_>,
) -> Result<(), Error> {
    check(fut.await, topic, name_of, acks)
}

fn check<'n>(
    report: <DeliveryFuture as std::future::Future>::Output,
    topic: Topic,
    name_of: impl Fn(Topic) -> &'n str,
    acks: &mut Acks<'_>,
) -> Result<(), Error> {
    match report {
        Ok(Ok(_)) => {
            acks.ack(topic);
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
