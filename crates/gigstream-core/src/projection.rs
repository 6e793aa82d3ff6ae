//! The contract between the runtime and a service's projection.
//!
//! A projection is a pure, deterministic fold: [`Projection::apply`] changes in-memory state from
//! one event and does no I/O; [`Projection::tables`] renders the state as aggregate rows. The
//! runtime does everything around it: reading, decoding, validating, dropping repeated event
//! ids, enforcing the allowed lateness, dead-lettering, writing the tables together with the
//! offsets they reflect, and checkpointing the state.
//!
//! State is kept per input partition and merged for rendering ([`Projection::merge`], or
//! without building the merged state in [`Projection::render`]).
//! Events of different partitions may be interleaved in any order, so every aggregate that mixes
//! entities must be order-independent (sums, counts, mergeable sketches, min/max); per-entity
//! state (a deal, a subscription) sees its own events in log order because they share a key and
//! so a partition. Floats are never summed; money is [`crate::Decimal`].

use crate::changes::TableChanges;
use crate::columns::{ColumnTable, TableError};
use crate::event::{Event, Topic};
use crate::refdata::RefData;
use crate::table::{TableData, TableDef};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

/// Why a well-formed event could not be applied; it goes to the dead letters with this reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable, short code (`unknown_contract`, `invalid_transition`, ...), used as the metric
    /// label and DLQ header.
    pub code: &'static str,
    /// What exactly was wrong, naming the ids involved.
    pub detail: String,
}

impl Rejection {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Rejection {
        Rejection {
            code,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for Rejection {}

/// Which input partitions a projection's table rows derive from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every row of every table derives from the events of one partition: its key names an
    /// entity (a service) whose events all share a partition. Each partition's state renders
    /// its own rows, and only those that changed ([`Projection::changes`]); an instance holds,
    /// checkpoints and writes only what derives from its own partitions, and forgets what can
    /// no longer change ([`Projection::evict`]).
    Partition,
    /// Some tables aggregate entities of several partitions: the runtime renders the tables
    /// from the merge of every partition's state (its own and the other instances' last
    /// checkpoints) and writes the rows that differ from what it wrote before.
    Merged,
}

/// A service's fold over its topics. State is serialisable so the runtime can checkpoint it
/// together with the offsets it reflects.
pub trait Projection: Serialize + DeserializeOwned + Send + 'static {
    /// The service name (`billing`, `sla`, `market`); also its consumer group.
    const NAME: &'static str;

    /// Which partitions the rows derive from; see [`Scope`].
    const SCOPE: Scope = Scope::Merged;

    /// The topics it consumes.
    fn topics() -> &'static [Topic];

    /// The tables it writes, in a fixed order.
    fn table_defs() -> &'static [&'static TableDef];

    /// An empty state.
    fn new(refdata: &RefData) -> Self;

    /// Folds one valid, deduplicated, on-time event into the state. Must not do I/O. An error
    /// leaves the state unchanged.
    fn apply(&mut self, refdata: &RefData, event: &Event) -> Result<(), Rejection>;

    /// Folds `other`, a state of the same service built from a disjoint set of input
    /// partitions, into this one. The runtime keeps one state per input partition (so that
    /// partitions can move between instances with their state) and renders tables from the
    /// merge of all of them: for any split of a stream by partition, merging the per-partition
    /// states in any order must render exactly the tables of one state fed the whole stream.
    fn merge(&mut self, other: &Self);

    /// Renders the state as the full content of every table in [`Projection::table_defs`],
    /// each sorted by its key. Deterministic: the same state gives the same rows.
    fn tables(&self, refdata: &RefData) -> Vec<TableData>;

    /// [`Scope::Partition`] only: every row that changed since the last call (on a new or
    /// restored state, since the state was checkpointed), one [`TableChanges`] per table in
    /// [`Projection::table_defs`] order; the state then forgets what it reported. Applied in
    /// order to the tables as they were, the changes give exactly [`Projection::tables`] of the
    /// same state, plus the rows of what [`Projection::evict`] dropped before.
    fn changes(&mut self, _refdata: &RefData) -> Result<Vec<TableChanges>, TableError> {
        Err(TableError {
            table: Self::NAME,
            message:
                "a projection of Scope::Merged reports no changes; the runtime diffs its renders"
                    .into(),
        })
    }

    /// Forgets what can no longer change: the runtime refuses every event of this partition
    /// older than `horizon_ms` (event time, ms) from now on. Every row of what is dropped was
    /// reported by [`Projection::changes`] already, so the tables keep it; what later rows
    /// still need of it (a month's totals, say) stays as a compact summary.
    fn evict(&mut self, _refdata: &RefData, _horizon_ms: i64) {}

    /// The tables of the merge of `states` (per-partition states, as for
    /// [`Projection::merge`]) as columns: what the runtime commits. Must equal
    /// [`Projection::tables`] of the merged state, table by table and row by row.
    ///
    /// The default merges into a new state (cloning every part of it) and converts the rows.
    /// A projection with large tables overrides it to render its columns directly from the
    /// borrowed states.
    fn render(states: &[&Self], refdata: &RefData) -> Result<Vec<ColumnTable>, TableError>
    where
        Self: Sized,
    {
        let tables = match states {
            [one] => one.tables(refdata),
            _ => {
                let mut merged = Self::new(refdata);
                for s in states {
                    merged.merge(s);
                }
                merged.tables(refdata)
            }
        };
        tables.iter().map(ColumnTable::from_rows).collect()
    }
}
