//! Connection settings: brokers, topic naming, and librdkafka properties passed through.

use crate::Error;
use gigstream_core::Topic;
use rdkafka::ClientConfig;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Prefix of the environment variables read by [`KafkaConfig::from_env`].
pub const ENV_PREFIX: &str = "GIGSTREAM_KAFKA_";

/// Where Kafka is and how to talk to it.
///
/// Security settings are not modelled one by one: any librdkafka property can be passed
/// through [`KafkaConfig::properties`] (`security.protocol`, `sasl.mechanism`, `sasl.username`,
/// `sasl.password`, `ssl.ca.location`, ...), from a map or from `GIGSTREAM_KAFKA_<KEY>`
/// environment variables. `Debug` hides the values of secret properties.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub brokers: String,
    /// Put before every gigstream topic name (`orders` becomes `{prefix}orders`), so several
    /// environments or test runs can share one cluster.
    pub topic_prefix: String,
    /// librdkafka properties applied to every client, after gigstream's defaults (the
    /// properties gigstream's guarantees depend on are applied last and cannot be overridden:
    /// see the producer and source docs).
    pub properties: BTreeMap<String, String>,
    /// How long a source waits for its first partition assignment before giving up.
    pub assign_timeout: Duration,
    /// How long one `poll` of a source waits for records before reporting none.
    pub poll_wait: Duration,
    /// Timeout of metadata, admin and watermark requests.
    pub request_timeout: Duration,
    /// Replicas of topics created by [`crate::ensure_topics`]; `-1` is the broker's
    /// `default.replication.factor`.
    pub replication_factor: i32,
}

impl KafkaConfig {
    /// Settings for `brokers` with defaults everywhere else.
    pub fn new(brokers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.into(),
            topic_prefix: String::new(),
            properties: BTreeMap::new(),
            assign_timeout: Duration::from_secs(60),
            poll_wait: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            replication_factor: -1,
        }
    }

    /// Reads the settings from the process environment; `None` when
    /// `GIGSTREAM_KAFKA_BROKERS` is unset (no Kafka configured).
    pub fn from_env() -> Result<Option<KafkaConfig>, Error> {
        KafkaConfig::from_vars(std::env::vars())
    }

    /// Reads the settings from `(name, value)` pairs shaped like environment variables.
    ///
    /// `GIGSTREAM_KAFKA_BROKERS`, `GIGSTREAM_KAFKA_TOPIC_PREFIX` and
    /// `GIGSTREAM_KAFKA_REPLICATION_FACTOR` are gigstream's own; every
    /// other `GIGSTREAM_KAFKA_<KEY>` becomes the librdkafka property `<key>` lowercased with `_`
    /// read as `.` (`GIGSTREAM_KAFKA_SASL_MECHANISM` → `sasl.mechanism`); a doubled `__` stands
    /// for a literal `_`.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Option<KafkaConfig>, Error> {
        let mut brokers = None;
        let mut prefix = String::new();
        let mut replication_factor = -1;
        let mut properties = BTreeMap::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            match rest {
                "BROKERS" => brokers = Some(value),
                "TOPIC_PREFIX" => prefix = value,
                "REPLICATION_FACTOR" => {
                    replication_factor = value.trim().parse().map_err(|_| Error::Setting {
                        key: name.clone(),
                        reason: format!("{value:?} is not a whole number (-1: broker default)"),
                    })?
                }
                "" => {
                    return Err(Error::Setting {
                        key: name,
                        reason: "empty property name".into(),
                    })
                }
                _ => {
                    properties.insert(env_key_to_property(rest), value);
                }
            }
        }
        let Some(brokers) = brokers else {
            return Ok(None);
        };
        if brokers.trim().is_empty() {
            return Err(Error::Setting {
                key: format!("{ENV_PREFIX}BROKERS"),
                reason: "is empty; give host:port[,host:port...]".into(),
            });
        }
        let mut cfg = KafkaConfig::new(brokers);
        cfg.topic_prefix = prefix;
        cfg.properties = properties;
        cfg.replication_factor = replication_factor;
        Ok(Some(cfg))
    }

    /// Adds one librdkafka property.
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(key.into(), value.into());
        self
    }

    /// Uses `prefix` before every topic name.
    pub fn with_topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.topic_prefix = prefix.into();
        self
    }

    /// The Kafka topic carrying `topic`.
    pub fn topic_name(&self, topic: Topic) -> String {
        format!("{}{}", self.topic_prefix, topic.name())
    }

    /// The dead-letter topic of `topic` (`<topic>.dlq`).
    pub fn dlq_name(&self, topic: Topic) -> String {
        dlq_of(&self.topic_name(topic))
    }

    /// A raw librdkafka configuration (brokers and the user's properties), for clients this
    /// crate does not wrap.
    pub fn rdkafka_config(&self) -> ClientConfig {
        self.client_config(&[], &[])
    }

    /// The librdkafka property `key` (milliseconds) as set, else librdkafka's `default_ms`.
    pub(crate) fn property_ms(&self, key: &str, default_ms: u64) -> Duration {
        let ms = self
            .properties
            .get(key)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(default_ms);
        Duration::from_millis(ms)
    }

    /// librdkafka configuration: `defaults`, then the user's properties, then `enforced`.
    pub(crate) fn client_config(
        &self,
        defaults: &[(&str, &str)],
        enforced: &[(&str, &str)],
    ) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        for (k, v) in enforced {
            c.set(*k, *v);
        }
        c
    }
}

/// The dead-letter topic name of Kafka topic `name`.
pub fn dlq_of(name: &str) -> String {
    format!("{name}.dlq")
}

fn env_key_to_property(rest: &str) -> String {
    rest.to_ascii_lowercase()
        .split("__")
        .map(|part| part.replace('_', "."))
        .collect::<Vec<_>>()
        .join("_")
}

/// Whether a property's value must not be shown (passwords, secrets, private keys, tokens).
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "key.pem",
        "oauthbearer.config",
        "token",
    ]
    .iter()
    .any(|s| k.contains(s))
}

impl fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Props<'a>(&'a BTreeMap<String, String>);
        impl fmt::Debug for Props<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map()
                    .entries(self.0.iter().map(|(k, v)| {
                        (
                            k,
                            if is_secret(k) {
                                "<redacted>"
                            } else {
                                v.as_str()
                            },
                        )
                    }))
                    .finish()
            }
        }
        f.debug_struct("KafkaConfig")
            .field("brokers", &self.brokers)
            .field("topic_prefix", &self.topic_prefix)
            .field("properties", &Props(&self.properties))
            .field("assign_timeout", &self.assign_timeout)
            .field("poll_wait", &self.poll_wait)
            .field("request_timeout", &self.request_timeout)
            .field("replication_factor", &self.replication_factor)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn no_brokers_means_no_kafka() {
        let got = KafkaConfig::from_vars(vars(&[("GIGSTREAM_KAFKA_SASL_MECHANISM", "PLAIN")]))
            .expect("valid");
        assert!(got.is_none());
    }

    #[test]
    fn env_keys_become_librdkafka_properties() {
        let cfg = KafkaConfig::from_vars(vars(&[
            ("GIGSTREAM_KAFKA_BROKERS", "k1:9092,k2:9092"),
            ("GIGSTREAM_KAFKA_TOPIC_PREFIX", "prod."),
            ("GIGSTREAM_KAFKA_SECURITY_PROTOCOL", "SASL_SSL"),
            ("GIGSTREAM_KAFKA_SASL_PASSWORD", "hunter2"),
            ("GIGSTREAM_KAFKA_SSL_CA_LOCATION", "/etc/ca.pem"),
            ("GIGSTREAM_KAFKA_WEIRD__KEY_NAME", "x"),
            ("GIGSTREAM_KAFKA_REPLICATION_FACTOR", "3"),
            ("OTHER_VAR", "ignored"),
        ]))
        .expect("valid")
        .expect("brokers set");
        assert_eq!(cfg.brokers, "k1:9092,k2:9092");
        assert_eq!(cfg.topic_name(Topic::Orders), "prod.orders");
        assert_eq!(cfg.dlq_name(Topic::Usage), "prod.usage.dlq");
        assert_eq!(cfg.replication_factor, 3);
        let keys: Vec<&str> = cfg.properties.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "sasl.password",
                "security.protocol",
                "ssl.ca.location",
                "weird_key.name"
            ]
        );
    }

    #[test]
    fn empty_brokers_is_an_error() {
        let err = KafkaConfig::from_vars(vars(&[("GIGSTREAM_KAFKA_BROKERS", " ")]))
            .expect_err("empty brokers");
        assert!(err.to_string().contains("GIGSTREAM_KAFKA_BROKERS"));
        assert!(!err.is_retryable());
    }

    #[test]
    fn debug_never_prints_secrets() {
        let cfg = KafkaConfig::new("k:9092")
            .with_property("sasl.username", "alice")
            .with_property("sasl.password", "hunter2")
            .with_property("ssl.key.password", "pw-of-key")
            .with_property("sasl.oauthbearer.client.secret", "s3cr3t")
            .with_property("ssl.key.pem", "-----BEGIN PRIVATE KEY-----");
        let shown = format!("{cfg:?}");
        assert!(shown.contains("alice"), "{shown}");
        for secret in ["hunter2", "pw-of-key", "s3cr3t", "BEGIN PRIVATE"] {
            assert!(!shown.contains(secret), "{secret} leaked in {shown}");
        }
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn enforced_properties_win_over_user_ones() {
        let cfg = KafkaConfig::new("k:9092")
            .with_property("enable.auto.commit", "true")
            .with_property("fetch.min.bytes", "10");
        let c = cfg.client_config(
            &[("fetch.min.bytes", "1")],
            &[("enable.auto.commit", "false")],
        );
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("fetch.min.bytes"), Some("10"));
        assert_eq!(c.get("bootstrap.servers"), Some("k:9092"));
    }
}
