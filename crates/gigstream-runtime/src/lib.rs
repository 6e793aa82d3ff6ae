//! The service runtime: everything around a projection's pure fold.
//!
//! The backends are crates of their own, peers behind the two traits defined here: [`Source`]
//! (the embedded log in `gigstream-log`, Kafka in `gigstream-kafka`) and [`Sink`] (Parquet in
//! `gigstream-parquet`, ClickHouse in `gigstream-clickhouse`). Nothing here does I/O.
//!
//! ```text
//! Source (embedded log | Kafka) ──records──▶ Processor<P> ──tables + checkpoint──▶ Sink
//!                                              │ decode (Confluent / single-object / JSON;
//!                                              │   registry down: the record waits, retried)
//!                                              │ validate against reference data
//!                                              │ enforce allowed lateness (per-partition watermark)
//!                                              │ drop repeated event ids (idempotency)
//!                                              │ P::apply (pure)
//!                                              └ dead letters with reason and original bytes
//! ```
//!
//! Exactly-once effects come from one rule: the positions (next offset per partition) are part
//! of the checkpoints that the sink commits with the tables computed from them. On start (and
//! when a partition is assigned) the service restores each partition's state and position from
//! its last checkpoint and seeks the source there, so a crash replays exactly the records whose
//! effects were not committed.
//!
//! State is kept per input partition (a task), so a partition can move between instances of a
//! service with its state; tables are rendered from the merge of every task's state, and their
//! rows carry a version derived from the offsets they reflect ([`Processor::version`]), so the
//! newest content wins whichever instance wrote it.

pub mod chunks;
mod dead_letter;
mod dedup;
mod processor;
mod runner;
mod sink;
mod source;

pub use dead_letter::{DeadLetter, DEAD_LETTERS, POSITIONS};
pub use dedup::Dedup;
pub use processor::{Outcome, Processor, ProcessorError, Stats, TaskCheckpoint, TaskId};
pub use runner::{
    run, topic_index, CommitReport, DeadLetterOutput, Pipeline, PollBatch, Progress, RunError,
    RunObserver, RunOptions, RunSummary, WAIT_SCHEMAS,
};
pub use sink::{Commit, RowGroup, Sink, SinkError, StoredTask};
pub use source::{
    AssignmentChange, Origin, RecordRef, Source, SourceError, SOURCE_FILE_HEADER,
    SOURCE_LINE_HEADER,
};
