//! gigstream's Kafka connector: the production path for the three event topics.
//!
//! - [`KafkaConfig`]: brokers, topic prefix and any librdkafka property (security included),
//!   from code or `GIGSTREAM_KAFKA_*` environment variables; secrets never reach `Debug`.
//! - [`ensure_topics`]: creates missing topics and their `<topic>.dlq` twins.
//! - [`KafkaProducer::produce`]: idempotent, keyed by entity with the Java client's murmur2
//!   partitioner, so an entity lands in the same partition as in the embedded log.
//! - [`KafkaSource`]: a [`gigstream_runtime::Source`] for one consumer group (the service),
//!   positioned by the offsets stored with the output; Kafka commits are only a progress hint.
//!
//! Tests that need a broker run when `GIGSTREAM_KAFKA_BROKERS` is set; `scripts/start-tansu.sh`
//! starts a local Kafka-compatible broker for them.

mod admin;
mod config;
mod error;
mod producer;
mod source;

pub use admin::{ensure_topics, topic_partitions, wait_ready, TopicStatus};
pub use config::{dlq_of, is_secret, KafkaConfig, ENV_PREFIX};
pub use error::Error;
pub use producer::{KafkaProducer, ProduceSummary};
pub use source::{AssignmentChange, KafkaSource};
