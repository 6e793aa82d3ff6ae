//! Framing: Confluent wire format, Avro single-object encoding and JSON lines, on top of the
//! serde Avro datum codec.

use crate::de::{self, DeError};
use crate::error::{DecodeError, EncodeError};
use crate::registry::{Entry, Registry, SchemaId};
use crate::schema::Node;
use crate::ser;
use crate::writer::WriterCache;
use gigstream_core::event::{OrderRecord, TelemetryRecord, UsageRecord};
use gigstream_core::{Event, Topic};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How a message is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Magic byte 0, 4-byte big-endian schema id, Avro datum.
    Confluent,
    /// `C3 01`, 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema, Avro datum.
    SingleObject,
    /// One JSON object and a newline (the core types' serde form).
    JsonLines,
}

const SINGLE_OBJECT_MAGIC: [u8; 2] = [0xC3, 0x01];

/// Decodes and encodes events. Cheap to clone (an `Arc` or two), `Send + Sync`.
///
/// Confluent ids are the catalog's, unless a writer-schema source (a schema registry) is
/// configured with [`Codec::with_writer_schemas`]: then every Confluent id is resolved through
/// it (see [`crate::WriterSchemas`]).
#[derive(Debug, Clone)]
pub struct Codec {
    reg: Arc<Registry>,
    writers: Option<Arc<WriterCache>>,
}

impl DeError {
    pub(crate) fn into_decode(self) -> DecodeError {
        if self.is_truncated() {
            DecodeError::Truncated(self.to_string())
        } else {
            DecodeError::InvalidAvro(self.to_string())
        }
    }
}

impl Codec {
    pub fn new(reg: Arc<Registry>) -> Codec {
        Codec { reg, writers: None }
    }

    pub(crate) fn set_writers(mut self, writers: Option<Arc<WriterCache>>) -> Codec {
        self.writers = writers;
        self
    }

    pub(crate) fn writers(&self) -> Option<&WriterCache> {
        self.writers.as_deref()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.reg
    }

    /// Decodes one message of `topic`, detecting its encoding from the first bytes:
    /// `0x00` Confluent, `0xC3 0x01` single-object, `{` (after ASCII whitespace) a JSON line.
    ///
    /// A Confluent id is looked up in the catalog, or, with a writer-schema source, through
    /// that source. Single-object fingerprints are the catalog schemas' (the Avro
    /// specification's fingerprint, or the one gigstream wrote before it followed the
    /// specification). An error with [`DecodeError::is_retryable`] (the schema registry could
    /// not be asked) is no fault of the record: retry it later, do not dead-letter it.
    pub fn decode(&self, topic: Topic, bytes: &[u8]) -> Result<Event, DecodeError> {
        match bytes.first() {
            None => Err(DecodeError::Truncated("empty message".into())),
            Some(0x00) => {
                let header = bytes.get(1..5).ok_or_else(|| {
                    DecodeError::Truncated(format!(
                        "confluent header needs 5 bytes, got {}",
                        bytes.len()
                    ))
                })?;
                let id = SchemaId(u32::from_be_bytes([
                    header[0], header[1], header[2], header[3],
                ]));
                if let Some(w) = &self.writers {
                    return w.decode(&self.reg, topic, id.0, &bytes[5..]);
                }
                let entry = self
                    .reg
                    .entry(id)
                    .ok_or_else(|| DecodeError::UnknownSchema(id.to_string()))?;
                decode_entry(entry, topic, &bytes[5..])
            }
            Some(0xC3) => {
                if bytes.get(1) != Some(&0x01) {
                    return match bytes.get(1) {
                        None => Err(DecodeError::Truncated(
                            "single-object header cut after 0xc3".into(),
                        )),
                        Some(_) => Err(DecodeError::BadMagic(0xC3)),
                    };
                }
                let fp = bytes.get(2..10).ok_or_else(|| {
                    DecodeError::Truncated(format!(
                        "single-object header needs 10 bytes, got {}",
                        bytes.len()
                    ))
                })?;
                let mut raw = [0u8; 8];
                raw.copy_from_slice(fp);
                let fp = u64::from_le_bytes(raw);
                let entry = self
                    .reg
                    .by_fingerprint(fp)
                    .ok_or_else(|| DecodeError::UnknownSchema(format!("fingerprint {fp:#018x}")))?;
                decode_entry(entry, topic, &bytes[10..])
            }
            Some(&b) => {
                let start = bytes.iter().position(|b| !b.is_ascii_whitespace());
                match start.map(|i| (i, bytes[i])) {
                    Some((i, b'{')) => decode_json(topic, &bytes[i..]),
                    Some((_, other)) => Err(DecodeError::BadMagic(other)),
                    None => Err(DecodeError::BadMagic(b)),
                }
            }
        }
    }

    /// Decodes a bare Avro datum (no framing) written with `schema` into any serde type: for
    /// consumers that want their own shape of a record.
    pub fn decode_datum<'de, T: Deserialize<'de>>(
        &self,
        schema: SchemaId,
        datum: &'de [u8],
    ) -> Result<T, DecodeError> {
        let entry = self
            .reg
            .entry(schema)
            .ok_or_else(|| DecodeError::UnknownSchema(schema.to_string()))?;
        de::from_datum(&entry.node, datum).map_err(DeError::into_decode)
    }

    /// Encodes with the topic's latest schema.
    pub fn encode(
        &self,
        event: &Event,
        enc: Encoding,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        self.encode_with(event, self.reg.latest(event.topic()), enc, out)
    }

    /// Encodes with a given schema (tests, old producers). Fields of the event the schema lacks
    /// are dropped. JSON lines ignore the schema beyond checking its topic. On error `out` is left
    /// as it was.
    pub fn encode_with(
        &self,
        event: &Event,
        schema: SchemaId,
        enc: Encoding,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let entry = self.checked_entry(schema, event.topic())?;
        let start = out.len();
        let result = match enc {
            Encoding::Confluent => {
                out.push(0);
                out.extend_from_slice(&schema.0.to_be_bytes());
                encode_datum(entry, event, out)
            }
            Encoding::SingleObject => {
                out.extend_from_slice(&SINGLE_OBJECT_MAGIC);
                out.extend_from_slice(&entry.fingerprint.to_le_bytes());
                encode_datum(entry, event, out)
            }
            Encoding::JsonLines => serde_json::to_writer(&mut *out, event)
                .map(|()| out.push(b'\n'))
                .map_err(EncodeError::from),
        };
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Encodes `event` with the catalog schema `schema`, framed as Confluent wire format with
    /// `wire_id` as the id: for producers whose ids a schema registry assigned (register or
    /// look up the catalog schema's text under the topic's subject, then write its id). The
    /// datum is the same bytes whatever the id. On error `out` is left as it was.
    pub fn encode_confluent_as(
        &self,
        event: &Event,
        schema: SchemaId,
        wire_id: u32,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let entry = self.checked_entry(schema, event.topic())?;
        let start = out.len();
        out.push(0);
        out.extend_from_slice(&wire_id.to_be_bytes());
        let result = encode_datum(entry, event, out);
        if result.is_err() {
            out.truncate(start);
        }
        result
    }

    /// Encodes any serde value as a bare Avro datum of `schema` (no framing).
    pub fn encode_datum<T: Serialize + ?Sized>(
        &self,
        value: &T,
        schema: SchemaId,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        let entry = self
            .reg
            .entry(schema)
            .ok_or(EncodeError::UnknownSchema(schema))?;
        let start = out.len();
        ser::to_datum(&entry.node, value, out).map_err(|e| {
            out.truncate(start);
            EncodeError::Value {
                id: schema,
                message: e.to_string(),
            }
        })
    }

    pub(crate) fn checked_entry(
        &self,
        schema: SchemaId,
        topic: Topic,
    ) -> Result<&Entry, EncodeError> {
        let entry = self
            .reg
            .entry(schema)
            .ok_or(EncodeError::UnknownSchema(schema))?;
        if entry.topic != topic {
            return Err(EncodeError::TopicMismatch {
                id: schema,
                schema_topic: entry.topic,
                topic,
            });
        }
        Ok(entry)
    }
}

pub(crate) fn encode_datum(
    entry: &Entry,
    event: &Event,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let result = match event {
        Event::Order(r) => ser::to_datum(&entry.node, r, out),
        Event::Usage(r) => ser::to_datum(&entry.node, r, out),
        Event::Telemetry(r) => ser::to_datum(&entry.node, r, out),
    };
    result.map_err(|e| EncodeError::Value {
        id: entry.id,
        message: e.to_string(),
    })
}

fn decode_entry(entry: &Entry, topic: Topic, datum: &[u8]) -> Result<Event, DecodeError> {
    if entry.topic != topic {
        return Err(DecodeError::SchemaTopicMismatch {
            id: entry.id,
            schema_topic: entry.topic,
            topic,
        });
    }
    decode_avro(&entry.node, topic, datum).map_err(DeError::into_decode)
}

/// Decodes a datum that spans `datum` into the topic's record type.
pub(crate) fn decode_avro(node: &Node, topic: Topic, datum: &[u8]) -> Result<Event, DeError> {
    Ok(match topic {
        Topic::Orders => Event::Order(de::from_datum::<OrderRecord>(node, datum)?),
        Topic::Usage => Event::Usage(de::from_datum::<UsageRecord>(node, datum)?),
        Topic::Telemetry => Event::Telemetry(de::from_datum::<TelemetryRecord>(node, datum)?),
    })
}

/// Decodes one datum at the start of `buf` into the topic's record type; returns its length.
pub(crate) fn decode_avro_prefix(
    node: &Node,
    topic: Topic,
    buf: &[u8],
) -> Result<(Event, usize), DeError> {
    Ok(match topic {
        Topic::Orders => {
            let (r, n) = de::from_prefix::<OrderRecord>(node, buf)?;
            (Event::Order(r), n)
        }
        Topic::Usage => {
            let (r, n) = de::from_prefix::<UsageRecord>(node, buf)?;
            (Event::Usage(r), n)
        }
        Topic::Telemetry => {
            let (r, n) = de::from_prefix::<TelemetryRecord>(node, buf)?;
            (Event::Telemetry(r), n)
        }
    })
}

fn decode_json(topic: Topic, line: &[u8]) -> Result<Event, DecodeError> {
    let err = |e: serde_json::Error| DecodeError::InvalidJson(e.to_string());
    Ok(match topic {
        Topic::Orders => Event::Order(serde_json::from_slice(line).map_err(err)?),
        Topic::Usage => Event::Usage(serde_json::from_slice(line).map_err(err)?),
        Topic::Telemetry => Event::Telemetry(serde_json::from_slice(line).map_err(err)?),
    })
}
