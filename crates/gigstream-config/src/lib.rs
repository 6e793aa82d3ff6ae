//! One typed configuration for every gigstream service.
//!
//! Settings come from, each overriding the one before:
//!
//! 1. the defaults ([`Config::default`], the `Default` impls in [`sections`]);
//! 2. a TOML file, when `--config FILE` is given or `GIGSTREAM_CONFIG` names one
//!    (`infra/gigstream.example.toml` shows every key with its default);
//! 3. environment variables `GIGSTREAM_<SECTION>_<KEY>` (see [`env`]), including the names the
//!    services have always read (`GIGSTREAM_KAFKA_BROKERS`, `GIGSTREAM_CLICKHOUSE_URL`,
//!    `GIGSTREAM_DATA_DIR`, `GIGSTREAM_COMMIT_INTERVAL_MS`, `RUST_LOG`, ...).
//!
//! Command-line flags a binary has (`--data-dir`, `--follow`) apply after all three.
//!
//! This is the one place settings are read, by the services, the `gigstream` command and the
//! tests alike: the client crates take the plain settings built here ([`KafkaConfig`],
//! [`ClickHouseConfig`], [`SchemaRegistryConfig`]) and read no environment variable
//! themselves.
//!
//! Unknown sections and keys in the file are refused, naming the key, the section and the
//! file. Secrets (the ClickHouse and schema registry passwords, `sasl.password` and other
//! secret librdkafka properties) are never written in the file: it names an environment variable or a file that
//! holds them, and they are read when the configuration is loaded into [`Secret`]s, which print
//! as `***`. No error message carries a secret.
//!
//! ```no_run
//! let loaded = gigstream_config::Config::load(None)?; // or Some(path) from --config
//! let cfg = &loaded.config;
//! cfg.log.init_tracing();
//! let kafka = cfg.kafka(); // Option<KafkaConfig>, what gigstream-kafka takes
//! let clickhouse = cfg.clickhouse(); // Option<ClickHouseConfig>, what gigstream-clickhouse takes
//! let registry = cfg.schema_registry(); // Option<SchemaRegistryConfig>, what gigstream-registry takes
//! let run = cfg.run_options(true);
//! # Ok::<(), gigstream_config::ConfigError>(())
//! ```

mod clients;
pub mod duration;
pub mod env;
mod error;
mod file;
pub mod secret;
pub mod sections;

pub use clients::{
    dlq_of, is_secret, ClickHouseConfig, KafkaConfig, SchemaRegistryConfig, SubjectStrategy,
    DEFAULT_REGISTRY_TIMEOUT,
};
pub use duration::{format_duration, parse_duration};
pub use error::{ConfigError, UnknownKey};
pub use secret::{Secret, SecretError, SecretSource};
pub use sections::{
    service_port, ClickHouseSettings, DataSettings, HttpSettings, KafkaSettings, ListenPlan,
    LogColor, LogFormat, LogSettings, SchemaRegistrySettings, ServiceSettings, DEFAULT_GROUP_ID,
    DEFAULT_HTTP_PORT, PORT_ATTEMPTS, PORT_STRIDE, SERVICE_PORTS,
};

use gigstream_runtime::RunOptions;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The environment variable naming the config file when `--config` is not given.
pub const ENV_CONFIG: &str = "GIGSTREAM_CONFIG";

/// The sections of the file, in the order the example file has them.
pub const SECTIONS: &[&str] = &[
    "data",
    "kafka",
    "clickhouse",
    "schema_registry",
    "service",
    "http",
    "log",
];

/// Every setting of a service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub data: DataSettings,
    pub kafka: KafkaSettings,
    pub clickhouse: ClickHouseSettings,
    pub schema_registry: SchemaRegistrySettings,
    pub service: ServiceSettings,
    pub http: HttpSettings,
    pub log: LogSettings,
}

/// A loaded configuration and where it came from (for the start-up log line).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    /// The file read, if any.
    pub file: Option<PathBuf>,
    /// Names (never values) of the environment variables that set something.
    pub env_applied: Vec<String>,
    /// Names of `GIGSTREAM_CLICKHOUSE_*` variables that are not settings (worth a warning:
    /// maybe a typo).
    pub env_ignored: Vec<String>,
}

impl Loaded {
    /// One line for the start-up log: the file and the variables used.
    pub fn describe(&self) -> String {
        let file = match &self.file {
            Some(p) => p.display().to_string(),
            None => "none (defaults)".to_string(),
        };
        let env = if self.env_applied.is_empty() {
            "none".to_string()
        } else {
            self.env_applied.join(", ")
        };
        format!("config file: {file}; environment overrides: {env}")
    }
}

impl Config {
    /// Loads the configuration of this process: defaults, then the file (`config_arg`, from
    /// `--config`, else `GIGSTREAM_CONFIG`), then the environment; reads the secrets and checks
    /// the result.
    pub fn load(config_arg: Option<&Path>) -> Result<Loaded, ConfigError> {
        let vars: BTreeMap<String, String> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        Config::load_from(config_arg, &vars)
    }

    /// [`Config::load`] with the environment given as a map (tests, embedding).
    pub fn load_from(
        config_arg: Option<&Path>,
        vars: &BTreeMap<String, String>,
    ) -> Result<Loaded, ConfigError> {
        let file = config_arg.map(Path::to_path_buf).or_else(|| {
            vars.get(ENV_CONFIG)
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from)
        });
        let mut config = match &file {
            Some(p) => Config::from_file(p)?,
            None => Config::default(),
        };
        let report = env::apply(&mut config, vars)?;
        let lookup = |k: &str| vars.get(k).cloned();
        config.read_secrets(&lookup)?;
        config.validate()?;
        Ok(Loaded {
            config,
            file,
            env_applied: report.applied,
            env_ignored: report.ignored,
        })
    }

    /// The file's settings over the defaults, without the environment and without reading
    /// secrets.
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses config text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Config, ConfigError> {
        file::parse(text, origin)
    }

    /// Reads every secret named by the settings, unless the environment already gave it.
    fn read_secrets(&mut self, vars: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let ch = &mut self.clickhouse;
        if ch.password.is_none() {
            let source = SecretSource {
                env: ch.password_env.clone(),
                file: ch.password_file.clone(),
            };
            if source.env.is_some() || source.file.is_some() {
                ch.password = Some(source.read("[clickhouse] password", vars)?);
            }
        }
        let sr = &mut self.schema_registry;
        if sr.password.is_none() {
            let source = SecretSource {
                env: sr.password_env.clone(),
                file: sr.password_file.clone(),
            };
            if source.env.is_some() || source.file.is_some() {
                sr.password = Some(source.read("[schema_registry] password", vars)?);
            }
        }
        let k = &mut self.kafka;
        let mut sources = k.secret_properties.clone();
        if k.sasl_password_env.is_some() || k.sasl_password_file.is_some() {
            if sources.contains_key("sasl.password") {
                return Err(ConfigError::Setting {
                    what: "[kafka] sasl.password".into(),
                    message: "given both by sasl_password_env/sasl_password_file and in [kafka.secret_properties]; keep one".into(),
                });
            }
            sources.insert(
                "sasl.password".to_string(),
                SecretSource {
                    env: k.sasl_password_env.clone(),
                    file: k.sasl_password_file.clone(),
                },
            );
        }
        for (key, source) in sources {
            if k.secrets.contains_key(&key) {
                continue; // GIGSTREAM_KAFKA_<KEY> in the environment wins
            }
            let what = format!("[kafka] {key}");
            let value = source.read(&what, vars)?;
            k.secrets.insert(key, value);
        }
        Ok(())
    }

    /// Checks what each value's type cannot: non-empty names, sane intervals, a valid log
    /// filter.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |what: &str, message: &str| {
            Err(ConfigError::Setting {
                what: what.to_string(),
                message: message.to_string(),
            })
        };
        if let Some(b) = &self.kafka.brokers {
            if b.trim().is_empty() {
                return bad("[kafka] brokers", "is empty; give host:port[,host:port...]");
            }
        }
        for key in self.kafka.properties.keys() {
            if sections::is_secret_property(key) {
                return bad(
                    &format!("[kafka] properties.{key}"),
                    "is a secret; give it through [kafka.secret_properties] or the environment",
                );
            }
        }
        let group = &self.kafka.group_id;
        if group.matches(sections::GROUP_ID_SERVICE).count() != 1 {
            return bad(
                "[kafka] group_id",
                &format!(
                    "`{group}` must contain `{{service}}` once, so that every service has a \
                     group of its own (default `{DEFAULT_GROUP_ID}`; `{{service}}` alone keeps the \
                     bare service names of earlier versions)"
                ),
            );
        }
        if group.contains(char::is_whitespace) {
            return bad(
                "[kafka] group_id",
                &format!("`{group}` contains whitespace"),
            );
        }
        if self.kafka.sasl_password_env.is_some() && self.kafka.sasl_password_file.is_some() {
            return bad(
                "[kafka] sasl_password_env and sasl_password_file",
                "give one of them, not both",
            );
        }
        let ch = &self.clickhouse;
        if let Some(url) = &ch.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(
                    "[clickhouse] url",
                    &format!("`{url}` is not an http:// or https:// URL of the HTTP interface"),
                );
            }
        }
        if ch.user.trim().is_empty() {
            return bad("[clickhouse] user", "is empty");
        }
        if ch.database.trim().is_empty() {
            return bad("[clickhouse] database", "is empty");
        }
        if ch.password_env.is_some() && ch.password_file.is_some() {
            return bad(
                "[clickhouse] password_env and password_file",
                "give one of them, not both",
            );
        }
        if ch.batch_bytes == 0 {
            return bad("[clickhouse] batch_bytes", "must be above 0");
        }
        if ch.retry_backoff_min.is_zero() || ch.retry_backoff_min > ch.retry_backoff_max {
            return bad(
                "[clickhouse] retry_backoff_min",
                &format!(
                    "must be above 0 and at most retry_backoff_max ({})",
                    format_duration(ch.retry_backoff_max)
                ),
            );
        }
        let sr = &self.schema_registry;
        if let Some(url) = &sr.url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return bad(
                    "[schema_registry] url",
                    &format!(
                        "`{url}` is not an http:// or https:// URL of the registry's \
                         Confluent-compatible API"
                    ),
                );
            }
            if url
                .split_once("://")
                .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'))
            {
                return bad(
                    "[schema_registry] url",
                    "carries credentials; give the user as username and the password through \
                     password_env, password_file or GIGSTREAM_SCHEMA_REGISTRY_PASSWORD",
                );
            }
        }
        if sr.password_env.is_some() && sr.password_file.is_some() {
            return bad(
                "[schema_registry] password_env and password_file",
                "give one of them, not both",
            );
        }
        if sr.password.is_some() && sr.username.is_none() {
            return bad(
                "[schema_registry] password",
                "is set without a username: basic auth needs both (username, \
                 GIGSTREAM_SCHEMA_REGISTRY_USERNAME)",
            );
        }
        if sr.timeout.is_zero() {
            return bad("[schema_registry] timeout", "must be above 0");
        }
        let s = &self.service;
        for (name, d) in [
            ("commit_interval", s.commit_interval),
            ("catch_up_commit_interval", s.catch_up_commit_interval),
            ("shutdown_deadline", s.shutdown_deadline),
        ] {
            if d.is_zero() {
                return bad(&format!("[service] {name}"), "must be above 0");
            }
        }
        if s.commit_every_records == 0 {
            return bad("[service] commit_every_records", "must be above 0");
        }
        if let Err(e) = self.log.env_filter() {
            return bad("[log] filter", &e);
        }
        Ok(())
    }

    /// Kafka client settings, or `None` for the embedded log (no `brokers`).
    pub fn kafka(&self) -> Option<KafkaConfig> {
        let k = &self.kafka;
        let mut c = KafkaConfig::new(k.brokers.clone()?);
        c.topic_prefix = k.topic_prefix.clone();
        c.group_id = k.group_id.clone();
        c.replication_factor = k.replication_factor;
        c.assign_timeout = k.assign_timeout;
        c.poll_wait = k.poll_wait;
        c.request_timeout = k.request_timeout;
        c.properties = k.properties.clone();
        for (key, secret) in &k.secrets {
            c.properties
                .insert(key.clone(), secret.expose().to_string());
        }
        Some(c)
    }

    /// ClickHouse client settings, or `None` for Parquet files (no `url`).
    pub fn clickhouse(&self) -> Option<ClickHouseConfig> {
        let ch = &self.clickhouse;
        let mut c = ClickHouseConfig::new(ch.url.clone()?);
        c.user = ch.user.clone();
        c.password = ch
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        c.database = ch.database.clone();
        c.connect_timeout = ch.connect_timeout;
        c.request_timeout = ch.request_timeout;
        c.batch_bytes = ch.batch_bytes;
        c.apply_migrations = ch.apply_migrations;
        Some(c)
    }

    /// Schema registry client settings, or `None` for the catalog's ids (no `url`).
    pub fn schema_registry(&self) -> Option<SchemaRegistryConfig> {
        let r = &self.schema_registry;
        Some(SchemaRegistryConfig {
            url: r.url.clone()?,
            username: r.username.clone(),
            password: r.password.clone(),
            ca_location: r.ca_location.clone(),
            timeout: r.timeout,
            subject_strategy: r.subject_strategy,
        })
    }

    /// The runtime's options for a run with or without `--follow`. (The commit retry backoff,
    /// `[clickhouse] retry_backoff_*`, has no field in `RunOptions` yet.)
    pub fn run_options(&self, follow: bool) -> RunOptions {
        let s = &self.service;
        RunOptions {
            follow,
            commit_every_records: s.commit_every_records,
            commit_interval: if follow {
                s.commit_interval
            } else {
                s.catch_up_commit_interval
            },
            idle_wait: s.idle_wait,
            shutdown_deadline: Some(s.shutdown_deadline),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(self.data.data_dir.clone())
    }
}

impl LogSettings {
    /// The `tracing` filter, or why `filter` is not one.
    pub fn env_filter(&self) -> Result<tracing_subscriber::EnvFilter, String> {
        tracing_subscriber::EnvFilter::try_new(&self.filter)
            .map_err(|e| format!("`{}` is not a tracing filter: {e}", self.filter))
    }

    /// Whether `human` lines carry ANSI colours: per [`LogSettings::color`], given whether
    /// stderr is a terminal now.
    pub fn ansi(&self) -> bool {
        use std::io::IsTerminal;
        self.format == LogFormat::Human
            && self
                .color
                .enabled(std::io::stderr().is_terminal(), self.no_color)
    }

    /// Installs the `tracing` subscriber (stderr, this format and filter): readable lines,
    /// coloured only on a terminal ([`LogSettings::ansi`]), or one JSON object per line (never
    /// coloured). Does nothing when one is installed already.
    pub fn init_tracing(&self) {
        let filter = self
            .env_filter()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(self.ansi());
        let _ = match self.format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Human => builder.try_init(),
        };
    }
}

/// Where the embedded backends keep their files: the log in `log/`, the Parquet tables in
/// `tables/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    pub root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> DataDir {
        DataDir { root: root.into() }
    }
    pub fn log(&self) -> PathBuf {
        self.root.join("log")
    }
    pub fn tables(&self) -> PathBuf {
        self.root.join("tables")
    }
}

#[cfg(test)]
mod tests;
