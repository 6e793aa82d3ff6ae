//! Frozen samples in `schemas/golden/`: for every schema file and event type the expected JSON
//! line and the Confluent-framed bytes (plus single-object bytes for v2). Decoding the frozen
//! bytes must give the JSON, re-encoding must give the bytes, and apache-avro's reader must
//! decode the datum to the same values. `GIGSTREAM_BLESS=1` rewrites the files.
//!
//! The single-object header holds the CRC-64-AVRO of the Avro specification's Parsing
//! Canonical Form (what Java's `SchemaNormalization.parsingFingerprint64` and fastavro give;
//! [`spec_fingerprints_are_fastavros`] pins them).

mod common;

use gigstream_avro::{Codec, Encoding, Registry};
use gigstream_core::Event;
use std::path::{Path, PathBuf};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../schemas/golden")
}

fn hex(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    s.push('\n');
    s
}

fn unhex(text: &str) -> Vec<u8> {
    let t = text.trim();
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).expect("golden hex"))
        .collect()
}

struct Check {
    bless: bool,
    failures: Vec<String>,
}

impl Check {
    /// Compares `actual` with the frozen file (or rewrites it in bless mode).
    fn file(&mut self, path: &Path, actual: &str) {
        if self.bless {
            std::fs::write(path, actual).expect("write golden file");
            return;
        }
        match std::fs::read_to_string(path) {
            Ok(frozen) if frozen == actual => {}
            Ok(frozen) => self.failures.push(format!(
                "{} differs:\n frozen: {}\n actual: {}",
                path.display(),
                frozen.trim(),
                actual.trim()
            )),
            Err(e) => self.failures.push(format!("{}: {e}", path.display())),
        }
    }
}

#[test]
fn golden_samples_match_frozen_files() {
    let reg = Registry::builtin();
    let codec = Codec::new(reg.clone());
    let dir = golden_dir();
    let mut check = Check {
        bless: std::env::var("GIGSTREAM_BLESS").is_ok_and(|v| v == "1"),
        failures: Vec::new(),
    };
    if check.bless {
        std::fs::create_dir_all(&dir).expect("create golden dir");
    }
    let mut checked = 0;
    for info in reg.schemas().collect::<Vec<_>>() {
        let schema = reg.avro_schema(info.id).expect("registered");
        let names = common::named_types(schema);
        for ty in common::types_of(info.topic) {
            let stem = format!("{}.v{}.{ty}", info.topic, info.version);
            let sample = common::sample(info.topic, ty, info.version as i32);

            // The sample as JSON and as frozen bytes (compared with the files, or blessed).
            let json = format!("{}\n", serde_json::to_string(&sample).expect("json"));
            check.file(&dir.join(format!("{stem}.json")), &json);
            let mut bytes = Vec::new();
            codec
                .encode_with(&sample, info.id, Encoding::Confluent, &mut bytes)
                .expect("encode sample");
            check.file(&dir.join(format!("{stem}.hex")), &hex(&bytes));
            let mut single = Vec::new();
            if info.version >= 2 {
                codec
                    .encode_with(&sample, info.id, Encoding::SingleObject, &mut single)
                    .expect("encode single-object");
                check.file(&dir.join(format!("{stem}.so.hex")), &hex(&single));
            }
            if check.bless {
                continue;
            }

            // The frozen files, read back independently of the sample code.
            let frozen_json =
                std::fs::read_to_string(dir.join(format!("{stem}.json"))).unwrap_or_default();
            let frozen = unhex(
                &std::fs::read_to_string(dir.join(format!("{stem}.hex"))).unwrap_or_default(),
            );
            let decoded = match codec.decode(info.topic, &frozen) {
                Ok(e) => e,
                Err(e) => {
                    check
                        .failures
                        .push(format!("{stem}.hex does not decode: {e}"));
                    continue;
                }
            };
            assert_eq!(decoded.type_name(), *ty);
            let from_json: Event = codec
                .decode(info.topic, frozen_json.as_bytes())
                .unwrap_or_else(|e| panic!("{stem}.json does not decode: {e}"));
            assert_eq!(decoded, from_json, "{stem}: bytes and json disagree");
            assert_eq!(
                serde_json::to_string(&decoded).unwrap(),
                frozen_json.trim(),
                "{stem}"
            );
            let mut again = Vec::new();
            codec
                .encode_with(&decoded, info.id, Encoding::Confluent, &mut again)
                .unwrap();
            assert_eq!(again, frozen, "{stem}: re-encoding changed the bytes");

            // The reference implementation reads our datum to the same values.
            let mut datum = &frozen[5..];
            let value = apache_avro::from_avro_datum(schema, &mut datum, None)
                .unwrap_or_else(|e| panic!("{stem}: apache-avro rejects the datum: {e}"));
            assert!(
                datum.is_empty(),
                "{stem}: apache-avro left {} bytes",
                datum.len()
            );
            assert_eq!(
                common::avro_to_json(&value, schema, &names),
                serde_json::to_value(&decoded).unwrap(),
                "{stem}: apache-avro reads different values"
            );

            if info.version >= 2 {
                let so = unhex(
                    &std::fs::read_to_string(dir.join(format!("{stem}.so.hex")))
                        .unwrap_or_default(),
                );
                assert_eq!(
                    codec.decode(info.topic, &so).unwrap(),
                    decoded,
                    "{stem}.so.hex"
                );
                // The header carries the specification's fingerprint (Java's and fastavro's).
                assert_eq!(so[..2], [0xc3, 0x01], "{stem}.so.hex");
                assert_eq!(
                    so[2..10],
                    info.fingerprint.to_le_bytes(),
                    "{stem}.so.hex: not the spec fingerprint"
                );
                assert_eq!(so[10..], frozen[5..], "{stem}: the datum differs from .hex");
                let mut datum = &so[10..];
                let v = apache_avro::from_avro_datum(schema, &mut datum, None)
                    .unwrap_or_else(|e| panic!("{stem}: apache-avro rejects the datum: {e}"));
                assert_eq!(
                    common::avro_to_json(&v, schema, &names),
                    serde_json::to_value(&decoded).unwrap()
                );
                // What gigstream wrote before (apache-avro 0.21's fingerprint, which its own
                // single-object reader expects) still decodes.
                let mut legacy = so.clone();
                legacy[2..10].copy_from_slice(&info.legacy_fingerprint.to_le_bytes());
                assert_eq!(
                    codec.decode(info.topic, &legacy).unwrap(),
                    decoded,
                    "{stem}"
                );
                let reader = apache_avro::GenericSingleObjectReader::new(schema.clone()).unwrap();
                let v = reader
                    .read_value(&mut &legacy[..])
                    .unwrap_or_else(|e| panic!("{stem}: apache single-object: {e}"));
                assert_eq!(
                    common::avro_to_json(&v, schema, &names),
                    serde_json::to_value(&decoded).unwrap()
                );
            }
            checked += 1;
        }
    }
    assert!(
        check.failures.is_empty(),
        "golden files differ (run with GIGSTREAM_BLESS=1 if the change is intended):\n{}",
        check.failures.join("\n")
    );
    if !check.bless {
        assert_eq!(checked, 2 * (9 + 2 + 4));
    }
}

#[test]
fn golden_dir_has_no_stray_files() {
    let reg = Registry::builtin();
    let mut expected = std::collections::BTreeSet::new();
    for info in reg.schemas() {
        for ty in common::types_of(info.topic) {
            let stem = format!("{}.v{}.{ty}", info.topic, info.version);
            expected.insert(format!("{stem}.json"));
            expected.insert(format!("{stem}.hex"));
            if info.version >= 2 {
                expected.insert(format!("{stem}.so.hex"));
            }
        }
    }
    let found: std::collections::BTreeSet<String> = std::fs::read_dir(golden_dir())
        .expect("schemas/golden exists")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(found, expected);
}

/// fastavro 1.13's `fingerprint(to_parsing_canonical_form(schema), "CRC-64-AVRO")` of every
/// schema file (it prints the fingerprint's little-endian bytes, as in the header); for v2 the
/// values the Go client's `SpecFingerprint` names (Java's `parsingFingerprint64`).
#[test]
fn spec_fingerprints_are_fastavros() {
    let fastavro = [
        ("orders.v1.avsc", "214e7e5dcbcc8551"),
        ("orders.v2.avsc", "2038ee0ed48e3665"),
        ("usage.v1.avsc", "420903fd05ffc34b"),
        ("usage.v2.avsc", "747d00f10bc8bd20"),
        ("telemetry.v1.avsc", "fbb989de1374a5f7"),
        ("telemetry.v2.avsc", "fe1f6425d6f25843"),
    ];
    let reg = Registry::builtin();
    for (file, le_hex) in fastavro {
        let info = reg.schemas().find(|i| i.file == file).expect(file);
        assert_eq!(
            hex(&info.fingerprint.to_le_bytes()).trim(),
            le_hex,
            "{file}"
        );
        assert_ne!(info.fingerprint, info.legacy_fingerprint, "{file}");
        let legacy = reg
            .avro_schema(info.id)
            .unwrap()
            .fingerprint::<apache_avro::rabin::Rabin>();
        assert_eq!(
            legacy.bytes,
            info.legacy_fingerprint.to_le_bytes(),
            "{file}"
        );
    }
    let orders = reg.info(reg.latest(gigstream_core::Topic::Orders)).unwrap();
    assert_eq!(orders.fingerprint, 0x6536_8ed4_0eee_3820);
    assert_eq!(orders.legacy_fingerprint, 0x2fea_8d56_a441_37e7);
}
