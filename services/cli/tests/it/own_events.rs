//! A user's own events without Kafka: `gigstream produce --from FILE` into the embedded log,
//! then `gigstream run`, `gigstream sql` and `gigstream verify`, as a user runs them (no broker).

use crate::support::{embedded, embedded_in, text};
use gigstream_core::partition::partition_for;
use gigstream_core::Topic;
use gigstream_log::{Batch, Log};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn example() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/events.jsonl")
}

/// Runs and asserts success; stdout.
fn ok(data: &Path, args: &[&str]) -> String {
    let out = embedded(data, args);
    assert!(
        out.status.success(),
        "gigstream {} failed ({:?}):\n{}\n{}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The rows of `query` (`gigstream sql --format json`, one object a line).
fn rows(data: &Path, query: &str) -> Vec<serde_json::Value> {
    ok(data, &["sql", query, "--format", "json"])
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn one(data: &Path, query: &str) -> serde_json::Value {
    let mut r = rows(data, query);
    assert_eq!(r.len(), 1, "{query}: {r:?}");
    r.remove(0)
}

fn n(v: &serde_json::Value, field: &str) -> u64 {
    v[field]
        .as_u64()
        .unwrap_or_else(|| panic!("{field} is not a count in {v}"))
}

/// Records appended per topic, as `produce` reports them (`orders    8 records`).
fn reported(stdout: &str) -> BTreeMap<String, u64> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let topic = w.next()?;
            Topic::from_name(topic)?;
            let count = w.next()?.parse().ok()?;
            (w.next()? == "records").then(|| (topic.to_string(), count))
        })
        .collect()
}

/// Records per topic in the log.
fn in_log(data: &Path) -> BTreeMap<String, u64> {
    let log = Log::open(&data.join("log")).expect("log");
    Topic::ALL
        .iter()
        .map(|t| {
            let parts = log.partitions(t.name()).expect("topic exists");
            let n = (0..parts)
                .map(|p| log.end_offset(t.name(), p).expect("end offset"))
                .sum();
            (t.name().to_string(), n)
        })
        .collect()
}

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(t, n)| (t.to_string(), *n)).collect()
}

/// (a) The example file through the binary: produce, run, the tables, verify.
pub(crate) fn the_example_file_goes_in_and_is_folded() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let file = example();
    let stdout = ok(data, &["produce", "--from", file.to_str().unwrap()]);
    let expected = counts(&[("orders", 8), ("usage", 2), ("telemetry", 4)]);
    assert_eq!(reported(&stdout), expected, "{stdout}");
    assert!(stdout.contains("appended 14 records"), "{stdout}");
    assert!(!stdout.contains("bad line"), "{stdout}");
    assert_eq!(in_log(data), expected);

    let run = ok(data, &["run"]);
    assert!(run.contains("billing: 14 records"), "{run}");

    // billing: 码市 takes 25%, 劳务报酬 on the ¥15,000 left: 15,000 × 80% × 20% = ¥2,400.
    let pay = one(
        data,
        "SELECT deal_id, platform, CAST(gross AS VARCHAR) AS gross, \
         CAST(platform_fee AS VARCHAR) AS fee, CAST(tax AS VARCHAR) AS tax, \
         CAST(net AS VARCHAR) AS net FROM billing_payments",
    );
    assert_eq!(pay["deal_id"], "my-deal-1", "{pay}");
    assert_eq!(pay["platform"], "codingmart", "{pay}");
    assert_eq!(
        (&pay["gross"], &pay["fee"], &pay["tax"], &pay["net"]),
        (
            &"20000.00".into(),
            &"5000.00".into(),
            &"2400.00".into(),
            &"12600.00".into()
        ),
        "{pay}"
    );
    // market: the lead, the proposal and the interview on 2 November, the win on the 4th.
    let funnel = one(
        data,
        "SELECT sum(leads) AS leads, sum(proposals) AS proposals, \
         sum(interviews) AS interviews, sum(wins) AS wins FROM market_funnel_daily \
         WHERE platform = 'codingmart' AND client_segment = 'startup'",
    );
    for (field, want) in [
        ("leads", 1),
        ("proposals", 1),
        ("interviews", 1),
        ("wins", 1),
    ] {
        assert_eq!(n(&funnel, field), want, "{field}: {funnel}");
    }
    // sla: three requests (one error) and a probe in one minute of my-api.
    let minute = one(
        data,
        "SELECT requests, errors, probes, probes_ok FROM sla_minute WHERE service_id = 'my-api'",
    );
    for (field, want) in [
        ("requests", 3),
        ("errors", 1),
        ("probes", 1),
        ("probes_ok", 1),
    ] {
        assert_eq!(n(&minute, field), want, "{field}: {minute}");
    }
    let letters = one(data, "SELECT count(*) AS n FROM dead_letters");
    assert_eq!(n(&letters, "n"), 0, "no dead letter: {letters}");
    // Every event applied once: the positions are the log's ends, for each service.
    let pos = rows(
        data,
        "SELECT service, topic, sum(next_offset) AS n FROM positions GROUP BY 1, 2 ORDER BY 1, 2",
    );
    let pos: Vec<(String, String, u64)> = pos
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap().to_string(),
                r["topic"].as_str().unwrap().to_string(),
                n(r, "n"),
            )
        })
        .collect();
    let want: Vec<(String, String, u64)> = [
        ("billing", "orders", 8),
        ("billing", "telemetry", 4),
        ("billing", "usage", 2),
        ("market", "orders", 8),
        ("sla", "telemetry", 4),
    ]
    .iter()
    .map(|(s, t, n)| (s.to_string(), t.to_string(), *n))
    .collect();
    assert_eq!(pos, want);
    ok(data, &["verify"]);

    // Producing the same file again appends it again; the services count each event id once.
    ok(data, &["produce", "--from", file.to_str().unwrap()]);
    let run = ok(data, &["run"]);
    assert!(run.contains("14 duplicates"), "{run}");
    let pay = one(data, "SELECT count(*) AS n FROM billing_payments");
    assert_eq!(n(&pay, "n"), 1, "{pay}");
}

/// A file of the user's own (mixed topics, any name): the good lines of the example, then
/// bad lines of every kind.
fn with_bad_lines() -> (String, Vec<(u64, &'static str, Topic)>) {
    let mut s = std::fs::read_to_string(example()).expect("example file");
    // (line, dead-letter code, topic it must go to)
    let bad: Vec<(&str, &str, Topic)> = vec![
        // Not JSON: its topic cannot be told (the default, orders).
        ("deal_id,amount,currency", "bad_magic", Topic::Orders),
        // A field missing: told by the payload type.
        (
            r#"{"event_id":"my-bad-2","occurred_at":"2026-11-20T09:00:00Z","deal_id":"my-deal-1","schema_version":2,"payload":{"PaymentSettled":{"invoice_id":"my-inv-1","currency":"CNY","settled_at":"2026-11-20T09:00:00Z"}}}"#,
            "invalid_json",
            Topic::Orders,
        ),
        // An unknown payload type: told by the key field.
        (
            r#"{"event_id":"my-bad-3","occurred_at":"2026-11-05T10:00:00Z","service_id":"my-api","schema_version":2,"payload":{"RequestSeen":{"latency_ms":5}}}"#,
            "invalid_json",
            Topic::Telemetry,
        ),
        // A field of the wrong type.
        (
            r#"{"event_id":"my-bad-4","occurred_at":"2026-11-05T10:00:04Z","service_id":"my-api","schema_version":2,"payload":{"RequestObserved":{"tenant_id":"t-001","route":"/v1/orders","method":"GET","status_code":200,"latency_ms":"fast"}}}"#,
            "invalid_json",
            Topic::Telemetry,
        ),
        // JSON, not an event.
        (r#"{"hello":"world"}"#, "invalid_json", Topic::Orders),
        // An event the validation refuses (an unknown platform).
        (
            r#"{"event_id":"my-bad-6","occurred_at":"2026-11-03T09:00:00Z","deal_id":"my-deal-2","schema_version":2,"payload":{"LeadPosted":{"platform":"myspace","client_id":"c","client_segment":"other","client_country":"DE","category":"cli_tool","skill_tags":[],"budget_min":"1000.00","budget_max":"2000.00","currency":"CNY"}}}"#,
            "unknown_platform",
            Topic::Orders,
        ),
        // A usage line with a missing field.
        (
            r#"{"event_id":"my-bad-7","occurred_at":"2026-11-06T09:00:00Z","subscription_id":"my-sub-1","schema_version":2,"payload":{"UsageRecorded":{"tenant_id":"t-001","meter":"api_calls"}}}"#,
            "invalid_json",
            Topic::Usage,
        ),
    ];
    let first = s.lines().count() as u64;
    let mut out = Vec::new();
    for (i, (line, code, topic)) in bad.into_iter().enumerate() {
        // An empty line between: skipped, but counted in the line numbers.
        s.push('\n');
        s.push_str(line);
        s.push('\n');
        out.push((first + 2 * i as u64 + 2, code, topic));
    }
    (s, out)
}

/// The services that read a topic.
fn readers(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Orders => &["billing", "market"],
        Topic::Usage => &["billing"],
        Topic::Telemetry => &["billing", "sla"],
    }
}

/// Checks the dead letters against the bad lines of `label` (as the reason names the file).
fn assert_dead_letters(data: &Path, label: &str, bad: &[(u64, &str, Topic)]) {
    let letters = rows(
        data,
        "SELECT service, topic, code, reason FROM dead_letters ORDER BY service, reason",
    );
    let mut want = Vec::new();
    for (line, code, topic) in bad {
        for s in readers(*topic) {
            want.push((
                s.to_string(),
                topic.name().to_string(),
                code.to_string(),
                *line,
            ));
        }
    }
    want.sort();
    let mut got: Vec<(String, String, String, u64)> = letters
        .iter()
        .map(|r| {
            let reason = r["reason"].as_str().unwrap();
            let at = reason
                .strip_prefix(&format!("{label}:"))
                .unwrap_or_else(|| panic!("the reason names {label}:LINE: {reason}"));
            let line = at.split(':').next().unwrap().parse().unwrap();
            (
                r["service"].as_str().unwrap().to_string(),
                r["topic"].as_str().unwrap().to_string(),
                r["code"].as_str().unwrap().to_string(),
                line,
            )
        })
        .collect();
    got.sort();
    assert_eq!(got, want, "{letters:#?}");
}

/// (b) Bad lines: every good line counted, each bad line a dead letter naming its line.
pub(crate) fn bad_lines_become_dead_letters_naming_their_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (content, bad) = with_bad_lines();
    let file = data.join("my-events.jsonl");
    std::fs::write(&file, &content).unwrap();
    let label = file.to_str().unwrap();
    let out = embedded(data, &["produce", "--from", label]);
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "bad lines are dead letters, not a failure: {stdout}\n{}",
        text(&out.stderr)
    );
    let expected = counts(&[("orders", 8 + 4), ("usage", 2 + 1), ("telemetry", 4 + 2)]);
    assert_eq!(reported(&stdout), expected, "{stdout}");
    assert_eq!(in_log(data), expected);
    assert!(stdout.contains("7 bad lines"), "{stdout}");
    for (line, code, topic) in &bad {
        let entry = stdout
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{label}:{line}: ")))
            .unwrap_or_else(|| panic!("the report lists line {line}:\n{stdout}"));
        assert!(
            entry.contains(&format!("(into {topic}, dead letter {code})")),
            "{entry}"
        );
    }

    ok(data, &["run"]);
    assert_dead_letters(data, label, &bad);
    // The good lines are all folded, exactly as without the bad ones.
    let pay = one(
        data,
        "SELECT count(*) AS n, CAST(sum(net) AS VARCHAR) AS net FROM billing_payments",
    );
    assert_eq!(
        (n(&pay, "n"), &pay["net"]),
        (1, &"12600.00".into()),
        "{pay}"
    );
    let minute = one(
        data,
        "SELECT requests, errors, probes FROM sla_minute WHERE service_id = 'my-api'",
    );
    assert_eq!(
        (
            n(&minute, "requests"),
            n(&minute, "errors"),
            n(&minute, "probes")
        ),
        (3, 1, 1),
        "{minute}"
    );
    let leads = one(data, "SELECT sum(leads) AS n FROM market_funnel_daily");
    assert_eq!(n(&leads, "n"), 1, "{leads}");
    // The embedded verify reads the same headers: the recomputed dead letters are the same.
    ok(data, &["verify"]);

    // Lines whose topic cannot be told go where --bad-line-topic says.
    let dir2 = tempfile::tempdir().unwrap();
    let out = embedded(
        dir2.path(),
        &["produce", "--from", label, "--bad-line-topic", "usage"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        reported(&text(&out.stdout)),
        counts(&[("orders", 8 + 2), ("usage", 2 + 3), ("telemetry", 4 + 2)])
    );
}

/// (c) Standard input: `-`, JSON lines; the reason names `stdin:LINE`.
pub(crate) fn standard_input_is_read_with_dash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (content, bad) = with_bad_lines();
    let out = embedded_in(data, &["produce", "--from", "-"], Some(content.as_bytes()));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    assert_eq!(
        reported(&stdout),
        counts(&[("orders", 12), ("usage", 3), ("telemetry", 6)]),
        "{stdout}"
    );
    assert!(stdout.contains("from stdin"), "{stdout}");
    ok(data, &["run"]);
    assert_dead_letters(data, "stdin", &bad);
    let n_pay = one(data, "SELECT count(*) AS n FROM billing_payments");
    assert_eq!(n(&n_pay, "n"), 1);
}

/// Nothing readable: a missing file, a file of no events. Exit non-zero, nothing appended.
pub(crate) fn a_missing_file_or_no_events_fails_and_appends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let example = example();
    let missing = data.join("nope.jsonl");
    let out = embedded(
        data,
        &[
            "produce",
            "--from",
            example.to_str().unwrap(),
            missing.to_str().unwrap(),
        ],
    );
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a missing file fails: {err}");
    assert!(
        err.contains("nope.jsonl") && err.contains("check the path"),
        "{err}"
    );
    let csv = data.join("sales.csv");
    std::fs::write(&csv, "deal_id,amount\nd-1,100\n").unwrap();
    let out = embedded(data, &["produce", "--from", csv.to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(!out.status.success(), "a file of no events fails: {err}");
    assert!(
        err.contains("sales.csv") && err.contains("nothing was appended"),
        "{err}"
    );
    let empty = data.join("empty.jsonl");
    std::fs::write(&empty, "\n\n").unwrap();
    let out = embedded(data, &["produce", "--from", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("no events"),
        "{}",
        text(&out.stderr)
    );
    let log = Log::open(&data.join("log")).expect("log");
    for t in log.topics().unwrap() {
        for p in 0..log.partitions(&t).unwrap() {
            assert_eq!(log.end_offset(&t, p).unwrap(), 0, "{t}/{p} is empty");
        }
    }
}

/// Avro container files (written by `gigstream gen --output avro`) go in too.
pub(crate) fn avro_container_files_go_in_too() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let files = data.join("gen");
    ok(
        data,
        &[
            "gen",
            "--events",
            "2000",
            "--days",
            "3",
            "--output",
            "avro",
            "--out-dir",
            files.to_str().unwrap(),
        ],
    );
    let paths: Vec<String> = ["orders", "usage", "telemetry"]
        .iter()
        .map(|t| {
            files
                .join(format!("{t}.avro"))
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut args = vec!["produce", "--from"];
    args.extend(paths.iter().map(String::as_str));
    let stdout = ok(data, &args);
    let total: u64 = reported(&stdout).values().sum();
    assert!(total > 1500, "{stdout}");
    assert_eq!(in_log(data).values().sum::<u64>(), total);
    ok(data, &["run"]);
    let letters = one(data, "SELECT count(*) AS n FROM dead_letters");
    assert_eq!(n(&letters, "n"), 0, "{letters}");
}

/// librdkafka's own partitioner, which `gigstream-kafka`'s producer uses
/// (`partitioner=murmur2_random`, enforced).
#[allow(unsafe_code)]
fn librdkafka_partition(key: &[u8], partitions: i32) -> i32 {
    // SAFETY: for a non-null key, rd_kafka_msg_partitioner_murmur2_random only hashes the
    // `keylen` bytes at `key` (rdkafka_msg.c: `(rd_murmur2(key, keylen) & 0x7fffffff) %
    // partition_cnt`); it touches neither the topic handle nor the opaques, which may be null.
    // A slice's pointer is never null, even for an empty slice.
    unsafe {
        rdkafka::bindings::rd_kafka_msg_partitioner_murmur2_random(
            std::ptr::null(),
            key.as_ptr().cast(),
            key.len(),
            partitions,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    }
}

/// (d) The embedded log places a key where the Kafka producer does: the log's partitioner
/// against librdkafka's, and the records `produce --from` appended.
pub(crate) fn the_embedded_log_partitions_like_the_kafka_producer() {
    // The partitioners agree, on the keys of a generated stream and odd ones.
    let refdata = gigstream_core::RefData::builtin();
    let cfg = gigstream_gen::GenConfig {
        events: 5_000,
        days: 5,
        ..gigstream_gen::GenConfig::default()
    };
    let mut keys: Vec<Vec<u8>> = gigstream_gen::generate(&cfg, &refdata)
        .iter()
        .map(|g| g.event.key().as_bytes().to_vec())
        .collect();
    keys.sort();
    keys.dedup();
    let distinct = keys.len();
    for odd in [
        "",
        "a",
        "ab",
        "abc",
        "abcd",
        "订单-42",
        "my-deal-1",
        &"x".repeat(1000),
    ] {
        keys.push(odd.as_bytes().to_vec());
    }
    let mut compared = 0u64;
    for key in &keys {
        for partitions in (1..=32).chain([64, 100, 1000, 65_536]) {
            assert_eq!(
                partition_for(key, partitions) as i32,
                librdkafka_partition(key, partitions as i32),
                "key {:?}, {partitions} partitions",
                String::from_utf8_lossy(key)
            );
            compared += 1;
        }
    }
    println!("partitioners agree on {distinct} generated keys and 8 odd ones ({compared} pairs)");

    // What produce --from appended: keyed by the entity, on librdkafka's partition.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let (content, _) = with_bad_lines();
    let file = data.join("mixed.jsonl");
    std::fs::write(&file, content).unwrap();
    ok(
        data,
        &[
            "produce",
            "--from",
            file.to_str().unwrap(),
            "--partitions",
            "7",
        ],
    );
    let log = Log::open(&data.join("log")).expect("log");
    let mut checked = 0;
    for t in Topic::ALL {
        assert_eq!(log.partitions(t.name()).unwrap(), 7);
        for p in 0..7 {
            let mut reader = log.reader(t.name(), p, 0).unwrap();
            let mut batch = Batch::new();
            reader.read(&mut batch, 1 << 20).unwrap();
            for r in batch.iter() {
                assert_eq!(p as i32, librdkafka_partition(r.key, 7), "{t}/{p}");
                let v: serde_json::Value = serde_json::from_slice(r.value).unwrap_or_default();
                if let Some(key) = v.get(t.key_field()).and_then(|k| k.as_str()) {
                    assert_eq!(r.key, key.as_bytes(), "keyed by {}", t.key_field());
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 21);
}
