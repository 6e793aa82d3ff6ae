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

mod codec;
mod container;
mod de;
mod decimal;
mod error;
mod registry;
mod schema;
mod ser;

pub use codec::{Codec, Encoding};
pub use container::ContainerReader;
pub use error::{CodecError, DecodeError, EncodeError};
pub use registry::{Registry, SchemaId, SchemaInfo};
