//! gigstream's shared vocabulary.
//!
//! Data flows `bytes -> Event -> Projection::apply -> TableData (or ColumnTable) -> sink`. This crate owns the
//! middle of that line: the event types every topic carries ([`event`]), exact money
//! ([`money`]), event-time helpers ([`time`]), the reference data the rules read from files
//! ([`refdata`]), the aggregate table model that sinks write ([`table`], [`columns`]), event validation
//! ([`validate`]) and the [`Projection`] trait the three services implement. Nothing here does
//! I/O except loading reference data.

pub mod availability;
pub mod changes;
pub mod columns;
pub mod event;
pub mod money;
pub mod packed;
pub mod partition;
pub mod projection;
pub mod refdata;
pub mod table;
pub mod time;
pub mod validate;

pub use changes::{Fingerprints, TableChanges};
pub use columns::{ColumnTable, TableError};
pub use event::{Event, Topic, DEFAULT_PARTITIONS};
pub use money::Decimal;
pub use projection::{Projection, Rejection, Scope};
pub use refdata::RefData;
pub use table::{ColumnDef, ColumnType, TableData, TableDef, Value};
