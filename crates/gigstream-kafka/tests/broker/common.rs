//! Shared helpers of the broker tests.

use gigstream_core::Topic;
use gigstream_kafka::{ensure_topics, KafkaConfig, KafkaProducer, KafkaSource};
use gigstream_runtime::Source;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The broker settings with a fresh topic prefix.
pub fn config(test: &str) -> KafkaConfig {
    let cfg = gigstream_testkit::services::kafka();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    let mut cfg = cfg.with_topic_prefix(format!("{test}-{}-{nanos}-", std::process::id()));
    cfg.assign_timeout = Duration::from_secs(60);
    cfg
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Held by a test that joins a consumer group: those run one at a time (on a loaded 2-core
/// machine, several groups forming at once slow each other's rebalances down).
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
        .block_on(f)
}

/// `n` records on `topic` over `keys` entities; the value is the record's sequence number, so
/// order per key can be checked.
pub fn records(topic: Topic, n: usize, keys: usize) -> Vec<(Topic, String, String, i64)> {
    (0..n)
        .map(|i| {
            (
                topic,
                format!("key-{}", i % keys),
                format!("{i}"),
                1_700_000_000_000 + i as i64,
            )
        })
        .collect()
}

/// Creates `topic` with `partitions` and writes `n` records to it.
pub fn fill(cfg: &KafkaConfig, topic: Topic, partitions: u32, n: usize) {
    let name = cfg.topic_name(topic);
    block_on(ensure_topics(cfg, &[(&name, partitions)])).expect("create topic");
    let producer = KafkaProducer::new(cfg).expect("producer");
    let sent = producer
        .produce_blocking(&records(topic, n, 97), &mut |_| {})
        .expect("produce");
    assert_eq!(sent.delivered, n as u64);
}

/// One record read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Got {
    pub partition: u32,
    pub offset: u64,
    pub key: String,
    pub value: String,
    pub timestamp_ms: i64,
}

/// Polls until the source reports nothing left.
pub fn drain(source: &mut KafkaSource) -> Vec<Got> {
    drain_timed(source).0
}

/// [`drain`], with the time the first record arrived.
pub fn drain_timed(source: &mut KafkaSource) -> (Vec<Got>, Option<Instant>) {
    let mut out = Vec::new();
    let mut first = None;
    // A poll returns 0 also while the group is still assigning (so that a runner can stop);
    // the end is when the source says it is caught up.
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let n = source
            .poll(&mut |r| {
                first.get_or_insert_with(Instant::now);
                out.push(Got {
                    partition: r.partition,
                    offset: r.offset,
                    key: String::from_utf8_lossy(r.key).into_owned(),
                    value: String::from_utf8_lossy(r.value).into_owned(),
                    timestamp_ms: r.timestamp_ms,
                })
            })
            .expect("poll");
        if n == 0 && (source.caught_up() || Instant::now() > until) {
            return (out, first);
        }
    }
}

/// First offset read per partition.
pub fn first_offsets(got: &[Got]) -> BTreeMap<u32, u64> {
    let mut m = BTreeMap::new();
    for g in got {
        m.entry(g.partition).or_insert(g.offset);
    }
    m
}

/// Next offset per partition after `got`.
pub fn next_offsets(topic: Topic, got: &[Got]) -> BTreeMap<(Topic, u32), u64> {
    let mut m = BTreeMap::new();
    for g in got {
        m.insert((topic, g.partition), g.offset + 1);
    }
    m
}
