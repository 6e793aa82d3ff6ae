//! Schema evolution: v2 = v1 + optional `trace_id`, compatible both ways, and our decoder
//! resolves between them through serde.

mod common;

use apache_avro::schema_compatibility::SchemaCompatibility;
use gigstream_avro::{Codec, Encoding, Registry};
use gigstream_core::event::TelemetryEvent;
use gigstream_core::{Event, Topic};
use serde::Deserialize;

/// apache-avro 0.21's `SchemaCompatibility` answers "inconclusive" for any `decimal` reader
/// (fixed in 0.22), and its `Value::resolve` cannot match union branches holding decimals. So
/// the check runs on a projection where each decimal becomes plain `bytes`, after checking that
/// both versions declare exactly the same decimals (precision, scale) in the same places.
fn without_decimals(
    json: &str,
    decimals: &mut Vec<(String, serde_json::Value)>,
) -> apache_avro::Schema {
    fn walk(
        v: &mut serde_json::Value,
        path: &str,
        decimals: &mut Vec<(String, serde_json::Value)>,
    ) {
        match v {
            serde_json::Value::Object(o)
                if o.get("logicalType").and_then(|l| l.as_str()) == Some("decimal") =>
            {
                decimals.push((
                    path.to_string(),
                    serde_json::json!([o["precision"], o["scale"]]),
                ));
                *v = serde_json::json!("bytes");
            }
            serde_json::Value::Object(o) => {
                let here = o
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map(|n| format!("{path}/{n}"));
                for (_, child) in o.iter_mut() {
                    walk(child, here.as_deref().unwrap_or(path), decimals);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|c| walk(c, path, decimals)),
            _ => {}
        }
    }
    let mut v: serde_json::Value = serde_json::from_str(json).unwrap();
    walk(&mut v, "", decimals);
    apache_avro::Schema::parse(&v).unwrap()
}

fn projected(reg: &Registry, topic: Topic) -> (apache_avro::Schema, apache_avro::Schema) {
    let (mut d1, mut d2) = (Vec::new(), Vec::new());
    let v1 = without_decimals(
        reg.schema_json(reg.id_of(topic, 1).unwrap()).unwrap(),
        &mut d1,
    );
    let v2 = without_decimals(
        reg.schema_json(reg.id_of(topic, 2).unwrap()).unwrap(),
        &mut d2,
    );
    assert_eq!(d1, d2, "{topic}: v1 and v2 declare different decimals");
    (v1, v2)
}

#[test]
fn v2_is_backward_and_forward_compatible_with_v1() {
    let reg = Registry::builtin();
    for topic in Topic::ALL {
        let (v1, v2) = projected(&reg, topic);
        SchemaCompatibility::can_read(&v1, &v2)
            .unwrap_or_else(|e| panic!("{topic}: v2 cannot read v1: {e}"));
        SchemaCompatibility::can_read(&v2, &v1)
            .unwrap_or_else(|e| panic!("{topic}: v1 cannot read v2: {e}"));
        assert_eq!(reg.latest(topic), reg.id_of(topic, 2).unwrap());
    }
    // The check can fail: a v2 that drops a field without default is not readable by v1.
    let v2 = reg
        .schema_json(reg.id_of(Topic::Telemetry, 2).unwrap())
        .unwrap();
    let broken = v2.replacen("\"name\": \"service_id\"", "\"name\": \"service_key\"", 1);
    let broken = without_decimals(&broken, &mut Vec::new());
    let (v1, _) = projected(&reg, Topic::Telemetry);
    assert!(SchemaCompatibility::can_read(&broken, &v1).is_err());
}

#[test]
fn v1_bytes_read_into_the_v2_types() {
    let codec = Codec::new(Registry::builtin());
    let reg = codec.registry();
    for topic in Topic::ALL {
        for ty in common::types_of(topic) {
            // A v2 value written as v1 drops the trace id; reading it back gives `None`.
            let event = common::sample(topic, ty, 2);
            let mut bytes = Vec::new();
            codec
                .encode_with(
                    &event,
                    reg.id_of(topic, 1).unwrap(),
                    Encoding::Confluent,
                    &mut bytes,
                )
                .unwrap();
            let back = codec.decode(topic, &bytes).unwrap();
            assert_eq!(back, common::as_v1(&event));
            // And apache-avro resolves the same v1 datum against the v2 schema.
            let (v1, v2) = projected(reg, topic);
            let resolved = apache_avro::from_avro_datum(&v1, &mut &bytes[5..], Some(&v2)).unwrap();
            let apache_avro::types::Value::Record(fields) = resolved else {
                panic!("not a record")
            };
            assert_eq!(
                fields[4],
                (
                    "trace_id".to_string(),
                    apache_avro::types::Value::Union(0, Box::new(apache_avro::types::Value::Null))
                )
            );
        }
    }
}

/// What a consumer built against v1 looks like: no `trace_id` field.
#[derive(Debug, Deserialize, PartialEq)]
struct TelemetryRecordV1 {
    event_id: String,
    occurred_at: i64,
    service_id: String,
    schema_version: i32,
    payload: TelemetryEvent,
}

#[test]
fn v2_bytes_read_through_a_v1_shaped_struct() {
    let codec = Codec::new(Registry::builtin());
    let v2 = codec.registry().latest(Topic::Telemetry);
    for ty in common::TELEMETRY_TYPES {
        let Event::Telemetry(rec) = common::sample(Topic::Telemetry, ty, 2) else {
            unreachable!()
        };
        assert!(rec.trace_id.is_some());
        let mut datum = Vec::new();
        codec.encode_datum(&rec, v2, &mut datum).unwrap();
        let old: TelemetryRecordV1 = codec.decode_datum(v2, &datum).unwrap();
        assert_eq!(
            old,
            TelemetryRecordV1 {
                event_id: rec.event_id.clone(),
                occurred_at: rec.occurred_at,
                service_id: rec.service_id.clone(),
                schema_version: 2,
                payload: rec.payload.clone(),
            }
        );
    }
}
