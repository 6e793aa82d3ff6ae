//! Bad input is dead-lettered with its reason and counted; repeated events are counted once.

use gigstream_cli::gen_cmd::{encode_all, WireEncoding};
use gigstream_cli::services::Service;
use gigstream_cli::sql::{self, Format};
use gigstream_config::DataDir;
use gigstream_core::Topic;
use gigstream_runtime::RunOptions;
use gigstream_tests::{codec, generate, refdata, run, small_config, snapshot};
use std::collections::BTreeMap;

/// The dead-letter code each injected kind must produce.
fn code_of(kind: &str) -> &'static str {
    gigstream_cli::gen_cmd::dead_letter_code(kind)
        .unwrap_or_else(|| panic!("unknown injected kind {kind}"))
}

pub(crate) fn every_injected_bad_record_is_dead_lettered_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = generate(dir.path(), &small_config(40_000, 0.01)).unwrap();
    assert!(
        manifest.injected_total() > 200,
        "too few injected records: {manifest:?}"
    );
    run(dir.path(), &Service::ALL, &RunOptions::default()).unwrap();

    let tables = DataDir::new(dir.path()).tables();
    let csv = sql::run(
        &tables,
        "SELECT service, topic, code, count(*) AS n FROM dead_letters GROUP BY service, topic, code",
        Format::Csv,
    )
    .unwrap();
    let mut got: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        got.insert(
            (f[0].into(), f[1].into(), f[2].into()),
            f[3].parse().unwrap(),
        );
    }
    // Exactly the injected records, each with the code of its damage, in every service that
    // reads the topic; nothing else (the valid stream is whole, so no valid event is refused).
    let mut expected: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for svc in Service::ALL {
        for topic in svc.topics() {
            for (kind, n) in manifest.injected.get(topic.name()).into_iter().flatten() {
                *expected
                    .entry((
                        svc.name().to_string(),
                        topic.name().to_string(),
                        code_of(kind).to_string(),
                    ))
                    .or_default() += n;
            }
        }
    }
    assert_eq!(
        got, expected,
        "dead letters (service, topic, code) vs injected"
    );
    // Reasons are specific and the original bytes are kept.
    let sample = sql::run(
        &tables,
        "SELECT reason, payload_hex FROM dead_letters WHERE code = 'unknown_currency' LIMIT 1",
        Format::Csv,
    )
    .unwrap();
    assert!(sample.contains("reference/currencies.toml"), "{sample}");
}

pub(crate) fn repeated_events_are_counted_once() {
    let cfg = small_config(20_000, 0.0);
    let clean = tempfile::tempdir().unwrap();
    generate(clean.path(), &cfg).unwrap();
    run(clean.path(), &Service::ALL, &RunOptions::default()).unwrap();

    // The same stream, where a producer retried every 7th record (each is appended twice).
    let retried = tempfile::tempdir().unwrap();
    let log = gigstream_log::Log::open(&retried.path().join("log")).unwrap();
    for t in Topic::ALL {
        log.create_topic(t.name(), 4).unwrap();
    }
    let mut producer = log.producer().unwrap();
    let records = gigstream_gen::generate(&cfg, &refdata());
    let mut i = 0u64;
    let mut repeats = 0u64;
    encode_all(
        &codec(),
        &records,
        WireEncoding::Confluent,
        |topic, key, value, ts| {
            producer.send(topic.name(), key, value, ts, &[])?;
            i += 1;
            if i.is_multiple_of(7) {
                producer.send(topic.name(), key, value, ts + 5, &[])?;
                repeats += 1;
            }
            Ok(())
        },
    )
    .unwrap();
    producer.flush().unwrap();
    drop(producer);
    let summaries = run(retried.path(), &Service::ALL, &RunOptions::default()).unwrap();
    assert!(summaries.iter().all(|s| s.stats.duplicates > 0));

    let mut a = snapshot(clean.path()).unwrap();
    let mut b = snapshot(retried.path()).unwrap();
    // Offsets differ (the retried log is longer); every aggregate must not.
    a.remove("positions");
    b.remove("positions");
    assert_eq!(
        a, b,
        "repeated records changed the aggregates ({repeats} repeats)"
    );
}
