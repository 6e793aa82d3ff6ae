//! The codec's error types: registry loading, decoding (with stable codes) and encoding.

use crate::SchemaId;
use gigstream_core::Topic;
use std::path::PathBuf;

/// Loading the schema registry failed.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid schema catalog: {0}; fix schemas/catalog.json")]
    Catalog(String),
    #[error("invalid schema {file}: {message}")]
    Schema { file: String, message: String },
}

/// Why a message could not be decoded. [`DecodeError::code`] is stable for metrics and
/// dead-letter headers; the message says what failed, with the field path when known.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("bad magic byte 0x{0:02x}: expected 0x00 (confluent), 0xc3 0x01 (avro single-object) or '{{' (json line); check the producer's serializer")]
    BadMagic(u8),
    #[error("unknown writer schema {0}: add it to schemas/catalog.json or upgrade this consumer")]
    UnknownSchema(String),
    #[error("truncated message: {0}")]
    Truncated(String),
    #[error("invalid avro data: {0}")]
    InvalidAvro(String),
    #[error("invalid json line: {0}")]
    InvalidJson(String),
    #[error("schema {id} is for topic {schema_topic}, the message came from {topic}: check the producer's topic")]
    SchemaTopicMismatch {
        id: SchemaId,
        schema_topic: Topic,
        topic: Topic,
    },
    #[error("cannot read container file: {0}")]
    Io(#[from] std::io::Error),
    /// The schema registry answered 404 for the record's Confluent id.
    #[error("writer schema id {id} is not in the {registry} (it answered 404): the producer registered it in another registry, or it was deleted; check the producer's and this consumer's schema registry url")]
    NotInRegistry { id: u32, registry: String },
    /// The writer schema cannot be read into the topic's types (or this record uses a part of
    /// it that cannot: a union branch or enum symbol the reader lacks).
    #[error("{writer} cannot be read as {reader}: {message}; upgrade this consumer if the writer schema is newer than its catalog, or keep the producers' schemas readable by it (a FULL or FORWARD compatibility level on the subject guards that)")]
    IncompatibleSchema {
        writer: String,
        reader: String,
        message: String,
    },
    /// The schema registry could not be asked for the record's writer schema. Retryable: the
    /// record is fine, the registry is not; never a dead letter.
    #[error("cannot get writer schema id {id} from the {registry}: {message}; the record is retried, not dead-lettered: check that the registry runs and is reachable")]
    SchemaRegistryUnavailable {
        id: u32,
        registry: String,
        message: String,
    },
}

impl DecodeError {
    /// Every code [`DecodeError::code`] gives.
    pub const CODES: &'static [&'static str] = &[
        "bad_magic",
        "unknown_schema",
        "truncated",
        "invalid_avro",
        "invalid_json",
        "schema_topic_mismatch",
        "io",
        "incompatible_schema",
        "schema_registry_unavailable",
    ];

    /// A stable, snake_case code for this kind of failure (one of [`DecodeError::CODES`]).
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::BadMagic(_) => "bad_magic",
            DecodeError::UnknownSchema(_) => "unknown_schema",
            DecodeError::Truncated(_) => "truncated",
            DecodeError::InvalidAvro(_) => "invalid_avro",
            DecodeError::InvalidJson(_) => "invalid_json",
            DecodeError::SchemaTopicMismatch { .. } => "schema_topic_mismatch",
            DecodeError::Io(_) => "io",
            DecodeError::NotInRegistry { .. } => "unknown_schema",
            DecodeError::IncompatibleSchema { .. } => "incompatible_schema",
            DecodeError::SchemaRegistryUnavailable { .. } => "schema_registry_unavailable",
        }
    }

    /// Whether the failure is not the record's: the schema registry could not be asked
    /// (`schema_registry_unavailable`). Such a record must not be dead-lettered, skipped or
    /// committed past: pause, back off, and decode the same record again. Every other error is
    /// the record's own and final (a dead letter).
    pub fn is_retryable(&self) -> bool {
        matches!(self, DecodeError::SchemaRegistryUnavailable { .. })
    }
}

/// Why an event could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("unknown schema {0}: use an id from schemas/catalog.json")]
    UnknownSchema(SchemaId),
    #[error("schema {id} is for topic {schema_topic}, the event belongs to {topic}")]
    TopicMismatch {
        id: SchemaId,
        schema_topic: Topic,
        topic: Topic,
    },
    #[error("cannot encode with schema {id}: {message}")]
    Value { id: SchemaId, message: String },
    #[error("cannot write json line: {0}")]
    Json(#[from] serde_json::Error),
    #[error("cannot write container file: {0}")]
    Io(#[from] std::io::Error),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed() {
        let all = [
            DecodeError::BadMagic(1),
            DecodeError::UnknownSchema(String::new()),
            DecodeError::Truncated(String::new()),
            DecodeError::InvalidAvro(String::new()),
            DecodeError::InvalidJson(String::new()),
            DecodeError::SchemaTopicMismatch {
                id: SchemaId(1),
                schema_topic: Topic::Orders,
                topic: Topic::Usage,
            },
            DecodeError::Io(std::io::Error::other("x")),
            DecodeError::IncompatibleSchema {
                writer: String::new(),
                reader: String::new(),
                message: String::new(),
            },
            DecodeError::SchemaRegistryUnavailable {
                id: 1,
                registry: String::new(),
                message: String::new(),
            },
        ];
        assert_eq!(all.len(), DecodeError::CODES.len());
        let not_found = DecodeError::NotInRegistry {
            id: 7,
            registry: "schema registry http://r:8081".into(),
        };
        assert_eq!(not_found.code(), "unknown_schema");
        let retryable: Vec<_> = all
            .iter()
            .filter(|e| e.is_retryable())
            .map(|e| e.code())
            .collect();
        assert_eq!(retryable, ["schema_registry_unavailable"]);
        assert!(!not_found.is_retryable());
        for e in &all {
            assert!(DecodeError::CODES.contains(&e.code()), "{}", e.code());
        }
    }
}
