//! `gigstream schemas check|register`: the catalog's schemas (`schemas/*.avsc`) against the
//! subjects of a Confluent-compatible schema registry, before a deploy.
//!
//! The services replay from offset 0 and read every record with the catalog's newest schema
//! of its topic, so every version stored under a topic's subject must stay readable by it:
//! BACKWARD_TRANSITIVE. `check` verifies that, with gigstream's own resolution rules (the
//! decoder's: registries such as Apicurio give no reasons), for
//!
//! - the reader (the catalog's newest schema of the topic) against every stored version, and
//! - every catalog schema `register` would add (those newer than the newest catalog schema the
//!   subject holds already) against every stored version and the ones added before it,
//!
//! and says what is incompatible: subject, version, id, field and types. `register` checks,
//! then registers what is missing, in version order (and with `--set-compatibility`, sets the
//! subject's level to BACKWARD_TRANSITIVE, so that the registry refuses such a version from any
//! producer). `gigstream produce` registers the same way before it writes.
//!
//! Subjects follow `[schema_registry] subject_strategy` over the Kafka topic names (with
//! `[kafka] topic_prefix`): `<topic>-value` by default.

use anyhow::{anyhow, bail, Context, Result};
use gigstream_avro::{Registry, SchemaId};
use gigstream_core::Topic;
use gigstream_registry::{CompatibilityLevel, RegistryError, SchemaRegistry, VersionSelector};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// `gigstream schemas ...`.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum SchemasCommand {
    /// Check every catalog schema of every topic against every version under its subject
    /// (BACKWARD_TRANSITIVE: every stored version stays readable); exit 1 if one is not.
    Check(SchemasArgs),
    /// Check, then register the catalog's schemas that are missing under each topic's subject.
    Register {
        #[command(flatten)]
        args: SchemasArgs,
        /// Also set each subject's compatibility level to BACKWARD_TRANSITIVE.
        #[arg(long)]
        set_compatibility: bool,
    },
}

#[derive(clap::Args, Debug, Clone)]
pub struct SchemasArgs {
    /// Put before every topic name [default: [kafka] topic_prefix / GIGSTREAM_KAFKA_TOPIC_PREFIX]
    #[arg(long)]
    pub topic_prefix: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// A version stored under a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub version: u32,
    pub id: u32,
    pub schema: String,
}

/// What happens to one catalog schema of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Stored under the subject already, as this version and id.
    Present { version: u32, id: u32 },
    /// Missing; `register` adds it.
    Register,
    /// Registered by this run, as this version and id.
    Registered { version: u32, id: u32 },
    /// Missing, but older than a catalog schema the subject holds: not needed.
    Skip,
}

/// One catalog schema of a topic and what happens to it.
#[derive(Debug, Clone)]
pub struct CatalogSchema {
    pub id: SchemaId,
    pub version: u32,
    /// Its file in `schemas/`.
    pub file: String,
    pub action: Action,
}

/// One topic's subject, what it holds, and whether the catalog fits it.
#[derive(Debug, Clone)]
pub struct SubjectCheck {
    pub topic: Topic,
    pub kafka_topic: String,
    pub subject: String,
    /// The subject's level (or the global one), when the registry tells.
    pub compatibility: Option<CompatibilityLevel>,
    pub stored: Vec<Stored>,
    pub catalog: Vec<CatalogSchema>,
    /// What is incompatible, one line each; empty when compatible.
    pub problems: Vec<String>,
}

impl SubjectCheck {
    pub fn is_compatible(&self) -> bool {
        self.problems.is_empty()
    }

    /// The registry id of the catalog schema `id`, once it is stored.
    pub fn registry_id(&self, id: SchemaId) -> Option<u32> {
        self.catalog
            .iter()
            .find(|c| c.id == id)
            .and_then(|c| match c.action {
                Action::Present { id, .. } | Action::Registered { id, .. } => Some(id),
                Action::Register | Action::Skip => None,
            })
    }
}

/// The subjects of every topic (`kafka_topic` names each topic's Kafka topic).
#[derive(Debug, Clone)]
pub struct SchemasReport {
    pub registry: String,
    pub strategy: String,
    pub subjects: Vec<SubjectCheck>,
    pub registered: bool,
    pub compatibility_set: bool,
}

impl SchemasReport {
    pub fn incompatible(&self) -> Vec<&SubjectCheck> {
        self.subjects
            .iter()
            .filter(|s| !s.is_compatible())
            .collect()
    }

    /// The text a person reads.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} (subject strategy {})",
            self.registry, self.strategy
        );
        for s in &self.subjects {
            let level = s
                .compatibility
                .map(|l| l.name().to_string())
                .unwrap_or_else(|| "unknown".into());
            let _ = writeln!(
                out,
                "{} -> subject {} (compatibility {level})",
                s.kafka_topic, s.subject
            );
            if s.stored.is_empty() {
                let _ = writeln!(out, "  stored versions: none");
            } else {
                let list: Vec<String> = s
                    .stored
                    .iter()
                    .map(|v| format!("{} (id {})", v.version, v.id))
                    .collect();
                let _ = writeln!(out, "  stored versions: {}", list.join(", "));
            }
            for c in &s.catalog {
                let what = match &c.action {
                    Action::Present { version, id } => {
                        format!("stored as version {version} (id {id})")
                    }
                    Action::Register => "missing: `gigstream schemas register` adds it".into(),
                    Action::Registered { version, id } => {
                        format!("registered now as version {version} (id {id})")
                    }
                    Action::Skip => {
                        "missing, older than a catalog schema the subject holds: not needed".into()
                    }
                };
                let _ = writeln!(
                    out,
                    "  catalog v{} ({}, catalog id {}): {what}",
                    c.version, c.file, c.id.0
                );
            }
            if s.is_compatible() {
                let _ = writeln!(
                    out,
                    "  BACKWARD_TRANSITIVE: ok, every stored version stays readable"
                );
            } else {
                let _ = writeln!(out, "  BACKWARD_TRANSITIVE: INCOMPATIBLE");
                for p in &s.problems {
                    let _ = writeln!(out, "    {p}");
                }
            }
        }
        let bad = self.incompatible().len();
        if bad == 0 {
            let _ = writeln!(
                out,
                "ok: {} subjects checked, the catalog reads every stored version{}{}",
                self.subjects.len(),
                if self.registered {
                    "; missing schemas registered"
                } else {
                    ""
                },
                if self.compatibility_set {
                    "; compatibility set to BACKWARD_TRANSITIVE"
                } else {
                    ""
                }
            );
        } else {
            let _ = writeln!(
                out,
                "INCOMPATIBLE: {bad} of {} subjects hold versions the catalog cannot read (or would add one that cannot read them){}",
                self.subjects.len(),
                if self.registered { "; nothing was registered" } else { "" }
            );
        }
        out
    }

    pub fn to_json(&self) -> Value {
        let subjects: Vec<Value> = self
            .subjects
            .iter()
            .map(|s| {
                let catalog: Vec<Value> = s
                    .catalog
                    .iter()
                    .map(|c| {
                        let (action, version, id) = match c.action {
                            Action::Present { version, id } => ("present", Some(version), Some(id)),
                            Action::Register => ("register", None, None),
                            Action::Registered { version, id } => {
                                ("registered", Some(version), Some(id))
                            }
                            Action::Skip => ("skip", None, None),
                        };
                        json!({
                            "catalog_version": c.version,
                            "catalog_id": c.id.0,
                            "action": action,
                            "version": version,
                            "id": id,
                        })
                    })
                    .collect();
                json!({
                    "topic": s.topic.name(),
                    "kafka_topic": s.kafka_topic,
                    "subject": s.subject,
                    "compatibility": s.compatibility.map(|l| l.name()),
                    "stored": s.stored.iter().map(|v| json!({"version": v.version, "id": v.id})).collect::<Vec<_>>(),
                    "catalog": catalog,
                    "compatible": s.is_compatible(),
                    "problems": s.problems,
                })
            })
            .collect();
        json!({
            "registry": self.registry,
            "subject_strategy": self.strategy,
            "compatible": self.incompatible().is_empty(),
            "registered": self.registered,
            "compatibility_set": self.compatibility_set,
            "subjects": subjects,
        })
    }
}

/// Checks `topic`'s catalog schemas against the versions stored under its subject (see the
/// module docs); `kafka_topic` is the topic's Kafka name (the subject strategy takes it).
pub fn check_topic(
    registry: &SchemaRegistry,
    catalog: &Registry,
    topic: Topic,
    kafka_topic: &str,
) -> Result<SubjectCheck, RegistryError> {
    let subject = registry.subject(kafka_topic, Registry::record_name(topic));
    let versions = match registry.versions(&subject) {
        Ok(v) => v,
        Err(RegistryError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let mut stored = Vec::with_capacity(versions.len());
    for v in versions {
        let sv = registry.version(&subject, VersionSelector::Number(v))?;
        stored.push(Stored {
            version: sv.version,
            id: sv.id,
            schema: sv.schema,
        });
    }
    let compatibility = registry.compatibility(&subject).ok();
    let mut ours: Vec<(SchemaId, u32, String)> = catalog
        .schemas()
        .filter(|s| s.topic == topic)
        .map(|s| (s.id, s.version, s.file.to_string()))
        .collect();
    ours.sort_by_key(|(_, v, _)| *v);
    let text = |id: SchemaId| {
        catalog
            .schema_json(id)
            .expect("invariant: a listed id is in the catalog")
    };
    let mut present = Vec::with_capacity(ours.len());
    for (id, _, _) in &ours {
        present.push(registry.lookup_version(&subject, text(*id))?);
    }
    let newest_present = ours
        .iter()
        .zip(&present)
        .filter(|(_, p)| p.is_some())
        .map(|((_, v, _), _)| *v)
        .max();
    let reader = catalog.latest(topic);
    let mut problems = Vec::new();
    let mut planned: Vec<(u32, &str)> = Vec::new();
    let mut entries = Vec::with_capacity(ours.len());
    for ((id, version, file), p) in ours.iter().zip(present) {
        let action = match p {
            Some(sv) => Action::Present {
                version: sv.version,
                id: sv.id,
            },
            None if newest_present.is_some_and(|n| *version < n) => Action::Skip,
            None => Action::Register,
        };
        let checked = *id == reader || action == Action::Register;
        if checked {
            let role = if *id == reader {
                format!("catalog v{version} (the services' reader)")
            } else {
                format!("catalog v{version} (to be registered)")
            };
            for s in &stored {
                if matches!(action, Action::Present { version: pv, .. } if pv == s.version) {
                    continue; // itself
                }
                for m in findings(&s.schema, text(*id)) {
                    problems.push(format!(
                        "subject {subject}, version {} (id {}): {role} cannot read its data: {m}",
                        s.version, s.id
                    ));
                }
            }
            for (pv, ptext) in &planned {
                for m in findings(ptext, text(*id)) {
                    problems.push(format!(
                        "subject {subject}, catalog v{pv} (registered before it): {role} cannot read its data: {m}"
                    ));
                }
            }
        }
        if action == Action::Register {
            planned.push((*version, text(*id)));
        }
        entries.push(CatalogSchema {
            id: *id,
            version: *version,
            file: file.clone(),
            action,
        });
    }
    Ok(SubjectCheck {
        topic,
        kafka_topic: kafka_topic.to_string(),
        subject,
        compatibility,
        stored,
        catalog: entries,
        problems,
    })
}

/// What keeps `reader` from reading data written with `writer`, one line each.
fn findings(writer: &str, reader: &str) -> Vec<String> {
    match gigstream_avro::check_compatibility(writer, reader) {
        Ok(found) => found.iter().map(|f| f.to_string()).collect(),
        Err(e) => vec![format!("cannot be checked: {e}")],
    }
}

/// Registers the catalog schemas `check` marked [`Action::Register`], in version order.
pub fn register_missing(
    registry: &SchemaRegistry,
    catalog: &Registry,
    check: &mut SubjectCheck,
) -> Result<(), RegistryError> {
    for c in &mut check.catalog {
        if c.action != Action::Register {
            continue;
        }
        let text = catalog
            .schema_json(c.id)
            .expect("invariant: a listed id is in the catalog");
        let id = registry.register(&check.subject, text)?;
        let version = registry
            .lookup_version(&check.subject, text)?
            .map_or(0, |v| v.version);
        c.action = Action::Registered { version, id };
    }
    Ok(())
}

/// Checks every topic (`topic_name` gives its Kafka name); with `register`, registers what is
/// missing when everything is compatible, and with `set_compatibility` sets each subject's
/// level to BACKWARD_TRANSITIVE.
pub fn run(
    registry: &SchemaRegistry,
    catalog: &Registry,
    topic_name: &dyn Fn(Topic) -> String,
    register: bool,
    set_compatibility: bool,
) -> Result<SchemasReport> {
    let mut subjects = Vec::new();
    for t in Topic::ALL {
        let name = topic_name(t);
        subjects.push(
            check_topic(registry, catalog, t, &name)
                .with_context(|| format!("cannot check the subject of topic {name}"))?,
        );
    }
    let mut report = SchemasReport {
        registry: format!("schema registry {}", registry.url()),
        strategy: registry.config().subject_strategy.name().to_string(),
        subjects,
        registered: false,
        compatibility_set: false,
    };
    if register && report.incompatible().is_empty() {
        for s in &mut report.subjects {
            register_missing(registry, catalog, s)
                .with_context(|| format!("cannot register under subject {}", s.subject))?;
            if set_compatibility {
                s.compatibility = Some(
                    registry
                        .set_compatibility(&s.subject, CompatibilityLevel::BackwardTransitive)
                        .with_context(|| {
                            format!("cannot set the compatibility of subject {}", s.subject)
                        })?,
                );
            }
        }
        report.registered = true;
        report.compatibility_set = set_compatibility;
    }
    Ok(report)
}

/// For `gigstream produce`: checks and registers every topic's catalog schemas under its
/// subject, and returns the registry id of each catalog id (the ids to write). Fails, saying
/// what is incompatible, when a subject holds a version the catalog cannot read.
pub fn ensure_registered(
    registry: &SchemaRegistry,
    catalog: &Registry,
    topic_name: &dyn Fn(Topic) -> String,
) -> Result<(BTreeMap<u32, u32>, SchemasReport)> {
    let report = run(registry, catalog, topic_name, true, false)?;
    let bad = report.incompatible();
    if !bad.is_empty() {
        let problems: Vec<&str> = bad
            .iter()
            .flat_map(|s| s.problems.iter().map(String::as_str))
            .collect();
        bail!(
            "the {} holds schema versions the catalog cannot read, so nothing is produced: {} (run `gigstream schemas check`)",
            report.registry,
            problems.join("; ")
        );
    }
    let mut ids = BTreeMap::new();
    for s in &report.subjects {
        for c in &s.catalog {
            if let Some(id) = s.registry_id(c.id) {
                ids.insert(c.id.0, id);
            }
        }
    }
    for t in Topic::ALL {
        let latest = catalog.latest(t);
        if !ids.contains_key(&latest.0) {
            return Err(anyhow!(
                "the newest catalog schema of {t} ({latest}) has no id in the {}",
                report.registry
            ));
        }
    }
    Ok((ids, report))
}
