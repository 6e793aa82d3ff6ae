//! The local schema catalog (named `Registry` for history; not a schema registry server, for
//! which see `gigstream-registry`): the `.avsc` files of `schemas/` and the catalog that gives
//! each one its Confluent schema id, topic and version.

use crate::error::CodecError;
use crate::schema::{self, Node};
use gigstream_core::Topic;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// A Confluent schema-registry id (the 4 bytes after the magic byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SchemaId(pub u32);

impl fmt::Display for SchemaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "id {}", self.0)
    }
}

/// What the catalog says about one schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaInfo<'a> {
    pub id: SchemaId,
    pub topic: Topic,
    pub version: u32,
    pub file: &'a str,
    /// CRC-64-AVRO of the Avro specification's Parsing Canonical Form: the single-object
    /// encoding's fingerprint, as Java's `SchemaNormalization.parsingFingerprint64` and
    /// fastavro compute it. What [`crate::Codec::encode`] writes.
    pub fingerprint: u64,
    /// The fingerprint gigstream wrote before it followed the specification (CRC-64-AVRO of
    /// apache-avro 0.21's `canonical_form`, which keeps `precision`/`scale` and writes
    /// `{"type":"long"}` for a logical type). Still accepted when decoding, never written.
    pub legacy_fingerprint: u64,
}

pub(crate) struct Entry {
    pub id: SchemaId,
    pub topic: Topic,
    pub version: u32,
    pub file: String,
    pub json: String,
    pub node: Node,
    pub fingerprint: u64,
    pub legacy_fingerprint: u64,
    pub parsed: apache_avro::Schema,
}

/// The known writer schemas, compiled once. Look-ups by id and by fingerprint are cheap.
pub struct Registry {
    /// Sorted by id.
    entries: Vec<Entry>,
    by_fingerprint: HashMap<u64, usize>,
    latest: [SchemaId; 3],
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalog {
    schemas: Vec<CatalogEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogEntry {
    id: u32,
    topic: Topic,
    version: u32,
    file: String,
}

const BUILTIN_CATALOG: &str = include_str!("../../../schemas/catalog.json");
const BUILTIN_FILES: &[(&str, &str)] = &[
    (
        "orders.v1.avsc",
        include_str!("../../../schemas/orders.v1.avsc"),
    ),
    (
        "orders.v2.avsc",
        include_str!("../../../schemas/orders.v2.avsc"),
    ),
    (
        "usage.v1.avsc",
        include_str!("../../../schemas/usage.v1.avsc"),
    ),
    (
        "usage.v2.avsc",
        include_str!("../../../schemas/usage.v2.avsc"),
    ),
    (
        "telemetry.v1.avsc",
        include_str!("../../../schemas/telemetry.v1.avsc"),
    ),
    (
        "telemetry.v2.avsc",
        include_str!("../../../schemas/telemetry.v2.avsc"),
    ),
];

/// The top-level record a topic's schemas must declare.
pub(crate) fn record_name(topic: Topic) -> &'static str {
    match topic {
        Topic::Orders => "gigstream.orders.OrderRecord",
        Topic::Usage => "gigstream.usage.UsageRecord",
        Topic::Telemetry => "gigstream.telemetry.TelemetryRecord",
    }
}

pub(crate) fn topic_of_record(fullname: &str) -> Option<Topic> {
    Topic::ALL.into_iter().find(|&t| record_name(t) == fullname)
}

fn topic_index(topic: Topic) -> usize {
    match topic {
        Topic::Orders => 0,
        Topic::Usage => 1,
        Topic::Telemetry => 2,
    }
}

impl Registry {
    /// The schemas compiled into this binary from `schemas/` (validated by this crate's tests).
    pub fn builtin() -> Arc<Registry> {
        static BUILTIN: OnceLock<Arc<Registry>> = OnceLock::new();
        BUILTIN
            .get_or_init(|| {
                let files = |name: &str| {
                    BUILTIN_FILES
                        .iter()
                        .find(|(f, _)| *f == name)
                        .map(|(_, text)| text.to_string())
                        .ok_or_else(|| CodecError::Catalog(format!("{name} is not embedded")))
                };
                Arc::new(
                    Registry::from_sources(BUILTIN_CATALOG, files)
                        .expect("invariant: the embedded schemas load (tested)"),
                )
            })
            .clone()
    }

    /// Loads `catalog.json` and the schema files it names from `dir`.
    pub fn load(dir: &Path) -> Result<Arc<Registry>, CodecError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| CodecError::Io { path, source })
        };
        let catalog = read("catalog.json")?;
        Registry::from_sources(&catalog, read).map(Arc::new)
    }

    fn from_sources(
        catalog: &str,
        read: impl Fn(&str) -> Result<String, CodecError>,
    ) -> Result<Registry, CodecError> {
        let catalog: Catalog =
            serde_json::from_str(catalog).map_err(|e| CodecError::Catalog(e.to_string()))?;
        let mut entries = Vec::with_capacity(catalog.schemas.len());
        for c in catalog.schemas {
            let json = read(&c.file)?;
            let bad = |message: String| CodecError::Schema {
                file: c.file.clone(),
                message,
            };
            let parsed = apache_avro::Schema::parse_str(&json).map_err(|e| bad(e.to_string()))?;
            let value: serde_json::Value =
                serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?;
            let node = schema::compile(&value).map_err(bad)?;
            match &node {
                Node::Record(r) if r.fullname == record_name(c.topic) => {}
                _ => {
                    return Err(bad(format!(
                        "the top-level type must be the record {}",
                        record_name(c.topic)
                    )))
                }
            }
            let fingerprint = schema::rabin(
                schema::parsing_canonical_form(&value)
                    .map_err(bad)?
                    .as_bytes(),
            );
            let legacy_fingerprint = schema::rabin(parsed.canonical_form().as_bytes());
            entries.push(Entry {
                id: SchemaId(c.id),
                topic: c.topic,
                version: c.version,
                file: c.file,
                json,
                node,
                fingerprint,
                legacy_fingerprint,
                parsed,
            });
        }
        entries.sort_by_key(|e| e.id);
        let mut by_fingerprint = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if i > 0 && entries[i - 1].id == e.id {
                return Err(CodecError::Catalog(format!(
                    "schema {} is listed twice",
                    e.id
                )));
            }
            if entries
                .iter()
                .any(|o| o.id != e.id && o.topic == e.topic && o.version == e.version)
            {
                return Err(CodecError::Catalog(format!(
                    "topic {} has two schemas with version {}",
                    e.topic, e.version
                )));
            }
            for fp in [e.fingerprint, e.legacy_fingerprint] {
                if by_fingerprint.insert(fp, i).is_some_and(|other| other != i) {
                    return Err(CodecError::Catalog(format!(
                        "{} has the same canonical form (or fingerprint) as another schema",
                        e.file
                    )));
                }
            }
        }
        let mut latest = [SchemaId(0); 3];
        for topic in Topic::ALL {
            latest[topic_index(topic)] = entries
                .iter()
                .filter(|e| e.topic == topic)
                .max_by_key(|e| e.version)
                .map(|e| e.id)
                .ok_or_else(|| CodecError::Catalog(format!("no schema for topic {topic}")))?;
        }
        Ok(Registry {
            entries,
            by_fingerprint,
            latest,
        })
    }

    /// The full name of the top-level record every schema of `topic` declares
    /// (`gigstream.orders.OrderRecord`): what a schema registry's record-name subject
    /// strategies use.
    pub fn record_name(topic: Topic) -> &'static str {
        record_name(topic)
    }

    /// The id of the topic's newest schema version: what producers write.
    pub fn latest(&self, topic: Topic) -> SchemaId {
        self.latest[topic_index(topic)]
    }

    /// The schema text as stored in `schemas/`.
    pub fn schema_json(&self, id: SchemaId) -> Option<&str> {
        self.entry(id).map(|e| e.json.as_str())
    }

    /// The schema as parsed by apache-avro (for compatibility checks and cross-checks).
    pub fn avro_schema(&self, id: SchemaId) -> Option<&apache_avro::Schema> {
        self.entry(id).map(|e| &e.parsed)
    }

    /// The id of a topic's schema version, if registered.
    pub fn id_of(&self, topic: Topic, version: u32) -> Option<SchemaId> {
        self.entries
            .iter()
            .find(|e| e.topic == topic && e.version == version)
            .map(|e| e.id)
    }

    pub fn info(&self, id: SchemaId) -> Option<SchemaInfo<'_>> {
        self.entry(id).map(Entry::info)
    }

    /// Every registered schema, by id.
    pub fn schemas(&self) -> impl Iterator<Item = SchemaInfo<'_>> {
        self.entries.iter().map(Entry::info)
    }

    pub(crate) fn entry(&self, id: SchemaId) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&id, |e| e.id)
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The schema whose fingerprint (the specification's or the legacy one) this is.
    pub(crate) fn by_fingerprint(&self, fingerprint: u64) -> Option<&Entry> {
        self.by_fingerprint
            .get(&fingerprint)
            .map(|&i| &self.entries[i])
    }
}

impl Entry {
    fn info(&self) -> SchemaInfo<'_> {
        SchemaInfo {
            id: self.id,
            topic: self.topic,
            version: self.version,
            file: &self.file,
            fingerprint: self.fingerprint,
            legacy_fingerprint: self.legacy_fingerprint,
        }
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.schemas()).finish()
    }
}
