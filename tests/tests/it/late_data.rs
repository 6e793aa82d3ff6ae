//! Late data that removes a row: three consecutive slow windows make a violation; requests that
//! arrive late (inside the allowed lateness) into the middle window make it fast, so the run
//! and that window's own violation are gone. The removed rows must vanish from the stored
//! tables, and `gigstream verify` must find the stored tables equal to the log: in the
//! embedded Parquet tables, and in ClickHouse (where a `FINAL` read must not see them either).

use gigstream_cli::services::Service;
use gigstream_cli::verify::{self, LogSource, TableStore};
use gigstream_config::DataDir;
use gigstream_core::time::parse_ts;
use gigstream_host::{run_service, Backends, ServiceRun};
use gigstream_log::Log;
use gigstream_runtime::RunOptions;
use std::path::Path;
use std::sync::atomic::AtomicBool;

const SERVICE: &str = "svc-late";
const RUN_RULE: &str = "p95_alert_3_windows";

/// `n` requests of `SERVICE` at `latency_ms`, from `at`, `step_ms` apart, as JSON lines.
fn requests(at: &str, n: u32, step_ms: i64, latency_ms: u32, tag: &str) -> Vec<String> {
    let t0 = parse_ts(at).expect("a time");
    (0..n)
        .map(|i| {
            let t = t0 + i64::from(i) * step_ms;
            let ts = gigstream_core::time::fmt_ts(t);
            format!(
                r#"{{"event_id":"late-{tag}-{i}","occurred_at":"{ts}","service_id":"{SERVICE}","schema_version":2,"payload":{{"RequestObserved":{{"tenant_id":"t-001","route":"/v1/things","method":"GET","status_code":200,"latency_ms":{latency_ms}}}}}}}"#
            )
        })
        .collect()
}

fn append(dir: &Path, lines: &[String]) {
    let log = Log::open(&DataDir::new(dir).log()).expect("the log");
    if !log
        .topics()
        .expect("topics")
        .iter()
        .any(|t| t == "telemetry")
    {
        log.create_topic("telemetry", 4).expect("create telemetry");
    }
    let mut producer = log.producer().expect("a producer");
    let codec = gigstream_tests::codec();
    // Appended after the last event time (an append time before it reads as a future timestamp).
    let appended = parse_ts("2026-03-02T12:00:00Z").expect("a time");
    let mut buf = Vec::new();
    for l in lines {
        let event = gigstream_core::Event::Telemetry(serde_json::from_str(l).expect("an event"));
        buf.clear();
        codec
            .encode(&event, gigstream_avro::Encoding::Confluent, &mut buf)
            .expect("encode");
        producer
            .send("telemetry", SERVICE.as_bytes(), &buf, appended, &[])
            .expect("append");
    }
    producer.flush().expect("flush");
}

/// The first stream: windows 10:00, 10:05 and 10:10 slow (400 ms), then traffic an hour later.
fn slow_stream() -> Vec<String> {
    let mut lines = Vec::new();
    for (k, at) in ["10:00:00", "10:05:00", "10:10:00"].iter().enumerate() {
        lines.extend(requests(
            &format!("2026-03-02T{at}Z"),
            20,
            1_000,
            400,
            &format!("slow{k}"),
        ));
    }
    lines.extend(requests("2026-03-02T11:00:00Z", 20, 1_000, 20, "after"));
    lines
}

/// Fast requests into the middle window (10:06:00 to 10:09:20): its P95 drops below the
/// alert, 400 fast requests beside 20 slow ones.
fn late_fast() -> Vec<String> {
    requests("2026-03-02T10:06:00Z", 400, 500, 10, "fast")
}

fn violations_of(rows: &[Vec<gigstream_core::Value>]) -> Vec<(String, i64)> {
    rows.iter()
        .filter(|r| r[0] == gigstream_core::Value::from(SERVICE))
        .map(|r| {
            let rule = match &r[1] {
                gigstream_core::Value::Str(s) => s.clone(),
                other => panic!("rule {other:?}"),
            };
            let start = match &r[2] {
                gigstream_core::Value::DateTime(s) => *s,
                other => panic!("start {other:?}"),
            };
            (rule, start)
        })
        .collect()
}

fn at(s: &str) -> i64 {
    parse_ts(s).expect("a time") / 1000
}

fn assert_verified(dir: &Path, store: &mut TableStore) {
    let reports = verify::verify_services(
        &gigstream_tests::codec(),
        &gigstream_tests::refdata(),
        &LogSource::Embedded(DataDir::new(dir).log()),
        store,
        &[Service::Sla],
        20,
    )
    .expect("verify runs");
    for r in &reports {
        assert!(r.is_clean(), "verify found differences:\n{}", r.render());
    }
}

pub(crate) fn late_data_removes_a_violation_from_the_embedded_tables() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let stored = || -> Vec<(String, i64)> {
        let store = gigstream_parquet::ParquetStore::new(DataDir::new(dir).tables());
        let snap = store.snapshot("sla").expect("snapshot").expect("committed");
        violations_of(
            &snap
                .read(&gigstream_sla::tables::SLA_VIOLATIONS)
                .expect("violations"),
        )
    };
    append(dir, &slow_stream());
    gigstream_tests::run(dir, &[Service::Sla], &RunOptions::default()).expect("first run");
    let before = stored();
    assert!(
        before.contains(&(RUN_RULE.into(), at("2026-03-02T10:00:00Z"))),
        "{before:?}"
    );
    assert!(before.contains(&("p95_target".into(), at("2026-03-02T10:05:00Z"))));

    append(dir, &late_fast());
    gigstream_tests::run(dir, &[Service::Sla], &RunOptions::default()).expect("second run");
    let after = stored();
    assert!(
        !after.iter().any(|(rule, _)| rule == RUN_RULE),
        "the run of slow windows is gone: {after:?}"
    );
    assert!(!after.contains(&("p95_target".into(), at("2026-03-02T10:05:00Z"))));
    assert!(after.contains(&("p95_target".into(), at("2026-03-02T10:00:00Z"))));
    assert_verified(
        dir,
        &mut TableStore::Parquet(gigstream_parquet::ParquetStore::new(
            DataDir::new(dir).tables(),
        )),
    );
}

pub(crate) fn late_data_removes_a_violation_from_clickhouse() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path();
    let mut config = gigstream_testkit::services::clickhouse();
    config.database = format!(
        "gs_late_{}_{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .subsec_nanos()
    );
    let backends = Backends {
        data_dir: DataDir::new(dir),
        kafka: None,
        clickhouse: Some(config.clone()),
    };
    let run = ServiceRun {
        backends: &backends,
        options: RunOptions::default(),
        codec: gigstream_tests::codec(),
        refdata: gigstream_tests::refdata(),
        observer: None,
    };
    let conn = || gigstream_clickhouse::Connection::new(config.clone(), true).expect("connect");
    // With and without FINAL: a removed row is deleted, not only superseded, so panels and
    // ad-hoc queries that do not say FINAL cannot see it either.
    let count_in = |from: &str, rule: &str| -> u64 {
        conn()
            .query_tsv(
                "counting violations",
                &format!(
                    "SELECT count() FROM {from} WHERE service_id = '{SERVICE}' AND rule = '{rule}'"
                ),
            )
            .expect("query")
            .trim()
            .parse()
            .expect("a count")
    };
    let count = |rule: &str| count_in("sla_violations FINAL", rule);
    let stop = AtomicBool::new(false);
    append(dir, &slow_stream());
    run_service::<gigstream_sla::Sla>(&run, &stop, &mut |_| {}).expect("first run");
    assert_eq!(count(RUN_RULE), 1);
    assert_eq!(count("p95_target"), 3);

    append(dir, &late_fast());
    run_service::<gigstream_sla::Sla>(&run, &stop, &mut |_| {}).expect("second run");
    assert_eq!(
        count(RUN_RULE),
        0,
        "the removed run is gone from FINAL reads"
    );
    assert_eq!(
        count_in("sla_violations", RUN_RULE),
        0,
        "and from plain reads"
    );
    assert_eq!(count("p95_target"), 2);
    let sink = gigstream_clickhouse::ClickHouseSink::connect(config.clone()).expect("sink");
    assert_verified(dir, &mut TableStore::ClickHouse(Box::new(sink)));
    let admin = gigstream_clickhouse::Connection::new(config.clone(), false).expect("admin");
    admin
        .execute(
            "dropping the test database",
            &format!("DROP DATABASE IF EXISTS `{}`", config.database),
        )
        .expect("drop");
}
