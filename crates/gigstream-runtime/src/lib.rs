//! The service runtime: everything around a projection's pure fold.
//!
//! ```text
//! Source (embedded log | Kafka) ──records──▶ Processor<P> ──tables + checkpoint──▶ Sink
//!                                              │ decode (Confluent / single-object / JSON)
//!                                              │ validate against reference data
//!                                              │ enforce allowed lateness (per-partition watermark)
//!                                              │ drop repeated event ids (idempotency)
//!                                              │ P::apply (pure)
//!                                              └ dead letters with reason and original bytes
//! ```
//!
//! Exactly-once effects come from one rule: the positions (next offset per partition) are part
//! of the checkpoint that the sink commits in the same atomic write as the tables computed from
//! them. On start the service restores state and positions from the last commit and seeks the
//! source there, so a crash replays exactly the records whose effects were not committed.

mod dead_letter;
mod dedup;
mod processor;
mod runner;
pub mod service;
mod sink;
mod source;

pub use dead_letter::{DeadLetter, DEAD_LETTERS, POSITIONS};
pub use dedup::Dedup;
pub use processor::{Checkpoint, Outcome, Processor, ProcessorError, Stats};
pub use runner::{run, Progress, RunError, RunOptions, RunSummary};
pub use sink::{Sink, SinkError};
pub use source::{EmbeddedSource, RecordRef, Source, SourceError};
