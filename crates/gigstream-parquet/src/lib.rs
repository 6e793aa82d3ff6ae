//! The embedded sink: every aggregate table as Parquet files, committed atomically together with
//! the service's checkpoint (its consumer positions and projection state). [`ParquetStore`] is
//! a [`gigstream_runtime::Sink`].
//!
//! Each table is split into buckets (a month, or a day for tables keyed by time), one Parquet
//! file each; a commit rewrites the buckets its changes touch, stores the checkpoint, and
//! switches to a new manifest by renaming `CURRENT` (see the `store` module for the layout), so
//! the tables and the offsets they were computed from always agree, and a commit costs what
//! changed.

mod arrow_conv;
mod read;
mod sink;
mod store;

pub use arrow_conv::{arrow_schema, columns_to_record_batch, to_record_batch};
pub use read::{append_rows, read_committed, read_table, Rows};
pub use store::{committed_tables, Manifest, ParquetStore, Snapshot, StoreError};
