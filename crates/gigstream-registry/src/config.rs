//! What the client needs to know: the registry's URL, credentials, CA, timeout and how topics
//! map to subjects.

use crate::error::RegistryError;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A password or other secret: never printed (`Debug` and `Display` show `***`).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(secret: impl Into<String>) -> Secret {
        Secret(secret.into())
    }

    /// The secret itself, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(s.to_string())
    }
}

/// How a topic's value schema is named in the registry (Confluent's
/// `value.subject.name.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SubjectStrategy {
    /// `<topic>-value` (Confluent's default, `TopicNameStrategy`).
    #[default]
    TopicName,
    /// `<record full name>` (`RecordNameStrategy`).
    RecordName,
    /// `<topic>-<record full name>` (`TopicRecordNameStrategy`).
    TopicRecordName,
}

impl SubjectStrategy {
    /// The subject of the values of `topic_name` whose schema is the record `record_full_name`
    /// (e.g. `gigstream.orders.OrderRecord`).
    pub fn subject(self, topic_name: &str, record_full_name: &str) -> String {
        match self {
            SubjectStrategy::TopicName => format!("{topic_name}-value"),
            SubjectStrategy::RecordName => record_full_name.to_string(),
            SubjectStrategy::TopicRecordName => format!("{topic_name}-{record_full_name}"),
        }
    }

    /// The name in settings: `topic_name`, `record_name`, `topic_record_name`.
    pub fn name(self) -> &'static str {
        match self {
            SubjectStrategy::TopicName => "topic_name",
            SubjectStrategy::RecordName => "record_name",
            SubjectStrategy::TopicRecordName => "topic_record_name",
        }
    }
}

impl fmt::Display for SubjectStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SubjectStrategy {
    type Err = String;

    /// `topic_name`, `record_name`, `topic_record_name`, or Confluent's class names
    /// (`TopicNameStrategy`, `io.confluent.kafka.serializers.subject.RecordNameStrategy`, ...).
    fn from_str(s: &str) -> Result<SubjectStrategy, String> {
        let short = s.rsplit('.').next().unwrap_or(s);
        match short {
            "topic_name" | "TopicNameStrategy" => Ok(SubjectStrategy::TopicName),
            "record_name" | "RecordNameStrategy" => Ok(SubjectStrategy::RecordName),
            "topic_record_name" | "TopicRecordNameStrategy" => {
                Ok(SubjectStrategy::TopicRecordName)
            }
            _ => Err(format!(
                "unknown subject strategy '{s}': expected topic_name, record_name or topic_record_name"
            )),
        }
    }
}

/// Everything [`crate::SchemaRegistry::new`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryConfig {
    /// The base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081` (Confluent,
    /// Karapace, Redpanda) or `http://127.0.0.1:8080/apis/ccompat/v7` (Apicurio). `http` or
    /// `https`; no credentials in it.
    pub url: String,
    /// Basic-auth user (Confluent Cloud: the API key).
    pub username: Option<String>,
    /// Basic-auth password (Confluent Cloud: the API secret).
    pub password: Option<Secret>,
    /// A PEM file of CA certificates to trust for `https` (instead of the system's).
    pub ca_location: Option<PathBuf>,
    /// For a whole request: connect, TLS, send, answer.
    pub timeout: Duration,
    pub subject_strategy: SubjectStrategy,
}

/// The default [`RegistryConfig::timeout`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl RegistryConfig {
    /// `url` with no credentials, the system's CAs, a 10 s timeout and `<topic>-value`
    /// subjects.
    pub fn new(url: impl Into<String>) -> RegistryConfig {
        RegistryConfig {
            url: url.into(),
            username: None,
            password: None,
            ca_location: None,
            timeout: DEFAULT_TIMEOUT,
            subject_strategy: SubjectStrategy::TopicName,
        }
    }

    pub fn with_basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> RegistryConfig {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    pub fn with_ca_location(mut self, pem: impl Into<PathBuf>) -> RegistryConfig {
        self.ca_location = Some(pem.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> RegistryConfig {
        self.timeout = timeout;
        self
    }

    pub fn with_subject_strategy(mut self, strategy: SubjectStrategy) -> RegistryConfig {
        self.subject_strategy = strategy;
        self
    }

    /// The settings from `GIGSTREAM_SCHEMA_REGISTRY_*` variables; `None` without
    /// `GIGSTREAM_SCHEMA_REGISTRY_URL`. (The services read them through `gigstream-config`;
    /// this is for tools and tests.)
    ///
    /// | variable | setting |
    /// |---|---|
    /// | `GIGSTREAM_SCHEMA_REGISTRY_URL` | `url` |
    /// | `GIGSTREAM_SCHEMA_REGISTRY_USERNAME` | `username` |
    /// | `GIGSTREAM_SCHEMA_REGISTRY_PASSWORD`, or `_PASSWORD_ENV` (the name of a variable holding it), or `_PASSWORD_FILE` (its first line) | `password` |
    /// | `GIGSTREAM_SCHEMA_REGISTRY_CA_LOCATION` | `ca_location` |
    /// | `GIGSTREAM_SCHEMA_REGISTRY_TIMEOUT` | `timeout`: `500ms`, `10s`, `1m` |
    /// | `GIGSTREAM_SCHEMA_REGISTRY_SUBJECT_STRATEGY` | `topic_name`, `record_name`, `topic_record_name` |
    pub fn from_env() -> Result<Option<RegistryConfig>, RegistryError> {
        RegistryConfig::from_vars(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    /// [`RegistryConfig::from_env`] over any variable source.
    pub fn from_vars(
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<RegistryConfig>, RegistryError> {
        const P: &str = "GIGSTREAM_SCHEMA_REGISTRY_";
        let get = |k: &str| var(&format!("{P}{k}"));
        let bad = |k: &str, message: String| RegistryError::Config {
            message: format!("{P}{k}: {message}"),
        };
        let Some(url) = get("URL") else {
            return Ok(None);
        };
        let mut c = RegistryConfig::new(url);
        c.username = get("USERNAME");
        let given = [get("PASSWORD"), get("PASSWORD_ENV"), get("PASSWORD_FILE")];
        if given.iter().filter(|g| g.is_some()).count() > 1 {
            return Err(bad(
                "PASSWORD",
                "set one of the password, _PASSWORD_ENV (a variable's name) and _PASSWORD_FILE, not several".into(),
            ));
        }
        let [direct, env, file] = given;
        c.password = if let Some(p) = direct {
            Some(Secret(p))
        } else if let Some(name) = env {
            Some(Secret(var(&name).ok_or_else(|| {
                bad("PASSWORD_ENV", format!("the variable {name} is not set"))
            })?))
        } else if let Some(f) = file {
            let text = std::fs::read_to_string(&f)
                .map_err(|e| bad("PASSWORD_FILE", format!("cannot read {f}: {e}")))?;
            Some(Secret(text.lines().next().unwrap_or("").to_string()))
        } else {
            None
        };
        c.ca_location = get("CA_LOCATION").map(PathBuf::from);
        if let Some(t) = get("TIMEOUT") {
            c.timeout = parse_duration(&t).map_err(|m| bad("TIMEOUT", m))?;
        }
        if let Some(s) = get("SUBJECT_STRATEGY") {
            c.subject_strategy = s.parse().map_err(|m| bad("SUBJECT_STRATEGY", m))?;
        }
        Ok(Some(c))
    }
}

/// `250ms`, `10s`, `2m`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (n, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map(|i| s.split_at(i))
        .unwrap_or((s, ""));
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 500ms, 10s or 1m"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("'{s}' is not a duration like 500ms, 10s or 1m")),
    };
    if d.is_zero() {
        return Err("the timeout must be more than 0".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn subject_strategies() {
        let rec = "gigstream.orders.OrderRecord";
        assert_eq!(
            SubjectStrategy::default().subject("orders", rec),
            "orders-value"
        );
        assert_eq!(
            SubjectStrategy::RecordName.subject("orders", rec),
            "gigstream.orders.OrderRecord"
        );
        assert_eq!(
            SubjectStrategy::TopicRecordName.subject("orders", rec),
            "orders-gigstream.orders.OrderRecord"
        );
        for s in [
            SubjectStrategy::TopicName,
            SubjectStrategy::RecordName,
            SubjectStrategy::TopicRecordName,
        ] {
            assert_eq!(s.name().parse::<SubjectStrategy>(), Ok(s));
        }
        assert_eq!(
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy".parse(),
            Ok(SubjectStrategy::TopicRecordName)
        );
        assert!("topic"
            .parse::<SubjectStrategy>()
            .unwrap_err()
            .contains("topic_name"));
    }

    #[test]
    fn debug_never_prints_the_password() {
        let c = RegistryConfig::new("https://sr.example:8081")
            .with_basic_auth("api-key", "hunter2-very-secret");
        let text = format!("{c:?} {:?} {}", c.password, c.password.as_ref().unwrap());
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("api-key") && text.contains("***"), "{text}");
    }

    #[test]
    fn settings_from_variables() {
        let dir = std::env::temp_dir().join(format!("gs-registry-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pw = dir.join("pw");
        std::fs::write(&pw, "from-file\n").unwrap();
        let vars = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (format!("GIGSTREAM_SCHEMA_REGISTRY_{k}"), v.to_string()))
                .collect();
            move |k: &str| m.get(k).cloned()
        };
        assert_eq!(RegistryConfig::from_vars(vars(&[])).unwrap(), None);
        let c = RegistryConfig::from_vars(vars(&[
            ("URL", "https://sr:8081"),
            ("USERNAME", "u"),
            ("PASSWORD_FILE", pw.to_str().unwrap()),
            ("CA_LOCATION", "/etc/ca.pem"),
            ("TIMEOUT", "1500ms"),
            ("SUBJECT_STRATEGY", "record_name"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.password.as_ref().map(Secret::expose), Some("from-file"));
        assert_eq!(c.timeout, Duration::from_millis(1500));
        assert_eq!(c.subject_strategy, SubjectStrategy::RecordName);
        assert_eq!(c.ca_location, Some(PathBuf::from("/etc/ca.pem")));
        let e = RegistryConfig::from_vars(vars(&[("URL", "http://x"), ("TIMEOUT", "soon")]))
            .unwrap_err();
        assert!(
            e.to_string().contains("GIGSTREAM_SCHEMA_REGISTRY_TIMEOUT"),
            "{e}"
        );
        let e = RegistryConfig::from_vars(vars(&[
            ("URL", "http://x"),
            ("PASSWORD", "p4ss"),
            ("PASSWORD_FILE", "/f"),
        ]))
        .unwrap_err();
        assert!(!e.to_string().contains("p4ss"), "{e}");
        let mut m: HashMap<String, String> = HashMap::new();
        m.insert("GIGSTREAM_SCHEMA_REGISTRY_URL".into(), "http://x".into());
        m.insert(
            "GIGSTREAM_SCHEMA_REGISTRY_PASSWORD_ENV".into(),
            "SR_SECRET".into(),
        );
        m.insert("GIGSTREAM_SCHEMA_REGISTRY_USERNAME".into(), "u".into());
        let lookup = |k: &str| m.get(k).cloned();
        let e = RegistryConfig::from_vars(lookup).unwrap_err();
        assert!(e.to_string().contains("SR_SECRET is not set"), "{e}");
        m.insert("SR_SECRET".into(), "from-env".into());
        let c = RegistryConfig::from_vars(|k: &str| m.get(k).cloned())
            .unwrap()
            .unwrap();
        assert_eq!(c.password.unwrap().expose(), "from-env");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
