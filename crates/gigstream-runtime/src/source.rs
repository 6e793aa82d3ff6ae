//! Where records come from: the [`Source`] trait, which the embedded log (`gigstream-log`) and
//! Kafka (`gigstream-kafka`) implement.

use gigstream_core::Topic;
use std::collections::BTreeMap;

/// One record, borrowed from the source's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    pub topic: Topic,
    pub partition: u32,
    pub offset: u64,
    /// Append (create) time of the record, ms.
    pub timestamp_ms: i64,
    pub key: &'a [u8],
    pub value: &'a [u8],
    /// The file and line the record was made from, when its producer said so (the headers
    /// [`SOURCE_FILE_HEADER`] and [`SOURCE_LINE_HEADER`], which `gigstream produce --from`
    /// writes into the embedded log); a dead letter's reason then starts with `FILE:LINE`.
    pub origin: Option<Origin<'a>>,
}

/// Record header naming the file a record was read from (`gigstream produce --from`).
pub const SOURCE_FILE_HEADER: &str = "gigstream.source.file";
/// Record header with the record's line in that file (for an Avro file: its record number).
pub const SOURCE_LINE_HEADER: &str = "gigstream.source.line";

/// Where a record was read from: the values of [`SOURCE_FILE_HEADER`] and
/// [`SOURCE_LINE_HEADER`]. Displays as `FILE:LINE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    pub file: &'a [u8],
    pub line: &'a [u8],
}

impl Origin<'_> {
    /// The origin given by a record's headers, if both are present (`header` looks one up).
    pub fn from_headers<'h>(header: impl Fn(&str) -> Option<&'h [u8]>) -> Option<Origin<'h>> {
        Some(Origin {
            file: header(SOURCE_FILE_HEADER)?,
            line: header(SOURCE_LINE_HEADER)?,
        })
    }
}

impl std::fmt::Display for Origin<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}",
            String::from_utf8_lossy(self.file),
            String::from_utf8_lossy(self.line)
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A backend's own error (`what` names the backend: "event log", "kafka").
    #[error("{what}: {source}")]
    Backend {
        what: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{0}")]
    Other(String),
}

/// A change of the partitions this instance owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssignmentChange {
    Assigned(Vec<(Topic, u32)>),
    Revoked(Vec<(Topic, u32)>),
}

/// A stream of records from a set of topic partitions.
pub trait Source: Send {
    /// Ownership changes since the last call, in order. The runner adopts assigned partitions
    /// (loading their checkpoints) and then calls [`Source::seek`]; it commits revoked ones and
    /// releases them. Records of an assigned partition are only handed out after that `seek`.
    fn take_assignment_changes(&mut self) -> Vec<AssignmentChange>;

    /// Whether this instance is the only reader of the service's partitions (the embedded log),
    /// so no other instance commits checkpoints of the same service.
    fn exclusive(&self) -> bool;

    /// Positions every owned partition at the given next offset (0 when absent) and starts
    /// handing out its records.
    fn seek(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError>;

    /// Hands the next available records to `f` and returns how many; 0 means nothing is
    /// available right now (caught up).
    fn poll(&mut self, f: &mut dyn FnMut(RecordRef<'_>)) -> Result<usize, SourceError>;

    /// Whether the last `poll` that returned 0 did so because every owned partition is at its
    /// end (not because the wait ran out, e.g. during a rebalance). Runs that stop when caught
    /// up only stop when this holds.
    fn caught_up(&self) -> bool {
        true
    }

    /// Records between the current positions and the end of every partition, if known.
    fn lag(&self) -> Option<u64>;

    /// [`Source::lag`] per owned partition, for monitoring; `None` when the source cannot
    /// tell (the default). Partitions whose end is not known yet are left out.
    fn partition_lag(&self) -> Option<BTreeMap<(Topic, u32), u64>> {
        None
    }

    /// Tells the source which positions are now committed with the output, as a progress hint
    /// for monitoring (Kafka's committed offsets, the embedded log's group positions). The
    /// authoritative positions stay in the sink's checkpoint.
    fn commit_hint(&mut self, positions: &BTreeMap<(Topic, u32), u64>) -> Result<(), SourceError>;
}
