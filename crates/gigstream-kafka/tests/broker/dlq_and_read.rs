//! Broker tests of the dead-letter producer, whole-topic readers and paced producing.

use crate::common::*;
use gigstream_core::Topic;
use gigstream_kafka::{
    ensure_topics, raw_consume, read_dlq, read_topic, DeadLetterRef, DlqProducer, DlqStage, Error,
    KafkaProducer, HEADER_REASON_CODE,
};
use std::time::{Duration, Instant};

fn letter<'a>(i: u64, key: &'a [u8], value: &'a [u8], reason: &'a str) -> DeadLetterRef<'a> {
    DeadLetterRef {
        service: "billing",
        topic: Topic::Orders,
        partition: (i % 3) as u32,
        offset: 1_000 + i,
        timestamp_ms: 1_700_000_000_000 + i as i64,
        code: if i.is_multiple_of(2) {
            "bad_magic"
        } else {
            "late"
        },
        reason,
        stage: if i.is_multiple_of(2) {
            DlqStage::Decode
        } else {
            DlqStage::Process
        },
        key,
        value,
    }
}

pub(crate) fn dead_letters_arrive_in_the_dlq_twin_with_bytes_and_headers() {
    let cfg = config("dlq");
    let name = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&name, 3)])).expect("create");
    let dlq = DlqProducer::new(&cfg).expect("dlq producer");
    let keys: Vec<Vec<u8>> = (0..50).map(|i| format!("deal-{i}").into_bytes()).collect();
    // Arbitrary bytes, not UTF-8: letters carry the original bytes untouched.
    let values: Vec<Vec<u8>> = (0..50u8).map(|i| vec![0x07, 0xff, i, 0x00]).collect();
    for i in 0..50u64 {
        let reason = format!("record {i} is wrong");
        dlq.send(&letter(i, &keys[i as usize], &values[i as usize], &reason))
            .expect("queued");
    }
    assert_eq!(dlq.flush(Duration::from_secs(30)).expect("delivered"), 50);
    // A second flush with nothing new reports nothing.
    assert_eq!(dlq.flush(Duration::from_secs(5)).expect("nothing left"), 0);

    let mut got = read_dlq(&cfg, Topic::Orders).expect("read dlq");
    assert_eq!(got.len(), 50);
    got.sort_by_key(|r| r.source_offset);
    for (i, r) in got.iter().enumerate() {
        let i = i as u64;
        let sent = letter(i, &keys[i as usize], &values[i as usize], "");
        assert_eq!(r.key, sent.key);
        assert_eq!(r.value, sent.value);
        assert_eq!(r.code, sent.code);
        assert_eq!(r.reason, format!("record {i} is wrong"));
        assert_eq!(r.service, "billing");
        assert_eq!(r.source_topic, name);
        assert_eq!(r.source_partition, sent.partition);
        assert_eq!(r.source_offset, sent.offset);
        assert_eq!(r.source_timestamp_ms, sent.timestamp_ms);
        // Same key, same murmur2 partition count: the letter sits where its original would.
        assert_eq!(
            r.partition,
            gigstream_core::partition::partition_for(&r.key, 3)
        );
    }
    // The wire contract other tools rely on: these header names, numbers as decimal text.
    let raw = read_topic(&cfg, &cfg.dlq_name(Topic::Orders)).expect("raw dlq");
    let names: Vec<&str> = raw[0].headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            HEADER_REASON_CODE,
            "gigstream.reason",
            "gigstream.service",
            "gigstream.topic",
            "gigstream.partition",
            "gigstream.offset",
            "gigstream.timestamp",
            // Kafka Connect's names (connect-runtime DeadLetterQueueReporter), beside ours.
            "__connect.errors.topic",
            "__connect.errors.partition",
            "__connect.errors.offset",
            "__connect.errors.connector.name",
            "__connect.errors.stage",
            "__connect.errors.class.name",
            "__connect.errors.exception.class.name",
            "__connect.errors.exception.message",
        ]
    );
    let offset = &raw[0].headers[5].1;
    assert!(std::str::from_utf8(offset)
        .expect("utf-8")
        .parse::<u64>()
        .is_ok());
    // The Connect headers say the same as ours, as Connect writes them (UTF-8, decimal).
    for r in &got {
        let h = |k: &str| {
            let v = &r.headers.iter().find(|(n, _)| n == k).expect(k).1;
            String::from_utf8(v.clone()).expect("utf-8")
        };
        assert_eq!(h("__connect.errors.topic"), r.source_topic);
        assert_eq!(
            h("__connect.errors.partition"),
            r.source_partition.to_string()
        );
        assert_eq!(h("__connect.errors.offset"), r.source_offset.to_string());
        assert_eq!(h("__connect.errors.connector.name"), "gigstream-billing");
        assert_eq!(h("__connect.errors.exception.class.name"), r.code);
        assert_eq!(h("__connect.errors.exception.message"), r.reason);
        let (stage, class) = if r.code == "bad_magic" {
            ("VALUE_CONVERTER", "gigstream.decode")
        } else {
            ("TASK_PUT", "gigstream.billing")
        };
        assert_eq!(h("__connect.errors.stage"), stage);
        assert_eq!(h("__connect.errors.class.name"), class);
    }
    // The other topics' twins do not exist: reading one says so.
    match read_dlq(&cfg, Topic::Usage) {
        Err(Error::Setting { key, .. }) => assert!(key.contains("usage.dlq"), "{key}"),
        other => panic!("expected a missing topic error, got {other:?}"),
    }
}

pub(crate) fn a_letter_without_a_dlq_topic_fails_the_flush_and_names_it() {
    let mut cfg = config("dlqfail");
    // Short delivery timeout: the missing topic is never created (auto-creation is off in
    // the client and librdkafka waits for it until the message times out).
    cfg = cfg
        .with_property("message.timeout.ms", "3000")
        .with_property("allow.auto.create.topics", "false");
    let dlq = DlqProducer::new(&cfg).expect("dlq producer");
    let send = dlq.send(&letter(3, b"deal-3", b"x", "nope"));
    let err = match send {
        Ok(()) => dlq
            .flush(Duration::from_secs(20))
            .expect_err("no topic, no delivery"),
        Err(e) => e,
    };
    let text = err.to_string();
    assert!(
        text.contains("orders/0@1003") || text.contains("orders.dlq"),
        "the error names the letter: {text}"
    );
    assert!(err.is_retryable(), "{text}");
}

pub(crate) fn raw_consume_and_read_topic_read_whole_topics_to_their_end() {
    let cfg = config("raw");
    fill(&cfg, Topic::Usage, 3, 3_000);
    fill(&cfg, Topic::Telemetry, 2, 1_000);
    let got = raw_consume(&cfg, &[Topic::Usage, Topic::Telemetry], "raw-baseline").expect("raw");
    assert_eq!(got.records, 4_000);
    // Values are the decimal sequence numbers, keys "key-<i % 97>".
    let bytes: u64 = records(Topic::Usage, 3_000, 97)
        .iter()
        .chain(&records(Topic::Telemetry, 1_000, 97))
        .map(|(_, k, v, _)| (k.len() + v.len()) as u64)
        .sum();
    assert_eq!(got.bytes, bytes);
    let since_first = got.since_first.expect("records were read");
    assert!(since_first <= got.elapsed);
    println!(
        "raw_consume: {} records, {} bytes in {:?} ({since_first:?} from the first record)",
        got.records, got.bytes, got.elapsed
    );

    let all = read_topic(&cfg, &cfg.topic_name(Topic::Telemetry)).expect("read");
    assert_eq!(all.len(), 1_000);
    assert!(all
        .windows(2)
        .all(|w| (w[0].partition, w[0].offset) < (w[1].partition, w[1].offset)));
    assert!(all.iter().all(|r| r.headers.is_empty()));
    assert!(all.iter().all(|r| r.timestamp_ms >= 1_700_000_000_000));

    // An empty topic reads as nothing, at once.
    let empty = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&empty, 2)])).expect("create");
    assert_eq!(
        raw_consume(&cfg, &[Topic::Orders], "raw-baseline")
            .expect("empty")
            .records,
        0
    );
    // A missing topic is an error that names it.
    let missing = read_topic(&cfg, "gigstream-no-such-topic").expect_err("missing");
    assert!(
        missing.to_string().contains("gigstream-no-such-topic"),
        "{missing}"
    );
}

pub(crate) fn paced_produce_keeps_the_rate_and_stamps_the_produce_time() {
    let cfg = config("paced");
    let name = cfg.topic_name(Topic::Orders);
    block_on(ensure_topics(&cfg, &[(&name, 2)])).expect("create");
    let producer = KafkaProducer::new(&cfg).expect("producer");
    let before = now_ms();
    let started = Instant::now();
    let mut reports = Vec::new();
    // 400 records at 200/s: about two seconds, never much less.
    let records = (0..400).map(|i| (Topic::Orders, format!("deal-{i}"), b"v".to_vec(), None));
    let summary = producer
        .produce_iter_blocking(records, Some(200.0), &mut |n| reports.push(n))
        .expect("produce");
    let took = started.elapsed();
    let after = now_ms();
    assert_eq!(summary.delivered, 400);
    assert_eq!(summary.per_topic.get(&Topic::Orders), Some(&400));
    assert!(
        took >= Duration::from_millis(1_990),
        "400 records at 200/s took only {took:?}"
    );
    assert!(
        reports.len() >= 4,
        "progress is reported while pacing: {reports:?}"
    );
    assert!(reports.windows(2).all(|w| w[0] <= w[1]));
    let got = read_topic(&cfg, &name).expect("read");
    assert_eq!(got.len(), 400);
    // No timestamp given: the record timestamp is the produce time.
    assert!(
        got.iter()
            .all(|r| r.timestamp_ms >= before && r.timestamp_ms <= after),
        "timestamps outside [{before}, {after}]"
    );
    let first = got.iter().map(|r| r.timestamp_ms).min().unwrap_or(0);
    let last = got.iter().map(|r| r.timestamp_ms).max().unwrap_or(0);
    assert!(
        last - first >= 1_900,
        "spread over the run: {first}..{last}"
    );

    let err = producer
        .produce_iter_blocking(
            std::iter::empty::<(Topic, Vec<u8>, Vec<u8>, Option<i64>)>(),
            Some(0.0),
            &mut |_| {},
        )
        .expect_err("zero rate");
    assert!(err.to_string().contains("rate"), "{err}");
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}
