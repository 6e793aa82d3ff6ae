//! Errors of the Kafka connector.

/// What failed in the Kafka connector, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or malformed; nothing was contacted.
    #[error("kafka setting {key}: {reason}")]
    Setting { key: String, reason: String },
    /// librdkafka refused the client configuration (an unknown or invalid property).
    #[error("cannot create the kafka {client}: {source}; check the GIGSTREAM_KAFKA_* properties")]
    Client {
        client: &'static str,
        source: rdkafka::error::KafkaError,
    },
    /// A request to the brokers failed.
    #[error("kafka {what} failed: {source}")]
    Kafka {
        what: String,
        source: rdkafka::error::KafkaError,
    },
    /// A request failed after librdkafka had reported why the brokers could not be used (a
    /// refused connection, a failed TLS handshake or authentication).
    /// The message names what failed, the client's last error and what to check.
    #[error("kafka {0}")]
    Unusable(String),
    /// A record was not acknowledged by the brokers (after librdkafka's own retries).
    #[error("kafka did not accept a record for {topic}: {source}; the records after it may be missing, rerun the produce")]
    Delivery {
        topic: String,
        source: rdkafka::error::KafkaError,
    },
    /// Dead letters were not acknowledged (after librdkafka's own retries).
    #[error("{failed} dead letters were not delivered to kafka, first: {first}; do not commit the positions of these records, retry the batch")]
    DeadLetters { failed: u64, first: String },
    /// A record read from Kafka lacks what gigstream writes into it.
    #[error("kafka record {what} is malformed: {reason}; was it written by gigstream?")]
    Malformed { what: String, reason: String },
    /// An existing topic does not have the partition count the caller relies on.
    #[error("kafka topic {topic} has {actual} partitions but {expected} were asked for; keys would land in other partitions than in the embedded log: recreate the topic or ask for {actual}")]
    PartitionMismatch {
        topic: String,
        expected: u32,
        actual: u32,
    },
    /// A local resource (thread, runtime) could not be set up.
    #[error("cannot start {what}: {source}")]
    Local {
        what: &'static str,
        source: std::io::Error,
    },
    /// Nothing happened within the allowed time. `cause`: the last error librdkafka reported
    /// meanwhile (refused connection, failed TLS handshake or authentication), if any.
    #[error("{what} did not happen within {secs} s{}", advice(brokers, cause.as_deref()))]
    Timeout {
        what: String,
        secs: u64,
        brokers: String,
        cause: Option<String>,
    },
}

/// What to check after a timeout or a failure: the brokers, or what the client's last error
/// (a refused connection, a failed TLS handshake or authentication) points at.
pub(crate) fn advice(brokers: &str, cause: Option<&str>) -> String {
    match cause {
        None => format!("; check that the brokers at {brokers} are up and reachable"),
        Some(c) => {
            let lower = c.to_ascii_lowercase();
            let hint = if lower.contains("ssl handshake") || lower.contains("certificate") {
                "check the TLS settings (GIGSTREAM_KAFKA_SECURITY_PROTOCOL, \
                 GIGSTREAM_KAFKA_SSL_CA_LOCATION) and the brokers' certificate"
            } else if lower.contains("authentication") || lower.contains("sasl handshake") {
                "check the user, password and mechanism (GIGSTREAM_KAFKA_SASL_USERNAME, \
                 GIGSTREAM_KAFKA_SASL_PASSWORD, GIGSTREAM_KAFKA_SASL_MECHANISMS)"
            } else {
                "check that the brokers are up and reachable and the security settings \
                 (GIGSTREAM_KAFKA_SECURITY_PROTOCOL) match theirs"
            };
            format!("; the kafka client's last error was: {c}; {hint} (brokers: {brokers})")
        }
    }
}

impl Error {
    /// Whether the same call may succeed later (broker down, network, timeouts); setting and
    /// layout errors need a human.
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Setting { .. }
            | Error::Client { .. }
            | Error::PartitionMismatch { .. }
            | Error::Local { .. }
            | Error::Malformed { .. } => false,
            Error::Kafka { .. }
            | Error::Unusable(_)
            | Error::Delivery { .. }
            | Error::DeadLetters { .. }
            | Error::Timeout { .. } => true,
        }
    }

    pub(crate) fn kafka(what: impl Into<String>, source: rdkafka::error::KafkaError) -> Error {
        Error::Kafka {
            what: what.into(),
            source,
        }
    }
}
