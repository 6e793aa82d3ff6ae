//! The client: one method per registry call, answers parsed, errors mapped.

use crate::config::RegistryConfig;
use crate::error::RegistryError;
use crate::http::{segment, Endpoint, Transport};
use gigstream_avro::{LookupError, Registry, WriterSchemas};
use gigstream_core::Topic;
use hyper::Method;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, RwLock};

/// A Confluent-compatible schema registry. Blocking, `Send + Sync`: share one (in an `Arc`)
/// between threads. Schemas by id are cached for good (ids are immutable).
pub struct SchemaRegistry {
    config: RegistryConfig,
    http: Transport,
    by_id: RwLock<HashMap<u32, Arc<str>>>,
}

/// One version of a subject (`GET /subjects/{s}/versions/{v}`, or a look-up's answer).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: u32,
    pub id: u32,
    pub schema: String,
    /// `AVRO` when absent.
    #[serde(rename = "schemaType", default)]
    pub schema_type: Option<String>,
}

/// A subject's compatibility level (`PUT /config/{subject}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompatibilityLevel {
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
    None,
}

impl CompatibilityLevel {
    pub const ALL: [CompatibilityLevel; 7] = [
        CompatibilityLevel::Backward,
        CompatibilityLevel::BackwardTransitive,
        CompatibilityLevel::Forward,
        CompatibilityLevel::ForwardTransitive,
        CompatibilityLevel::Full,
        CompatibilityLevel::FullTransitive,
        CompatibilityLevel::None,
    ];

    pub fn name(self) -> &'static str {
        match self {
            CompatibilityLevel::Backward => "BACKWARD",
            CompatibilityLevel::BackwardTransitive => "BACKWARD_TRANSITIVE",
            CompatibilityLevel::Forward => "FORWARD",
            CompatibilityLevel::ForwardTransitive => "FORWARD_TRANSITIVE",
            CompatibilityLevel::Full => "FULL",
            CompatibilityLevel::FullTransitive => "FULL_TRANSITIVE",
            CompatibilityLevel::None => "NONE",
        }
    }

    /// Checked against every version, not only the latest.
    pub fn is_transitive(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::FullTransitive
        )
    }

    /// The new schema must read data of the old versions.
    fn backward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Backward
                | CompatibilityLevel::BackwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }

    /// The old versions must read data of the new schema.
    fn forward(self) -> bool {
        matches!(
            self,
            CompatibilityLevel::Forward
                | CompatibilityLevel::ForwardTransitive
                | CompatibilityLevel::Full
                | CompatibilityLevel::FullTransitive
        )
    }
}

impl fmt::Display for CompatibilityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CompatibilityLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<CompatibilityLevel, String> {
        CompatibilityLevel::ALL
            .into_iter()
            .find(|l| l.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!("unknown compatibility level '{s}': expected BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE")
            })
    }
}

/// Which stored version a compatibility check compares with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    Latest,
    Number(u32),
}

impl fmt::Display for VersionSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionSelector::Latest => f.write_str("latest"),
            VersionSelector::Number(n) => write!(f, "{n}"),
        }
    }
}

/// Who decided a [`CompatReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckedBy {
    /// The registry (`POST /compatibility/...`), under the subject's level.
    Registry,
    /// gigstream's own resolution rules (`gigstream_avro::check_compatibility`), against
    /// versions fetched from the registry.
    Local,
}

/// Whether a schema may be registered under a subject, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompatReport {
    pub is_compatible: bool,
    /// What is incompatible, in plain words. Registries may give none (Apicurio does not,
    /// even with `verbose=true`): [`SchemaRegistry::check_all_versions`] always says where.
    pub messages: Vec<String>,
    pub checked_by: CheckedBy,
}

/// The subject and id a topic's schema is registered under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub subject: String,
    pub id: u32,
}

#[derive(Deserialize)]
struct SchemaAnswer {
    schema: String,
    #[serde(rename = "schemaType", default)]
    schema_type: Option<String>,
}

#[derive(Deserialize)]
struct IdAnswer {
    id: u32,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    error_code: Option<u32>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Deserialize)]
struct CompatAnswer {
    is_compatible: bool,
    #[serde(default)]
    messages: Vec<String>,
}

#[derive(Deserialize)]
struct ConfigAnswer {
    #[serde(default)]
    compatibility: Option<String>,
    #[serde(rename = "compatibilityLevel", default)]
    compatibility_level: Option<String>,
}

/// The JSON body `{"schema": "<text>"}`: the text escaped as a JSON string.
pub(crate) fn schema_body(schema_text: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "schema": schema_text }))
        .expect("invariant: a JSON object of a string serializes")
}

impl SchemaRegistry {
    /// A client for `config.url`. Reads the CA file now; connects at the first request.
    pub fn new(config: RegistryConfig) -> Result<SchemaRegistry, RegistryError> {
        let bad = |message: String| RegistryError::Config { message };
        let endpoint = Endpoint::parse(&config.url).map_err(bad)?;
        if config.password.is_some() && config.username.is_none() {
            return Err(bad(
                "a password without a username: set both for basic auth".into(),
            ));
        }
        let auth = config.username.as_deref().map(|u| {
            (
                u,
                config.password.as_ref().map(|p| p.expose()).unwrap_or(""),
            )
        });
        if config.timeout.is_zero() {
            return Err(bad("the timeout must be more than 0".into()));
        }
        let http = Transport::new(
            endpoint,
            config.ca_location.as_deref(),
            auth,
            config.timeout,
        )
        .map_err(bad)?;
        Ok(SchemaRegistry {
            config,
            http,
            by_id: RwLock::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// The base URL as messages show it (no credentials).
    pub fn url(&self) -> &str {
        &self.http.endpoint.display
    }

    /// The subject of `topic_name`'s values with the configured strategy.
    pub fn subject(&self, topic_name: &str, record_full_name: &str) -> String {
        self.config
            .subject_strategy
            .subject(topic_name, record_full_name)
    }

    /// The subject of a gigstream topic (its record is the catalog's, e.g.
    /// `gigstream.orders.OrderRecord`).
    pub fn topic_subject(&self, topic: Topic) -> String {
        self.subject(topic.name(), Registry::record_name(topic))
    }

    /// The schema text registered under `id` (`GET /schemas/ids/{id}`); cached for good.
    pub fn schema_by_id(&self, id: u32) -> Result<Arc<str>, RegistryError> {
        if let Some(s) = self
            .by_id
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&id)
        {
            return Ok(s.clone());
        }
        let path = format!("/schemas/ids/{id}");
        let answer: SchemaAnswer =
            self.json(Method::GET, &path, None, || format!("schema id {id}"))?;
        match answer.schema_type.as_deref() {
            None | Some("AVRO") => {}
            Some(other) => {
                return Err(RegistryError::NotAvro {
                    request: self.http.describe(&Method::GET, &path),
                    id,
                    schema_type: other.to_string(),
                })
            }
        }
        let text: Arc<str> = answer.schema.into();
        self.by_id
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, text.clone());
        Ok(text)
    }

    /// Registers `schema_text` under `subject` (`POST /subjects/{subject}/versions`) and
    /// returns its id; the id it already has if the same text is registered. 409: not
    /// compatible under the subject's level; 422: not a valid schema.
    pub fn register(&self, subject: &str, schema_text: &str) -> Result<u32, RegistryError> {
        let path = format!("/subjects/{}/versions", segment(subject));
        let a: IdAnswer = self.json(Method::POST, &path, Some(schema_body(schema_text)), || {
            format!("subject '{subject}'")
        })?;
        Ok(a.id)
    }

    /// The id of `schema_text` under `subject` if it is registered there
    /// (`POST /subjects/{subject}`); `None` when the subject or the schema is unknown.
    pub fn lookup(&self, subject: &str, schema_text: &str) -> Result<Option<u32>, RegistryError> {
        Ok(self.lookup_version(subject, schema_text)?.map(|v| v.id))
    }

    /// Like [`SchemaRegistry::lookup`], with the version.
    pub fn lookup_version(
        &self,
        subject: &str,
        schema_text: &str,
    ) -> Result<Option<SubjectVersion>, RegistryError> {
        let path = format!("/subjects/{}", segment(subject));
        match self.json(Method::POST, &path, Some(schema_body(schema_text)), || {
            format!("schema under subject '{subject}'")
        }) {
            Ok(v) => Ok(Some(v)),
            Err(RegistryError::NotFound {
                error_code: Some(40401 | 40403),
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The newest version of `subject` (`GET /subjects/{subject}/versions/latest`).
    pub fn latest(&self, subject: &str) -> Result<SubjectVersion, RegistryError> {
        self.version(subject, VersionSelector::Latest)
    }

    /// One version of `subject` (`GET /subjects/{subject}/versions/{version}`).
    pub fn version(
        &self,
        subject: &str,
        version: VersionSelector,
    ) -> Result<SubjectVersion, RegistryError> {
        let path = format!("/subjects/{}/versions/{version}", segment(subject));
        self.json(Method::GET, &path, None, || {
            format!("version {version} of subject '{subject}'")
        })
    }

    /// The versions of `subject`, ascending (`GET /subjects/{subject}/versions`).
    pub fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let path = format!("/subjects/{}/versions", segment(subject));
        let mut v: Vec<u32> =
            self.json(Method::GET, &path, None, || format!("subject '{subject}'"))?;
        v.sort_unstable();
        Ok(v)
    }

    /// Every subject (`GET /subjects`).
    pub fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        self.json(Method::GET, "/subjects", None, || "subjects".into())
    }

    /// Sets `subject`'s compatibility level (`PUT /config/{subject}`); returns the level the
    /// registry confirms.
    pub fn set_compatibility(
        &self,
        subject: &str,
        level: CompatibilityLevel,
    ) -> Result<CompatibilityLevel, RegistryError> {
        let path = format!("/config/{}", segment(subject));
        let body = serde_json::to_vec(&serde_json::json!({ "compatibility": level.name() }))
            .expect("invariant: serializes");
        let a: ConfigAnswer = self.json(Method::PUT, &path, Some(body), || {
            format!("subject '{subject}'")
        })?;
        self.level_of(a, &Method::PUT, &path)
    }

    /// `subject`'s compatibility level, or the global one if it has none
    /// (`GET /config/{subject}?defaultToGlobal=true`).
    pub fn compatibility(&self, subject: &str) -> Result<CompatibilityLevel, RegistryError> {
        let path = format!("/config/{}?defaultToGlobal=true", segment(subject));
        let a: ConfigAnswer = self.json(Method::GET, &path, None, || {
            format!("config of subject '{subject}'")
        })?;
        self.level_of(a, &Method::GET, &path)
    }

    fn level_of(
        &self,
        a: ConfigAnswer,
        method: &Method,
        path: &str,
    ) -> Result<CompatibilityLevel, RegistryError> {
        let text =
            a.compatibility
                .or(a.compatibility_level)
                .ok_or_else(|| RegistryError::BadAnswer {
                    request: self.http.describe(method, path),
                    message: "no compatibility level in the answer".into(),
                })?;
        text.parse().map_err(|message| RegistryError::BadAnswer {
            request: self.http.describe(method, path),
            message,
        })
    }

    /// Asks the registry whether `schema_text` may be registered under `subject`, against
    /// `version` (`POST /compatibility/subjects/{subject}/versions/{version}?verbose=true`),
    /// under the subject's level.
    pub fn check_compatibility(
        &self,
        subject: &str,
        schema_text: &str,
        version: VersionSelector,
    ) -> Result<CompatReport, RegistryError> {
        let path = format!(
            "/compatibility/subjects/{}/versions/{version}?verbose=true",
            segment(subject)
        );
        let a: CompatAnswer =
            self.json(Method::POST, &path, Some(schema_body(schema_text)), || {
                format!("version {version} of subject '{subject}'")
            })?;
        Ok(CompatReport {
            is_compatible: a.is_compatible,
            messages: a.messages,
            checked_by: CheckedBy::Registry,
        })
    }

    /// BACKWARD_TRANSITIVE, checked here: can `schema_text` (the reader) read data written
    /// with every version stored under `subject`? Uses gigstream's resolution rules (those of
    /// its decoder, [`gigstream_avro::check_compatibility`]), or apache-avro's
    /// `SchemaCompatibility` for schemas gigstream's decoder does not support, and says which
    /// version, field and type do not fit even where the registry gives no messages. A subject
    /// that does not exist is compatible.
    pub fn check_all_versions(
        &self,
        subject: &str,
        schema_text: &str,
    ) -> Result<CompatReport, RegistryError> {
        self.check_locally(subject, schema_text, CompatibilityLevel::BackwardTransitive)
    }

    /// Like [`SchemaRegistry::check_all_versions`] for any level: backward levels check that
    /// the new schema reads the stored versions' data, forward ones the reverse, full ones
    /// both; non-transitive ones only against the latest version.
    pub fn check_locally(
        &self,
        subject: &str,
        schema_text: &str,
        level: CompatibilityLevel,
    ) -> Result<CompatReport, RegistryError> {
        let mut report = CompatReport {
            is_compatible: true,
            messages: Vec::new(),
            checked_by: CheckedBy::Local,
        };
        if level == CompatibilityLevel::None {
            return Ok(report);
        }
        let versions = match self.versions(subject) {
            Ok(v) => v,
            Err(RegistryError::NotFound { .. }) => return Ok(report),
            Err(e) => return Err(e),
        };
        let chosen: Vec<u32> = if level.is_transitive() {
            versions
        } else {
            versions.last().copied().into_iter().collect()
        };
        for v in chosen {
            let stored = self.version(subject, VersionSelector::Number(v))?;
            let label = format!("version {v} (id {})", stored.id);
            if level.backward() {
                for m in local_check(&stored.schema, schema_text) {
                    report
                        .messages
                        .push(format!("{label}: the new schema cannot read its data: {m}"));
                }
            }
            if level.forward() {
                for m in local_check(schema_text, &stored.schema) {
                    report.messages.push(format!(
                        "{label}: it cannot read the new schema's data: {m}"
                    ));
                }
            }
        }
        report.is_compatible = report.messages.is_empty();
        Ok(report)
    }

    /// The id of the catalog's newest schema of `topic` in this registry, under the topic's
    /// subject: looked up, registered if absent (what a producer does before writing).
    pub fn register_topic_schema(
        &self,
        catalog: &Registry,
        topic: Topic,
    ) -> Result<Registered, RegistryError> {
        let subject = self.topic_subject(topic);
        let text = catalog
            .schema_json(catalog.latest(topic))
            .expect("invariant: the latest id is in the catalog");
        let id = match self.lookup(&subject, text)? {
            Some(id) => id,
            None => self.register(&subject, text)?,
        };
        Ok(Registered { subject, id })
    }

    /// Deletes `subject` (`DELETE /subjects/{subject}`, then with `?permanent=true` when
    /// `permanent`); returns the deleted versions.
    pub fn delete_subject(
        &self,
        subject: &str,
        permanent: bool,
    ) -> Result<Vec<u32>, RegistryError> {
        let path = format!("/subjects/{}", segment(subject));
        let soft: Vec<u32> = self.json(Method::DELETE, &path, None, || {
            format!("subject '{subject}'")
        })?;
        if !permanent {
            return Ok(soft);
        }
        let path = format!("{path}?permanent=true");
        self.json(Method::DELETE, &path, None, || {
            format!("subject '{subject}'")
        })
    }

    /// One request whose 2xx answer is JSON of type `T`.
    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        what: impl FnOnce() -> String,
    ) -> Result<T, RegistryError> {
        let request = || self.http.describe(&method, path);
        let answer = self
            .http
            .request(method.clone(), path, body)
            .map_err(|message| RegistryError::Unavailable {
                request: request(),
                message,
            })?;
        let status = answer.status;
        if (200..300).contains(&status) {
            return serde_json::from_slice(&answer.body).map_err(|e| RegistryError::BadAnswer {
                request: request(),
                message: format!(
                    "HTTP {status} with a body that is not the expected JSON ({e}): {}",
                    snippet(&answer.body)
                ),
            });
        }
        let (error_code, message) = match serde_json::from_slice::<ErrorAnswer>(&answer.body) {
            Ok(e) => (e.error_code, e.message.unwrap_or_default()),
            Err(_) => (None, snippet(&answer.body)),
        };
        Err(match status {
            404 => RegistryError::NotFound {
                what: what(),
                request: request(),
                error_code,
                message,
            },
            408 | 429 | 500..=599 => RegistryError::Unavailable {
                request: request(),
                message: format!(
                    "HTTP {status}{}{}",
                    error_code
                        .map(|c| format!(" (error_code {c})"))
                        .unwrap_or_default(),
                    if message.is_empty() {
                        String::new()
                    } else {
                        format!(": {message}")
                    }
                ),
            },
            400..=499 => RegistryError::Refused {
                request: request(),
                status,
                error_code,
                message,
            },
            _ => RegistryError::BadAnswer {
                request: request(),
                message: format!(
                    "HTTP {status} (redirects are not followed: use the final URL): {}",
                    snippet(&answer.body)
                ),
            },
        })
    }
}

/// The start of a body, for messages.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let t = text.trim();
    if t.chars().count() > 300 {
        format!("{}...", t.chars().take(300).collect::<String>())
    } else {
        t.to_string()
    }
}

/// What keeps `reader` from reading data of `writer`, in plain words; empty if nothing.
pub(crate) fn local_check(writer: &str, reader: &str) -> Vec<String> {
    match gigstream_avro::check_compatibility(writer, reader) {
        Ok(found) => found.iter().map(|f| f.to_string()).collect(),
        Err(ours) => {
            // Valid Avro that gigstream's decoder does not support (recursive types, ...):
            // apache-avro's check, or why neither could check.
            let parse = |t: &str| apache_avro::Schema::parse_str(t);
            match (parse(writer), parse(reader)) {
                (Ok(w), Ok(r)) => {
                    match apache_avro::schema_compatibility::SchemaCompatibility::can_read(&w, &r) {
                        Ok(()) => Vec::new(),
                        Err(e) => vec![format!("apache-avro: {e}")],
                    }
                }
                _ => vec![format!("cannot be checked: {ours}")],
            }
        }
    }
}

impl WriterSchemas for SchemaRegistry {
    fn schema_json(&self, id: u32) -> Result<Arc<str>, LookupError> {
        match self.schema_by_id(id) {
            Ok(text) => Ok(text),
            Err(RegistryError::NotFound { .. }) => Err(LookupError::NotFound),
            Err(e @ RegistryError::NotAvro { .. }) => Err(LookupError::NotAvro(e.to_string())),
            // Credentials refused, an odd answer: not the record's fault either, so retryable
            // for the codec (the pipeline waits, with this message, instead of dead-lettering).
            Err(RegistryError::Unavailable { request, message }) => {
                Err(LookupError::Unavailable(format!("{request}: {message}")))
            }
            Err(e) => Err(LookupError::Unavailable(e.to_string())),
        }
    }

    fn describe(&self) -> String {
        format!("schema registry {}", self.url())
    }
}

impl fmt::Debug for SchemaRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchemaRegistry")
            .field("url", &self.url())
            .field("username", &self.config.username)
            .field("password", &self.config.password.as_ref().map(|_| "***"))
            .field("ca_location", &self.config.ca_location)
            .field("timeout", &self.config.timeout)
            .field("subject_strategy", &self.config.subject_strategy)
            .field(
                "cached_ids",
                &self.by_id.read().map(|m| m.len()).unwrap_or_default(),
            )
            .finish()
    }
}
