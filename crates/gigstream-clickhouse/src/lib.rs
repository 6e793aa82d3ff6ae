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
//! A commit gets a version `V` above every version stored for the service (read once per
//! process from the checkpoint table and the tables being written). It inserts every row of
//! every table with `_version = V`, in batches, and then, last, one row
//! `(service, V, checkpoint)` into `gigstream_checkpoints`. [`Sink::load_checkpoint`]
//! returns the checkpoint of the highest version. Readers query with `FINAL` (or
//! `argMax(..., _version)`), which keeps, per key, the row of the highest version.
//!
//! ClickHouse has no multi-table transaction, so a commit is not atomic; it does not need to
//! be. Suppose the process dies after some tables of commit `V` were written but before its
//! checkpoint row:
//!
//! - On restart the runtime loads the checkpoint of the last complete commit (`< V`) and
//!   replays the log from the positions stored in it. Projections are deterministic, so the
//!   replay reaches the same state the crashed commit wrote, and goes on from there.
//! - The next commit picks a version above `V` (the stored `_version`s are part of what it
//!   reads), and every commit writes the *full* content of every table. So every key the
//!   crashed commit touched is written again with a higher version, with values at least as
//!   new; after `FINAL` nothing of commit `V` is visible. Sums over `FINAL` never count a row
//!   twice, because a key holds one row.
//! - Between the crash and the next commit, readers may see some tables at `V` and others at
//!   the previous version: rows that are correct for a point of the log the service really
//!   reached, just not all at the same point.
//!
//! A retried commit (the runtime retries retryable errors) likewise uses a new version.
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
pub mod rowbinary;
mod sink;

pub use client::{ClickHouseConfig, ClickHouseError, Connection};
pub use migrations::{all_table_defs, apply_migrations, Migration, MIGRATIONS};
pub use sink::ClickHouseSink;

#[doc(no_inline)]
pub use gigstream_runtime::Sink;
