//! The Parquet store as a [`gigstream_runtime::Sink`]: what a service writes when no ClickHouse
//! is configured.

use crate::{ParquetStore, StoreError};
use gigstream_core::TableChanges;
use gigstream_core::Topic;
use gigstream_runtime::{Commit, Sink, SinkError, StoredTask};

impl From<StoreError> for SinkError {
    fn from(e: StoreError) -> SinkError {
        // A failed write (disk full, permissions fixed later) may succeed when tried again;
        // a table that does not match its definition will not.
        let retryable = matches!(e, StoreError::Io { .. });
        SinkError::Backend {
            what: "embedded tables",
            source: Box::new(e),
            retryable,
        }
    }
}

/// The embedded store keeps, with each generation of the tables, every task of the service as
/// its checkpoint (one instance owns them all).
impl Sink for ParquetStore {
    fn load_tasks(
        &mut self,
        service: &str,
        only: Option<&[(Topic, u32)]>,
    ) -> Result<Vec<StoredTask>, SinkError> {
        let Some(bytes) = ParquetStore::load_checkpoint(self, service)? else {
            return Ok(Vec::new());
        };
        let tasks: Vec<StoredTask> =
            rmp_serde::from_slice(&bytes).map_err(|e| SinkError::Other {
                message: format!(
                    "the {service} checkpoint in {} cannot be read ({e}); it was written by another version: remove that directory to rebuild the tables from the log",
                    self.root().join(service).display()
                ),
                retryable: false,
            })?;
        Ok(tasks
            .into_iter()
            .filter(|t| only.is_none_or(|o| o.contains(&(t.topic, t.partition))))
            .collect())
    }

    fn commit(&mut self, service: &str, commit: &Commit<'_>) -> Result<(), SinkError> {
        // One writer (the embedded log is read by one instance): versions are not needed, the
        // changes apply in order.
        let changes: Vec<&TableChanges> =
            commit.groups.iter().flat_map(|g| g.tables.iter()).collect();
        ParquetStore::commit_changes(self, service, &changes, &checkpoint_bytes(commit.tasks))?;
        Ok(())
    }
}

/// The embedded store's checkpoint: every task's, in one message.
fn checkpoint_bytes(tasks: &[(StoredTask, bool)]) -> Vec<u8> {
    let tasks: Vec<&StoredTask> = tasks.iter().map(|(t, _)| t).collect();
    rmp_serde::to_vec(&tasks).expect("task checkpoints serialise")
}
