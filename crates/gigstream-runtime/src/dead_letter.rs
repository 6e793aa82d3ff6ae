//! Dead letters: records that could not be decoded, were invalid, too late or rejected by a
//! projection's rules. They are kept with the reason and the original bytes, counted, and written
//! with the service's tables (the embedded equivalent of `<topic>.dlq`), so they commit atomically
//! with the positions and a replay never loses or repeats one.
//!
//! Codes (`DeadLetter::code`), each stable (metric labels, `<topic>.dlq` headers):
//!
//! - decoding (`gigstream_avro::DecodeError::code`): `bad_magic`, `unknown_schema` (a Confluent
//!   id neither the catalog nor, when one is configured, the schema registry knows: the registry
//!   answered 404; the reason names the id and the registry), `incompatible_schema` (the writer
//!   schema the registry gave cannot be read as the topic's catalog schema; the reason names
//!   both and what does not fit), `truncated`, `invalid_avro`, `invalid_json`,
//!   `schema_topic_mismatch`;
//! - validation (`gigstream_core::validate::Invalid::code`): `missing_field`,
//!   `negative_amount`, `unknown_currency`, `unknown_platform`, `future_timestamp`,
//!   `out_of_range`, `unknown_plan`, ...;
//! - `late`: beyond the allowed lateness;
//! - a projection's own rules (`unknown_contract`, `invalid_transition`, ...).
//!
//! `schema_registry_unavailable` is a decode error code but never a dead letter: the record is
//! fine, the registry is not (unreachable, timeout, HTTP 5xx). The processor leaves it
//! unconsumed (`Outcome::Retry`) and the runner retries it, and every later record of its
//! partition, once the registry answers.

use gigstream_core::table::{col, datetime_ms, ColumnType, TableData, TableDef, Value};
use serde::{Deserialize, Serialize};
use std::fmt::Write;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeadLetter {
    pub service: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// The record's append time, ms.
    pub timestamp_ms: i64,
    /// Stable reason code (`bad_magic`, `invalid_avro`, `unknown_platform`, `late`, ...).
    pub code: String,
    /// What exactly was wrong.
    pub reason: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

pub static DEAD_LETTERS: TableDef = TableDef {
    name: "dead_letters",
    doc: "One row per record a service could not use, with the reason and the original bytes. Each service writes its own rows.",
    columns: &[
        col("service", ColumnType::String, "the service that dead-lettered the record (billing, sla, market)"),
        col("topic", ColumnType::String, "topic the record was read from"),
        col("partition", ColumnType::UInt32, "partition of the record"),
        col("offset", ColumnType::UInt64, "offset of the record in its partition"),
        col("appended_at", ColumnType::DateTime, "when the record was appended to the log (UTC)"),
        col("code", ColumnType::String, "stable reason code: decode errors (bad_magic, unknown_schema, incompatible_schema, truncated, invalid_avro, invalid_json, schema_topic_mismatch), validation (missing_field, negative_amount, unknown_currency, unknown_platform, future_timestamp, out_of_range, unknown_plan), late, or a projection rule; never schema_registry_unavailable (such records wait and are retried)"),
        col("reason", ColumnType::String, "human-readable description of what was wrong"),
        col("key", ColumnType::String, "the record key (UTF-8, lossy)"),
        col("payload_text", ColumnType::String, "the original value when it is valid UTF-8 (JSON lines), else empty"),
        col("payload_hex", ColumnType::String, "the original value bytes, hex-encoded"),
    ],
    key: &["service", "topic", "partition", "offset"],
};

pub static POSITIONS: TableDef = TableDef {
    name: "positions",
    doc: "The consumer position each service's tables reflect: written in the same commit as the tables.",
    columns: &[
        col("service", ColumnType::String, "service name"),
        col("topic", ColumnType::String, "topic"),
        col("partition", ColumnType::UInt32, "partition"),
        col("next_offset", ColumnType::UInt64, "offset of the next record to read; everything before is reflected in the tables"),
        col("watermark", ColumnType::DateTime, "newest event time seen in the partition (UTC); events older than this minus the allowed lateness are dead-lettered"),
    ],
    key: &["service", "topic", "partition"],
};

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Renders dead letters as the `dead_letters` table, sorted by key.
pub fn dead_letter_table(letters: &[DeadLetter]) -> TableData {
    let mut sorted: Vec<&DeadLetter> = letters.iter().collect();
    sorted.sort_by(|a, b| {
        (&a.service, &a.topic, a.partition, a.offset).cmp(&(
            &b.service,
            &b.topic,
            b.partition,
            b.offset,
        ))
    });
    let mut t = TableData::new(&DEAD_LETTERS);
    for d in sorted {
        t.push(vec![
            Value::Str(d.service.clone()),
            Value::Str(d.topic.clone()),
            Value::U32(d.partition),
            Value::U64(d.offset),
            datetime_ms(d.timestamp_ms),
            Value::Str(d.code.clone()),
            Value::Str(d.reason.clone()),
            Value::Str(String::from_utf8_lossy(&d.key).into_owned()),
            Value::Str(
                std::str::from_utf8(&d.value)
                    .map(str::to_string)
                    .unwrap_or_default(),
            ),
            Value::Str(hex(&d.value)),
        ]);
    }
    t
}
