//! gigstream's event codec.
//!
//! Messages on the three topics are Avro records (schemas in `schemas/*.avsc`, ids in
//! `schemas/catalog.json`) framed as Confluent wire format, Avro single-object encoding, or
//! plain JSON lines. Data flows `bytes -> Codec::decode -> Event` and back:
//!
//! - [`Registry`] loads the schemas (or embeds them: [`Registry::builtin`]) and compiles each
//!   into a compact type tree once.
//! - [`Codec::decode`] detects the framing, finds the writer schema by id or fingerprint, and
//!   runs a serde `Deserializer` over the Avro bytes driven by that writer schema, straight into
//!   the core's Rust types. Schema evolution is serde's: unknown writer fields are skipped,
//!   missing optional fields default to `None`, so v1 and v2 data read into the same types.
//! - [`Codec::encode`] runs the matching serde `Serializer`, again driven by the writer schema,
//!   so the same Rust value can be written as any registered version.
//! - [`Codec::write_container`] / [`Codec::read_container`] handle Avro object container files.
//! - [`Codec::with_writer_schemas`] resolves Confluent ids through a schema registry (any
//!   [`WriterSchemas`]; `gigstream-registry` has the HTTP client) instead of the catalog:
//!   ids that producers with Confluent serializers got from the registry. The registry's
//!   writer schema is compiled once per id and resolved against the catalog's newest schema of
//!   the topic ([`resolve`]); what the reader cannot take fails with `incompatible_schema`, a
//!   404 with `unknown_schema`, an unreachable registry with the retryable
//!   `schema_registry_unavailable` ([`DecodeError::is_retryable`]).
//!
//! `Registry` is the *local schema catalog* (`schemas/catalog.json`), not a schema registry
//! server.
//!
//! Single-object encoding carries the CRC-64-AVRO of the Avro specification's Parsing
//! Canonical Form ([`parsing_canonical_form`], [`spec_fingerprint`]), as Java and fastavro
//! write it. gigstream before this version wrote the fingerprint of apache-avro 0.21's
//! `canonical_form` instead ([`SchemaInfo::legacy_fingerprint`]); decoding accepts both,
//! encoding writes the specification's.

mod codec;
mod container;
mod de;
mod decimal;
mod error;
mod registry;
pub mod resolve;
mod schema;
mod ser;
mod writer;

pub use codec::{Codec, Encoding};
pub use container::ContainerReader;
pub use error::{CodecError, DecodeError, EncodeError};
pub use registry::{Registry, SchemaId, SchemaInfo};
pub use resolve::{check_compatibility, Incompatibility};

/// The Avro specification's Parsing Canonical Form of a schema text (what Java's
/// `SchemaNormalization.toParsingForm` and fastavro's `to_parsing_canonical_form` give).
pub fn parsing_canonical_form(schema_json: &str) -> Result<String, CodecError> {
    let bad = |message: String| CodecError::Schema {
        file: "the given schema".into(),
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(schema_json).map_err(|e| bad(e.to_string()))?;
    schema::parsing_canonical_form(&value).map_err(bad)
}

/// The single-object encoding's fingerprint of a schema text: CRC-64-AVRO of its Parsing
/// Canonical Form (Java's `SchemaNormalization.parsingFingerprint64`). The header holds it
/// little-endian.
pub fn spec_fingerprint(schema_json: &str) -> Result<u64, CodecError> {
    parsing_canonical_form(schema_json).map(|pcf| schema::rabin(pcf.as_bytes()))
}
pub use writer::{LookupError, StaticWriterSchemas, WriterReport, WriterSchemas, NOT_FOUND_TTL};
