//! The ClickHouse sink of gigstream: the production counterpart of the embedded Parquet store.
//!
//! - [`ddl`] turns the projections' [`TableDef`](gigstream_core::table::TableDef)s into
//!   ClickHouse DDL (one function, so the schema cannot drift from the rows): every table gets
//!   a `_version UInt64` column and `ENGINE = ReplacingMergeTree(_version) ORDER BY (key)`.
//!   Only features ClickHouse 18.16 and 24.x–26.x both have are used.
//! - [`migrations`] applies the versioned files in `schemas/clickhouse/` once each, recording
//!   them in `gigstream_migrations`; a test keeps the files equal to the generated DDL.
//! - [`ClickHouseSink`] implements [`gigstream_runtime::Sink`] over HTTP with RowBinary inserts.
//!
//! # Commits
//!
//! The runtime keeps state per task (input partition) and renders every table from the merge of
//! all tasks. A commit writes every row of every table with `_version = V`, where `V` is the
//! epoch above the sum of the next offsets of all tasks the render reflects
//! ([`gigstream_runtime::Processor::version`]), in batches; then, last, one row per changed task
//! into `gigstream_task_checkpoints` (`version` = epoch above the task's next offset).
//! [`Sink::load_tasks`] returns, per task, the row of the highest version (`argMax`). Readers
//! query with `FINAL` (or `argMax(..., _version)`), which keeps, per key, the row of the highest
//! version.
//!
//! ClickHouse has no multi-table transaction, so a commit is not atomic; it does not need to
//! be:
//!
//! - Versions follow the input, not a counter: the same input gives the same rows at the same
//!   version, whoever writes them. A crash after some tables of commit `V` were written replays
//!   from the last task checkpoints; the replay reaches the same state and writes the same rows
//!   again, and later commits (more input, higher versions) supersede them. A row is always the
//!   aggregate of a prefix of every partition, never a sum counted twice, because a key holds
//!   one row after `FINAL`.
//! - Several instances of a service (a consumer group) each own some tasks and render from
//!   their own tasks plus the others' last checkpoints, so every render is a consistent
//!   combination of partition prefixes; the one reflecting the most input has the highest
//!   version and wins. When input stops, the last render reflects every partition's end.
//! - A full replay ([`ClickHouseSink::request_replay`]) writes replay markers in a new epoch:
//!   the rebuild's rows outrank everything written before it.
//!
//! Limits: a key that disappears from a projection's tables is never deleted here (it keeps
//! its last row), unlike in the Parquet store where each commit replaces the tables; current
//! projections only add keys. Every commit rewrites every row, which ReplacingMergeTree merges
//! away in the background; until then `FINAL` does the work at query time.
//!
//! # Errors
//!
//! Network failures, timeouts and transient server conditions (memory, too many parts, a
//! 5xx without a ClickHouse error code) are retryable; SQL, type and permission errors are
//! not ([`ClickHouseError::is_retryable`]), which the runtime's retry loop relies on.

pub mod client;
pub mod ddl;
pub mod migrations;
pub mod read;
pub mod rowbinary;
mod sink;

pub use client::{ClickHouseConfig, ClickHouseError, Connection};
pub use migrations::{all_table_defs, apply_migrations, check_migrations, Migration, MIGRATIONS};
pub use sink::ClickHouseSink;

#[doc(no_inline)]
pub use gigstream_runtime::Sink;
