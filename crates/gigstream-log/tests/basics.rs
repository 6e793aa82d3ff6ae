//! Topics, round trips, offsets, reopening, partitioning and committed positions.

mod common;

use std::collections::BTreeMap;

use common::{read_all, value, Owned};
use gigstream_log::{partition_for, Batch, Log, LogConfig, LogError};

#[test]
fn round_trip_with_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(&dir.path().join("log")).expect("open");
    log.create_topic("orders.dlq", 1).expect("create");
    let mut producer = log.producer().expect("producer");
    let o0 = producer
        .send_to("orders.dlq", 0, b"k1", b"v1", 1_000, &[])
        .expect("send");
    let o1 = producer
        .send_to(
            "orders.dlq",
            0,
            b"",
            b"",
            -7,
            &[("reason", b"bad amount"), ("original_offset", b"42")],
        )
        .expect("send");
    producer.flush().expect("flush");
    assert_eq!((o0, o1), (0, 1));

    let got = read_all(&log, "orders.dlq", 0, 0);
    assert_eq!(
        got,
        vec![
            Owned {
                offset: 0,
                timestamp_ms: 1_000,
                key: b"k1".to_vec(),
                value: b"v1".to_vec(),
                headers: vec![],
            },
            Owned {
                offset: 1,
                timestamp_ms: -7,
                key: vec![],
                value: vec![],
                headers: vec![
                    ("reason".to_string(), b"bad amount".to_vec()),
                    ("original_offset".to_string(), b"42".to_vec()),
                ],
            },
        ]
    );
    assert_eq!(log.end_offset("orders.dlq", 0).expect("end"), 2);
}

#[test]
fn topics_are_idempotent_and_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path()).expect("open");
    log.create_topic("orders", 3).expect("create");
    log.create_topic("orders", 3)
        .expect("same count again is fine");
    let err = log.create_topic("orders", 4).expect_err("different count");
    assert!(matches!(
        err,
        LogError::PartitionCountMismatch {
            existing: 3,
            requested: 4,
            ..
        }
    ));
    assert!(err.to_string().contains("already exists with 3 partitions"));
    log.create_topic("probes.dlq", 1).expect("dotted name");
    assert_eq!(log.topics().expect("topics"), vec!["orders", "probes.dlq"]);
    assert_eq!(log.partitions("orders").expect("partitions"), 3);

    // Another handle (as another process would) sees the same metadata.
    let other = Log::open(dir.path()).expect("open");
    assert_eq!(other.partitions("probes.dlq").expect("partitions"), 1);
    assert!(matches!(
        other.create_topic("orders", 1),
        Err(LogError::PartitionCountMismatch { .. })
    ));

    for bad in ["", ".", "..", "a/b", "with space", &"x".repeat(250)] {
        assert!(
            matches!(log.create_topic(bad, 1), Err(LogError::InvalidName { .. })),
            "{bad:?} accepted"
        );
    }
    assert!(matches!(
        log.create_topic("zero", 0),
        Err(LogError::InvalidArgument(_))
    ));
    assert!(matches!(
        log.partitions("nope"),
        Err(LogError::UnknownTopic { .. })
    ));
    let mut producer = log.producer().expect("producer");
    assert!(matches!(
        producer.send("nope", b"k", b"v", 0, &[]),
        Err(LogError::UnknownTopic { .. })
    ));
    assert!(matches!(
        producer.send_to("orders", 3, b"k", b"v", 0, &[]),
        Err(LogError::NoSuchPartition { partitions: 3, .. })
    ));
    assert!(matches!(
        log.reader("orders", 7, 0),
        Err(LogError::NoSuchPartition { .. })
    ));
}

#[test]
fn offsets_are_dense_per_partition_and_keys_pick_partitions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path()).expect("open");
    log.create_topic("orders", 4).expect("create");
    let mut producer = log.producer().expect("producer");
    let mut expected: BTreeMap<u32, Vec<(Vec<u8>, u64)>> = BTreeMap::new();
    for i in 0..2_000u64 {
        let key = format!("deal-{}", i % 97).into_bytes();
        let (p, o) = producer
            .send("orders", &key, &value(i), i as i64, &[])
            .expect("send");
        assert_eq!(p, partition_for(&key, 4));
        let list = expected.entry(p).or_default();
        assert_eq!(o, list.len() as u64, "offsets dense in partition {p}");
        list.push((key, i));
    }
    producer.flush().expect("flush");
    for (p, list) in expected {
        let got = read_all(&log, "orders", p, 0);
        assert_eq!(got.len(), list.len());
        for (n, (r, (key, i))) in got.iter().zip(list).enumerate() {
            assert_eq!(r.offset, n as u64);
            assert_eq!(r.key, key);
            assert_eq!(r.value, value(i));
            assert_eq!(r.timestamp_ms, i as i64);
        }
    }
}

#[test]
fn many_keys_spread_over_partitions() {
    let partitions = 8u32;
    let mut counts = vec![0u32; partitions as usize];
    for i in 0..16_000 {
        let key = format!("freelancer-{i}");
        counts[partition_for(key.as_bytes(), partitions) as usize] += 1;
    }
    // 2,000 per partition on average; murmur2 keeps every one within 10 %.
    for (p, n) in counts.iter().enumerate() {
        assert!((1_800..=2_200).contains(n), "partition {p} got {n} keys");
    }
    assert_eq!(partition_for(b"same key", 8), partition_for(b"same key", 8));
}

#[test]
fn reopen_keeps_everything_and_appends_continue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 2_000,
        index_interval_bytes: 300,
    };
    {
        let log = Log::open_with(dir.path(), config).expect("open");
        log.create_topic("probes", 2).expect("create");
        let mut producer = log.producer().expect("producer");
        for i in 0..300 {
            producer
                .send_to("probes", (i % 2) as u32, b"k", &value(i), 0, &[])
                .expect("send");
        }
        // No flush: dropping the producer writes its buffers out (without fsync).
    }
    let log = Log::open_with(dir.path(), config).expect("reopen");
    assert_eq!(log.end_offset("probes", 0).expect("end"), 150);
    assert_eq!(log.end_offset("probes", 1).expect("end"), 150);
    let mut producer = log.producer().expect("producer");
    assert_eq!(producer.next_offset("probes", 1).expect("next"), 150);
    let o = producer
        .send_to("probes", 1, b"k", b"after reopen", 0, &[])
        .expect("send");
    assert_eq!(o, 150);
    producer.flush().expect("flush");
    let got = read_all(&log, "probes", 1, 0);
    assert_eq!(got.len(), 151);
    for (n, r) in got.iter().enumerate().take(150) {
        assert_eq!(r.offset, n as u64);
        assert_eq!(r.value, value(2 * n as u64 + 1));
    }
    assert_eq!(got[150].value, b"after reopen");
}

#[test]
fn segments_roll_at_the_configured_size() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes: 1_000,
        index_interval_bytes: 100,
    };
    let log = Log::open_with(dir.path(), config).expect("open");
    log.create_topic("t", 1).expect("create");
    let mut producer = log.producer().expect("producer");
    for i in 0..500 {
        producer
            .send_to("t", 0, b"k", &value(i), 0, &[])
            .expect("send");
    }
    // A record larger than a segment gets a segment of its own.
    let big = vec![7u8; 5_000];
    assert_eq!(
        producer.send_to("t", 0, b"k", &big, 0, &[]).expect("send"),
        500
    );
    producer
        .send_to("t", 0, b"k", b"last", 0, &[])
        .expect("send");
    producer.flush().expect("flush");

    let pdir = common::partition_dir(dir.path(), "t", 0);
    let mut segments: Vec<(u64, u64)> = std::fs::read_dir(&pdir)
        .expect("list")
        .filter_map(|e| {
            let e = e.expect("entry");
            let name = e.file_name().into_string().expect("utf-8");
            let base = name.strip_suffix(".log")?.parse().ok()?;
            Some((base, e.metadata().expect("stat").len()))
        })
        .collect();
    segments.sort();
    assert!(segments.len() > 20, "only {} segments", segments.len());
    assert_eq!(segments[0].0, 0);
    for w in segments.windows(2) {
        assert!(w[0].0 < w[1].0);
        if w[0].1 < 5_000 {
            assert!(w[0].1 <= 1_000, "segment {} has {} bytes", w[0].0, w[0].1);
        }
    }
    assert!(segments.iter().any(|&(b, _)| b == 500), "big record alone");
    assert!(
        segments.iter().any(|&(b, _)| b == 501),
        "then a new segment"
    );

    let got = read_all(&log, "t", 0, 0);
    assert_eq!(got.len(), 502);
    assert!(got.iter().enumerate().all(|(n, r)| r.offset == n as u64));
    assert_eq!(got[500].value, big);
    assert_eq!(got[501].value, b"last");
    // Start inside a later segment, and with a buffer smaller than the big record.
    let mut reader = log.reader("t", 0, 377).expect("reader");
    let got = common::drain(&mut reader, 64);
    assert_eq!(got.first().map(|r| r.offset), Some(377));
    assert_eq!(got.len(), 502 - 377);
    assert_eq!(got[500 - 377].value, big);
}

#[test]
fn reader_positions_and_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path()).expect("open");
    log.create_topic("t", 1).expect("create");
    // Nothing written yet: offset 0 is the end, 1 is past it.
    let mut reader = log
        .reader("t", 0, 0)
        .expect("reader at 0 of empty partition");
    assert!(matches!(
        log.reader("t", 0, 1),
        Err(LogError::OffsetOutOfRange {
            requested: 1,
            end: 0,
            ..
        })
    ));
    assert_eq!(log.end_offset("t", 0).expect("end"), 0);
    let mut batch = Batch::new();
    reader.read(&mut batch, 1024).expect("read");
    assert!(batch.is_empty());

    let mut producer = log.producer().expect("producer");
    for i in 0..10 {
        producer
            .send_to("t", 0, b"k", &value(i), 0, &[])
            .expect("send");
    }
    producer.flush().expect("flush");
    reader.read(&mut batch, 1024).expect("read");
    assert_eq!(batch.len(), 10);
    assert_eq!(reader.position(), 10);
    let mut at_end = log.reader("t", 0, 10).expect("reader at end");
    assert!(matches!(
        log.reader("t", 0, 11),
        Err(LogError::OffsetOutOfRange { end: 10, .. })
    ));
    producer
        .send_to("t", 0, b"k", b"new", 0, &[])
        .expect("send");
    producer.flush().expect("flush");
    at_end.read(&mut batch, 1024).expect("read");
    assert_eq!(
        batch.get(0).map(|r| (r.offset, r.value)),
        Some((10, &b"new"[..]))
    );
}

#[test]
fn committed_positions_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let log = Log::open(dir.path()).expect("open");
        assert!(log.committed("sla").expect("committed").is_empty());
        log.commit("sla", "probes", 0, 10).expect("commit");
        log.commit("sla", "probes", 1, 5).expect("commit");
        log.commit("sla", "probes", 0, 12)
            .expect("commit overwrites");
        log.commit_many("billing", &[("orders", 0, 1), ("orders.dlq", 0, 2)])
            .expect("commit many");
        assert!(matches!(
            log.commit("bad/group", "probes", 0, 1),
            Err(LogError::InvalidName { .. })
        ));
    }
    let log = Log::open(dir.path()).expect("reopen");
    let sla = log.committed("sla").expect("committed");
    let expected: BTreeMap<(String, u32), u64> = [
        (("probes".to_string(), 0), 12),
        (("probes".to_string(), 1), 5),
    ]
    .into_iter()
    .collect();
    assert_eq!(sla, expected);
    assert_eq!(log.committed("billing").expect("committed").len(), 2);
}

#[test]
fn handles_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Log>();
    send::<gigstream_log::Producer>();
    send::<gigstream_log::PartitionReader>();
    send::<Batch>();
}
