//! Environment overrides: `GIGSTREAM_<SECTION>_<KEY>` sets `<key>` of `[<section>]`.
//!
//! | variable | setting |
//! |---|---|
//! | `GIGSTREAM_DATA_DIR`, `GIGSTREAM_REFERENCE_DIR` | `[data] data_dir`, `reference_dir` |
//! | `GIGSTREAM_KAFKA_BROKERS`, `_TOPIC_PREFIX`, `_GROUP_ID`, `_REPLICATION_FACTOR`, `_ASSIGN_TIMEOUT`, `_POLL_WAIT`, `_REQUEST_TIMEOUT`, `_SASL_PASSWORD_ENV`, `_SASL_PASSWORD_FILE` | `[kafka]` keys |
//! | any other `GIGSTREAM_KAFKA_<KEY>` | librdkafka property `<key>` lowercased, `_` read as `.`, `__` as `_` (`GIGSTREAM_KAFKA_SASL_MECHANISM` → `sasl.mechanism`); secret ones (`GIGSTREAM_KAFKA_SASL_PASSWORD`) are kept as secrets |
//! | `GIGSTREAM_CLICKHOUSE_URL`, `_USER`, `_PASSWORD` (a secret), `_DATABASE`, `_PASSWORD_ENV`, `_PASSWORD_FILE`, `_CONNECT_TIMEOUT`, `_REQUEST_TIMEOUT`, `_BATCH_BYTES`, `_RETRY_BACKOFF_MIN`, `_RETRY_BACKOFF_MAX`, `_APPLY_MIGRATIONS` | `[clickhouse]` keys (an empty `_URL` means no ClickHouse, as before) |
//! | `GIGSTREAM_SCHEMA_REGISTRY_URL`, `_USERNAME`, `_PASSWORD` (a secret), `_PASSWORD_ENV`, `_PASSWORD_FILE`, `_CA_LOCATION`, `_TIMEOUT`, `_SUBJECT_STRATEGY` (`topic_name`, `record_name`, `topic_record_name`) | `[schema_registry]` keys (an empty `_URL` means no registry: the catalog's ids) |
//! | `GIGSTREAM_SERVICE_COMMIT_INTERVAL`, `_CATCH_UP_COMMIT_INTERVAL`, `_COMMIT_EVERY_RECORDS`, `_IDLE_WAIT`, `_SHUTDOWN_DEADLINE` | `[service]` keys; the older `GIGSTREAM_COMMIT_INTERVAL_MS` (milliseconds) sets both intervals unless the new names are set |
//! | `GIGSTREAM_HTTP_ENABLED`, `GIGSTREAM_HTTP_LISTEN` | `[http]` keys |
//! | `GIGSTREAM_LOG_FORMAT`, `GIGSTREAM_LOG_FILTER`, `GIGSTREAM_LOG_COLOR` | `[log]` keys; `RUST_LOG` sets `filter` too, below `GIGSTREAM_LOG_FILTER`; `NO_COLOR` (any non-empty value) turns colours off where `color = "auto"` |
//!
//! Durations take the file's form (`"10s"`), booleans `true`/`false`/`1`/`0`. An unknown
//! `GIGSTREAM_{DATA,SCHEMA_REGISTRY,SERVICE,HTTP,LOG}_*` name is an error (those prefixes are the config's
//! alone); unknown `GIGSTREAM_CLICKHOUSE_*` names are reported in [`crate::Loaded::env_ignored`]
//! because the test scripts use that prefix too.

use crate::duration::parse_duration;
use crate::error::ConfigError;
use crate::secret::Secret;
use crate::sections::{is_secret_property, LogColor, LogFormat};
use crate::Config;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

pub const PREFIX: &str = "GIGSTREAM_";

/// What [`apply`] did.
#[derive(Debug, Default)]
pub struct Report {
    pub applied: Vec<String>,
    pub ignored: Vec<String>,
}

fn err(name: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Env {
        name: name.to_string(),
        message: message.into(),
    }
}

fn duration(name: &str, v: &str) -> Result<Duration, ConfigError> {
    parse_duration(v).map_err(|m| err(name, m))
}

fn boolean(name: &str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(err(name, format!("`{v}` is not true or false"))),
    }
}

fn number<T: std::str::FromStr>(name: &str, v: &str, what: &str) -> Result<T, ConfigError> {
    v.trim()
        .parse()
        .map_err(|_| err(name, format!("`{v}` is not {what}")))
}

fn nonempty(name: &str, v: &str) -> Result<String, ConfigError> {
    if v.trim().is_empty() {
        Err(err(name, "is empty"))
    } else {
        Ok(v.to_string())
    }
}

/// The librdkafka property of `GIGSTREAM_KAFKA_<rest>`.
pub fn env_key_to_property(rest: &str) -> String {
    rest.to_ascii_lowercase()
        .split("__")
        .map(|part| part.replace('_', "."))
        .collect::<Vec<_>>()
        .join("_")
}

/// Applies the overrides in `vars` to `c`.
pub fn apply(c: &mut Config, vars: &BTreeMap<String, String>) -> Result<Report, ConfigError> {
    let mut report = Report::default();
    // Older names first, so that the new ones win.
    if let Some(v) = vars.get("GIGSTREAM_COMMIT_INTERVAL_MS") {
        let name = "GIGSTREAM_COMMIT_INTERVAL_MS";
        let ms: u64 = number(name, v, "a whole number of milliseconds")?;
        c.service.commit_interval = Duration::from_millis(ms);
        c.service.catch_up_commit_interval = Duration::from_millis(ms);
        report.applied.push(name.to_string());
    }
    if vars.get("NO_COLOR").is_some_and(|v| !v.is_empty()) {
        c.log.no_color = true;
        report.applied.push("NO_COLOR".to_string());
    }
    if let Some(v) = vars.get("RUST_LOG").filter(|v| !v.trim().is_empty()) {
        c.log.filter = v.clone();
        report.applied.push("RUST_LOG".to_string());
    }
    for (name, v) in vars {
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let used = match rest {
            "CONFIG" | "COMMIT_INTERVAL_MS" => false,
            "DATA_DIR" => {
                c.data.data_dir = PathBuf::from(nonempty(name, v)?);
                true
            }
            "REFERENCE_DIR" => {
                c.data.reference_dir = (!v.trim().is_empty()).then(|| PathBuf::from(v));
                true
            }
            _ => {
                if let Some(key) = rest.strip_prefix("KAFKA_") {
                    kafka(c, name, key, v)?;
                    true
                } else if let Some(key) = rest.strip_prefix("CLICKHOUSE_") {
                    let known = clickhouse(c, name, key, v)?;
                    if !known {
                        report.ignored.push(name.clone());
                    }
                    known
                } else if let Some(key) = rest.strip_prefix("SCHEMA_REGISTRY_") {
                    schema_registry(c, name, key, v)?;
                    true
                } else if let Some(key) = rest.strip_prefix("SERVICE_") {
                    service(c, name, key, v)?;
                    true
                } else if let Some(key) = rest.strip_prefix("HTTP_") {
                    match key {
                        "ENABLED" => c.http.enabled = boolean(name, v)?,
                        "LISTEN" => {
                            c.http.listen = number(name, v, "an address like 127.0.0.1:9464")?;
                            c.http.listen_given = true;
                        }
                        _ => return Err(unknown(name, &["ENABLED", "LISTEN"])),
                    }
                    true
                } else if let Some(key) = rest.strip_prefix("LOG_") {
                    match key {
                        "FORMAT" => {
                            c.log.format = LogFormat::parse(v)
                                .ok_or_else(|| err(name, format!("`{v}` is not human or json")))?
                        }
                        "FILTER" => c.log.filter = nonempty(name, v)?,
                        "COLOR" => {
                            c.log.color = LogColor::parse(v).ok_or_else(|| {
                                err(name, format!("`{v}` is not auto, always or never"))
                            })?
                        }
                        _ => return Err(unknown(name, &["FORMAT", "FILTER", "COLOR"])),
                    }
                    true
                } else if rest.starts_with("DATA_") {
                    return Err(unknown(name, &[]));
                } else {
                    false // another tool's variable (GIGSTREAM_TEST_*, GIGSTREAM_BLESS, ...)
                }
            }
        };
        if used {
            report.applied.push(name.clone());
        }
    }
    Ok(report)
}

fn unknown(name: &str, keys: &[&str]) -> ConfigError {
    let rest = name.strip_prefix(PREFIX).unwrap_or("");
    let section = if rest.starts_with("SCHEMA_REGISTRY_") {
        "SCHEMA_REGISTRY"
    } else {
        rest.split('_').next().unwrap_or("")
    };
    let list = if keys.is_empty() && section == "DATA" {
        "GIGSTREAM_DATA_DIR (and GIGSTREAM_REFERENCE_DIR)".to_string()
    } else {
        keys.iter()
            .map(|k| format!("{PREFIX}{section}_{k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    err(name, format!("is not a setting; expected one of {list}"))
}

fn kafka(c: &mut Config, name: &str, key: &str, v: &str) -> Result<(), ConfigError> {
    let k = &mut c.kafka;
    match key {
        "BROKERS" => {
            if v.trim().is_empty() {
                return Err(err(name, "is empty; give host:port[,host:port...]"));
            }
            k.brokers = Some(v.to_string());
        }
        "TOPIC_PREFIX" => k.topic_prefix = v.to_string(),
        // Empty: the default (so a compose file can pass `${GIGSTREAM_KAFKA_GROUP_ID:-}`).
        "GROUP_ID" => {
            k.group_id = if v.trim().is_empty() {
                crate::DEFAULT_GROUP_ID.to_string()
            } else {
                v.to_string()
            }
        }
        "REPLICATION_FACTOR" => {
            k.replication_factor = number(name, v, "a whole number (-1: broker default)")?
        }
        "ASSIGN_TIMEOUT" => k.assign_timeout = duration(name, v)?,
        "POLL_WAIT" => k.poll_wait = duration(name, v)?,
        "REQUEST_TIMEOUT" => k.request_timeout = duration(name, v)?,
        "SASL_PASSWORD_ENV" => {
            k.sasl_password_env = Some(nonempty(name, v)?);
            k.sasl_password_file = None;
        }
        "SASL_PASSWORD_FILE" => {
            k.sasl_password_file = Some(PathBuf::from(nonempty(name, v)?));
            k.sasl_password_env = None;
        }
        "" => return Err(err(name, "empty property name")),
        _ => {
            let prop = env_key_to_property(key);
            if prop == "bootstrap.servers" {
                return Err(err(name, "use GIGSTREAM_KAFKA_BROKERS"));
            }
            if is_secret_property(&prop) {
                // A secret from the environment is allowed; it is kept as one.
                k.secrets.insert(prop, Secret::new(v));
            } else {
                k.properties.insert(prop, v.to_string());
            }
        }
    }
    Ok(())
}

/// Returns whether `key` is a `[clickhouse]` setting.
fn clickhouse(c: &mut Config, name: &str, key: &str, v: &str) -> Result<bool, ConfigError> {
    let ch = &mut c.clickhouse;
    match key {
        "URL" => ch.url = (!v.trim().is_empty()).then(|| v.to_string()),
        "USER" => ch.user = nonempty(name, v)?,
        "DATABASE" => ch.database = nonempty(name, v)?,
        "PASSWORD" => {
            // Empty means "no password" as before: the default user of a local server.
            ch.password = (!v.is_empty()).then(|| Secret::new(v));
        }
        "PASSWORD_ENV" => {
            ch.password_env = Some(nonempty(name, v)?);
            ch.password_file = None;
        }
        "PASSWORD_FILE" => {
            ch.password_file = Some(PathBuf::from(nonempty(name, v)?));
            ch.password_env = None;
        }
        "CONNECT_TIMEOUT" => ch.connect_timeout = duration(name, v)?,
        "REQUEST_TIMEOUT" => ch.request_timeout = duration(name, v)?,
        "BATCH_BYTES" => ch.batch_bytes = number(name, v, "a whole number of bytes")?,
        "RETRY_BACKOFF_MIN" => ch.retry_backoff_min = duration(name, v)?,
        "RETRY_BACKOFF_MAX" => ch.retry_backoff_max = duration(name, v)?,
        "APPLY_MIGRATIONS" => ch.apply_migrations = boolean(name, v)?,
        _ => return Ok(false),
    }
    Ok(true)
}

fn schema_registry(c: &mut Config, name: &str, key: &str, v: &str) -> Result<(), ConfigError> {
    let r = &mut c.schema_registry;
    match key {
        "URL" => r.url = (!v.trim().is_empty()).then(|| v.trim().to_string()),
        "USERNAME" => r.username = (!v.is_empty()).then(|| v.to_string()),
        "PASSWORD" => r.password = (!v.is_empty()).then(|| Secret::new(v)),
        "PASSWORD_ENV" => {
            r.password_env = Some(nonempty(name, v)?);
            r.password_file = None;
        }
        "PASSWORD_FILE" => {
            r.password_file = Some(PathBuf::from(nonempty(name, v)?));
            r.password_env = None;
        }
        "CA_LOCATION" => r.ca_location = (!v.trim().is_empty()).then(|| PathBuf::from(v)),
        "TIMEOUT" => r.timeout = duration(name, v)?,
        "SUBJECT_STRATEGY" => r.subject_strategy = v.parse().map_err(|m: String| err(name, m))?,
        _ => {
            return Err(unknown(
                name,
                &[
                    "URL",
                    "USERNAME",
                    "PASSWORD",
                    "PASSWORD_ENV",
                    "PASSWORD_FILE",
                    "CA_LOCATION",
                    "TIMEOUT",
                    "SUBJECT_STRATEGY",
                ],
            ))
        }
    }
    Ok(())
}

fn service(c: &mut Config, name: &str, key: &str, v: &str) -> Result<(), ConfigError> {
    let s = &mut c.service;
    match key {
        "COMMIT_INTERVAL" => s.commit_interval = duration(name, v)?,
        "CATCH_UP_COMMIT_INTERVAL" => s.catch_up_commit_interval = duration(name, v)?,
        "COMMIT_EVERY_RECORDS" => {
            s.commit_every_records = number(name, v, "a whole number of records")?
        }
        "IDLE_WAIT" => s.idle_wait = duration(name, v)?,
        "SHUTDOWN_DEADLINE" => s.shutdown_deadline = duration(name, v)?,
        _ => {
            return Err(unknown(
                name,
                &[
                    "COMMIT_INTERVAL",
                    "CATCH_UP_COMMIT_INTERVAL",
                    "COMMIT_EVERY_RECORDS",
                    "IDLE_WAIT",
                    "SHUTDOWN_DEADLINE",
                ],
            ))
        }
    }
    Ok(())
}
