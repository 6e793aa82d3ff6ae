//! Where tables go. A sink commits a service's tables together with its checkpoint in one
//! atomic step, and hands the last committed checkpoint back on start.

use gigstream_core::table::TableData;
use gigstream_parquet::{ParquetStore, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("embedded tables: {0}")]
    Parquet(#[from] StoreError),
    #[error("{message}")]
    Other { message: String, retryable: bool },
}

impl SinkError {
    /// Whether trying the same commit again later may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            SinkError::Parquet(StoreError::Io { .. }) => true,
            SinkError::Parquet(_) => false,
            SinkError::Other { retryable, .. } => *retryable,
        }
    }
}

pub trait Sink: Send {
    /// The checkpoint of the last commit of `service`, if any.
    fn load_checkpoint(&mut self, service: &str) -> Result<Option<Vec<u8>>, SinkError>;

    /// Atomically replaces the service's tables and checkpoint.
    fn commit(
        &mut self,
        service: &str,
        tables: &[TableData],
        checkpoint: &[u8],
    ) -> Result<(), SinkError>;
}

impl Sink for ParquetStore {
    fn load_checkpoint(&mut self, service: &str) -> Result<Option<Vec<u8>>, SinkError> {
        Ok(ParquetStore::load_checkpoint(self, service)?)
    }

    fn commit(
        &mut self,
        service: &str,
        tables: &[TableData],
        checkpoint: &[u8],
    ) -> Result<(), SinkError> {
        ParquetStore::commit(self, service, tables, checkpoint)?;
        Ok(())
    }
}
