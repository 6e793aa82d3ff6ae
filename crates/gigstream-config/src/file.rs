//! Parsing the TOML file, with errors that name the key, the section and the file.

use crate::error::{ConfigError, UnknownKey};
use crate::sections::*;
use crate::{Config, SECTIONS};
use std::path::Path;

pub(crate) fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
    let mut config = toml::from_str::<Config>(text).map_err(|e| explain(text, origin, &e))?;
    // Whether [http] listen was written (the services choose their own ports otherwise).
    config.http.listen_given = toml::from_str::<toml::Table>(text)
        .ok()
        .and_then(|t| t.get("http")?.as_table()?.get("listen").cloned())
        .is_some();
    Ok(config)
}

/// Line (1-based) of byte offset `pos` in `text`.
fn line_of(text: &str, pos: usize) -> usize {
    text.as_bytes()[..pos.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The names in backticks after "expected" in a serde message.
fn expected_names(message: &str) -> Vec<String> {
    let Some(i) = message.find("expected") else {
        return Vec::new();
    };
    message[i..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The unknown key of a serde "unknown field `x`, expected ..." message.
fn unknown_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    Some(rest[..rest.find('`')?].to_string())
}

/// The error deserializing section `name` alone would give, if any.
fn section_error(name: &str, value: toml::Value) -> Option<toml::de::Error> {
    match name {
        "data" => value.try_into::<DataSettings>().err(),
        "kafka" => value.try_into::<KafkaSettings>().err(),
        "clickhouse" => value.try_into::<ClickHouseSettings>().err(),
        "schema_registry" => value.try_into::<SchemaRegistrySettings>().err(),
        "service" => value.try_into::<ServiceSettings>().err(),
        "http" => value.try_into::<HttpSettings>().err(),
        "log" => value.try_into::<LogSettings>().err(),
        _ => None,
    }
}

/// The `[header]` in force at byte offset `pos` (the last table header line before it).
fn header_before(text: &str, pos: usize) -> Option<String> {
    text[..pos.min(text.len())]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .and_then(|l| {
            let inner = l.trim_start_matches('[');
            inner.find(']').map(|end| inner[..end].trim().to_string())
        })
}

fn hint(section: &str, key: &str) -> Option<String> {
    match (section, key) {
        (s, "password") if s.starts_with("clickhouse") => Some(
            "the password is never written here: use password_env = \"NAME\", \
             password_file = \"/path\", or GIGSTREAM_CLICKHOUSE_PASSWORD"
                .into(),
        ),
        (s, "password") if s.starts_with("schema_registry") => Some(
            "the password is never written here: use password_env = \"NAME\", \
             password_file = \"/path\", or GIGSTREAM_SCHEMA_REGISTRY_PASSWORD"
                .into(),
        ),
        (s, "subject_name_strategy" | "strategy" | "value_subject_name_strategy")
            if s.starts_with("schema_registry") =>
        {
            Some(
                "the key is subject_strategy (topic_name, record_name or topic_record_name)".into(),
            )
        }
        (s, "sasl_password" | "password") if s.starts_with("kafka") => Some(
            "the SASL password is never written here: use sasl_password_env = \"NAME\" or \
             sasl_password_file = \"/path\""
                .into(),
        ),
        (s, "allowed_lateness") if s.starts_with("service") => Some(
            "the allowed lateness is reference data: reference/plans.toml [pipeline], \
             replaced through [data] reference_dir"
                .into(),
        ),
        (s, k) if s.starts_with("kafka") && k.contains('.') => Some(format!(
            "librdkafka properties go in [kafka.properties]: \"{k}\" = ..."
        )),
        _ => None,
    }
}

fn explain(text: &str, origin: &Path, e: &toml::de::Error) -> ConfigError {
    let path = origin.to_path_buf();
    let message = e.message().trim().to_string();
    let line = e.span().map(|s| line_of(text, s.start));
    let Some(key) = unknown_field(&message) else {
        // `message()` is the bare message, without toml's excerpt of the source line.
        return ConfigError::Invalid {
            path,
            line,
            message,
        };
    };
    let expected = expected_names(&message);
    let table: toml::Table = match toml::from_str(text) {
        Ok(t) => t,
        Err(_) => {
            return ConfigError::Invalid {
                path,
                line,
                message,
            }
        }
    };
    if table.contains_key(&key) && !SECTIONS.contains(&key.as_str()) {
        return ConfigError::UnknownSection {
            path,
            line,
            section: key,
            expected: SECTIONS.iter().map(|s| s.to_string()).collect(),
        };
    }
    // Which section holds it: the one whose own deserialization fails the same way.
    let mut section = table
        .iter()
        .find(|(name, value)| {
            section_error(name, (*value).clone()).is_some_and(|se| se.message().trim() == message)
        })
        .map(|(name, _)| name.clone())
        .unwrap_or_else(|| "?".to_string());
    // A more precise [header] (e.g. [kafka.secret_properties."x"]) when the key sits under one.
    if let Some(h) = e.span().and_then(|s| header_before(text, s.start)) {
        if h == section || h.starts_with(&format!("{section}.")) || section == "?" {
            section = h;
        }
    }
    let hint = hint(&section, &key);
    ConfigError::UnknownKey(Box::new(UnknownKey {
        path,
        line,
        section,
        key,
        expected,
        hint,
    }))
}
