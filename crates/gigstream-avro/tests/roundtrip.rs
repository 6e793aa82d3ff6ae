//! Property-style round trips over many generated events, in every encoding and schema
//! version, plus object container files checked against apache-avro's reader.

mod common;

use gigstream_avro::{Codec, Encoding, Registry};
use gigstream_core::{Event, Topic};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

#[test]
fn generated_events_round_trip_in_every_encoding_and_version() {
    let codec = Codec::new(Registry::builtin());
    let reg = codec.registry().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(0x6167_7374);
    let mut buf = Vec::new();
    for i in 0..3000 {
        let topic = Topic::ALL[i % 3];
        let event = common::random_event(&mut rng, topic);
        for enc in [
            Encoding::Confluent,
            Encoding::SingleObject,
            Encoding::JsonLines,
        ] {
            for version in [1, 2] {
                buf.clear();
                let id = reg.id_of(topic, version).unwrap();
                codec
                    .encode_with(&event, id, enc, &mut buf)
                    .unwrap_or_else(|e| panic!("encode {event:?}: {e}"));
                let back = codec
                    .decode(topic, &buf)
                    .unwrap_or_else(|e| panic!("decode {event:?}: {e}"));
                let expected = if version == 1 && enc != Encoding::JsonLines {
                    common::as_v1(&event)
                } else {
                    event.clone()
                };
                assert_eq!(back, expected, "{enc:?} v{version}");
                if enc == Encoding::Confluent && i % 10 == 0 {
                    let schema = reg.avro_schema(id).unwrap();
                    let v = apache_avro::from_avro_datum(schema, &mut &buf[5..], None).unwrap();
                    let names = common::named_types(schema);
                    assert_eq!(
                        common::avro_to_json(&v, schema, &names),
                        serde_json::to_value(&back).unwrap()
                    );
                }
            }
        }
    }
}

#[test]
fn container_files_round_trip_and_apache_avro_reads_them() {
    let codec = Codec::new(Registry::builtin());
    let reg = codec.registry().clone();
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for topic in Topic::ALL {
        // Enough events for several 64 KiB blocks.
        let events: Vec<Event> = (0..4000)
            .map(|_| common::random_event(&mut rng, topic))
            .collect();
        let id = reg.latest(topic);
        let mut file = Vec::new();
        assert_eq!(
            codec
                .write_container(topic, id, &events, &mut file)
                .unwrap(),
            4000
        );

        let reader = codec.read_container(&file[..]).unwrap();
        assert_eq!(reader.topic(), topic);
        let back: Vec<Event> = reader.collect::<Result<_, _>>().unwrap();
        assert_eq!(back, events);

        let apache = apache_avro::Reader::new(&file[..]).unwrap();
        let schema = reg.avro_schema(id).unwrap();
        let names = common::named_types(schema);
        let mut n = 0;
        for (value, ours) in apache.zip(&back) {
            let value = value.unwrap();
            assert_eq!(
                common::avro_to_json(&value, schema, &names),
                serde_json::to_value(ours).unwrap()
            );
            n += 1;
        }
        assert_eq!(n, 4000);
    }
}

#[test]
fn container_written_by_apache_avro_reads_back() {
    let codec = Codec::new(Registry::builtin());
    let reg = codec.registry().clone();
    let id = reg.id_of(Topic::Telemetry, 1).unwrap();
    let schema = reg.avro_schema(id).unwrap();
    let mut datums = Vec::new();
    let events: Vec<Event> = common::TELEMETRY_TYPES
        .iter()
        .map(|ty| common::sample(Topic::Telemetry, ty, 1))
        .collect();
    let mut writer = apache_avro::Writer::new(schema, Vec::new());
    for e in &events {
        datums.clear();
        codec
            .encode_with(e, id, Encoding::Confluent, &mut datums)
            .unwrap();
        let v = apache_avro::from_avro_datum(schema, &mut &datums[5..], None).unwrap();
        writer.append(v).unwrap();
    }
    let file = writer.into_inner().unwrap();
    let back: Vec<Event> = codec
        .read_container(&file[..])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, events);
    let truncated = &file[..file.len() - 3];
    let last = codec.read_container(truncated).unwrap().last().unwrap();
    assert_eq!(last.unwrap_err().code(), "truncated");
}

#[test]
fn registry_loads_from_the_schemas_dir_like_builtin() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas");
    let loaded = Registry::load(&dir).unwrap();
    let builtin = Registry::builtin();
    assert_eq!(format!("{loaded:?}"), format!("{builtin:?}"));
    for info in builtin.schemas() {
        assert_eq!(loaded.schema_json(info.id), builtin.schema_json(info.id));
        // The legacy fingerprint is apache-avro's Rabin fingerprint of its canonical form
        // (the spec's is checked against fastavro in golden.rs).
        let fp = builtin
            .avro_schema(info.id)
            .unwrap()
            .fingerprint::<apache_avro::rabin::Rabin>();
        assert_eq!(fp.bytes, info.legacy_fingerprint.to_le_bytes());
    }
    let empty = tempfile::tempdir().unwrap();
    let err = Registry::load(empty.path()).unwrap_err();
    assert!(err.to_string().contains("catalog.json"), "{err}");
}
