//! gigstream's Kafka connector: the production path for the three event topics.
//!
//! - [`KafkaConfig`] (from `gigstream-config`, which reads the `[kafka]` settings and
//!   `GIGSTREAM_KAFKA_*` variables): brokers, topic prefix and any librdkafka property
//!   (security included); secrets never reach `Debug`.
//! - [`ensure_topics`]: creates missing topics and their `<topic>.dlq` twins.
//! - [`KafkaProducer::produce`]: idempotent, keyed by entity with the Java client's murmur2
//!   partitioner, so an entity lands in the same partition as in the embedded log.
//! - [`KafkaProducer::produce_iter`]: the same for a pulled stream, optionally at a steady rate.
//! - [`DlqProducer`]: dead letters to `<topic>.dlq` with the original bytes and the reason in
//!   headers; [`read_dlq`] reads them back.
//! - [`read_topic`], [`raw_consume`]: whole topics from the beginning to their end, for tests
//!   and for the bare-librdkafka throughput baseline.
//! - [`KafkaSource`]: a [`gigstream_runtime::Source`] for one consumer group (the service),
//!   positioned by the offsets stored with the output; Kafka commits are only a progress hint.
//!
//! Tests that need a broker run when `GIGSTREAM_KAFKA_BROKERS` is set; `infra/kafka/start.sh`
//! starts a local Apache Kafka for them.

mod admin;
mod bounded;
mod config;
mod dlq;
mod error;
mod producer;
mod read;
mod source;

pub use admin::{
    end_offsets, ensure_topics, partitions_of, reset_group_to_earliest, topic_partitions,
    wait_ready, EndOffsets, TopicStatus,
};
pub use bounded::read_partitions_until;
pub use config::{dlq_of, is_secret, rdkafka_config, KafkaConfig};
pub use dlq::{
    read_dlq, DeadLetterRef, DlqProducer, DlqRecord, DlqStage, CONNECT_HEADER_CONNECTOR_NAME,
    CONNECT_HEADER_EXCEPTION, CONNECT_HEADER_EXCEPTION_MESSAGE, CONNECT_HEADER_EXECUTING_CLASS,
    CONNECT_HEADER_OFFSET, CONNECT_HEADER_PARTITION, CONNECT_HEADER_PREFIX, CONNECT_HEADER_STAGE,
    CONNECT_HEADER_TOPIC, HEADER_OFFSET, HEADER_PARTITION, HEADER_REASON, HEADER_REASON_CODE,
    HEADER_SERVICE, HEADER_TIMESTAMP, HEADER_TOPIC,
};
pub use error::Error;
pub use producer::{KafkaProducer, OutRecord, ProduceSummary};
pub use read::{raw_consume, read_topic, RawConsume, ReadRecord};
pub use source::{AssignmentChange, KafkaSource};
