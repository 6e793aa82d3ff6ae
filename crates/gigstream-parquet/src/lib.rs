//! The embedded sink: every aggregate table as a Parquet file, committed atomically together with
//! the service's checkpoint (its consumer positions and projection state). [`ParquetStore`] is
//! a [`gigstream_runtime::Sink`].
//!
//! Layout under `<data-dir>/tables/<service>/`:
//!
//! ```text
//! CURRENT                      the name of the committed generation, e.g. "gen-00000007"
//! gen-00000007/<table>.parquet one file per table, named like the ClickHouse table
//! gen-00000007/checkpoint.bin  positions + state the tables reflect
//! ```
//!
//! A commit writes a new generation directory, fsyncs it, then replaces `CURRENT` by rename: a
//! crash at any point leaves either the old or the new generation, never a mix, so the tables
//! and the offsets they were computed from always agree. Old generations are removed after the
//! switch.

mod arrow_conv;
mod read;
mod sink;
mod store;

pub use arrow_conv::{arrow_schema, columns_to_record_batch, to_record_batch};
pub use read::{append_rows, read_committed, read_table, Rows};
pub use store::{committed_tables, read_checkpoint, ParquetStore, StoreError};
