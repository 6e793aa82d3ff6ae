//! Confluent ids a schema registry assigned (not the catalog's): writer schemas come from a
//! `WriterSchemas` source, are resolved against the topic's newest catalog schema, and decode
//! into the same types; what the reader cannot take is `incompatible_schema`, a 404
//! `unknown_schema`, an unreachable source the retryable `schema_registry_unavailable`.
//!
//! The writer schemas are the catalog's `.avsc` texts, changed the way producers change them
//! (fields added with defaults, fields removed, a union branch or enum symbol added, a type
//! changed). Data in those schemas is written by apache-avro (resolving a catalog datum into
//! the changed schema), so it is not our encoder checking our decoder.

mod common;

use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value as Av;
use gigstream_avro::{
    check_compatibility, Codec, DecodeError, Encoding, LookupError, Registry, SchemaId,
    StaticWriterSchemas, WriterSchemas,
};
use gigstream_core::{Event, Topic};
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const REGISTRY: &str = "schema registry http://registry.test:8081";

/// A source that counts its calls and can be "down".
struct Counting {
    inner: StaticWriterSchemas,
    calls: AtomicUsize,
    down: AtomicBool,
}

impl Counting {
    fn new(inner: StaticWriterSchemas) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            calls: AtomicUsize::new(0),
            down: AtomicBool::new(false),
        })
    }
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl WriterSchemas for Counting {
    fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(LookupError::Unavailable(
                "GET http://registry.test:8081/schemas/ids/7: connection refused".into(),
            ));
        }
        self.inner.schema_json(id)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
}

fn catalog_json(topic: Topic, version: u32) -> Value {
    let reg = Registry::builtin();
    serde_json::from_str(reg.schema_json(reg.id_of(topic, version).unwrap()).unwrap()).unwrap()
}

/// The datum (no framing) of `event` written with the catalog's `version`.
fn catalog_datum(event: &Event, version: u32) -> Vec<u8> {
    let codec = Codec::new(Registry::builtin());
    let id = codec.registry().id_of(event.topic(), version).unwrap();
    let mut out = Vec::new();
    codec
        .encode_with(event, id, Encoding::Confluent, &mut out)
        .unwrap();
    out.split_off(5)
}

fn frame(id: u32, datum: &[u8]) -> Vec<u8> {
    let mut v = vec![0];
    v.extend_from_slice(&id.to_be_bytes());
    v.extend_from_slice(datum);
    v
}

fn codec_with(source: Arc<dyn WriterSchemas>) -> Codec {
    Codec::new(Registry::builtin()).with_writer_schemas(source)
}

/// The record (or enum) named `name` (short name) anywhere in a schema JSON.
fn named_mut<'a>(v: &'a mut Value, name: &str) -> Option<&'a mut Map<String, Value>> {
    match v {
        Value::Object(o) => {
            if o.get("name").and_then(Value::as_str) == Some(name)
                && o.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t != "string")
                && (o.contains_key("fields") || o.contains_key("symbols"))
            {
                return Some(o);
            }
            o.values_mut().find_map(|c| named_mut(c, name))
        }
        Value::Array(a) => a.iter_mut().find_map(|c| named_mut(c, name)),
        _ => None,
    }
}

fn fields_mut<'a>(v: &'a mut Value, record: &str) -> &'a mut Vec<Value> {
    named_mut(v, record)
        .unwrap_or_else(|| panic!("no record {record}"))
        .get_mut("fields")
        .and_then(Value::as_array_mut)
        .unwrap()
}

fn field_mut<'a>(v: &'a mut Value, record: &str, field: &str) -> &'a mut Value {
    fields_mut(v, record)
        .iter_mut()
        .find(|f| f["name"] == field)
        .unwrap_or_else(|| panic!("no field {record}.{field}"))
}

fn remove_field(v: &mut Value, record: &str, field: &str) {
    fields_mut(v, record).retain(|f| f["name"] != field);
}

fn payload_branches(v: &mut Value) -> &mut Vec<Value> {
    field_mut(v, v_name(v), "payload")["type"]
        .as_array_mut()
        .unwrap()
}

fn v_name(v: &Value) -> &'static str {
    match v["name"].as_str().unwrap() {
        "OrderRecord" => "OrderRecord",
        "UsageRecord" => "UsageRecord",
        _ => "TelemetryRecord",
    }
}

/// Writes a catalog datum into `writer` (a changed schema) with apache-avro's resolution.
fn rewrite(datum: &[u8], from: &Value, writer: &Value) -> Vec<u8> {
    let from = apache_avro::Schema::parse(from).unwrap();
    let to = apache_avro::Schema::parse(writer).unwrap();
    let mut value = apache_avro::from_avro_datum(&from, &mut &datum[..], Some(&to))
        .unwrap_or_else(|e| panic!("apache-avro cannot resolve into the writer schema: {e}"));
    // apache-avro 0.21 resolves a union value into the first reader branch of the same shape,
    // not of the same name (IncidentOpened and IncidentResolved have the same fields). The
    // changed schemas keep the payload branches' positions: put the writer's index back.
    let plain = apache_avro::from_avro_datum(&from, &mut &datum[..], None).unwrap();
    let payload = |v: &Av| match v {
        Av::Record(f) => f.iter().position(|(n, _)| n == "payload"),
        _ => None,
    };
    if let (Some(i), Some(j)) = (payload(&plain), payload(&value)) {
        if let (Av::Record(p), Av::Record(r)) = (&plain, &mut value) {
            if let (Av::Union(bi, _), Av::Union(bj, _)) = (&p[i].1, &mut r[j].1) {
                *bj = *bi;
            }
        }
    }
    apache_avro::to_avro_datum(&to, value).unwrap()
}

fn expect_code(r: Result<Event, DecodeError>, code: &str) -> String {
    match r {
        Ok(e) => panic!("expected {code}, decoded {e:?}"),
        Err(e) => {
            assert_eq!(e.code(), code, "{e}");
            e.to_string()
        }
    }
}

#[test]
fn registry_ids_decode_like_catalog_ids() {
    let reg = Registry::builtin();
    // What Apicurio's GET /schemas/ids/{id} answers: the text compacted, docs kept.
    let mut source = StaticWriterSchemas::new(REGISTRY);
    for info in reg.schemas() {
        let compact = serde_json::to_string(&catalog_json(info.topic, info.version)).unwrap();
        source = source.with(100 + info.id.0, compact);
    }
    let source = Counting::new(source);
    let codec = codec_with(source.clone());
    let catalog = Codec::new(reg.clone());
    for info in reg.schemas() {
        for ty in common::types_of(info.topic) {
            let event = common::sample(info.topic, ty, info.version as i32);
            let datum = catalog_datum(&event, info.version);
            let expected = catalog
                .decode(info.topic, &frame(info.id.0, &datum))
                .unwrap();
            for _ in 0..3 {
                let got = codec
                    .decode(info.topic, &frame(100 + info.id.0, &datum))
                    .unwrap_or_else(|e| panic!("{} {ty}: {e}", info.file));
                assert_eq!(got, expected, "{} {ty}", info.file);
            }
            // Single-object and JSON lines do not use the source.
            for enc in [Encoding::SingleObject, Encoding::JsonLines] {
                let mut b = Vec::new();
                catalog.encode_with(&event, info.id, enc, &mut b).unwrap();
                assert_eq!(codec.decode(info.topic, &b).unwrap(), expected);
            }
        }
    }
    // Fetched once per id, whatever the number of records.
    assert_eq!(source.calls(), reg.schemas().count());
    // With a registry, a Confluent id is the registry's: a catalog id it does not know is
    // unknown, and says so with the registry's name.
    let event = common::sample(Topic::Orders, "LeadPosted", 2);
    let msg = expect_code(
        codec.decode(Topic::Orders, &frame(2, &catalog_datum(&event, 2))),
        "unknown_schema",
    );
    assert!(msg.contains("id 2") && msg.contains(REGISTRY), "{msg}");
    // An encoder for registry ids: the catalog's datum with the registry's id.
    let mut b = Vec::new();
    catalog
        .encode_confluent_as(&event, reg.latest(Topic::Orders), 102, &mut b)
        .unwrap();
    assert_eq!(b, frame(102, &catalog_datum(&event, 2)));
    assert_eq!(codec.decode(Topic::Orders, &b).unwrap(), event);
}

/// Telemetry v3 as a newer producer writes it: a field with a default in the envelope and in
/// a payload record, a new payload branch and a new severity.
fn telemetry_v3() -> Value {
    let mut v = catalog_json(Topic::Telemetry, 2);
    fields_mut(&mut v, "TelemetryRecord").insert(
        3,
        json!({"name": "region", "type": "string", "default": "eu-west-1", "doc": "added in v3"}),
    );
    fields_mut(&mut v, "RequestObserved").insert(
        2,
        json!({"name": "bytes_sent", "type": "long", "default": 0}),
    );
    named_mut(&mut v, "Severity").unwrap()["symbols"]
        .as_array_mut()
        .unwrap()
        .push(json!("sev5"));
    payload_branches(&mut v).push(json!({
        "type": "record", "name": "CapacityChanged",
        "fields": [{"name": "replicas", "type": "int"}, {"name": "reason", "type": ["null", "string"], "default": null}]
    }));
    v
}

#[test]
fn a_newer_writer_decodes_and_its_new_branches_are_incompatible_schema_letters() {
    let v2 = catalog_json(Topic::Telemetry, 2);
    let v3 = telemetry_v3();
    let codec = codec_with(Arc::new(
        StaticWriterSchemas::new(REGISTRY).with(7, v3.to_string()),
    ));
    for ty in common::TELEMETRY_TYPES {
        let event = common::sample(Topic::Telemetry, ty, 2);
        let datum = rewrite(&catalog_datum(&event, 2), &v2, &v3);
        assert_ne!(datum, catalog_datum(&event, 2), "{ty}: v3 bytes differ");
        let got = codec
            .decode(Topic::Telemetry, &frame(7, &datum))
            .unwrap_or_else(|e| panic!("{ty}: {e}"));
        assert_eq!(got, event, "{ty}");
    }

    // A record of the branch the reader lacks: a dead letter that says where and why.
    let v3s = apache_avro::Schema::parse(&v3).unwrap();
    let envelope = |payload: Av| {
        Av::Record(vec![
            ("event_id".into(), Av::String("e-new".into())),
            ("occurred_at".into(), Av::TimestampMillis(1_772_359_200_000)),
            ("service_id".into(), Av::String("svc-1".into())),
            ("region".into(), Av::String("ap-east-1".into())),
            ("schema_version".into(), Av::Int(3)),
            ("trace_id".into(), Av::Union(0, Box::new(Av::Null))),
            ("payload".into(), payload),
        ])
    };
    let capacity = envelope(Av::Union(
        4,
        Box::new(Av::Record(vec![
            ("replicas".into(), Av::Int(3)),
            ("reason".into(), Av::Union(0, Box::new(Av::Null))),
        ])),
    ));
    let datum = apache_avro::to_avro_datum(&v3s, capacity).unwrap();
    let msg = expect_code(
        codec.decode(Topic::Telemetry, &frame(7, &datum)),
        "incompatible_schema",
    );
    for part in [
        "writer schema id 7",
        "gigstream.telemetry.TelemetryRecord",
        "CRC-64-AVRO 0x",
        REGISTRY,
        "topic telemetry (catalog v2",
        "at payload.CapacityChanged",
        "union branch CapacityChanged",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }

    // A severity the reader lacks.
    let sev5 = envelope(Av::Union(
        2,
        Box::new(Av::Record(vec![
            ("incident_id".into(), Av::String("inc-1".into())),
            ("severity".into(), Av::Enum(4, "sev5".into())),
        ])),
    ));
    let datum = apache_avro::to_avro_datum(&v3s, sev5).unwrap();
    let msg = expect_code(
        codec.decode(Topic::Telemetry, &frame(7, &datum)),
        "incompatible_schema",
    );
    assert!(
        msg.contains("at payload.IncidentOpened.severity") && msg.contains("'sev5'"),
        "{msg}"
    );

    // Other records of the same writer schema still decode after those.
    let probe = common::sample(Topic::Telemetry, "ProbeResult", 2);
    let datum = rewrite(&catalog_datum(&probe, 2), &v2, &v3);
    assert_eq!(
        codec.decode(Topic::Telemetry, &frame(7, &datum)).unwrap(),
        probe
    );

    // What the codec made of it, and the same findings from the public check.
    let report = codec.writer_schema_report(Topic::Telemetry, 7).unwrap();
    assert_eq!(report.fails, None);
    let found: Vec<String> = report.findings.iter().map(|f| f.to_string()).collect();
    // sev5 in both records that use Severity, and the new branch.
    assert_eq!(report.findings.len(), 3, "{found:?}");
    assert!(report.findings.iter().all(|f| f.partial), "{found:?}");
    let checked = check_compatibility(&v3.to_string(), &v2.to_string()).unwrap();
    assert_eq!(checked, report.findings);
    // The other direction (v2 data, v3 reader) is compatible: every new field has a default.
    assert_eq!(
        check_compatibility(&v2.to_string(), &v3.to_string()).unwrap(),
        vec![]
    );
}

#[test]
fn an_older_writer_and_removed_fields() {
    // v1 under a registry id: no trace_id, which the reader defaults.
    let codec = codec_with(Arc::new(
        StaticWriterSchemas::new(REGISTRY)
            .with(31, catalog_json(Topic::Orders, 1).to_string())
            .with(32, catalog_json(Topic::Usage, 1).to_string()),
    ));
    for (topic, id) in [(Topic::Orders, 31), (Topic::Usage, 32)] {
        for ty in common::types_of(topic) {
            let event = common::sample(topic, ty, 2);
            let got = codec
                .decode(topic, &frame(id, &catalog_datum(&event, 1)))
                .unwrap_or_else(|e| panic!("{topic} {ty}: {e}"));
            assert_eq!(got, common::as_v1(&event));
        }
    }

    let v2 = catalog_json(Topic::Telemetry, 2);
    // A required envelope field removed: every record is unreadable, and the message says which.
    let mut no_service = v2.clone();
    remove_field(&mut no_service, "TelemetryRecord", "service_id");
    // A required payload field removed: only that event type is unreadable.
    let mut no_method = v2.clone();
    remove_field(&mut no_method, "RequestObserved", "method");
    // An optional field removed and a payload field with a default removed: defaulted.
    let mut no_trace = v2.clone();
    remove_field(&mut no_trace, "TelemetryRecord", "trace_id");
    let codec = codec_with(Arc::new(
        StaticWriterSchemas::new(REGISTRY)
            .with(41, no_service.to_string())
            .with(42, no_method.to_string())
            .with(43, no_trace.to_string()),
    ));
    for ty in common::TELEMETRY_TYPES {
        let event = common::sample(Topic::Telemetry, ty, 2);
        let datum = catalog_datum(&event, 2);

        let msg = expect_code(
            codec.decode(
                Topic::Telemetry,
                &frame(41, &rewrite(&datum, &v2, &no_service)),
            ),
            "incompatible_schema",
        );
        assert!(
            msg.contains("lacks field service_id") && msg.contains("no default"),
            "{msg}"
        );

        let r = codec.decode(
            Topic::Telemetry,
            &frame(42, &rewrite(&datum, &v2, &no_method)),
        );
        if ty == "RequestObserved" {
            let msg = expect_code(r, "incompatible_schema");
            assert!(
                msg.contains("at payload.RequestObserved") && msg.contains("lacks field method"),
                "{msg}"
            );
        } else {
            assert_eq!(r.unwrap(), event, "{ty}");
        }

        let got = codec
            .decode(
                Topic::Telemetry,
                &frame(43, &rewrite(&datum, &v2, &no_trace)),
            )
            .unwrap();
        assert_eq!(got, common::as_v1(&event));
    }
    let report = codec.writer_schema_report(Topic::Telemetry, 41).unwrap();
    assert!(
        report
            .fails
            .as_deref()
            .unwrap()
            .contains("incompatible_schema")
            || report.fails.as_deref().unwrap().contains("service_id"),
        "{report:?}"
    );
    assert!(!report.findings[0].partial);
}

#[test]
fn changed_types_are_incompatible_where_they_are_used() {
    let v2 = catalog_json(Topic::Telemetry, 2);
    // int -> long is a widening the reader (int) cannot take back.
    let mut wide = v2.clone();
    field_mut(&mut wide, "RequestObserved", "latency_ms")["type"] = json!("long");
    // Another time unit for the event time: every record.
    let mut micros = v2.clone();
    field_mut(&mut micros, "TelemetryRecord", "occurred_at")["type"] =
        json!({"type": "long", "logicalType": "timestamp-micros"});
    let codec = codec_with(Arc::new(
        StaticWriterSchemas::new(REGISTRY)
            .with(51, wide.to_string())
            .with(52, micros.to_string()),
    ));
    for ty in common::TELEMETRY_TYPES {
        let event = common::sample(Topic::Telemetry, ty, 2);
        let datum = catalog_datum(&event, 2);
        let r = codec.decode(Topic::Telemetry, &frame(51, &rewrite(&datum, &v2, &wide)));
        if ty == "RequestObserved" {
            let msg = expect_code(r, "incompatible_schema");
            assert!(
                msg.contains("at payload.RequestObserved.latency_ms: the writer has long where the reader expects int"),
                "{msg}"
            );
        } else {
            assert_eq!(r.unwrap(), event);
        }
        // The bytes of a long are the same whatever the unit: only the schema tells.
        let msg = expect_code(
            codec.decode(Topic::Telemetry, &frame(52, &datum)),
            "incompatible_schema",
        );
        assert!(
            msg.contains("at occurred_at") && msg.contains("timestamp-millis"),
            "{msg}"
        );
    }

    // Orders: a decimal of another scale in one event type; the other types decode.
    let mut scale3 = catalog_json(Topic::Orders, 2);
    field_mut(&mut scale3, "ProposalSubmitted", "quote")["type"]["scale"] = json!(3);
    // A field added at the end of the last payload record (the datum's last bytes).
    let mut extra = catalog_json(Topic::Orders, 2);
    fields_mut(&mut extra, "ContractEnded")
        .push(json!({"name": "note", "type": "string", "default": ""}));
    let codec = codec_with(Arc::new(
        StaticWriterSchemas::new(REGISTRY)
            .with(61, scale3.to_string())
            .with(62, extra.to_string()),
    ));
    for ty in common::ORDER_TYPES {
        let event = common::sample(Topic::Orders, ty, 2);
        let datum = catalog_datum(&event, 2);
        let r = codec.decode(Topic::Orders, &frame(61, &datum));
        if ty == "ProposalSubmitted" {
            let msg = expect_code(r, "incompatible_schema");
            assert!(
                msg.contains("at payload.ProposalSubmitted.quote")
                    && msg.contains("decimal(18,3)")
                    && msg.contains("decimal(18,2)"),
                "{msg}"
            );
        } else {
            assert_eq!(r.unwrap(), event, "{ty}");
        }
        let mut datum = datum;
        if ty == "ContractEnded" {
            datum.extend_from_slice(&[0x06, b'b', b'y', b'e']);
        }
        assert_eq!(
            codec.decode(Topic::Orders, &frame(62, &datum)).unwrap(),
            event
        );
    }
}

#[test]
fn what_is_not_a_usable_writer_schema() {
    let orders_v2 = catalog_json(Topic::Orders, 2).to_string();
    let mut renamed = catalog_json(Topic::Telemetry, 2);
    renamed["name"] = json!("SomethingElse");
    let mut other_ns = catalog_json(Topic::Telemetry, 2);
    other_ns["namespace"] = json!("com.acme.telemetry");
    let source = StaticWriterSchemas::new(REGISTRY)
        .with(71, orders_v2)
        .with(72, "{not json")
        .with(73, r#"{"type": "record", "fields": []}"#)
        .with(74, r#""string""#)
        .with(75, renamed.to_string())
        .with(76, other_ns.to_string());
    struct NotAvro(StaticWriterSchemas);
    impl WriterSchemas for NotAvro {
        fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError> {
            if id == 77 {
                return Err(LookupError::NotAvro(
                    "schema id 77 is a PROTOBUF schema, not Avro".into(),
                ));
            }
            self.0.schema_json(id)
        }
        fn describe(&self) -> String {
            self.0.describe()
        }
    }
    let codec = codec_with(Arc::new(NotAvro(source)));
    let event = common::sample(Topic::Telemetry, "ProbeResult", 2);
    let datum = catalog_datum(&event, 2);
    let decode = |id| codec.decode(Topic::Telemetry, &frame(id, &datum));

    let msg = expect_code(decode(71), "schema_topic_mismatch");
    assert!(msg.contains("orders") && msg.contains("telemetry"), "{msg}");
    assert!(expect_code(decode(72), "incompatible_schema").contains("not JSON"));
    assert!(expect_code(decode(73), "incompatible_schema").contains("not valid Avro"));
    assert!(expect_code(decode(74), "incompatible_schema")
        .contains("the writer has string where the reader expects record"));
    assert!(expect_code(decode(75), "incompatible_schema").contains("SomethingElse"));
    // Another namespace, same record name and shape: Avro (1.10+) matches unqualified names.
    assert_eq!(decode(76).unwrap(), event);
    assert!(expect_code(decode(77), "incompatible_schema").contains("PROTOBUF"));
    // Twice: the answer is cached, and the same.
    assert!(expect_code(decode(77), "incompatible_schema").contains("PROTOBUF"));
}

#[test]
fn not_found_is_unknown_schema_and_unavailable_is_retryable() {
    let v2 = catalog_json(Topic::Telemetry, 2).to_string();
    let source = Counting::new(StaticWriterSchemas::new(REGISTRY).with(7, v2));
    let codec = codec_with(source.clone());
    let event = common::sample(Topic::Telemetry, "RequestObserved", 2);
    let datum = catalog_datum(&event, 2);

    let msg = expect_code(
        codec.decode(Topic::Telemetry, &frame(404, &datum)),
        "unknown_schema",
    );
    assert!(
        msg.contains("id 404") && msg.contains(REGISTRY) && msg.contains("404"),
        "{msg}"
    );
    // Remembered for a while: a run of such records asks once.
    let before = source.calls();
    for _ in 0..100 {
        let e = codec
            .decode(Topic::Telemetry, &frame(404, &datum))
            .unwrap_err();
        assert!(!e.is_retryable());
    }
    assert_eq!(source.calls(), before);

    source.down.store(true, Ordering::SeqCst);
    let err = codec
        .decode(Topic::Telemetry, &frame(7, &datum))
        .unwrap_err();
    assert_eq!(err.code(), "schema_registry_unavailable");
    assert!(err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("id 7")
            && msg.contains(REGISTRY)
            && msg.contains("connection refused")
            && msg.contains("retried"),
        "{msg}"
    );
    // Not remembered: every try asks again, and once the registry is back, it decodes.
    let before = source.calls();
    assert!(codec
        .decode(Topic::Telemetry, &frame(7, &datum))
        .unwrap_err()
        .is_retryable());
    assert_eq!(source.calls(), before + 1);
    source.down.store(false, Ordering::SeqCst);
    assert_eq!(
        codec.decode(Topic::Telemetry, &frame(7, &datum)).unwrap(),
        event
    );
    // Cached for good now: the registry going down again does not matter.
    source.down.store(true, Ordering::SeqCst);
    assert_eq!(
        codec.decode(Topic::Telemetry, &frame(7, &datum)).unwrap(),
        event
    );
}

#[test]
fn concurrent_decoders_share_one_cache() {
    let reg = Registry::builtin();
    let mut s = StaticWriterSchemas::new(REGISTRY);
    for info in reg.schemas() {
        s = s.with(500 + info.id.0, reg.schema_json(info.id).unwrap());
    }
    let source = Counting::new(s);
    let codec = codec_with(source.clone());
    let threads = 4;
    std::thread::scope(|scope| {
        for t in 0..threads {
            let codec = codec.clone();
            let reg = &reg;
            scope.spawn(move || {
                for i in 0..2_000usize {
                    let info = reg.schemas().nth((i + t) % 6).unwrap();
                    let ty = common::types_of(info.topic)[i % common::types_of(info.topic).len()];
                    let event = common::sample(info.topic, ty, info.version as i32);
                    let datum = catalog_datum(&event, info.version);
                    let want = if info.version == 1 {
                        common::as_v1(&event)
                    } else {
                        event
                    };
                    assert_eq!(
                        codec
                            .decode(info.topic, &frame(500 + info.id.0, &datum))
                            .unwrap(),
                        want
                    );
                }
            });
        }
    });
    // Each id fetched at most once per thread that missed it at the same time.
    assert!(
        source.calls() >= 6 && source.calls() <= 6 * threads,
        "{}",
        source.calls()
    );
    let _ = SchemaId(0);
}

/// Our resolution rules and apache-avro's `SchemaCompatibility` agree on the telemetry
/// variants (no decimals there, which apache-avro 0.21 cannot check).
#[test]
fn the_compatibility_check_agrees_with_apache_avro() {
    let v2 = catalog_json(Topic::Telemetry, 2);
    let v1 = catalog_json(Topic::Telemetry, 1);
    let mut variants = vec![("v1", v1), ("v3", telemetry_v3())];
    let mut v = v2.clone();
    remove_field(&mut v, "TelemetryRecord", "service_id");
    variants.push(("no service_id", v));
    let mut v = v2.clone();
    field_mut(&mut v, "RequestObserved", "latency_ms")["type"] = json!("long");
    variants.push(("latency long", v));
    let mut v = v2.clone();
    field_mut(&mut v, "RequestObserved", "latency_ms")["type"] = json!("string");
    variants.push(("latency string", v));
    let mut v = v2.clone();
    field_mut(&mut v, "ProbeResult", "ok")["type"] = json!(["null", "boolean"]);
    variants.push(("ok optional", v));
    for (name, w) in &variants {
        for (writer, reader) in [(w, &v2), (&v2, w)] {
            let ours = check_compatibility(&writer.to_string(), &reader.to_string()).unwrap();
            let theirs = SchemaCompatibility::can_read(
                &apache_avro::Schema::parse(writer).unwrap(),
                &apache_avro::Schema::parse(reader).unwrap(),
            );
            assert_eq!(
                ours.is_empty(),
                theirs.is_ok(),
                "{name}: ours {ours:?}, apache-avro {theirs:?} (writer {}, reader {})",
                writer["doc"],
                reader["doc"]
            );
        }
    }
}
