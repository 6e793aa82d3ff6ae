//! Where tables go: the [`Sink`] trait, which the embedded Parquet store (`gigstream-parquet`)
//! and ClickHouse (`gigstream-clickhouse`) implement. A sink stores a service's tables,
//! versioned, together with the checkpoints of the tasks (input partitions) they reflect, and
//! hands the checkpoints back on start and when a partition moves to this instance.

use gigstream_core::columns::ColumnTable;
use gigstream_core::table::TableData;
use gigstream_core::Topic;
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

/// What one commit writes.
#[derive(Debug)]
pub struct Commit<'a> {
    /// Version of every row written ([`crate::Processor::version`]).
    pub version: u64,
    /// The full content of every table of the service.
    pub tables: &'a [TableData],
    /// Checkpoints of every task this instance owns, and whether each changed since it was
    /// last committed (a sink may skip unchanged ones if it keeps earlier checkpoints).
    pub tasks: &'a [(StoredTask, bool)],
}

/// [`Commit`] with the tables as columns: what the runtime hands a sink.
#[derive(Debug)]
pub struct ColumnCommit<'a> {
    /// Version of every row written ([`crate::Processor::version`]).
    pub version: u64,
    /// The full content of every table of the service.
    pub tables: &'a [ColumnTable],
    /// As in [`Commit::tasks`].
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

    /// Stores the tables and the task checkpoints. Readers must never see a row counted twice:
    /// either atomically (Parquet generations) or by versioned upserts (ClickHouse).
    fn commit(&mut self, service: &str, commit: &Commit<'_>) -> Result<(), SinkError>;

    /// [`Sink::commit`] with the tables as columns; what the runner calls. The default turns
    /// the columns into rows; a sink that stores columns (Parquet) takes them as they are.
    fn commit_columns(
        &mut self,
        service: &str,
        commit: &ColumnCommit<'_>,
    ) -> Result<(), SinkError> {
        let tables: Vec<TableData> = commit.tables.iter().map(ColumnTable::to_rows).collect();
        self.commit(
            service,
            &Commit {
                version: commit.version,
                tables: &tables,
                tasks: commit.tasks,
            },
        )
    }
}
