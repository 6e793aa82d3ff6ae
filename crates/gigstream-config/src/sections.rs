//! The sections of the config file and their defaults (the `Default` impls below are the one
//! place defaults are written; `infra/gigstream.example.toml` is checked against them).

use crate::clients::SubjectStrategy;
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

/// The default consumer group template: `gigstream-billing`, `gigstream-sla`,
/// `gigstream-market` (after the topic prefix). Deployments that ran with the bare service
/// names set `group_id = "{service}"` to keep their committed offsets.
pub const DEFAULT_GROUP_ID: &str = "gigstream-{service}";

/// The placeholder of [`KafkaSettings::group_id`].
pub const GROUP_ID_SERVICE: &str = "{service}";

/// `[kafka]`: read Kafka instead of the embedded log when `brokers` is set.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `host:port[,host:port...]`; unset means the embedded log.
    pub brokers: Option<String>,
    /// Put before every topic name and consumer group (`staging.` makes `staging.orders`).
    pub topic_prefix: String,
    /// The consumer group of each service, after `topic_prefix`: `{service}` is replaced by
    /// the service's name (`billing`, `sla`, `market`). Default `gigstream-{service}`; before
    /// it was configurable the group was `{service}` (see [`DEFAULT_GROUP_ID`]).
    pub group_id: String,
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
            group_id: DEFAULT_GROUP_ID.to_string(),
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

/// `[schema_registry]`: resolve Confluent schema ids through a Confluent-compatible schema
/// registry (Confluent, Apicurio's `ccompat` API, Karapace, Redpanda) when `url` is set;
/// unset means the ids of `schemas/catalog.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SchemaRegistrySettings {
    /// The base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081`, or
    /// `http://127.0.0.1:8080/apis/ccompat/v7` for Apicurio; no credentials in it.
    pub url: Option<String>,
    /// Basic-auth user (Confluent Cloud: the API key).
    pub username: Option<String>,
    /// Environment variable holding the basic-auth password.
    pub password_env: Option<String>,
    /// File holding the password (one trailing line break is dropped).
    pub password_file: Option<PathBuf>,
    /// The password, read when the configuration is loaded (from the sources above or from
    /// `GIGSTREAM_SCHEMA_REGISTRY_PASSWORD`).
    #[serde(skip)]
    pub password: Option<Secret>,
    /// A PEM file of the CA certificates to trust for `https` (instead of the system's).
    pub ca_location: Option<PathBuf>,
    /// One request: connect, TLS, send, answer.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// How a topic's subject is named: `topic_name` (`<topic>-value`), `record_name`
    /// (`<record full name>`) or `topic_record_name` (`<topic>-<record full name>`).
    #[serde(deserialize_with = "deserialize_strategy")]
    pub subject_strategy: SubjectStrategy,
}

impl Default for SchemaRegistrySettings {
    fn default() -> Self {
        SchemaRegistrySettings {
            url: None,
            username: None,
            password_env: None,
            password_file: None,
            password: None,
            ca_location: None,
            timeout: crate::clients::DEFAULT_REGISTRY_TIMEOUT,
            subject_strategy: SubjectStrategy::TopicName,
        }
    }
}

fn deserialize_strategy<'de, D: Deserializer<'de>>(d: D) -> Result<SubjectStrategy, D::Error> {
    let text = String::deserialize(d)?;
    text.parse().map_err(de::Error::custom)
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
    /// Address and port to listen on; keep it on 127.0.0.1 unless a scraper needs it. When it
    /// is not given (in the file or as `GIGSTREAM_HTTP_LISTEN`), each service binary listens on
    /// 127.0.0.1 at its own port ([`SERVICE_PORTS`]), or at the next one of its ports when
    /// another instance holds that one ([`HttpSettings::listen_plan`]); this value is then
    /// what `gigstream run` uses.
    pub listen: SocketAddr,
    /// Whether `listen` was given (by the file or the environment), not defaulted.
    #[serde(skip)]
    pub listen_given: bool,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], DEFAULT_HTTP_PORT)),
            listen_given: false,
        }
    }
}

/// The port of `[http] listen` when nothing else applies (and `gigstream run`'s).
pub const DEFAULT_HTTP_PORT: u16 = 9464;

/// Each service binary's own default port: on one host the three services (and, at the next
/// ports of each, more instances) listen side by side. The same ports the compose file maps
/// to the host.
pub const SERVICE_PORTS: [(&str, u16); 3] = [("billing", 9464), ("sla", 9465), ("market", 9466)];

/// The distance between the ports of one service's instances: 3, so that a second instance of
/// one service never takes another service's default port (billing 9464, 9467, 9470, ...;
/// sla 9465, 9468, ...; market 9466, 9469, ...), whatever order they start in.
pub const PORT_STRIDE: u16 = 3;

/// How many ports of its own a service tries before giving up (instances per service on one
/// host with the defaults): 127.0.0.1:9464 to :9493.
pub const PORT_ATTEMPTS: u16 = 10;

/// Where a service's operations endpoint listens: the first address, then the others in
/// order while the previous ones are in use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenPlan {
    pub addresses: Vec<SocketAddr>,
    /// The address was configured: no other is tried.
    pub explicit: bool,
}

impl HttpSettings {
    /// Where `service` listens: the configured address alone when one was given, else
    /// 127.0.0.1 at the service's ports ([`SERVICE_PORTS`], then every [`PORT_STRIDE`]th port
    /// after it, [`PORT_ATTEMPTS`] in all). A service not in the table starts at 9464.
    pub fn listen_plan(&self, service: &str) -> ListenPlan {
        if self.listen_given {
            return ListenPlan {
                addresses: vec![self.listen],
                explicit: true,
            };
        }
        let base = service_port(service);
        let addresses = (0..PORT_ATTEMPTS)
            .map(|i| SocketAddr::from(([127, 0, 0, 1], base + i * PORT_STRIDE)))
            .collect();
        ListenPlan {
            addresses,
            explicit: false,
        }
    }
}

/// The default port of `service` ([`SERVICE_PORTS`]; 9464 for any other name).
pub fn service_port(service: &str) -> u16 {
    SERVICE_PORTS
        .iter()
        .find(|(s, _)| *s == service)
        .map(|(_, p)| *p)
        .unwrap_or(DEFAULT_HTTP_PORT)
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

/// When log lines carry ANSI colours (`format = "human"` only; JSON never has any).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogColor {
    /// Colours when stderr is a terminal and `NO_COLOR` is not set; plain text into a file,
    /// a pipe or a container's log.
    Auto,
    Always,
    Never,
}

impl LogColor {
    pub fn parse(s: &str) -> Option<LogColor> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Some(LogColor::Auto),
            "always" => Some(LogColor::Always),
            "never" => Some(LogColor::Never),
            _ => None,
        }
    }

    /// Whether to colour, given whether stderr is a terminal and whether `NO_COLOR` is set
    /// (to anything but the empty string, as no-color.org has it).
    pub fn enabled(self, terminal: bool, no_color: bool) -> bool {
        match self {
            LogColor::Always => true,
            LogColor::Never => false,
            LogColor::Auto => terminal && !no_color,
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
    /// ANSI colours in `human` lines: `auto` (only on a terminal), `always`, `never`.
    pub color: LogColor,
    /// Whether `NO_COLOR` was set (read with the environment).
    #[serde(skip)]
    pub no_color: bool,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Human,
            filter: "info".to_string(),
            color: LogColor::Auto,
            no_color: false,
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
        if key == "group.id" {
            return Err(
                "`group.id` is set per service by `group_id` in [kafka] (e.g. \"gigstream-{service}\")"
                    .to_string(),
            );
        }
        out.insert(key, text);
    }
    Ok(())
}
