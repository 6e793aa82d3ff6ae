//! Where tables go: the [`Sink`] trait, which the embedded Parquet store (`gigstream-parquet`)
//! and ClickHouse (`gigstream-clickhouse`) implement. A sink stores a service's tables,
//! versioned, together with the checkpoints of the tasks (input partitions) they reflect, and
//! hands the checkpoints back on start and when a partition moves to this instance.

use gigstream_core::{TableChanges, Topic};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// A backend's own error (`what` names the backend: "embedded tables", "clickhouse").
    #[error("{what}: {source}")]
    Backend {
        what: &'static str,
        source: Box<dyn std::error::Error + Send + Sync>,
        retryable: bool,
    },
    #[error("{message}")]
    Other { message: String, retryable: bool },
}

impl SinkError {
    /// Whether trying the same commit again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SinkError::Backend { retryable, .. } | SinkError::Other { retryable, .. } => *retryable,
        }
    }
}

/// One task's checkpoint as stored: its position in the clear (so positions can be read without
/// decoding states) and the serialised task. Empty `bytes` is a replay marker: start the task
/// from offset 0 in `epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTask {
    pub topic: Topic,
    pub partition: u32,
    pub epoch: u32,
    pub next_offset: u64,
    #[serde(with = "serde_bytes")]
    pub bytes: Vec<u8>,
}

impl StoredTask {
    /// The version of this checkpoint: epoch above offset, like the tables' versions.
    pub fn version(&self) -> u64 {
        (u64::from(self.epoch) << 40) | (self.next_offset & ((1 << 40) - 1))
    }
}

/// Rows of one commit written at one version: the rows one task derived (their version is
/// the task's, [`StoredTask::version`]), or a render of the merge of every task.
#[derive(Debug, Clone)]
pub struct RowGroup {
    /// The version of every row written.
    pub version: u64,
    /// What changed, per table.
    pub tables: Vec<TableChanges>,
}

impl RowGroup {
    /// Rows written: upserts and deletes.
    pub fn rows(&self) -> usize {
        self.tables.iter().map(TableChanges::len).sum()
    }
}

/// What one commit writes: changed rows, then the checkpoints of the tasks they reflect.
#[derive(Debug)]
pub struct Commit<'a> {
    pub groups: &'a [RowGroup],
    /// Checkpoints of every task this instance owns, and whether each changed since it was
    /// last committed (a sink may skip unchanged ones if it keeps earlier checkpoints).
    pub tasks: &'a [(StoredTask, bool)],
}

pub trait Sink: Send {
    /// The latest stored checkpoint of every task of `service` (of `only` when given).
    fn load_tasks(
        &mut self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
    ) -> Result<Vec<StoredTask>, SinkError>;

    /// `(topic, partition, epoch, next_offset)` of the latest checkpoint of every task of
    /// `service`, without the states: a cheap check for tasks other instances moved on.
    fn task_heads(&mut self, service: &str) -> Result<Vec<StoredTask>, SinkError> {
        Ok(self
            .load_tasks(service, None)?
            .into_iter()
            .map(|mut t| {
                t.bytes.clear();
                t
            })
            .collect())
    }

    /// Applies the changed rows (an upsert replaces the row of its key at a higher version;
    /// a delete removes the key) and then stores the task checkpoints. Readers must never see
    /// a row counted twice: either atomically (Parquet manifests) or by versioned upserts
    /// (ClickHouse).
    fn commit(&mut self, service: &str, commit: &Commit<'_>) -> Result<(), SinkError>;
}
