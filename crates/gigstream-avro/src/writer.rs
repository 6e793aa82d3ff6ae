//! Writer schemas the catalog does not know: Confluent ids assigned by a schema registry.
//!
//! Producers with Confluent's serializers (Java `KafkaAvroSerializer`, franz-go `sr`,
//! confluent-kafka-python) register their schema and frame each record with the id the
//! registry gave it, which need not be a `schemas/catalog.json` id. A [`Codec`] given a
//! [`WriterSchemas`] source (the `gigstream-registry` client implements it; this crate has no
//! HTTP) resolves every Confluent id through it instead of the catalog:
//!
//! 1. the first record with an id fetches the schema text ([`WriterSchemas::schema_json`]),
//!    parses it (apache-avro validates it), compiles it into the decoder's tree and resolves it
//!    against the topic's newest catalog schema (see [`crate::resolve`]);
//! 2. the result is cached for good per (topic, id), ids being immutable: later records take
//!    one `arc-swap` load (no lock, no shared write) and a binary search, then decode as fast as
//!    a catalog record.
//!
//! A registry that answers 404 gives `unknown_schema` (remembered for
//! [`NOT_FOUND_TTL`], so a run of such records does not query it once each); one that cannot
//! be reached gives the retryable `schema_registry_unavailable` (nothing is remembered: the
//! next try asks again).

use crate::codec::{decode_avro, Codec};
use crate::de::DeError;
use crate::error::DecodeError;
use crate::registry::{record_name, topic_of_record, Registry, SchemaId};
use crate::resolve::{self, Incompatibility};
use crate::schema::{self, Node};
use arc_swap::ArcSwap;
use gigstream_core::{Event, Topic};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where writer schemas come from, by Confluent id. Implemented by `gigstream-registry`'s
/// client (`GET /schemas/ids/{id}`) and by [`StaticWriterSchemas`].
pub trait WriterSchemas: Send + Sync {
    /// The Avro schema text registered under `id`.
    fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError>;

    /// Names the source in messages, e.g. `schema registry http://host:8081`. Never a secret.
    fn describe(&self) -> String;
}

/// Why [`WriterSchemas::schema_json`] has no schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The source answered that no schema has this id (HTTP 404).
    #[error("no schema has this id")]
    NotFound,
    /// The source could not be asked or did not answer (connection refused, timeout, HTTP 5xx,
    /// an unreadable answer): worth retrying later. The text says what failed.
    #[error("{0}")]
    Unavailable(String),
    /// The source answered with something that is not an Avro schema (e.g. a PROTOBUF schema).
    #[error("{0}")]
    NotAvro(String),
}

/// How long a `NotFound` answer is remembered before the source is asked again.
pub const NOT_FOUND_TTL: Duration = Duration::from_secs(30);

/// A fixed set of writer schemas by id: for tests, or ids known ahead of time.
pub struct StaticWriterSchemas {
    name: String,
    schemas: HashMap<u32, Arc<str>>,
}

impl StaticWriterSchemas {
    /// `name` appears in messages (what [`WriterSchemas::describe`] gives).
    pub fn new(name: impl Into<String>) -> StaticWriterSchemas {
        StaticWriterSchemas {
            name: name.into(),
            schemas: HashMap::new(),
        }
    }

    pub fn with(mut self, id: u32, schema_json: impl Into<Arc<str>>) -> StaticWriterSchemas {
        self.schemas.insert(id, schema_json.into());
        self
    }
}

impl WriterSchemas for StaticWriterSchemas {
    fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError> {
        self.schemas.get(&id).cloned().ok_or(LookupError::NotFound)
    }

    fn describe(&self) -> String {
        self.name.clone()
    }
}

impl fmt::Debug for StaticWriterSchemas {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.schemas.keys().collect();
        ids.sort();
        f.debug_struct("StaticWriterSchemas")
            .field("name", &self.name)
            .field("ids", &ids)
            .finish()
    }
}

/// A writer schema compiled and resolved for one topic.
pub(crate) struct Writer {
    node: Node,
    /// Every datum fails: the schema is invalid, unsupported, or its top level unreadable.
    fails: Option<Failure>,
    /// `writer schema id 17 (gigstream.orders.OrderRecord, CRC-64-AVRO 0x..., from ...)`.
    writer: String,
    /// `topic orders (catalog v2, gigstream.orders.OrderRecord)`.
    reader: String,
    findings: Vec<Incompatibility>,
}

enum Failure {
    Incompatible(String),
    /// The writer's record is another topic's.
    OtherTopic(Topic),
}

enum Slot {
    Ready(Arc<Writer>),
    NotFound(Instant),
}

/// The per-(topic, id) cache of compiled writer schemas a [`Codec`] shares between its clones.
pub(crate) struct WriterCache {
    source: Arc<dyn WriterSchemas>,
    name: String,
    /// Sorted by key; replaced whole (copy on write) when an id is added.
    slots: ArcSwap<Vec<(u64, Slot)>>,
}

fn key(topic: Topic, id: u32) -> u64 {
    let t = match topic {
        Topic::Orders => 0u64,
        Topic::Usage => 1,
        Topic::Telemetry => 2,
    };
    (t << 32) | u64::from(id)
}

impl WriterCache {
    pub(crate) fn new(source: Arc<dyn WriterSchemas>) -> WriterCache {
        WriterCache {
            name: source.describe(),
            source,
            slots: ArcSwap::from_pointee(Vec::new()),
        }
    }

    pub(crate) fn source(&self) -> &Arc<dyn WriterSchemas> {
        &self.source
    }

    /// Decodes a Confluent-framed datum written with registry id `id`.
    #[inline]
    pub(crate) fn decode(
        &self,
        reg: &Registry,
        topic: Topic,
        id: u32,
        datum: &[u8],
    ) -> Result<Event, DecodeError> {
        let k = key(topic, id);
        {
            let slots = self.slots.load();
            if let Ok(i) = slots.binary_search_by_key(&k, |s| s.0) {
                match &slots[i].1 {
                    Slot::Ready(w) => return w.decode(id, topic, datum),
                    Slot::NotFound(at) if at.elapsed() < NOT_FOUND_TTL => {
                        return Err(self.not_found(id))
                    }
                    Slot::NotFound(_) => {}
                }
            }
        }
        self.writer(reg, topic, id)?.decode(id, topic, datum)
    }

    /// The compiled writer schema of `id` for `topic`, fetched and compiled on a miss.
    pub(crate) fn writer(
        &self,
        reg: &Registry,
        topic: Topic,
        id: u32,
    ) -> Result<Arc<Writer>, DecodeError> {
        let k = key(topic, id);
        {
            let slots = self.slots.load();
            if let Ok(i) = slots.binary_search_by_key(&k, |s| s.0) {
                match &slots[i].1 {
                    Slot::Ready(w) => return Ok(w.clone()),
                    Slot::NotFound(at) if at.elapsed() < NOT_FOUND_TTL => {
                        return Err(self.not_found(id))
                    }
                    Slot::NotFound(_) => {}
                }
            }
        }
        // Fetched without any lock held: two threads missing the same id both fetch, and the
        // second insert replaces the first with an equal value.
        let text = match self.source.schema_json(id) {
            Ok(t) => t,
            Err(LookupError::NotFound) => {
                self.insert(k, || Slot::NotFound(Instant::now()));
                return Err(self.not_found(id));
            }
            Err(LookupError::Unavailable(message)) => {
                return Err(DecodeError::SchemaRegistryUnavailable {
                    id,
                    registry: self.name.clone(),
                    message,
                })
            }
            Err(LookupError::NotAvro(message)) => {
                let w = Arc::new(Writer::failed(
                    format!("writer schema id {id} (from {})", self.name),
                    reg,
                    topic,
                    message,
                ));
                let slot = w.clone();
                self.insert(k, move || Slot::Ready(slot.clone()));
                return Ok(w);
            }
        };
        let w = Arc::new(Writer::compile(id, &self.name, &text, reg, topic));
        let slot = w.clone();
        self.insert(k, move || Slot::Ready(slot.clone()));
        Ok(w)
    }

    fn insert(&self, k: u64, slot: impl Fn() -> Slot) {
        self.slots.rcu(|old| {
            let mut v: Vec<(u64, Slot)> = Vec::with_capacity(old.len() + 1);
            for (ok, s) in old.iter() {
                if *ok != k {
                    v.push((*ok, s.clone_slot()));
                }
            }
            let at = v.partition_point(|s| s.0 < k);
            v.insert(at, (k, slot()));
            v
        });
    }

    fn not_found(&self, id: u32) -> DecodeError {
        DecodeError::NotInRegistry {
            id,
            registry: self.name.clone(),
        }
    }
}

impl Slot {
    fn clone_slot(&self) -> Slot {
        match self {
            Slot::Ready(w) => Slot::Ready(w.clone()),
            Slot::NotFound(at) => Slot::NotFound(*at),
        }
    }
}

fn reader_text(reg: &Registry, topic: Topic) -> String {
    let latest = reg.latest(topic);
    let version = reg.info(latest).map(|i| i.version).unwrap_or(0);
    format!(
        "topic {topic} (catalog v{version}, {}, {latest})",
        record_name(topic)
    )
}

impl Writer {
    fn failed(writer: String, reg: &Registry, topic: Topic, message: String) -> Writer {
        Writer {
            node: Node::Null,
            fails: Some(Failure::Incompatible(message)),
            writer,
            reader: reader_text(reg, topic),
            findings: Vec::new(),
        }
    }

    fn compile(id: u32, source: &str, text: &str, reg: &Registry, topic: Topic) -> Writer {
        let plain = || format!("writer schema id {id} (from {source})");
        let invalid = |message: String| Writer::failed(plain(), reg, topic, message);
        let value: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => return invalid(format!("the writer schema is not JSON: {e}")),
        };
        if let Err(e) = apache_avro::Schema::parse(&value) {
            return invalid(format!("the writer schema is not valid Avro: {e}"));
        }
        let node = match schema::compile(&value) {
            Ok(n) => n,
            Err(e) => {
                return invalid(format!(
                    "the writer schema uses what gigstream's decoder does not support: {e}"
                ))
            }
        };
        let fingerprint = schema::parsing_canonical_form(&value)
            .map(|pcf| schema::rabin(pcf.as_bytes()))
            .ok();
        let name = match &node {
            Node::Record(r) => r.fullname.clone(),
            other => resolve::describe(other),
        };
        let writer = match fingerprint {
            Some(fp) => {
                format!("writer schema id {id} ({name}, CRC-64-AVRO {fp:#018x}, from {source})")
            }
            None => format!("writer schema id {id} ({name}, from {source})"),
        };
        let reader = reader_text(reg, topic);
        if let Node::Record(r) = &node {
            if let Some(other) = topic_of_record(&r.fullname).filter(|&t| t != topic) {
                return Writer {
                    node: Node::Null,
                    fails: Some(Failure::OtherTopic(other)),
                    writer,
                    reader,
                    findings: Vec::new(),
                };
            }
        }
        let reader_node = &reg
            .entry(reg.latest(topic))
            .expect("invariant: the latest id is in the catalog")
            .node;
        let resolved = resolve::resolve(&node, reader_node);
        let fails = match &resolved.node {
            Node::Unreadable(u) => Some(Failure::Incompatible(u.reason.clone())),
            Node::Record(_) => None,
            other => Some(Failure::Incompatible(format!(
                "the writer's top-level type is {}, the reader expects the record {}",
                resolve::describe(other),
                record_name(topic)
            ))),
        };
        Writer {
            node: resolved.node,
            fails,
            writer,
            reader,
            findings: resolved.findings,
        }
    }

    #[inline]
    fn decode(&self, id: u32, topic: Topic, datum: &[u8]) -> Result<Event, DecodeError> {
        if let Some(f) = &self.fails {
            return Err(self.failure(id, topic, f));
        }
        decode_avro(&self.node, topic, datum).map_err(|e| self.de_error(e))
    }

    #[cold]
    fn failure(&self, id: u32, topic: Topic, f: &Failure) -> DecodeError {
        match f {
            Failure::Incompatible(message) => self.incompatible(message.clone()),
            Failure::OtherTopic(schema_topic) => DecodeError::SchemaTopicMismatch {
                id: SchemaId(id),
                schema_topic: *schema_topic,
                topic,
            },
        }
    }

    #[cold]
    fn de_error(&self, e: DeError) -> DecodeError {
        if e.is_incompatible() {
            self.incompatible(e.to_string())
        } else {
            e.into_decode()
        }
    }

    fn incompatible(&self, message: String) -> DecodeError {
        DecodeError::IncompatibleSchema {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            message,
        }
    }
}

/// What the codec made of one registry writer schema for a topic (see
/// [`Codec::writer_schema_report`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterReport {
    /// `writer schema id 17 (gigstream.orders.OrderRecord, CRC-64-AVRO 0x..., from ...)`.
    pub writer: String,
    /// `topic orders (catalog v2, gigstream.orders.OrderRecord, id 2)`.
    pub reader: String,
    /// Every record of this writer schema fails with this decode error code, if any.
    pub fails: Option<String>,
    /// Every place the reader cannot take (partial ones fail only the records reaching them).
    pub findings: Vec<Incompatibility>,
}

impl Codec {
    /// Resolves Confluent ids through `source` (a schema registry) instead of the catalog. The
    /// catalog's newest schema of each topic stays the reader; single-object and JSON lines
    /// are unchanged. Clones of the returned codec share one cache.
    pub fn with_writer_schemas(self, source: Arc<dyn WriterSchemas>) -> Codec {
        self.set_writers(Some(Arc::new(WriterCache::new(source))))
    }

    /// The writer-schema source Confluent ids are resolved through, if any.
    pub fn writer_schemas(&self) -> Option<&Arc<dyn WriterSchemas>> {
        self.writers().map(WriterCache::source)
    }

    /// Fetches (if not cached) and resolves the writer schema `id` for `topic`, and says what
    /// decoding will make of it: for a startup check or an operator's question. Errors as
    /// [`Codec::decode`] would for a missing or unreachable schema; without a source, a
    /// catalog id is reported against the catalog.
    pub fn writer_schema_report(&self, topic: Topic, id: u32) -> Result<WriterReport, DecodeError> {
        let Some(cache) = self.writers() else {
            let reg = self.registry();
            let entry = reg
                .entry(SchemaId(id))
                .ok_or_else(|| DecodeError::UnknownSchema(SchemaId(id).to_string()))?;
            let text = entry.json.clone();
            let w = Writer::compile(id, "the catalog", &text, reg, topic);
            return Ok(w.report(id, topic));
        };
        let w = cache.writer(self.registry(), topic, id)?;
        Ok(w.report(id, topic))
    }
}

impl Writer {
    fn report(&self, id: u32, topic: Topic) -> WriterReport {
        WriterReport {
            writer: self.writer.clone(),
            reader: self.reader.clone(),
            fails: self
                .fails
                .as_ref()
                .map(|f| self.failure(id, topic, f).to_string()),
            findings: self.findings.clone(),
        }
    }
}

impl fmt::Debug for WriterCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterCache")
            .field("source", &self.name)
            .field("cached", &self.slots.load().len())
            .finish()
    }
}
