//! The one error type of the crate.

use std::io;
use std::path::{Path, PathBuf};

/// Everything that can go wrong with the event log.
///
/// Only [`LogError::Io`] may succeed on retry (a full disk, a transient failure); the others
/// describe a state of the log or a call that retrying does not change.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A file system operation failed.
    #[error("failed to {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "open segment".
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },

    /// A topic or consumer group name that cannot be used (it becomes a directory or file name).
    #[error("invalid {kind} name `{name}`: {reason}")]
    InvalidName {
        /// "topic" or "consumer group".
        kind: &'static str,
        /// The rejected name.
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },

    /// The topic has not been created.
    #[error("topic `{topic}` does not exist in the event log at {}; create it first with create_topic", dir.display())]
    UnknownTopic {
        /// The topic asked for.
        topic: String,
        /// The log directory.
        dir: PathBuf,
    },

    /// `create_topic` was called with a partition count different from the existing topic's.
    #[error("topic `{topic}` already exists with {existing} partitions, not {requested}; use {existing} partitions or another topic name")]
    PartitionCountMismatch {
        /// The topic.
        topic: String,
        /// Its partition count on disk.
        existing: u32,
        /// The count asked for.
        requested: u32,
    },

    /// A partition number that the topic does not have.
    #[error("topic `{topic}` has no partition {partition} (it has {partitions} partitions, numbered from 0)")]
    NoSuchPartition {
        /// The topic.
        topic: String,
        /// The partition asked for.
        partition: u32,
        /// How many the topic has.
        partitions: u32,
    },

    /// `create_topic` with zero partitions or an unusable configuration value.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// Another process (or another `Producer` in this one) holds the writer lock.
    #[error("the event log at {} is being written by another process (pid {pid}); stop that writer first, or use another data directory", dir.display())]
    Locked {
        /// The log directory.
        dir: PathBuf,
        /// The pid written in the lock file by the holder, or "unknown".
        pid: String,
    },

    /// A record inside the log (not at its torn tail) is damaged.
    #[error("corrupt record in {} at byte {position}: {reason}; restore the file from a backup or cut the partition at this point", file.display())]
    Corrupt {
        /// The segment file.
        file: PathBuf,
        /// The byte position of the bad frame in that file.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },

    /// A file of the log (topic metadata, committed offsets) that cannot be parsed.
    #[error("unreadable metadata file {}: {reason}; fix or delete it", path.display())]
    BadMetadata {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    /// A reader was asked to start past the end of the partition.
    #[error("offset {requested} is past the end of {topic}/{partition} (next offset is {end}); start at or before {end}")]
    OffsetOutOfRange {
        /// The topic.
        topic: String,
        /// The partition.
        partition: u32,
        /// The offset asked for.
        requested: u64,
        /// The partition's next offset.
        end: u64,
    },

    /// A record too large for the frame format.
    #[error("record of {size} bytes is larger than the maximum of {max} bytes; split the payload")]
    RecordTooLarge {
        /// The encoded size.
        size: usize,
        /// The limit.
        max: usize,
    },
}

impl LogError {
    pub(crate) fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        LogError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Shorthand used throughout the crate to attach an action and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, LogError>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, action: &'static str, path: &Path) -> Result<T, LogError> {
        self.map_err(|e| LogError::io(action, path, e))
    }
}
