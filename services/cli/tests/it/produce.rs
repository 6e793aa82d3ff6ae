//! `gigstream produce` against a real broker, read back with gigstream-kafka (the tests that
//! need the broker are skipped, as the harness says, where `GIGSTREAM_KAFKA_BROKERS` is unset).

use chrono::NaiveDate;
use gigstream_avro::{Codec, Registry};
use gigstream_cli::gen_cmd::{encode_all, WireEncoding};
use gigstream_core::{RefData, Topic};
use gigstream_gen::{generate, GenConfig};
use gigstream_kafka::{read_topic, topic_partitions, KafkaConfig, ReadRecord};
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// The broker settings with a fresh topic prefix.
fn kafka(test: &str) -> KafkaConfig {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    gigstream_testkit::services::kafka()
        .with_topic_prefix(format!("cli-{test}-{}-{nanos}-", std::process::id()))
}

fn gigstream(data: &std::path::Path, cfg: &KafkaConfig, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gigstream"))
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .env("RUST_LOG", "warn")
        // The flag must win over the environment's prefix (if any).
        .env("GIGSTREAM_KAFKA_TOPIC_PREFIX", "not-this-one-")
        .arg("--topic-prefix")
        .arg(&cfg.topic_prefix)
        .output()
        .expect("the gigstream binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// Per key, the (value, timestamp) sequence in partition order.
fn by_key(records: &[ReadRecord]) -> BTreeMap<Vec<u8>, Vec<(Vec<u8>, i64)>> {
    let mut m: BTreeMap<Vec<u8>, Vec<(Vec<u8>, i64)>> = BTreeMap::new();
    for r in records {
        m.entry(r.key.clone().unwrap_or_default())
            .or_default()
            .push((r.value.clone().unwrap_or_default(), r.timestamp_ms));
    }
    m
}

pub(crate) fn generated_events_land_keyed_encoded_and_damaged_exactly_like_in_the_log() {
    let cfg = kafka("gen");
    let dir = tempfile::tempdir().expect("temp dir");
    let out = gigstream(
        dir.path(),
        &cfg,
        &[
            "produce",
            "--events",
            "6000",
            "--days",
            "6",
            "--seed",
            "11",
            "--bad-ratio",
            "0.01",
            "--partitions",
            "3",
        ],
    );
    assert!(
        out.status.success(),
        "produce failed: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    println!("{stdout}");

    // What gen appends to the embedded log for the same options, in the same wire format.
    let gen = GenConfig {
        events: 6000,
        days: 6,
        seed: 11,
        end: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        bad_ratio: 0.01,
    };
    let refdata = RefData::load(None).expect("built-in reference data");
    let codec = Codec::new(Registry::builtin());
    let generated = generate(&gen, &refdata);
    let mut expected: BTreeMap<Topic, Vec<ReadRecord>> = BTreeMap::new();
    let injected = encode_all(
        &codec,
        &generated,
        WireEncoding::Confluent,
        |topic, key, value, ts| {
            expected.entry(topic).or_default().push(ReadRecord {
                topic: cfg.topic_name(topic),
                partition: 0,
                offset: 0,
                timestamp_ms: ts,
                key: Some(key.to_vec()),
                value: Some(value.to_vec()),
                headers: Vec::new(),
            });
            Ok(())
        },
    )
    .expect("encode");
    let injected_total: u64 = injected.values().flat_map(|m| m.values()).sum();
    assert!(injected_total > 0, "the test needs damaged records");

    let parts = topic_partitions(&cfg).expect("metadata");
    for topic in Topic::ALL {
        let name = cfg.topic_name(topic);
        assert_eq!(parts.get(&name), Some(&3), "{name}");
        assert_eq!(parts.get(&format!("{name}.dlq")), Some(&3), "{name}.dlq");
        let want = &expected[&topic];
        let got = read_topic(&cfg, &name).expect("read back");
        assert_eq!(got.len(), want.len(), "{name}: record count");
        assert!(
            stdout.contains(&format!("{name}: {} records", want.len())),
            "final count of {name} printed:\n{stdout}"
        );
        for r in &got {
            let key = r.key.as_deref().expect("every record has a key");
            assert_eq!(r.partition, gigstream_log::partition_for(key, 3));
        }
        // Same bytes (damage included), same append timestamps, same order per entity.
        assert!(by_key(&got) == by_key(want), "{name}: records differ");
        // Valid records are Confluent framed with the topic's latest schema id.
        let latest = codec.registry().latest(topic).0;
        let framed = got
            .iter()
            .filter_map(|r| r.value.as_deref())
            .filter(|v| v.len() > 5 && v[0] == 0 && v[1..5] == latest.to_be_bytes())
            .count();
        assert!(
            framed + injected_total as usize >= got.len(),
            "{name}: {framed} of {} records carry schema id {latest}",
            got.len()
        );
    }
    assert!(stdout.contains("invalid on purpose"), "{stdout}");
    assert!(stdout.contains("generator append time"), "{stdout}");

    // A second produce into the same topics with another partition count is refused.
    let again = gigstream(
        dir.path(),
        &cfg,
        &[
            "produce",
            "--events",
            "100",
            "--days",
            "1",
            "--partitions",
            "2",
        ],
    );
    assert!(!again.status.success());
    assert!(
        text(&again.stderr).contains("partitions"),
        "{}",
        text(&again.stderr)
    );
}

pub(crate) fn files_from_gen_are_produced_at_a_steady_rate_stamped_with_the_produce_time() {
    let cfg = kafka("files");
    let dir = tempfile::tempdir().expect("temp dir");
    let files = dir.path().join("files");
    let files_arg = files.to_str().expect("utf-8 path");
    for format in ["avro", "jsonl"] {
        let out = Command::new(env!("CARGO_BIN_EXE_gigstream"))
            .args(["gen", "--events", "1500", "--days", "3", "--output", format])
            .args(["--out-dir", files_arg])
            .output()
            .expect("gen runs");
        assert!(out.status.success(), "gen: {}", text(&out.stderr));
    }
    let lines = |topic: &str| {
        std::fs::read_to_string(files.join(format!("{topic}.jsonl")))
            .expect("jsonl written")
            .lines()
            .count()
    };
    let orders = files.join("orders.avro");
    let usage = files.join("usage.jsonl");
    let telemetry = files.join("telemetry.avro");
    let expected = [
        (Topic::Orders, lines("orders")),
        (Topic::Usage, lines("usage")),
        (Topic::Telemetry, lines("telemetry")),
    ];
    let total: usize = expected.iter().map(|(_, n)| n).sum();
    let rate = 2_000;
    let before = now_ms();
    let started = std::time::Instant::now();
    let out = gigstream(
        dir.path(),
        &cfg,
        &[
            "produce",
            "--from",
            orders.to_str().expect("utf-8"),
            usage.to_str().expect("utf-8"),
            telemetry.to_str().expect("utf-8"),
            "--rate",
            &rate.to_string(),
            "--partitions",
            "2",
        ],
    );
    let took = started.elapsed();
    let after = now_ms();
    assert!(
        out.status.success(),
        "produce failed: {}",
        text(&out.stderr)
    );
    let stdout = text(&out.stdout);
    assert!(stdout.contains("produce time"), "{stdout}");
    let least = std::time::Duration::from_secs_f64((total - 1) as f64 / rate as f64);
    assert!(took >= least, "{total} records at {rate}/s took {took:?}");
    for (topic, n) in expected {
        let name = cfg.topic_name(topic);
        let got = read_topic(&cfg, &name).expect("read back");
        assert_eq!(got.len(), n, "{name}");
        assert!(stdout.contains(&format!("{name}: {n} records")), "{stdout}");
        for r in &got {
            assert!(
                (before..=after).contains(&r.timestamp_ms),
                "{name}: timestamp {} outside the run [{before}, {after}]",
                r.timestamp_ms
            );
            let value = r.value.as_deref().expect("value");
            let event = Codec::new(Registry::builtin())
                .decode(topic, value)
                .expect("files hold decodable events");
            assert_eq!(r.key.as_deref(), Some(event.key().as_bytes()));
        }
    }

    // A JSON-lines file whose name does not say its topic is refused with a hint.
    let odd = dir.path().join("events.jsonl");
    std::fs::copy(files.join("usage.jsonl"), &odd).expect("copy");
    let out = gigstream(
        dir.path(),
        &cfg,
        &["produce", "--from", odd.to_str().expect("utf-8")],
    );
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("cannot tell the topic"),
        "{}",
        text(&out.stderr)
    );
}

pub(crate) fn without_brokers_produce_says_what_to_set() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_gigstream"))
        .arg("--data-dir")
        .arg(dir.path())
        .args(["produce", "--events", "100", "--days", "1"])
        .env_remove("GIGSTREAM_KAFKA_BROKERS")
        .output()
        .expect("runs");
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("GIGSTREAM_KAFKA_BROKERS"),
        "{}",
        text(&out.stderr)
    );
}
