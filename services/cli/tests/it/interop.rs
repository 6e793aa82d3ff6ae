//! Producers no one at gigstream wrote, through a real Confluent-compatible schema registry
//! (Apicurio Registry's ccompat API in CI): Confluent's own Python client (`AvroSerializer`
//! with `SchemaRegistryClient`, `tests/interop/confluent_produce.py`) and a Go service on
//! franz-go's `sr` serde (`clients/go/examples/produce`). Both register their writer schemas
//! under `<topic>-value` and write the ids the registry assigns; the three services read them
//! from Kafka into ClickHouse with the registry configured. Checked: every record consumed,
//! none dead-lettered, `gigstream verify` exact, every record framed with an id the registry
//! gave for its subject, and the SLA totals equal to what the producer's own input says.

use crate::support::{backends, repo_path, text, Backends};
use gigstream_config::SchemaRegistryConfig;
use gigstream_core::Topic;
use gigstream_registry::VersionSelector;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const ALL: &[Topic] = &Topic::ALL;

fn registry() -> SchemaRegistryConfig {
    gigstream_testkit::services::registry()
}

fn with_registry(b: &mut Backends, sr: &SchemaRegistryConfig) {
    b.extra_env
        .push(("GIGSTREAM_SCHEMA_REGISTRY_URL".into(), sr.url.clone()));
}

/// The test's topics with their `.dlq` twins, four partitions each (the producers create none).
fn create_topics(b: &Backends) {
    let names: Vec<String> = ALL.iter().map(|t| b.kafka.topic_name(*t)).collect();
    let topics: Vec<(&str, u32)> = names.iter().map(|n| (n.as_str(), 4)).collect();
    tokio::runtime::Runtime::new()
        .expect("runtime")
        .block_on(gigstream_kafka::ensure_topics(&b.kafka, &topics))
        .expect("topics created");
}

/// Requests, errors (status >= 500) and the latency sum of the `RequestObserved` events in
/// JSON lines of gigstream's JSON form: what `sla_minute` must add up to.
fn request_totals(lines: &str) -> (u64, u64, u64) {
    let (mut n, mut errors, mut latency) = (0, 0, 0);
    for line in lines.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("a JSON event");
        if let Some(r) = v["payload"].get("RequestObserved") {
            n += 1;
            if r["status_code"].as_u64().expect("status_code") >= 500 {
                errors += 1;
            }
            latency += r["latency_ms"].as_u64().expect("latency_ms");
        }
    }
    (n, errors, latency)
}

fn lines_per_topic(dir: &Path) -> BTreeMap<Topic, u64> {
    ALL.iter()
        .map(|t| {
            let body = std::fs::read_to_string(dir.join(format!("{}.jsonl", t.name())))
                .unwrap_or_default();
            (
                *t,
                body.lines().filter(|l| !l.trim().is_empty()).count() as u64,
            )
        })
        .collect()
}

/// Runs the three services to the end of the topics, then checks what the module says.
/// `sent`: records per topic; `totals`: the SLA request totals of the input.
fn consume_and_check(b: &Backends, sent: &BTreeMap<Topic, u64>, totals: (u64, u64, u64)) {
    let out = b.gigstream(&["run"]);
    let log = text(&out.stderr);
    assert!(
        out.status.success(),
        "gigstream run failed {}\n{log}",
        b.ctx()
    );
    assert!(
        log.contains("schema ids are resolved through the schema registry"),
        "{log}"
    );
    for (service, topics) in [
        (
            "billing",
            &[Topic::Orders, Topic::Usage, Topic::Telemetry][..],
        ),
        ("sla", &[Topic::Telemetry][..]),
        ("market", &[Topic::Orders][..]),
    ] {
        b.wait_caught_up(service, topics, Duration::from_secs(60));
        let stored = b.stored_offsets(service);
        for t in topics {
            let n: u64 = stored
                .iter()
                .filter(|((topic, _), _)| topic == t)
                .map(|(_, o)| *o)
                .sum();
            assert_eq!(
                n, sent[t],
                "{service} consumed {n} records of {t}, {} sent",
                sent[t]
            );
        }
    }
    let conn = b.connection();
    let letters = conn
        .query_tsv(
            "dead letters",
            "SELECT service, topic, code, reason FROM dead_letters FINAL LIMIT 20",
        )
        .expect("dead_letters reads");
    assert!(letters.trim().is_empty(), "dead letters:\n{letters}");
    let got = conn
        .query_tsv(
            "SLA totals",
            "SELECT sum(requests), sum(errors), sum(latency_sum_ms) FROM sla_minute FINAL",
        )
        .expect("sla_minute reads");
    let got: Vec<u64> = got
        .split_whitespace()
        .map(|x| x.parse().expect("a number"))
        .collect();
    assert_eq!(
        got,
        vec![totals.0, totals.1, totals.2],
        "sla_minute (requests, errors, latency sum) against the producer's input"
    );
    b.assert_verified(&["billing", "sla", "market"]);
}

/// Every record's Confluent framing names an id the registry holds under its subject.
fn ids_from_the_registry(
    b: &Backends,
    sr: &SchemaRegistryConfig,
) -> BTreeMap<Topic, BTreeSet<u32>> {
    let client = gigstream_registry::SchemaRegistry::new(sr.clone()).expect("registry client");
    let mut out = BTreeMap::new();
    for t in ALL {
        let subject = client.subject(
            &b.kafka.topic_name(*t),
            gigstream_avro::Registry::record_name(*t),
        );
        let mut known = BTreeSet::new();
        for v in client.versions(&subject).expect("the subject exists") {
            known.insert(
                client
                    .version(&subject, VersionSelector::Number(v))
                    .expect("version")
                    .id,
            );
        }
        let mut carried = BTreeSet::new();
        for r in gigstream_kafka::read_topic(&b.kafka, &b.kafka.topic_name(*t)).expect("reads") {
            let v = r.value.unwrap_or_default();
            assert!(
                v.len() > 5 && v[0] == 0,
                "{t}: a record without Confluent framing"
            );
            carried.insert(u32::from_be_bytes([v[1], v[2], v[3], v[4]]));
        }
        assert!(
            carried.is_subset(&known),
            "{t}: ids {carried:?} carried, the registry has {known:?} under {subject}"
        );
        out.insert(*t, carried);
    }
    out
}

/// Deletes the test's subjects at the end.
struct Subjects(SchemaRegistryConfig, Vec<String>);

impl Drop for Subjects {
    fn drop(&mut self) {
        if let Ok(c) = gigstream_registry::SchemaRegistry::new(self.0.clone()) {
            for s in &self.1 {
                let _ = c.delete_subject(s, true);
            }
        }
    }
}

fn subjects(b: &Backends, sr: &SchemaRegistryConfig) -> Subjects {
    Subjects(
        sr.clone(),
        ALL.iter()
            .map(|t| format!("{}-value", b.kafka.topic_name(*t)))
            .collect(),
    )
}

/// Confluent's Python client: three writer generations per topic (v1 older than the catalog's
/// newest, v2 the newest, v3 newer with a field added with a default), all read exactly.
pub(crate) fn confluent_python_avro_serializer_feeds_the_pipeline_exactly() {
    let mut b = backends("py_sr");
    let sr = registry();
    with_registry(&mut b, &sr);
    let _cleanup = subjects(&b, &sr);
    let files = b.dir.path().join("events");
    let gen = b.gigstream(&[
        "gen",
        "--output",
        "jsonl",
        "--out-dir",
        files.to_str().expect("utf-8 path"),
        "--events",
        "4000",
        "--days",
        "10",
        "--seed",
        &b.seed.to_string(),
    ]);
    assert!(gen.status.success(), "gen: {}", text(&gen.stderr));
    create_topics(&b);
    let script = repo_path("tests/interop/confluent_produce.py");
    let mut cmd = Command::new("python3");
    cmd.arg(&script)
        .args(["--registry", &sr.url, "--bootstrap", &b.kafka.brokers])
        .args(["--topic-prefix", &b.kafka.topic_prefix]);
    for t in ALL {
        cmd.arg(files.join(format!("{}.jsonl", t.name())));
    }
    let out = cmd.output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the Confluent producer failed (pip install \"confluent-kafka[avro,schemaregistry]\" fastavro):\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).expect("its JSON report");
    println!("confluent-kafka producer: {report}");
    let sent = lines_per_topic(&files);
    for t in ALL {
        let r = &report[t.name()];
        assert_eq!(r["sent"].as_u64(), Some(sent[t]), "{t}: {r}");
        for w in ["v1", "v2", "v3"] {
            assert!(
                r["writers"][w]["records"].as_u64().unwrap_or(0) > 0,
                "{t} {w}: {r}"
            );
        }
    }
    let carried = ids_from_the_registry(&b, &sr);
    for t in ALL {
        assert_eq!(
            carried[t].len(),
            3,
            "{t}: three writer schemas, {:?}",
            carried[t]
        );
    }
    let telemetry = std::fs::read_to_string(files.join("telemetry.jsonl")).expect("telemetry");
    consume_and_check(&b, &sent, request_totals(&telemetry));
}

/// A Go service on franz-go (`clients/go/producer`: `sr` serde, sticky-key murmur2
/// partitioner), registering the catalog's newest schemas.
pub(crate) fn go_franz_go_producer_feeds_the_pipeline_exactly() {
    let mut b = backends("go_sr");
    let sr = registry();
    with_registry(&mut b, &sr);
    let _cleanup = subjects(&b, &sr);
    let go_dir = repo_path("clients/go");
    let bin = b.dir.path().join("go-produce");
    let build = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./examples/produce")
        .current_dir(&go_dir)
        .output()
        .expect("go runs (install Go 1.26)");
    assert!(build.status.success(), "go build: {}", text(&build.stderr));
    create_topics(&b);
    let (n, seed, run) = ("3000", b.seed.to_string(), format!("go-{}", b.seed));
    let common = ["-n", n, "-seed", &seed, "-run", &run];
    let dry = Command::new(&bin)
        .args(common)
        .arg("-dry-run")
        .output()
        .expect("the Go producer runs");
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let events = text(&dry.stdout);
    let out = Command::new(&bin)
        .args(common)
        .args(["-brokers", &b.kafka.brokers, "-registry", &sr.url])
        .args([
            "-topic-prefix",
            &b.kafka.topic_prefix,
            "-create-topics=false",
        ])
        .output()
        .expect("the Go producer runs");
    assert!(
        out.status.success(),
        "the Go producer failed:\n{}\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    println!("go producer: {}{}", text(&out.stdout), text(&out.stderr));
    let mut sent: BTreeMap<Topic, u64> = ALL.iter().map(|t| (*t, 0)).collect();
    for line in events.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line).expect("a JSON event");
        let topic = if v.get("deal_id").is_some() {
            Topic::Orders
        } else if v.get("subscription_id").is_some() {
            Topic::Usage
        } else {
            Topic::Telemetry
        };
        *sent.get_mut(&topic).expect("a topic") += 1;
    }
    assert_eq!(sent.values().sum::<u64>(), 3000);
    ids_from_the_registry(&b, &sr);
    consume_and_check(&b, &sent, request_totals(&events));
}
