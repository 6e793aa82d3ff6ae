//! Produce, consume, group membership, commits and seeks against a real broker.

use crate::common::*;
use gigstream_core::Topic;
use gigstream_kafka::{ensure_topics, AssignmentChange, Error, KafkaProducer, KafkaSource};
use gigstream_runtime::Source;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::FutureRecord;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub(crate) fn ensure_topics_creates_missing_topics_with_dead_letter_twins() {
    let cfg = config("admin");
    let name = cfg.topic_name(Topic::Usage);
    let made = block_on(ensure_topics(&cfg, &[(&name, 3)])).expect("create");
    assert_eq!(made.len(), 2);
    assert!(made.iter().all(|t| t.created && t.partitions == 3));
    assert!(made.iter().any(|t| t.name == format!("{name}.dlq")));
    let again = block_on(ensure_topics(&cfg, &[(&name, 3)])).expect("exists");
    assert!(again.iter().all(|t| !t.created));
    let parts = gigstream_kafka::topic_partitions(&cfg).expect("metadata");
    assert_eq!(parts.get(&name), Some(&3));
    assert_eq!(parts.get(&format!("{name}.dlq")), Some(&3));
    match block_on(ensure_topics(&cfg, &[(&name, 4)])) {
        Err(Error::PartitionMismatch {
            expected: 4,
            actual: 3,
            ..
        }) => {}
        other => panic!("expected a partition mismatch, got {other:?}"),
    }
}

pub(crate) fn ten_thousand_records_come_back_complete_in_order_and_placed_like_the_embedded_log() {
    let cfg = config("roundtrip");
    let _serial = serial();
    let n: usize = std::env::var("GIGSTREAM_TEST_KAFKA_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let name = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&name, 4)])).expect("create");
    let sent = records(Topic::Orders, n, 500);
    let producer = KafkaProducer::new(&cfg).expect("producer");
    let mut reports = Vec::new();
    let summary = producer
        .produce_blocking(&sent, &mut |d| reports.push(d))
        .expect("produce");
    assert_eq!(summary.delivered, n as u64);
    assert_eq!(reports.last(), Some(&(n as u64)));
    println!(
        "produce: {n} records in {:?} ({:.0} records/s)",
        summary.elapsed,
        n as f64 / summary.elapsed.as_secs_f64()
    );

    // A group of this run's own: members of earlier runs' groups may linger in the broker.
    let group = format!("{}svc", cfg.topic_prefix);
    let mut source = KafkaSource::new(&cfg, &group, &[Topic::Orders]).expect("source");
    let changes = source.assignment_changes().expect("first take");
    source.seek(&BTreeMap::new()).expect("seek");
    let started = Instant::now();
    let (got, first) = drain_timed(&mut source);
    let took = started.elapsed();
    let since_first = first.expect("got records").elapsed();
    println!(
        "KafkaSource: {} records in {took:?} incl. group join, {since_first:?} from the first record ({:.0} records/s)",
        got.len(),
        got.len() as f64 / since_first.as_secs_f64()
    );
    assert_eq!(got.len(), n, "every record once");

    // Offsets dense from 0 in every partition, and every key in murmur2's partition.
    let mut per_part: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    for g in &got {
        per_part.entry(g.partition).or_default().push(g.offset);
        assert_eq!(
            g.partition,
            gigstream_core::partition::partition_for(g.key.as_bytes(), 4),
            "key {} placed like the Java client and the embedded log",
            g.key
        );
    }
    assert_eq!(per_part.len(), 4, "all partitions used");
    for (p, offs) in &per_part {
        let dense: Vec<u64> = (0..offs.len() as u64).collect();
        assert_eq!(offs, &dense, "partition {p} offsets dense and in order");
    }
    // Per key, the records come back in the order they were sent.
    let mut last: BTreeMap<&str, usize> = BTreeMap::new();
    for g in &got {
        let seq: usize = g.value.parse().expect("value is a sequence number");
        assert_eq!(g.timestamp_ms, 1_700_000_000_000 + seq as i64);
        if let Some(prev) = last.insert(&g.key, seq) {
            assert!(prev < seq, "key {} out of order: {prev} then {seq}", g.key);
        }
    }
    assert_eq!(source.lag(), Some(0));
    let assigned: Vec<(Topic, u32)> = (0..4).map(|p| (Topic::Orders, p)).collect();
    assert_eq!(
        changes.try_iter().last(),
        Some(AssignmentChange::Assigned(assigned.clone()))
    );
    assert_eq!(source.assignment(), assigned);
    drop(source);

    // Raw rdkafka throughput over the same topic, no group, for comparison.
    // librdkafka wants a group id even for assign(); nothing joins or commits.
    let raw: BaseConsumer = gigstream_kafka::rdkafka_config(&cfg)
        .set("group.id", "raw-reader")
        .create()
        .expect("raw consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..4 {
        tpl.add_partition_offset(&name, p, Offset::Beginning)
            .expect("tpl");
    }
    raw.assign(&tpl).expect("assign");
    let started = Instant::now();
    let mut first = None;
    let mut count = 0;
    while count < n && started.elapsed() < Duration::from_secs(60) {
        if let Some(m) = raw.poll(Duration::from_millis(100)) {
            m.expect("raw message");
            first.get_or_insert_with(Instant::now);
            count += 1;
        }
    }
    assert_eq!(count, n);
    let since_first = first.expect("got records").elapsed();
    println!(
        "raw rdkafka BaseConsumer: {n} records in {:?} incl. connect, {since_first:?} from the first record ({:.0} records/s)",
        started.elapsed(),
        n as f64 / since_first.as_secs_f64()
    );
}

pub(crate) fn a_new_member_of_the_group_resumes_at_the_committed_offsets() {
    let cfg = config("resume");
    let _serial = serial();
    fill(&cfg, Topic::Usage, 2, 1_000);
    let group = &format!("{}resume-svc", cfg.topic_prefix);
    let mut a = KafkaSource::new(&cfg, group, &[Topic::Usage]).expect("source a");
    // No seek: a tool without its own store starts at the group's offsets (none: earliest).
    let all = drain(&mut a);
    assert_eq!(all.len(), 1_000);
    let ends = next_offsets(Topic::Usage, &all);
    let hint: BTreeMap<(Topic, u32), u64> = ends.iter().map(|(k, v)| (*k, v / 2)).collect();
    a.commit_hint(&hint).expect("commit");
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.committed().expect("committed") != hint {
        assert!(Instant::now() < deadline, "commit not visible in time");
        a.poll(&mut |_| {})
            .expect("poll serves the commit callback");
    }
    drop(a);

    let mut b = KafkaSource::new(&cfg, group, &[Topic::Usage]).expect("source b");
    let rest = drain(&mut b);
    let expected: BTreeMap<u32, u64> = hint.iter().map(|((_, p), o)| (*p, *o)).collect();
    assert_eq!(first_offsets(&rest), expected);
    let left: u64 = ends.values().sum::<u64>() - hint.values().sum::<u64>();
    assert_eq!(rest.len() as u64, left);
}

pub(crate) fn sought_positions_override_the_committed_offsets() {
    let cfg = config("seek");
    let _serial = serial();
    fill(&cfg, Topic::Telemetry, 2, 600);
    let group = &format!("{}seek-svc", cfg.topic_prefix);
    let mut a = KafkaSource::new(&cfg, group, &[Topic::Telemetry]).expect("source a");
    let all = drain(&mut a);
    assert_eq!(all.len(), 600);
    let ends = next_offsets(Topic::Telemetry, &all);
    // Commit the very end, as a previous run would have.
    a.commit_hint(&ends).expect("commit");
    let deadline = Instant::now() + Duration::from_secs(20);
    while a.committed().expect("committed") != ends {
        assert!(Instant::now() < deadline, "commit not visible in time");
        a.poll(&mut |_| {}).expect("poll");
    }

    // Seek while assigned: partition 0 from offset 5, partition 1 (absent) from the start.
    let stored = BTreeMap::from([((Topic::Telemetry, 0), 5)]);
    a.seek(&stored).expect("seek assigned partitions");
    let again = drain(&mut a);
    assert_eq!(first_offsets(&again), BTreeMap::from([(0, 5), (1, 0)]));
    assert_eq!(again.len() as u64, 600 - 5);
    drop(a);

    // Seek before the assignment (the runner's order): the stored positions win over the
    // committed end.
    let mut b = KafkaSource::new(&cfg, group, &[Topic::Telemetry]).expect("source b");
    let stored = BTreeMap::from([((Topic::Telemetry, 1), 7)]);
    b.seek(&stored).expect("seek");
    let got = drain(&mut b);
    assert_eq!(first_offsets(&got), BTreeMap::from([(0, 0), (1, 7)]));
    assert_eq!(got.len() as u64, 600 - 7);
}

pub(crate) fn headers_survive_the_round_trip() {
    let cfg = config("headers");
    let name = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&name, 1)])).expect("create");
    let producer = KafkaProducer::new(&cfg).expect("producer");
    let headers = OwnedHeaders::new().insert(Header {
        key: "schema",
        value: Some("orders-v2"),
    });
    block_on(
        producer.inner().send(
            FutureRecord::to(&name)
                .key("deal-1")
                .payload("x")
                .headers(headers),
            Duration::from_secs(10),
        ),
    )
    .expect("delivered");
    // librdkafka wants a group id even for assign(); nothing joins or commits.
    let raw: BaseConsumer = gigstream_kafka::rdkafka_config(&cfg)
        .set("group.id", "raw-reader")
        .create()
        .expect("raw consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&name, 0, Offset::Beginning)
        .expect("tpl");
    raw.assign(&tpl).expect("assign");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(Instant::now() < deadline, "no record read back");
        if let Some(m) = raw.poll(Duration::from_millis(200)) {
            let m = m.expect("message");
            let h = m.headers().expect("headers kept");
            let first = h.get(0);
            assert_eq!(first.key, "schema");
            assert_eq!(first.value, Some(&b"orders-v2"[..]));
            break;
        }
    }
}

/// A member that stops polling for longer than a session timeout (what the runner does while
/// its sink is down: it retries the commit and reads nothing) keeps its partitions, because
/// librdkafka heartbeats from its own thread and a group only drops a member that has not
/// polled for `max.poll.interval.ms`. The other member sees no rebalance, and the stalled one
/// then reads on from where it stopped: nothing is lost or read twice.
pub(crate) fn a_member_that_stops_polling_past_its_session_keeps_its_partitions() {
    let cfg = config("stall")
        .with_property("session.timeout.ms", "6000")
        .with_property("heartbeat.interval.ms", "1000");
    let _serial = serial();
    let name = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&name, 4)])).expect("create topic");
    let group = &format!("{}stall-svc", cfg.topic_prefix);
    let mut a = KafkaSource::new(&cfg, group, &[Topic::Orders]).expect("source a");
    let mut b = KafkaSource::new(&cfg, group, &[Topic::Orders]).expect("source b");
    let (ra, rb) = (
        a.assignment_changes().expect("a's changes"),
        b.assignment_changes().expect("b's changes"),
    );
    // Both members poll until the group has settled on two partitions each (nothing to read
    // yet, so no record is read by a member that then loses its partition).
    let deadline = Instant::now() + Duration::from_secs(60);
    while a.assignment().len() != 2 || b.assignment().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the group did not split 2/2: {:?} {:?}",
            a.assignment(),
            b.assignment()
        );
        for s in [&mut a, &mut b] {
            s.poll(&mut |_| {}).expect("poll");
        }
    }
    let (a_parts, b_parts) = (a.assignment(), b.assignment());
    let _ = (ra.try_iter().count(), rb.try_iter().count());
    let producer = KafkaProducer::new(&cfg).expect("producer");
    let sent = producer
        .produce_blocking(&records(Topic::Orders, 400, 97), &mut |_| {})
        .expect("produce");
    assert_eq!(sent.delivered, 400);

    // a stalls for 2.5 session timeouts while b goes on polling (and reading its partitions).
    let mut read: Vec<(u32, u64)> = Vec::new();
    let stall = Instant::now();
    while stall.elapsed() < Duration::from_secs(15) {
        b.poll(&mut |r| read.push((r.partition, r.offset)))
            .expect("b polls");
    }
    let b_changes: Vec<AssignmentChange> = rb.try_iter().collect();
    assert!(
        b_changes.is_empty(),
        "b saw a rebalance while a stalled: {b_changes:?}"
    );
    assert_eq!(b.assignment(), b_parts);
    let by_b = read.len();

    // a resumes: the same partitions, no revocation, and it reads them from the start.
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        let n = a
            .poll(&mut |r| read.push((r.partition, r.offset)))
            .expect("a polls");
        if n == 0 && a.caught_up() {
            break;
        }
    }
    let a_changes: Vec<AssignmentChange> = ra.try_iter().collect();
    assert!(a_changes.is_empty(), "a was rebalanced away: {a_changes:?}");
    assert_eq!(a.assignment(), a_parts);
    read.sort_unstable();
    let before = read.len();
    read.dedup();
    assert_eq!(before, read.len(), "records read twice");
    assert_eq!(
        read.len(),
        400,
        "every record read once ({by_b} by b, the rest by a after its stall)"
    );
}
