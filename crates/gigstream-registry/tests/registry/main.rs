//! The client against a real schema registry: `GIGSTREAM_SCHEMA_REGISTRY_URL` (and the other
//! `GIGSTREAM_SCHEMA_REGISTRY_*` settings, e.g. `_CA_LOCATION` for https, `_USERNAME` and
//! `_PASSWORD`, or a `GIGSTREAM_CONFIG` file's `[schema_registry]`, read by `gigstream-config`
//! as every service reads them). Without it every test is reported as ignored ("needs a schema registry"),
//! unless `GIGSTREAM_TEST_SERVICES=require`, which makes them fail. Each test uses subjects
//! of its own (a unique prefix) and deletes them at the end, so any registry will do, seeded or
//! not. Tested with Apicurio Registry 3.3.3 (`infra/registry/start.sh DIR PORT`, base URL
//! `http://127.0.0.1:PORT/apis/ccompat/v7`).

use gigstream_avro::{Codec, Registry};
use gigstream_core::{Event, Topic};
use gigstream_registry::{
    CompatibilityLevel, RegistryConfig, RegistryError, SchemaRegistry, VersionSelector,
};
use libtest_mimic::{Arguments, Trial};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

const URL: &str = "GIGSTREAM_SCHEMA_REGISTRY_URL";
const REQUIRE: &str = "GIGSTREAM_TEST_SERVICES";

/// The configured registry's settings, read by `gigstream-config`.
fn configured() -> Option<RegistryConfig> {
    gigstream_config::Config::load(None)
        .unwrap_or_else(|e| panic!("the schema registry settings are invalid: {e}"))
        .config
        .schema_registry()
}

fn registry() -> SchemaRegistry {
    let config = configured().unwrap_or_else(|| {
            panic!("this test needs a schema registry: set {URL} (infra/registry/start.sh DIR PORT starts one; URL http://127.0.0.1:PORT/apis/ccompat/v7), or unset {REQUIRE} to skip it")
        });
    SchemaRegistry::new(config).unwrap_or_else(|e| panic!("{e}"))
}

/// Subjects of this test only: `gs-test-<pid>-<nanos>-<name>`.
struct Subjects {
    prefix: String,
    used: std::sync::Mutex<Vec<String>>,
}

impl Subjects {
    fn new(test: &str) -> Subjects {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        Subjects {
            prefix: format!("gs-test-{}-{nanos}-{test}-", std::process::id()),
            used: Default::default(),
        }
    }

    fn name(&self, s: &str) -> String {
        let n = format!("{}{s}", self.prefix);
        self.used.lock().unwrap().push(n.clone());
        n
    }

    fn delete(&self, r: &SchemaRegistry) {
        for s in self.used.lock().unwrap().iter() {
            let _ = r.delete_subject(s, true);
        }
    }
}

fn catalog_text(topic: Topic, version: u32) -> String {
    let reg = Registry::builtin();
    reg.schema_json(reg.id_of(topic, version).unwrap())
        .unwrap()
        .to_string()
}

fn same_json(a: &str, b: &str) -> bool {
    serde_json::from_str::<Value>(a).unwrap() == serde_json::from_str::<Value>(b).unwrap()
}

/// Telemetry v2 plus an envelope field with a default and a payload branch the catalog lacks.
fn telemetry_v3() -> String {
    let mut v: Value = serde_json::from_str(&catalog_text(Topic::Telemetry, 2)).unwrap();
    let fields = v["fields"].as_array_mut().unwrap();
    fields.insert(
        3,
        json!({"name": "region", "type": "string", "default": "eu-west-1"}),
    );
    let payload = fields.iter_mut().find(|f| f["name"] == "payload").unwrap();
    payload["type"].as_array_mut().unwrap().push(json!({
        "type": "record", "name": "CapacityChanged",
        "fields": [{"name": "replicas", "type": "int"}]
    }));
    v.to_string()
}

fn registers_looks_up_and_lists_versions() {
    let r = registry();
    let s = Subjects::new("versions");
    let subject = s.name("orders-value");
    let v1 = catalog_text(Topic::Orders, 1);
    let v2 = catalog_text(Topic::Orders, 2);

    assert_eq!(r.lookup(&subject, &v1).unwrap(), None, "unknown subject");
    let id1 = r.register(&subject, &v1).unwrap();
    assert_eq!(
        r.register(&subject, &v1).unwrap(),
        id1,
        "same text, same id"
    );
    assert_eq!(r.lookup(&subject, &v1).unwrap(), Some(id1));
    assert_eq!(r.lookup(&subject, &v2).unwrap(), None, "unknown schema");
    let id2 = r.register(&subject, &v2).unwrap();
    assert_ne!(id1, id2);
    assert_eq!(r.versions(&subject).unwrap(), vec![1, 2]);
    let latest = r.latest(&subject).unwrap();
    assert_eq!((latest.version, latest.id), (2, id2));
    assert!(same_json(&latest.schema, &v2));
    let first = r.version(&subject, VersionSelector::Number(1)).unwrap();
    assert_eq!(first.id, id1);
    // By id: the same schema (a registry may compact the text).
    assert!(same_json(&r.schema_by_id(id1).unwrap(), &v1));
    assert!(same_json(&r.schema_by_id(id2).unwrap(), &v2));
    assert!(r.subjects().unwrap().contains(&subject));

    let e = r.latest(&s.name("missing")).unwrap_err();
    assert_eq!(
        (e.status(), e.error_code()),
        (Some(404), Some(40401)),
        "{e}"
    );
    assert!(e.to_string().contains(r.url()), "{e}");
    let e = r.schema_by_id(987_654_321).unwrap_err();
    assert_eq!(e.status(), Some(404), "{e}");
    let e = r.register(&subject, "{\"type\": \"record\"}").unwrap_err();
    assert_eq!(e.status(), Some(422), "{e}");
    assert!(!e.is_retryable());
    s.delete(&r);
}

fn compatibility_is_checked_by_the_registry_and_locally() {
    let r = registry();
    let s = Subjects::new("compat");
    let subject = s.name("telemetry-value");
    let v1 = catalog_text(Topic::Telemetry, 1);
    let v2 = catalog_text(Topic::Telemetry, 2);
    r.register(&subject, &v1).unwrap();
    assert_eq!(
        r.set_compatibility(&subject, CompatibilityLevel::BackwardTransitive)
            .unwrap(),
        CompatibilityLevel::BackwardTransitive
    );
    assert_eq!(
        r.compatibility(&subject).unwrap(),
        CompatibilityLevel::BackwardTransitive
    );
    r.register(&subject, &v2).unwrap();

    // service_id renamed: the new schema cannot read the stored versions' data.
    let broken = v2.replacen("\"name\": \"service_id\"", "\"name\": \"service_key\"", 1);
    assert_ne!(broken, v2);
    let verdict = r
        .check_compatibility(&subject, &broken, VersionSelector::Latest)
        .unwrap();
    assert!(!verdict.is_compatible, "{verdict:?}");
    let e = r.register(&subject, &broken).unwrap_err();
    assert_eq!(e.status(), Some(409), "{e}");
    assert!(e.to_string().contains("not compatible"), "{e}");
    // The registry may give no reason (Apicurio does not); the local check says where.
    let local = r.check_all_versions(&subject, &broken).unwrap();
    assert!(!local.is_compatible);
    assert_eq!(local.messages.len(), 2, "{:?}", local.messages);
    for (m, v) in local.messages.iter().zip(["version 1", "version 2"]) {
        assert!(
            m.starts_with(v) && m.contains("lacks field service_key"),
            "{m}"
        );
    }

    let v3 = telemetry_v3();
    assert!(
        r.check_compatibility(&subject, &v3, VersionSelector::Latest)
            .unwrap()
            .is_compatible
    );
    assert!(r.check_all_versions(&subject, &v3).unwrap().is_compatible);
    // FORWARD: v2 readers cannot read v3's new branch.
    let fwd = r
        .check_locally(&subject, &v3, CompatibilityLevel::Forward)
        .unwrap();
    assert!(
        !fwd.is_compatible && fwd.messages[0].contains("CapacityChanged"),
        "{fwd:?}"
    );
    s.delete(&r);
}

fn records_with_registry_ids_decode() {
    let r = Arc::new(registry());
    let s = Subjects::new("decode");
    let catalog = Registry::builtin();
    let plain = Codec::new(catalog.clone());
    let codec = Codec::new(catalog.clone()).with_writer_schemas(r.clone());

    // The catalog's schemas under this test's subjects, as a producer registers them.
    let mut ids = Vec::new();
    for topic in Topic::ALL {
        let subject = s.name(&format!("{topic}-value"));
        let id = r
            .register(
                &subject,
                catalog.schema_json(catalog.latest(topic)).unwrap(),
            )
            .unwrap();
        ids.push((topic, id));
    }
    for (topic, id) in &ids {
        for event in sample_events(*topic) {
            let mut b = Vec::new();
            plain
                .encode_confluent_as(&event, catalog.latest(*topic), *id, &mut b)
                .unwrap();
            assert_eq!(codec.decode(*topic, &b).unwrap(), event);
        }
    }

    // A newer producer's schema: an id the catalog has never heard of.
    let subject = s.name("telemetry-v3-value");
    let v3 = r.register(&subject, &telemetry_v3()).unwrap();
    let v3_schema = apache_avro::Schema::parse_str(&telemetry_v3()).unwrap();
    use apache_avro::types::Value as Av;
    let record = |payload: Av| {
        Av::Record(vec![
            ("event_id".into(), Av::String("e-v3".into())),
            ("occurred_at".into(), Av::TimestampMillis(1_772_359_200_000)),
            ("service_id".into(), Av::String("svc-1".into())),
            ("region".into(), Av::String("ap-east-1".into())),
            ("schema_version".into(), Av::Int(3)),
            ("trace_id".into(), Av::Union(0, Box::new(Av::Null))),
            ("payload".into(), payload),
        ])
    };
    let framed = |v: Av| {
        let mut b = vec![0];
        b.extend_from_slice(&v3.to_be_bytes());
        b.extend(apache_avro::to_avro_datum(&v3_schema, v).unwrap());
        b
    };
    let probe = framed(record(Av::Union(
        1,
        Box::new(Av::Record(vec![
            ("probe_region".into(), Av::String("eu".into())),
            ("ok".into(), Av::Boolean(true)),
            ("latency_ms".into(), Av::Int(12)),
        ])),
    )));
    let Event::Telemetry(t) = codec.decode(Topic::Telemetry, &probe).unwrap() else {
        panic!("not telemetry")
    };
    assert_eq!((t.service_id.as_str(), t.schema_version), ("svc-1", 3));
    let capacity = framed(record(Av::Union(
        4,
        Box::new(Av::Record(vec![("replicas".into(), Av::Int(3))])),
    )));
    let e = codec.decode(Topic::Telemetry, &capacity).unwrap_err();
    assert_eq!(e.code(), "incompatible_schema", "{e}");
    assert!(
        e.to_string().contains(&format!("writer schema id {v3}"))
            && e.to_string().contains(r.url())
            && e.to_string().contains("CapacityChanged"),
        "{e}"
    );

    // An id the registry does not have.
    let mut unknown = probe.clone();
    unknown[1..5].copy_from_slice(&987_654_321u32.to_be_bytes());
    let e = codec.decode(Topic::Telemetry, &unknown).unwrap_err();
    assert_eq!(e.code(), "unknown_schema", "{e}");
    assert!(!e.is_retryable());
    assert!(e.to_string().contains(r.url()), "{e}");

    s.delete(&r);
}

/// The frozen v2 samples of `topic` (schemas/golden/*.json).
fn sample_events(topic: Topic) -> Vec<Event> {
    let codec = Codec::new(Registry::builtin());
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/golden");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(&format!("{topic}.v2.")) && name.ends_with(".json") {
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            out.push(codec.decode(topic, text.as_bytes()).unwrap());
        }
    }
    assert!(!out.is_empty());
    out
}

fn unreachable_registry_is_retryable() {
    // The configured registry's settings, another port where nothing listens.
    let mut config = configured().unwrap();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let scheme = if config.url.starts_with("https") {
        "https"
    } else {
        "http"
    };
    config.url = format!("{scheme}://127.0.0.1:{port}/apis/ccompat/v7");
    let r = SchemaRegistry::new(config).unwrap();
    let e = r.schema_by_id(1).unwrap_err();
    assert!(
        matches!(e, RegistryError::Unavailable { .. }) && e.is_retryable(),
        "{e}"
    );
}

fn main() -> ExitCode {
    let args = Arguments::from_args();
    let configured = configured().is_some();
    let required = std::env::var(REQUIRE).is_ok_and(|v| v == "require");
    let tests: Vec<(&str, fn())> = vec![
        (
            "registers_looks_up_and_lists_versions",
            registers_looks_up_and_lists_versions,
        ),
        (
            "compatibility_is_checked_by_the_registry_and_locally",
            compatibility_is_checked_by_the_registry_and_locally,
        ),
        (
            "records_with_registry_ids_decode",
            records_with_registry_ids_decode,
        ),
        (
            "unreachable_registry_is_retryable",
            unreachable_registry_is_retryable,
        ),
    ];
    let skip = !configured && !required;
    if skip {
        eprintln!(
            "{} test(s) skipped: they need a schema registry ({URL}), which is not configured ({REQUIRE}=require makes them fail instead)",
            tests.len()
        );
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| {
            Trial::test(name, move || {
                if !configured {
                    return Err(format!(
                        "needs a schema registry ({URL}), which is not configured, and {REQUIRE}=require asks for it"
                    )
                    .into());
                }
                f();
                Ok(())
            })
            .with_kind(if skip { "needs a schema registry" } else { "" })
            .with_ignored_flag(skip)
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}
