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
    /// Nothing happened within the allowed time.
    #[error("{what} did not happen within {secs} s; check that the brokers at {brokers} are up and reachable")]
    Timeout {
        what: String,
        secs: u64,
        brokers: String,
    },
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
