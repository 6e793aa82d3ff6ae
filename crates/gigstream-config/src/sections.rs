//! The sections of the config file and their defaults (the `Default` impls below are the one
//! place defaults are written; `infra/gigstream.example.toml` is checked against them).

use crate::duration;
use crate::secret::{Secret, SecretSource};
use serde::de::{self, Deserializer};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// `[data]`: where the embedded log, the Parquet tables and the reference data are.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DataSettings {
    /// Holds `log/` (the embedded event log) and `tables/` (Parquet). Relative paths are taken
    /// from the working directory.
    pub data_dir: PathBuf,
    /// Reference files replacing the built-in ones (fees, tax, SLA targets, plans).
    pub reference_dir: Option<PathBuf>,
}

impl Default for DataSettings {
    fn default() -> Self {
        DataSettings {
            data_dir: PathBuf::from("data"),
            reference_dir: None,
        }
    }
}

/// `[kafka]`: read Kafka instead of the embedded log when `brokers` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`; unset means the embedded log.
    pub brokers: Option<String>,
    /// Put before every topic name and consumer group (`staging.` makes `staging.orders`).
    pub topic_prefix: String,
    /// Replicas of topics gigstream creates; -1 is the broker's default.
    pub replication_factor: i32,
    /// How long a consumer waits for its first partition assignment.
    #[serde(deserialize_with = "duration::deserialize")]
    pub assign_timeout: Duration,
    /// How long one poll waits for records.
    #[serde(deserialize_with = "duration::deserialize")]
    pub poll_wait: Duration,
    /// Timeout of metadata, admin and watermark requests.
    #[serde(deserialize_with = "duration::deserialize")]
    pub request_timeout: Duration,
    /// librdkafka properties passed through (`"security.protocol" = "SASL_SSL"`). Secret ones
    /// (passwords, client secrets, private keys) are refused here: see `secret_properties`.
    #[serde(deserialize_with = "deserialize_properties")]
    pub properties: BTreeMap<String, String>,
    /// Environment variable holding `sasl.password`.
    pub sasl_password_env: Option<String>,
    /// File holding `sasl.password` (one trailing line break is dropped).
    pub sasl_password_file: Option<PathBuf>,
    /// Other secret librdkafka properties, each `{ env = "NAME" }` or `{ file = "/path" }`
    /// (e.g. `"ssl.key.password"`, `"sasl.oauthbearer.client.secret"`).
    pub secret_properties: BTreeMap<String, SecretSource>,
    /// The secret properties, read when the configuration is loaded (from the sources above or
    /// from `GIGSTREAM_KAFKA_<KEY>` variables).
    #[serde(skip)]
    pub secrets: BTreeMap<String, Secret>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            brokers: None,
            topic_prefix: String::new(),
            replication_factor: -1,
            assign_timeout: Duration::from_secs(60),
            poll_wait: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            properties: BTreeMap::new(),
            sasl_password_env: None,
            sasl_password_file: None,
            secret_properties: BTreeMap::new(),
            secrets: BTreeMap::new(),
        }
    }
}

/// `[clickhouse]`: write ClickHouse instead of Parquet when `url` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClickHouseSettings {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`; unset means Parquet files.
    pub url: Option<String>,
    pub user: String,
    /// Every table lives here.
    pub database: String,
    /// Environment variable holding the password.
    pub password_env: Option<String>,
    /// File holding the password (one trailing line break is dropped).
    pub password_file: Option<PathBuf>,
    /// The password, read when the configuration is loaded (from the sources above or from
    /// `GIGSTREAM_CLICKHOUSE_PASSWORD`).
    #[serde(skip)]
    pub password: Option<Secret>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// One request (a query or an insert batch, with the server's work).
    #[serde(deserialize_with = "duration::deserialize")]
    pub request_timeout: Duration,
    /// Rows are sent in inserts of about this many encoded bytes.
    pub batch_bytes: usize,
    /// First wait before retrying a failed commit; doubled after each failure...
    #[serde(deserialize_with = "duration::deserialize")]
    pub retry_backoff_min: Duration,
    /// ...up to this.
    #[serde(deserialize_with = "duration::deserialize")]
    pub retry_backoff_max: Duration,
    /// Apply missing schema migrations at start (needs a user allowed DDL). Off: only check
    /// that the schema is current, and leave migrations to `gigstream migrate` run by an admin.
    pub apply_migrations: bool,
}

impl Default for ClickHouseSettings {
    fn default() -> Self {
        ClickHouseSettings {
            url: None,
            user: "default".to_string(),
            database: "gigstream".to_string(),
            password_env: None,
            password_file: None,
            password: None,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(300),
            batch_bytes: 8 << 20,
            retry_backoff_min: Duration::from_millis(200),
            retry_backoff_max: Duration::from_secs(30),
            apply_migrations: true,
        }
    }
}

/// `[service]`: how a service runs and commits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceSettings {
    /// Commit at least this often while following (`--follow`).
    #[serde(deserialize_with = "duration::deserialize")]
    pub commit_interval: Duration,
    /// Commit at least this often while catching up without `--follow`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub catch_up_commit_interval: Duration,
    /// Commit after this many records (bounds the replay after a crash).
    pub commit_every_records: u64,
    /// How long to wait when caught up while following.
    #[serde(deserialize_with = "duration::deserialize")]
    pub idle_wait: Duration,
    /// After SIGTERM/Ctrl-C: how long the last commit may take before the process exits
    /// anyway (uncommitted input is read again at the next start).
    #[serde(deserialize_with = "duration::deserialize")]
    pub shutdown_deadline: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        ServiceSettings {
            commit_interval: Duration::from_secs(1),
            catch_up_commit_interval: Duration::from_secs(30),
            commit_every_records: 5_000_000,
            idle_wait: Duration::from_millis(200),
            shutdown_deadline: Duration::from_secs(20),
        }
    }
}

/// `[http]`: the operations endpoint (`/health`, `/ready`, `/metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub enabled: bool,
    /// Address and port to listen on; keep it on 127.0.0.1 unless a scraper needs it.
    pub listen: SocketAddr,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

impl LogFormat {
    pub fn parse(s: &str) -> Option<LogFormat> {
        match s.trim().to_ascii_lowercase().as_str() {
            "human" => Some(LogFormat::Human),
            "json" => Some(LogFormat::Json),
            _ => None,
        }
    }
}

/// `[log]`: logs go to stderr.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    pub format: LogFormat,
    /// `tracing` filter: a level (`info`) or directives (`info,gigstream_runtime=debug`).
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Human,
            filter: "info".to_string(),
        }
    }
}

/// Whether a librdkafka property holds a secret that may not be written in the config file.
/// The same rule as the Kafka client's redaction, except URLs (a token endpoint is no secret).
pub fn is_secret_property(key: &str) -> bool {
    crate::is_secret(key) && !key.to_ascii_lowercase().ends_with(".url")
}

/// `[kafka.properties]`: scalars as strings; nested tables (from unquoted dotted keys such as
/// `security.protocol = "SSL"`) flattened back to dotted names; secrets refused.
fn deserialize_properties<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let table = toml::Table::deserialize(d)?;
    let mut out = BTreeMap::new();
    flatten("", table, &mut out).map_err(de::Error::custom)?;
    Ok(out)
}

fn flatten(
    prefix: &str,
    table: toml::Table,
    out: &mut BTreeMap<String, String>,
) -> Result<(), String> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k
        } else {
            format!("{prefix}.{k}")
        };
        let text = match v {
            toml::Value::Table(t) => {
                flatten(&key, t, out)?;
                continue;
            }
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(_) | toml::Value::Datetime(_) => {
                return Err(format!(
                    "librdkafka property `{key}` must be a string, number or boolean"
                ))
            }
        };
        if is_secret_property(&key) {
            return Err(format!(
                "`{key}` is a secret and may not be written in the config file; {}",
                if key == "sasl.password" {
                    "use sasl_password_env = \"NAME\" or sasl_password_file = \"/path\" in [kafka]"
                        .to_string()
                } else {
                    format!(
                        "use [kafka.secret_properties] \"{key}\" = {{ env = \"NAME\" }} or {{ file = \"/path\" }}"
                    )
                }
            ));
        }
        if key == "bootstrap.servers" {
            return Err("`bootstrap.servers` is set by `brokers` in [kafka]".to_string());
        }
        out.insert(key, text);
    }
    Ok(())
}
