//! gigstream's embedded event log: the default event source when no Kafka is configured
//! ([`EmbeddedSource`] is its [`gigstream_runtime::Source`]).
//!
//! A durable, Kafka-like append-only log under one directory:
//!
//! ```text
//! <dir>/writer.lock                         held by the one Producer (pid inside)
//! <dir>/topics/<topic>/partitions           partition count
//! <dir>/topics/<topic>/<p>/<base>.log       segment: framed records from offset <base>
//! <dir>/topics/<topic>/<p>/<base>.index     sparse offset index of that segment
//! <dir>/groups/<group>.offsets              committed consumer positions
//! ```
//!
//! Data flows one way: a single [`Producer`] appends records (partition chosen by key exactly
//! like Kafka's default partitioner, see [`partition_for`]) to the active segment of each
//! partition, rolling to a new segment at [`LogConfig::segment_bytes`]; any number of
//! [`PartitionReader`]s, in this or other processes, read them back in large chunks into a
//! reusable [`Batch`] and iterate zero-copy [`RecordRef`]s. Every record is framed with its
//! length and a CRC32; a torn tail left by a crash is cut when the producer next opens the
//! partition, while damage in the middle of a partition is reported, never skipped.
//!
//! ```no_run
//! # fn main() -> Result<(), gigstream_log::LogError> {
//! use gigstream_log::{Batch, Log};
//! let log = Log::open(std::path::Path::new("/tmp/data/log"))?;
//! log.create_topic("orders", 4)?;
//! let mut producer = log.producer()?;
//! let (partition, offset) = producer.send("orders", b"deal-1", b"{...}", 1_700_000_000_000, &[])?;
//! producer.flush()?;
//! let mut reader = log.reader("orders", partition, offset)?;
//! let mut batch = Batch::new();
//! reader.read(&mut batch, 1 << 20)?;
//! for record in &batch {
//!     println!("{} {:?}", record.offset, record.value);
//! }
//! # Ok(()) }
//! ```

mod error;
mod offsets;
mod producer;
mod reader;
mod record;
mod segment;
mod source;
mod topic;

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

pub use error::LogError;
pub use gigstream_core::partition::{murmur2, partition_for};
pub use producer::Producer;
pub use reader::PartitionReader;
pub use record::{Batch, BatchIter, HeaderIter, Headers, RecordRef, MAX_RECORD_BYTES};
pub use source::EmbeddedSource;

use error::IoContext;

/// Tuning of a log; the defaults suit production.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogConfig {
    /// A segment is rolled when the next record would take it past this size. Default 128 MiB,
    /// at most 1 GiB (index positions are 32 bits).
    pub segment_bytes: u64,
    /// An index entry is written each time this many bytes of records were appended since the
    /// previous one (as Kafka's `index.interval.bytes`). Default 4 KiB.
    pub index_interval_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            segment_bytes: 128 * 1024 * 1024,
            index_interval_bytes: 4096,
        }
    }
}

/// A handle on a log directory; cheap to clone and share between threads.
#[derive(Debug, Clone)]
pub struct Log {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    config: LogConfig,
    /// Partition counts never change once a topic exists, so they are cached.
    partitions: Mutex<HashMap<String, u32>>,
}

impl Log {
    /// Opens the log in `dir` with the default configuration, creating the directory if missing.
    pub fn open(dir: &Path) -> Result<Log, LogError> {
        Self::open_with(dir, LogConfig::default())
    }

    /// Opens the log in `dir` with `config`, creating the directory if missing.
    pub fn open_with(dir: &Path, config: LogConfig) -> Result<Log, LogError> {
        if config.segment_bytes == 0 || config.segment_bytes > 1 << 30 {
            return Err(LogError::InvalidArgument(format!(
                "segment_bytes must be between 1 and {} (1 GiB), not {}",
                1u64 << 30,
                config.segment_bytes
            )));
        }
        if config.index_interval_bytes == 0 {
            return Err(LogError::InvalidArgument(
                "index_interval_bytes must be at least 1".to_string(),
            ));
        }
        let fresh = !dir.join("topics").is_dir();
        for sub in ["topics", "groups"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).ctx("create log directory", &path)?;
        }
        if fresh {
            // Make the new layout itself durable, not only what is later written into it.
            segment::sync_dir(dir)?;
        }
        Ok(Log {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                config,
                partitions: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The directory of the log.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The configuration the log was opened with.
    pub fn config(&self) -> LogConfig {
        self.inner.config
    }

    /// Creates a topic with `partitions` partitions. Calling it again with the same count does
    /// nothing; with another count it fails with [`LogError::PartitionCountMismatch`].
    pub fn create_topic(&self, topic: &str, partitions: u32) -> Result<(), LogError> {
        topic::validate_name("topic", topic)?;
        if partitions == 0 {
            return Err(LogError::InvalidArgument(format!(
                "topic `{topic}` needs at least one partition"
            )));
        }
        let existing = topic::create(self.dir(), topic, partitions)?;
        if existing != partitions {
            return Err(LogError::PartitionCountMismatch {
                topic: topic.to_string(),
                existing,
                requested: partitions,
            });
        }
        self.cache_partitions(topic, existing);
        Ok(())
    }

    /// Names of the existing topics, sorted.
    pub fn topics(&self) -> Result<Vec<String>, LogError> {
        topic::list(self.dir())
    }

    /// Partition count of `topic`; [`LogError::UnknownTopic`] if it was not created.
    pub fn partitions(&self, topic: &str) -> Result<u32, LogError> {
        if let Some(&n) = self.lock_cache().get(topic) {
            return Ok(n);
        }
        topic::validate_name("topic", topic)?;
        let n =
            topic::read_partitions(self.dir(), topic)?.ok_or_else(|| LogError::UnknownTopic {
                topic: topic.to_string(),
                dir: self.dir().to_path_buf(),
            })?;
        self.cache_partitions(topic, n);
        Ok(n)
    }

    /// The offset the next record of the partition gets, as far as readers can see (records
    /// still buffered in a producer are not counted).
    pub fn end_offset(&self, topic: &str, partition: u32) -> Result<u64, LogError> {
        let dir = self.partition_dir(topic, partition)?;
        PartitionReader::end_offset(dir)
    }

    /// Takes the writer lock and returns the producer. Fails with [`LogError::Locked`] while
    /// another producer (in any process) exists for this directory.
    pub fn producer(&self) -> Result<Producer, LogError> {
        Producer::new(self.clone())
    }

    /// A reader of `topic`/`partition` whose first record will be offset `from` (which may be
    /// the end offset, to wait for new records).
    pub fn reader(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
    ) -> Result<PartitionReader, LogError> {
        let dir = self.partition_dir(topic, partition)?;
        PartitionReader::open(dir, topic, partition, from)
    }

    /// Records that `group` has processed `topic`/`partition` up to (not including)
    /// `next_offset`. Stored atomically and durably; a progress hint for restarts.
    pub fn commit(
        &self,
        group: &str,
        topic: &str,
        partition: u32,
        next_offset: u64,
    ) -> Result<(), LogError> {
        offsets::commit(self.dir(), group, &[(topic, partition, next_offset)])
    }

    /// [`Log::commit`] for several partitions in one atomic write.
    pub fn commit_many(&self, group: &str, positions: &[(&str, u32, u64)]) -> Result<(), LogError> {
        offsets::commit(self.dir(), group, positions)
    }

    /// The positions committed by `group`: `(topic, partition) → next offset`. Empty for a
    /// group that never committed.
    pub fn committed(&self, group: &str) -> Result<BTreeMap<(String, u32), u64>, LogError> {
        offsets::read(self.dir(), group)
    }

    fn partition_dir(&self, topic: &str, partition: u32) -> Result<PathBuf, LogError> {
        let partitions = self.partitions(topic)?;
        if partition >= partitions {
            return Err(LogError::NoSuchPartition {
                topic: topic.to_string(),
                partition,
                partitions,
            });
        }
        Ok(topic::partition_dir(self.dir(), topic, partition))
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // The cache holds plain values; a panic elsewhere cannot leave it inconsistent.
        self.inner
            .partitions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cache_partitions(&self, topic: &str, n: u32) {
        self.lock_cache().insert(topic.to_string(), n);
    }
}
