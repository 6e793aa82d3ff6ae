//! A real Confluent-compatible schema registry (`GIGSTREAM_SCHEMA_REGISTRY_URL`; Apicurio
//! Registry's ccompat API in CI) between the producers and the services:
//!
//! (a) `gigstream produce` registers the catalog and writes the registry's ids; the services read
//!     them (and an id only the registry knows) over Kafka into ClickHouse exactly;
//! (b) an id the registry does not know is an `unknown_schema` dead letter naming the id;
//! (c) the registry unreachable mid-run: no dead letter, retries logged and counted, `/ready`
//!     false meanwhile, a SIGTERM while waiting still stops the service, and once it is back
//!     the tables are exact;
//! (d) `gigstream schemas check|register` on the catalog, and against a subject holding a
//!     version the catalog cannot read.
//!
//! Each test works under subjects of its own (its topic prefix), deleted at the end. The
//! harness withholds the registry settings from the processes the other tests start; these
//! give them explicitly.

use crate::ops::wait_listening;
use crate::support::{backends, http_get, metric_value, terminate, text, Backends, Proxy};
use gigstream_avro::{Codec, Registry};
use gigstream_config::SchemaRegistryConfig;
use gigstream_core::{RefData, Topic};
use gigstream_gen::GenConfig;
use gigstream_kafka::KafkaProducer;
use gigstream_registry::{CompatibilityLevel, RegistryError, SchemaRegistry};
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const TELEMETRY: &[Topic] = &[Topic::Telemetry];

fn gen(events: u64, seed: u64) -> GenConfig {
    GenConfig {
        events,
        days: 12,
        seed,
        bad_ratio: 0.0,
        ..GenConfig::default()
    }
}

/// The registry of the tests, as `gigstream-config` read it.
fn configured() -> SchemaRegistryConfig {
    gigstream_testkit::services::registry()
}

fn client(config: &SchemaRegistryConfig) -> SchemaRegistry {
    SchemaRegistry::new(config.clone()).unwrap_or_else(|e| panic!("{e}"))
}

/// The variables that give a process the registry `config` at `url`.
fn registry_env(config: &SchemaRegistryConfig, url: &str) -> Vec<(String, String)> {
    let mut v = vec![
        ("GIGSTREAM_SCHEMA_REGISTRY_URL".to_string(), url.to_string()),
        (
            "GIGSTREAM_SCHEMA_REGISTRY_SUBJECT_STRATEGY".to_string(),
            config.subject_strategy.name().to_string(),
        ),
    ];
    if let Some(u) = &config.username {
        v.push(("GIGSTREAM_SCHEMA_REGISTRY_USERNAME".into(), u.clone()));
    }
    if let Some(p) = &config.password {
        v.push((
            "GIGSTREAM_SCHEMA_REGISTRY_PASSWORD".into(),
            p.expose().to_string(),
        ));
    }
    if let Some(ca) = &config.ca_location {
        v.push((
            "GIGSTREAM_SCHEMA_REGISTRY_CA_LOCATION".into(),
            ca.display().to_string(),
        ));
    }
    v
}

/// `(host:port, base path)` of a registry URL.
fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let addr = authority
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("the registry URL {url} names no reachable host:port"));
    let path = path.trim_end_matches('/');
    (
        addr,
        if path.is_empty() {
            String::new()
        } else {
            format!("/{path}")
        },
    )
}

/// Deletes the test's subjects when it ends.
struct Subjects<'a> {
    client: &'a SchemaRegistry,
    names: Vec<String>,
}

impl Drop for Subjects<'_> {
    fn drop(&mut self) {
        for s in &self.names {
            let _ = self.client.delete_subject(s, true);
        }
    }
}

fn subjects<'a>(client: &'a SchemaRegistry, kafka_prefix: &str) -> Subjects<'a> {
    Subjects {
        client,
        names: Topic::ALL
            .iter()
            .map(|t| {
                client.subject(
                    &format!("{kafka_prefix}{}", t.name()),
                    Registry::record_name(*t),
                )
            })
            .collect(),
    }
}

/// The catalog's newest schema of `topic` with one more field at the end, `["null", "string"]`
/// defaulting to null and named after `tag`: a newer writer schema than the catalog's (a field
/// added with a default), BACKWARD compatible, and another schema to the registry, so another
/// id. (A schema that differs only in its docs is the same one to Apicurio: it answers with
/// the existing id.) Datums of it are the catalog's with the field's null branch appended
/// ([`VARIANT_TAIL`]).
fn variant(topic: Topic, tag: &str) -> String {
    let catalog = Registry::builtin();
    let mut v: Value =
        serde_json::from_str(catalog.schema_json(catalog.latest(topic)).unwrap()).unwrap();
    let name: String = tag
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    v["fields"]
        .as_array_mut()
        .expect("a record")
        .push(serde_json::json!({
            "name": format!("test_variant_{name}"),
            "type": ["null", "string"],
            "default": null,
        }));
    v.to_string()
}

/// The bytes a [`variant`]'s extra field adds to a datum: union branch 0 (null).
const VARIANT_TAIL: &[u8] = &[0];

/// Generated `topic` events (seed `seed`) framed with registry id `wire_id` (written with the
/// catalog's newest schema, followed by `tail`), to the test's topics; how many.
fn produce_with_id(
    b: &Backends,
    topic: Topic,
    events: u64,
    seed: u64,
    wire_id: u32,
    tail: &[u8],
) -> u64 {
    let refdata = RefData::builtin();
    let codec = Codec::new(Registry::builtin());
    let latest = codec.registry().latest(topic);
    let mut out: Vec<(Topic, Vec<u8>, Vec<u8>, i64)> = Vec::new();
    for g in gigstream_gen::generate(&gen(events, seed), &refdata) {
        if g.event.topic() != topic {
            continue;
        }
        let mut value = Vec::new();
        codec
            .encode_confluent_as(&g.event, latest, wire_id, &mut value)
            .expect("encodes");
        value.extend_from_slice(tail);
        out.push((topic, g.event.key().as_bytes().to_vec(), value, g.append_ts));
    }
    let producer = KafkaProducer::new(&b.kafka).expect("producer");
    let sent = producer
        .produce_blocking(&out, &mut |_| {})
        .expect("produce");
    assert_eq!(sent.delivered, out.len() as u64);
    sent.delivered
}

/// `gigstream produce` of a generated stream into the test's topics, with the registry.
fn produce_cli(b: &Backends, events: u64, seed: u64) -> String {
    let out = b.gigstream(&[
        "produce",
        "--events",
        &events.to_string(),
        "--days",
        "12",
        "--seed",
        &seed.to_string(),
        "--partitions",
        "4",
    ]);
    assert!(
        out.status.success(),
        "produce failed {}\n{}\n{}",
        b.ctx(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn run_to_end(b: &Backends, args: &[&str]) -> Output {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    let out = b.gigstream(&all);
    assert!(
        out.status.success(),
        "gigstream {} failed {}\n{}\n{}",
        all.join(" "),
        b.ctx(),
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// `(service, code, reason)` of every dead letter stored.
fn dead_letters(b: &Backends) -> Vec<(String, String, String)> {
    let rows = b
        .connection()
        .query_tsv(
            "reading dead letters",
            "SELECT service, code, reason FROM dead_letters FINAL ORDER BY service, topic, partition, offset",
        )
        .expect("dead_letters reads");
    rows.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// The registry ids the records of each topic carry (Confluent framing), with counts.
fn wire_ids(b: &Backends) -> BTreeMap<Topic, BTreeMap<u32, u64>> {
    let mut out = BTreeMap::new();
    for t in Topic::ALL {
        let recs = gigstream_kafka::read_topic(&b.kafka, &b.kafka.topic_name(t)).expect("reads");
        let ids: &mut BTreeMap<u32, u64> = out.entry(t).or_default();
        for r in recs {
            let v = r.value.unwrap_or_default();
            if v.len() >= 5 && v[0] == 0 {
                *ids.entry(u32::from_be_bytes([v[1], v[2], v[3], v[4]]))
                    .or_default() += 1;
            }
        }
    }
    out
}

/// (a) `gigstream produce` with a registry registers the catalog's schemas under each
/// topic's subject and writes the ids the registry assigned; the three services read them
/// (and records of a writer schema only the registry knows) from Kafka into ClickHouse, and
/// `gigstream verify` (reading with the registry too) is exact. No dead letter.
pub(crate) fn a_produce_registers_and_the_services_read_registry_ids_exactly() {
    let mut b = backends("sr_ids");
    let sr = configured();
    b.extra_env.extend(registry_env(&sr, &sr.url));
    let client = client(&sr);
    let _cleanup = subjects(&client, &b.kafka.topic_prefix);
    let report = produce_cli(&b, 4_000, b.seed);
    assert!(
        report.contains("schema ids from the schema registry"),
        "{report}"
    );
    let catalog = Registry::builtin();
    let mut assigned = BTreeMap::new();
    for t in Topic::ALL {
        let subject = client.subject(&b.kafka.topic_name(t), Registry::record_name(t));
        let versions = client.versions(&subject).expect("the subject exists");
        assert_eq!(versions.len(), 2, "both catalog versions of {t}");
        let id = client
            .lookup(&subject, catalog.schema_json(catalog.latest(t)).unwrap())
            .expect("lookup")
            .expect("the newest catalog schema is registered");
        assert!(report.contains(&format!("{subject} id {id}")), "{report}");
        assigned.insert(t, id);
    }
    // A writer schema only the registry knows (newer than the catalog's: a field added with a
    // default): its id is none of the catalog's, so only a look-up in the registry reads these
    // records. On an empty registry the first new ids may be catalog numbers: take the next.
    let tsubject = client.subject(
        &b.kafka.topic_name(Topic::Telemetry),
        Registry::record_name(Topic::Telemetry),
    );
    let only_registry = (0..12)
        .map(|i| {
            client
                .register(
                    &tsubject,
                    &variant(Topic::Telemetry, &format!("{}{i}", b.kafka.topic_prefix)),
                )
                .expect("register the variant")
        })
        .find(|id| catalog.schemas().all(|s| s.id.0 != *id))
        .expect("a variant id that is not a catalog id");
    let extra = produce_with_id(
        &b,
        Topic::Telemetry,
        1_500,
        b.seed + 1,
        only_registry,
        VARIANT_TAIL,
    );
    let carried = wire_ids(&b);
    for t in Topic::ALL {
        let ids = &carried[&t];
        assert_eq!(
            ids.get(&assigned[&t]).copied().unwrap_or(0)
                + if t == Topic::Telemetry { extra } else { 0 },
            ids.values().sum::<u64>(),
            "{t}: every record carries the registry's id ({}): {ids:?}",
            assigned[&t]
        );
    }
    println!(
        "registry ids: {assigned:?} (catalog: orders {}, usage {}, telemetry {}), variant {only_registry} on {extra} telemetry records",
        catalog.latest(Topic::Orders).0,
        catalog.latest(Topic::Usage).0,
        catalog.latest(Topic::Telemetry).0
    );
    let out = run_to_end(&b, &[]);
    let log = text(&out.stderr);
    assert!(
        log.contains("schema ids are resolved through the schema registry"),
        "{log}"
    );
    b.assert_verified(&["billing", "sla", "market"]);
    let letters = dead_letters(&b);
    assert!(letters.is_empty(), "dead letters {}: {letters:?}", b.ctx());
}

/// (b) Records whose id the registry does not know (HTTP 404) are `unknown_schema` dead
/// letters whose reason names the id and the registry; the rest is exact.
pub(crate) fn b_ids_the_registry_does_not_know_are_unknown_schema_dead_letters() {
    let mut b = backends("sr_unknown");
    let sr = configured();
    b.extra_env.extend(registry_env(&sr, &sr.url));
    let client = client(&sr);
    let _cleanup = subjects(&client, &b.kafka.topic_prefix);
    produce_cli(&b, 1_500, b.seed);
    let unknown = 2_000_000_000 + (b.seed % 1_000_000) as u32;
    assert!(
        matches!(
            client.schema_by_id(unknown),
            Err(RegistryError::NotFound { .. })
        ),
        "id {unknown} exists in the registry"
    );
    let sent = produce_with_id(&b, Topic::Telemetry, 60, b.seed + 2, unknown, &[]);
    assert!(sent > 0);
    run_to_end(&b, &["sla"]);
    b.assert_verified(&["sla"]);
    let letters = dead_letters(&b);
    assert_eq!(letters.len() as u64, sent, "{letters:?} {}", b.ctx());
    for (service, code, reason) in &letters {
        assert_eq!((service.as_str(), code.as_str()), ("sla", "unknown_schema"));
        assert!(
            reason.contains(&format!(
                "writer schema id {unknown} is not in the schema registry"
            )) && reason.contains("404"),
            "{reason}"
        );
    }
    println!("{sent} records with id {unknown}: {}", letters[0].2);
}

/// GET `path`: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_get(addr, path).unwrap_or_else(|e| panic!("GET http://{addr}{path}: {e}"))
}

/// Polls `/ready` until `done` holds for its answer (within `limit`); the answers seen.
fn poll_ready(
    addr: SocketAddr,
    limit: Duration,
    done: impl Fn(&(u16, String)) -> bool,
) -> Vec<(u16, String)> {
    let until = Instant::now() + limit;
    let mut seen = Vec::new();
    loop {
        let a = get(addr, "/ready");
        let ok = done(&a);
        seen.push(a);
        if ok || Instant::now() > until {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn metric(addr: SocketAddr, series: &str) -> f64 {
    metric_value(&get(addr, "/metrics").1, series).unwrap_or(0.0)
}

const WAITING: &str = "records wait for the schema registry";

/// (c) The registry becomes unreachable (a TCP proxy between the service and it is cut) while
/// records with an id the service has not looked up yet arrive: nothing is dead-lettered or
/// skipped, the service logs and counts its retries, naming the registry, and `/ready` answers
/// 503 saying why until the registry is back; then the records go through. A second outage
/// ends with a SIGTERM while the service waits: it exits 0 in time, and a restart reads the
/// waiting records. The tables are exact at the end.
pub(crate) fn c_the_registry_unreachable_mid_run_then_back() {
    let mut b = backends("sr_down");
    let sr = configured();
    b.extra_env.extend(registry_env(&sr, &sr.url));
    let client = client(&sr);
    let _cleanup = subjects(&client, &b.kafka.topic_prefix);
    let (target, base) = split_url(&sr.url);
    let scheme = if sr.url.starts_with("https") {
        "https"
    } else {
        "http"
    };
    let proxy = Proxy::start(target);
    let via_proxy = format!("{}{base}", proxy.url().replacen("http", scheme, 1));
    let env = [
        ("GIGSTREAM_SCHEMA_REGISTRY_URL", via_proxy.as_str()),
        ("GIGSTREAM_SCHEMA_REGISTRY_TIMEOUT", "2s"),
    ];
    produce_cli(&b, 2_000, b.seed);
    let tsubject = client.subject(
        &b.kafka.topic_name(Topic::Telemetry),
        Registry::record_name(Topic::Telemetry),
    );
    let label = "sla-1";
    let mut svc = b.spawn_env(label, &["sla", "--http-listen", "127.0.0.1:0"], &env);
    let addr = wait_listening(&b, label, &mut svc);
    let seen = poll_ready(addr, Duration::from_secs(90), |a| a.0 == 200);
    assert_eq!(
        seen.last().unwrap().0,
        200,
        "{seen:?}\n{}",
        b.log_tail(label)
    );
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(120));

    // Outage 1: records of an id the service has not cached arrive while the proxy is cut.
    let id1 = client
        .register(
            &tsubject,
            &variant(Topic::Telemetry, &format!("{}1", b.kafka.topic_prefix)),
        )
        .expect("register");
    proxy.cut();
    let cut = Instant::now();
    let sent1 = produce_with_id(&b, Topic::Telemetry, 1_200, b.seed + 3, id1, VARIANT_TAIL);
    let seen = poll_ready(addr, Duration::from_secs(40), |a| {
        a.0 == 503 && a.1.contains(WAITING)
    });
    let (status, why) = seen.last().unwrap().clone();
    assert!(
        status == 503 && why.contains(WAITING) && why.contains(&via_proxy),
        "/ready while the registry is unreachable: {seen:?}\n{}",
        b.log_tail(label)
    );
    let not_ready_after = cut.elapsed();
    // Hold the outage: every answer is 503, nothing is dead-lettered, the service runs on.
    let held = Instant::now();
    let mut answers = 0;
    while held.elapsed() < Duration::from_secs(6) {
        let a = get(addr, "/ready");
        assert_eq!(a.0, 503, "{a:?}");
        answers += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    assert_eq!(
        svc.try_wait().expect("status"),
        None,
        "{}",
        b.log_tail(label)
    );
    let retries_logged = b.log_count(label, "schema registry unavailable; retrying");
    assert!(
        retries_logged >= 3,
        "{retries_logged} retries logged\n{}",
        b.log_tail(label)
    );
    let errors = metric(
        addr,
        "gigstream_schema_registry_errors_total{service=\"sla\"}",
    );
    assert!(
        errors >= 3.0,
        "gigstream_schema_registry_errors_total {errors}"
    );
    assert!(
        dead_letters(&b).is_empty(),
        "dead letters during the outage"
    );
    let stored_during: u64 = b.stored_offsets("sla").values().sum();
    proxy.restore();
    let back = Instant::now();
    let seen = poll_ready(addr, Duration::from_secs(60), |a| a.0 == 200);
    assert_eq!(
        seen.last().unwrap().0,
        200,
        "{seen:?}\n{}",
        b.log_tail(label)
    );
    let ready_again = back.elapsed();
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(120));
    let stored_after: u64 = b.stored_offsets("sla").values().sum();
    assert!(
        stored_after >= stored_during + sent1,
        "{stored_during} + {sent1} > {stored_after}"
    );
    println!(
        "outage 1: {sent1} records waited; not ready {not_ready_after:?} after the cut, {answers} answers of 503 held, {retries_logged} retries logged, gigstream_schema_registry_errors_total {errors}; outage {:?}; ready {ready_again:?} after the registry came back",
        cut.elapsed() - ready_again
    );

    // Outage 2 ends with a SIGTERM while the service waits.
    let id2 = client
        .register(
            &tsubject,
            &variant(Topic::Telemetry, &format!("{}2", b.kafka.topic_prefix)),
        )
        .expect("register");
    proxy.cut();
    let sent2 = produce_with_id(&b, Topic::Telemetry, 900, b.seed + 4, id2, VARIANT_TAIL);
    let seen = poll_ready(addr, Duration::from_secs(40), |a| a.1.contains(WAITING));
    assert!(seen.last().unwrap().1.contains(WAITING), "{seen:?}");
    let asked = Instant::now();
    let status = terminate(&mut svc, Duration::from_secs(25));
    let stopped_in = asked.elapsed();
    assert_eq!(
        status,
        Some(0),
        "SIGTERM while waiting\n{}",
        b.log_tail(label)
    );
    assert!(
        b.log_count(
            label,
            "stop requested while waiting for the schema registry"
        ) >= 1,
        "{}",
        b.log_tail(label)
    );
    assert!(dead_letters(&b).is_empty(), "dead letters after the stop");
    proxy.restore();
    let mut svc = b.spawn_env("sla-2", &["sla"], &env);
    b.wait_caught_up("sla", TELEMETRY, Duration::from_secs(120));
    assert_eq!(terminate(&mut svc, Duration::from_secs(25)), Some(0));
    println!("outage 2: {sent2} records waited; stopped {stopped_in:?} after SIGTERM; read after the restart");
    b.assert_verified(&["sla"]);
    assert!(dead_letters(&b).is_empty(), "dead letters at the end");
}

/// `gigstream ARGS` with the registry and nothing else configured.
fn gigstream_with_registry(
    dir: &std::path::Path,
    sr: &SchemaRegistryConfig,
    args: &[&str],
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_gigstream"));
    c.arg("--data-dir").arg(dir).args(args);
    for (k, v) in registry_env(sr, &sr.url) {
        c.env(k, v);
    }
    c.env_remove("GIGSTREAM_KAFKA_BROKERS")
        .env_remove("GIGSTREAM_CLICKHOUSE_URL")
        .stdin(Stdio::null())
        .output()
        .expect("gigstream runs")
}

/// (d) `gigstream schemas check` passes on the catalog (fresh subjects, then after `register`,
/// which also sets BACKWARD_TRANSITIVE), and fails, naming the subject, version, field and
/// types, once a subject holds a version the catalog cannot read; `register` then registers
/// nothing.
pub(crate) fn d_schemas_check_passes_on_the_catalog_and_names_an_incompatible_field() {
    let sr = configured();
    let client = client(&sr);
    let dir = tempfile::tempdir().expect("temp dir");
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let prefix = format!("gs-check-{}-{nanos}.", std::process::id());
    let _cleanup = subjects(&client, &prefix);
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--topic-prefix", prefix.as_str()]);
        let out = gigstream_with_registry(dir.path(), &sr, &all);
        (out.status.code(), text(&out.stdout), text(&out.stderr))
    };
    let (code, out, err) = run(&["schemas", "check"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(
        out.contains("missing: `gigstream schemas register` adds it"),
        "{out}"
    );
    assert!(out.contains("ok: 3 subjects checked"), "{out}");

    let (code, out, err) = run(&["schemas", "register", "--set-compatibility"]);
    assert_eq!(code, Some(0), "{out}\n{err}");
    assert!(out.contains("registered now as version 2"), "{out}");
    let tsubject = client.subject(
        &format!("{prefix}telemetry"),
        Registry::record_name(Topic::Telemetry),
    );
    for t in Topic::ALL {
        let subject = client.subject(&format!("{prefix}{}", t.name()), Registry::record_name(t));
        assert_eq!(client.versions(&subject).unwrap(), vec![1, 2], "{subject}");
        assert_eq!(
            client.compatibility(&subject).unwrap(),
            CompatibilityLevel::BackwardTransitive
        );
    }
    let (code, out, _) = run(&["schemas", "check"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("stored as version 2"), "{out}");

    // A producer registers a telemetry schema whose service_id is a long (the level set to
    // NONE first, so that the registry takes it).
    client
        .set_compatibility(&tsubject, CompatibilityLevel::None)
        .unwrap();
    let catalog = Registry::builtin();
    let mut bad: Value = serde_json::from_str(
        catalog
            .schema_json(catalog.latest(Topic::Telemetry))
            .unwrap(),
    )
    .unwrap();
    for f in bad["fields"].as_array_mut().unwrap() {
        if f["name"] == "service_id" {
            f["type"] = Value::String("long".into());
        }
    }
    let bad_id = client.register(&tsubject, &bad.to_string()).unwrap();
    let (code, out, err) = run(&["schemas", "check"]);
    assert_ne!(code, Some(0), "{out}");
    let line = out
        .lines()
        .find(|l| l.contains("cannot read its data"))
        .unwrap_or_else(|| panic!("no incompatibility named:\n{out}"));
    for want in [
        tsubject.as_str(),
        "version 3",
        &format!("id {bad_id}"),
        "service_id",
        "long",
        "string",
    ] {
        assert!(line.contains(want), "`{want}` not in: {line}");
    }
    assert!(out.contains("BACKWARD_TRANSITIVE: INCOMPATIBLE"), "{out}");
    assert!(err.contains("not BACKWARD_TRANSITIVE compatible"), "{err}");
    println!("{line}");
    let (code, json, _) = run(&["schemas", "check", "--json"]);
    assert_ne!(code, Some(0));
    let v: Value = serde_json::from_str(json.trim()).expect("one JSON object");
    assert_eq!(v["compatible"], Value::Bool(false));
    let telemetry = v["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subject"] == Value::String(tsubject.clone()))
        .unwrap();
    assert!(telemetry["problems"][0]
        .as_str()
        .unwrap()
        .contains("service_id"));
    // Register refuses as a whole.
    let (code, out, _) = run(&["schemas", "register"]);
    assert_ne!(code, Some(0), "{out}");
    assert_eq!(client.versions(&tsubject).unwrap(), vec![1, 2, 3]);
}
