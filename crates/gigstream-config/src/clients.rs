//! The settings of the clients, as plain data: what `gigstream-kafka`, `gigstream-clickhouse`
//! and `gigstream-registry` take. [`crate::Config::kafka`], [`crate::Config::clickhouse`] and
//! [`crate::Config::schema_registry`] build them from the loaded configuration (file and
//! environment); nothing else reads the environment for them.

use crate::secret::Secret;
use gigstream_core::Topic;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// Where Kafka is and how to talk to it.
///
/// Security settings are not modelled one by one: any librdkafka property can be passed
/// through [`KafkaConfig::properties`] (`security.protocol`, `sasl.mechanism`, `sasl.username`,
/// `sasl.password`, `ssl.ca.location`, ...), from the `[kafka]` settings or
/// `GIGSTREAM_KAFKA_<KEY>` environment variables ([`crate::Config::kafka`]). `Debug` hides the values of secret properties.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: comma-separated `host:port` list.
    pub brokers: String,
    /// Put before every gigstream topic name (`orders` becomes `{prefix}orders`) and consumer
    /// group, so several environments or test runs can share one cluster.
    pub topic_prefix: String,
    /// The consumer group of a service after the prefix, `{service}` standing for its name
    /// (default `gigstream-{service}`): see [`KafkaConfig::group_of`].
    pub group_id: String,
    /// librdkafka properties applied to every client, after gigstream's defaults (the
    /// properties gigstream's guarantees depend on are applied last and cannot be overridden:
    /// see `gigstream-kafka`'s producer and source docs).
    pub properties: BTreeMap<String, String>,
    /// How long a source waits for its first partition assignment before giving up.
    pub assign_timeout: Duration,
    /// How long one `poll` of a source waits for records before reporting none.
    pub poll_wait: Duration,
    /// Timeout of metadata, admin and watermark requests.
    pub request_timeout: Duration,
    /// Replicas of topics created by `gigstream_kafka::ensure_topics`; `-1` is the broker's
    /// `default.replication.factor`.
    pub replication_factor: i32,
}

impl KafkaConfig {
    /// Settings for `brokers` with defaults everywhere else.
    pub fn new(brokers: impl Into<String>) -> KafkaConfig {
        KafkaConfig {
            brokers: brokers.into(),
            topic_prefix: String::new(),
            group_id: crate::DEFAULT_GROUP_ID.to_string(),
            properties: BTreeMap::new(),
            assign_timeout: Duration::from_secs(60),
            poll_wait: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            replication_factor: -1,
        }
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

    /// The consumer group of `service`: the topic prefix, then [`KafkaConfig::group_id`] with
    /// `{service}` replaced (`gigstream-sla`; `staging.gigstream-sla` under prefix `staging.`).
    pub fn group_of(&self, service: &str) -> String {
        format!(
            "{}{}",
            self.topic_prefix,
            self.group_id.replace("{service}", service)
        )
    }

    /// The dead-letter topic of `topic` (`<topic>.dlq`).
    pub fn dlq_name(&self, topic: Topic) -> String {
        dlq_of(&self.topic_name(topic))
    }
}

/// The dead-letter topic name of Kafka topic `name`.
pub fn dlq_of(name: &str) -> String {
    format!("{name}.dlq")
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
            .field("group_id", &self.group_id)
            .field("properties", &Props(&self.properties))
            .field("assign_timeout", &self.assign_timeout)
            .field("poll_wait", &self.poll_wait)
            .field("request_timeout", &self.request_timeout)
            .field("replication_factor", &self.replication_factor)
            .finish()
    }
}

/// Where and how to reach ClickHouse.
#[derive(Clone)]
pub struct ClickHouseConfig {
    /// HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    pub user: String,
    /// Never printed: [`fmt::Debug`] shows whether one is set.
    pub password: String,
    /// Created if missing; every table lives here.
    pub database: String,
    /// How long establishing a TCP connection may take.
    pub connect_timeout: Duration,
    /// How long one request (query or insert batch, including the server's work) may take.
    pub request_timeout: Duration,
    /// Rows are sent in inserts of about this many encoded bytes.
    pub batch_bytes: usize,
    /// Whether the sink applies the migrations at start (needs DDL rights); when false it only
    /// checks that `gigstream migrate` has applied them all, so a user without DDL can write.
    pub apply_migrations: bool,
}

impl fmt::Debug for ClickHouseConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClickHouseConfig")
            .field("url", &self.url)
            .field("user", &self.user)
            .field(
                "password",
                &if self.password.is_empty() {
                    "<none>"
                } else {
                    "<redacted>"
                },
            )
            .field("database", &self.database)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("batch_bytes", &self.batch_bytes)
            .field("apply_migrations", &self.apply_migrations)
            .finish()
    }
}

impl ClickHouseConfig {
    /// Defaults: user `default`, no password, database `gigstream`, 5 s to connect, 5 min per
    /// request, 8 MiB inserts.
    pub fn new(url: impl Into<String>) -> ClickHouseConfig {
        ClickHouseConfig {
            url: url.into(),
            user: "default".to_string(),
            password: String::new(),
            database: "gigstream".to_string(),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(300),
            batch_bytes: 8 << 20,
            apply_migrations: true,
        }
    }
}

/// How a topic's value schema is named in a schema registry (Confluent's
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
    pub const ALL: [SubjectStrategy; 3] = [
        SubjectStrategy::TopicName,
        SubjectStrategy::RecordName,
        SubjectStrategy::TopicRecordName,
    ];

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
        let short = s.trim().rsplit('.').next().unwrap_or(s);
        match short {
            "topic_name" | "TopicNameStrategy" => Ok(SubjectStrategy::TopicName),
            "record_name" | "RecordNameStrategy" => Ok(SubjectStrategy::RecordName),
            "topic_record_name" | "TopicRecordNameStrategy" => {
                Ok(SubjectStrategy::TopicRecordName)
            }
            _ => Err(format!(
                "unknown subject strategy `{s}`: expected topic_name, record_name or topic_record_name"
            )),
        }
    }
}

/// The default [`SchemaRegistryConfig::timeout`].
pub const DEFAULT_REGISTRY_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a Confluent-compatible schema registry is and how to talk to it: what
/// `gigstream-registry`'s client takes (it re-exports this as `RegistryConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRegistryConfig {
    /// The base URL of the Confluent-compatible API, e.g. `http://127.0.0.1:8081` (Confluent,
    /// Karapace, Redpanda) or `http://127.0.0.1:8080/apis/ccompat/v7` (Apicurio). `http` or
    /// `https`; no credentials in it.
    pub url: String,
    /// Basic-auth user (Confluent Cloud: the API key).
    pub username: Option<String>,
    /// Basic-auth password (Confluent Cloud: the API secret); `Debug` shows `***`.
    pub password: Option<Secret>,
    /// A PEM file of CA certificates to trust for `https` (instead of the system's).
    pub ca_location: Option<PathBuf>,
    /// For a whole request: connect, TLS, send, answer.
    pub timeout: Duration,
    pub subject_strategy: SubjectStrategy,
}

impl SchemaRegistryConfig {
    /// `url` with no credentials, the system's CAs, a 10 s timeout and `<topic>-value`
    /// subjects.
    pub fn new(url: impl Into<String>) -> SchemaRegistryConfig {
        SchemaRegistryConfig {
            url: url.into(),
            username: None,
            password: None,
            ca_location: None,
            timeout: DEFAULT_REGISTRY_TIMEOUT,
            subject_strategy: SubjectStrategy::TopicName,
        }
    }

    pub fn with_basic_auth(
        mut self,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> SchemaRegistryConfig {
        self.username = Some(username.into());
        self.password = Some(Secret::new(password));
        self
    }

    pub fn with_ca_location(mut self, pem: impl Into<PathBuf>) -> SchemaRegistryConfig {
        self.ca_location = Some(pem.into());
        self
    }

    pub fn with_timeout(mut self, timeout: Duration) -> SchemaRegistryConfig {
        self.timeout = timeout;
        self
    }

    pub fn with_subject_strategy(mut self, strategy: SubjectStrategy) -> SchemaRegistryConfig {
        self.subject_strategy = strategy;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_names_follow_the_prefix() {
        let cfg = KafkaConfig::new("k:9092").with_topic_prefix("prod.");
        assert_eq!(cfg.topic_name(Topic::Orders), "prod.orders");
        assert_eq!(cfg.dlq_name(Topic::Usage), "prod.usage.dlq");
        assert_eq!(cfg.group_of("sla"), "prod.gigstream-sla");
        let mut old = cfg.clone();
        old.group_id = "{service}".into();
        assert_eq!(old.group_of("billing"), "prod.billing");
        assert_eq!(
            KafkaConfig::new("k:1").group_of("market"),
            "gigstream-market"
        );
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
        let mut ch = ClickHouseConfig::new("http://h:8123");
        ch.password = "pw-of-ch".into();
        let shown = format!("{ch:?}");
        assert!(
            !shown.contains("pw-of-ch") && shown.contains("<redacted>"),
            "{shown}"
        );
        let sr = SchemaRegistryConfig::new("https://sr:8081").with_basic_auth("key", "pw-of-sr");
        let shown = format!("{sr:?}");
        assert!(
            !shown.contains("pw-of-sr") && shown.contains("***") && shown.contains("key"),
            "{shown}"
        );
    }

    #[test]
    fn subject_strategies() {
        let rec = "gigstream.orders.OrderRecord";
        assert_eq!(
            SubjectStrategy::default().subject("orders", rec),
            "orders-value"
        );
        assert_eq!(SubjectStrategy::RecordName.subject("orders", rec), rec);
        assert_eq!(
            SubjectStrategy::TopicRecordName.subject("orders", rec),
            "orders-gigstream.orders.OrderRecord"
        );
        for s in SubjectStrategy::ALL {
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
}
