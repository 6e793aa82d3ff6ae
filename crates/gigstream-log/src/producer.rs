//! The single writer of a log directory.
//!
//! Appends go through a `BufWriter` per partition: a record becomes visible to readers when the
//! buffer is written out (when it fills, on [`Producer::flush`], or when the producer is
//! dropped), and durable only on `flush`, which also fsyncs.

use std::collections::HashMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError};
use crate::record;
use crate::segment::{self, index_path, segment_path, sync_dir, IndexCadence};
use crate::topic::partition_dir;
use crate::Log;
use gigstream_core::partition::partition_for;

const LOG_BUFFER: usize = 256 * 1024;
const INDEX_BUFFER: usize = 8 * 1024;
pub(crate) const LOCK_FILE: &str = "writer.lock";

/// Appends records to the log. At most one exists per log directory at a time (enforced with
/// an exclusive lock on `<dir>/writer.lock`, also across processes).
#[derive(Debug)]
pub struct Producer {
    log: Log,
    /// Held for the producer's lifetime; the lock goes with the file.
    _lock: File,
    topics: HashMap<String, Vec<Option<PartitionWriter>>>,
    scratch: Vec<u8>,
}

impl Producer {
    pub(crate) fn new(log: Log) -> Result<Self, LogError> {
        let path = log.dir().join(LOCK_FILE);
        let mut lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .ctx("open writer lock", &path)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut pid = String::new();
                let _ = lock.read_to_string(&mut pid);
                let pid = pid.trim();
                return Err(LogError::Locked {
                    dir: log.dir().to_path_buf(),
                    pid: if pid.is_empty() { "unknown" } else { pid }.to_string(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(LogError::io("lock", &path, e)),
        }
        // The pid is only for the error message of a second writer.
        lock.set_len(0)
            .and_then(|_| lock.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(lock, "{}", std::process::id()))
            .and_then(|_| lock.flush())
            .ctx("write writer lock", &path)?;
        Ok(Self {
            log,
            _lock: lock,
            topics: HashMap::new(),
            scratch: Vec::with_capacity(4096),
        })
    }

    /// Appends a keyed record to the partition Kafka's default partitioner picks for `key`.
    /// Returns `(partition, offset)`.
    pub fn send(
        &mut self,
        topic: &str,
        key: &[u8],
        value: &[u8],
        timestamp_ms: i64,
        headers: &[(&str, &[u8])],
    ) -> Result<(u32, u64), LogError> {
        let partitions = self.partitions_of(topic)?.len() as u32;
        let partition = partition_for(key, partitions);
        let offset = self.send_to(topic, partition, key, value, timestamp_ms, headers)?;
        Ok((partition, offset))
    }

    /// Appends a record to an explicit partition. Returns its offset.
    pub fn send_to(
        &mut self,
        topic: &str,
        partition: u32,
        key: &[u8],
        value: &[u8],
        timestamp_ms: i64,
        headers: &[(&str, &[u8])],
    ) -> Result<u64, LogError> {
        let config = self.log.config();
        let partitions = writers_of(&mut self.topics, &self.log, topic)?;
        let count = partitions.len() as u32;
        let slot =
            partitions
                .get_mut(partition as usize)
                .ok_or_else(|| LogError::NoSuchPartition {
                    topic: topic.to_string(),
                    partition,
                    partitions: count,
                })?;
        let writer = match slot {
            Some(w) => w,
            None => slot.insert(PartitionWriter::open(
                partition_dir(self.log.dir(), topic, partition),
                config.index_interval_bytes,
            )?),
        };
        self.scratch.clear();
        let offset = writer.next_offset;
        record::encode(&mut self.scratch, offset, timestamp_ms, key, value, headers)?;
        writer.append(&self.scratch, config.segment_bytes)?;
        Ok(offset)
    }

    /// Writes out buffered records and fsyncs them (and the directories of new segment files),
    /// so everything sent so far survives a crash.
    pub fn flush(&mut self) -> Result<(), LogError> {
        for partitions in self.topics.values_mut() {
            for writer in partitions.iter_mut().flatten() {
                writer.flush()?;
            }
        }
        Ok(())
    }

    /// Next offset of a partition as this producer sees it (including buffered records).
    pub fn next_offset(&mut self, topic: &str, partition: u32) -> Result<u64, LogError> {
        let buffered = self
            .partitions_of(topic)?
            .get(partition as usize)
            .and_then(|w| w.as_ref().map(|w| w.next_offset));
        match buffered {
            Some(next) => Ok(next),
            None => self.log.end_offset(topic, partition),
        }
    }

    fn partitions_of(
        &mut self,
        topic: &str,
    ) -> Result<&mut Vec<Option<PartitionWriter>>, LogError> {
        writers_of(&mut self.topics, &self.log, topic)
    }
}

/// The writer slots of `topic`, one per partition, opened lazily.
fn writers_of<'a>(
    topics: &'a mut HashMap<String, Vec<Option<PartitionWriter>>>,
    log: &Log,
    topic: &str,
) -> Result<&'a mut Vec<Option<PartitionWriter>>, LogError> {
    if !topics.contains_key(topic) {
        let n = log.partitions(topic)?;
        topics.insert(topic.to_string(), (0..n).map(|_| None).collect());
    }
    Ok(topics
        .get_mut(topic)
        .expect("invariant: topic entry inserted just above"))
}

/// Appends to the active (last) segment of one partition.
#[derive(Debug)]
struct PartitionWriter {
    dir: PathBuf,
    base: u64,
    next_offset: u64,
    /// Bytes in the active segment, buffered ones included.
    len: u64,
    cadence: IndexCadence,
    index_interval: u64,
    log: BufWriter<File>,
    index: BufWriter<File>,
    /// Something was appended since the last flush.
    dirty: bool,
    /// A segment file was created since the last flush: the directory needs an fsync too.
    created: bool,
}

impl PartitionWriter {
    /// Opens the partition's last segment, recovering its tail, or creates segment 0.
    fn open(dir: PathBuf, index_interval: u64) -> Result<Self, LogError> {
        let bases = segment::list_segments(&dir)?;
        match bases.last() {
            Some(&base) => {
                let rec = segment::recover(&dir, base, index_interval)?;
                let (log, index) = open_files(&dir, base, false)?;
                Ok(Self {
                    dir,
                    base,
                    next_offset: rec.next_offset,
                    len: rec.len,
                    cadence: rec.cadence,
                    index_interval,
                    log,
                    index,
                    dirty: false,
                    created: false,
                })
            }
            None => {
                let (log, index) = open_files(&dir, 0, true)?;
                Ok(Self {
                    dir,
                    base: 0,
                    next_offset: 0,
                    len: 0,
                    cadence: IndexCadence::new(index_interval),
                    index_interval,
                    log,
                    index,
                    dirty: false,
                    created: true,
                })
            }
        }
    }

    fn append(&mut self, frame: &[u8], segment_bytes: u64) -> Result<(), LogError> {
        if self.len > 0 && self.len + frame.len() as u64 > segment_bytes {
            self.roll()?;
        }
        if let Some(entry) = self.cadence.entry(self.base, self.next_offset, self.len) {
            let path = index_path(&self.dir, self.base);
            self.index.write_all(&entry).ctx("append to index", &path)?;
        }
        let path = segment_path(&self.dir, self.base);
        self.log.write_all(frame).ctx("append to segment", &path)?;
        self.len += frame.len() as u64;
        self.next_offset += 1;
        self.dirty = true;
        Ok(())
    }

    /// Seals the active segment (written out and fsynced, so a sealed segment is never torn)
    /// and starts a new one named by the next offset.
    fn roll(&mut self) -> Result<(), LogError> {
        self.sync_files()?;
        let (log, index) = open_files(&self.dir, self.next_offset, true)?;
        self.log = log;
        self.index = index;
        self.base = self.next_offset;
        self.len = 0;
        self.cadence = IndexCadence::new(self.index_interval);
        self.created = true;
        Ok(())
    }

    fn sync_files(&mut self) -> Result<(), LogError> {
        let lpath = segment_path(&self.dir, self.base);
        self.log.flush().ctx("write segment", &lpath)?;
        self.log.get_ref().sync_data().ctx("sync segment", &lpath)?;
        let ipath = index_path(&self.dir, self.base);
        self.index.flush().ctx("write index", &ipath)?;
        self.index.get_ref().sync_data().ctx("sync index", &ipath)?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), LogError> {
        if self.dirty || self.created {
            self.sync_files()?;
            self.dirty = false;
        }
        if self.created {
            sync_dir(&self.dir)?;
            self.created = false;
        }
        Ok(())
    }
}

fn open_files(
    dir: &Path,
    base: u64,
    create: bool,
) -> Result<(BufWriter<File>, BufWriter<File>), LogError> {
    let lpath = segment_path(dir, base);
    let ipath = index_path(dir, base);
    let (log, index) = if create {
        // A leftover index without its segment (crash between the two creations) is stale.
        let log = OpenOptions::new()
            .append(true)
            .create_new(true)
            .open(&lpath)
            .ctx("create segment", &lpath)?;
        let index = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&ipath)
            .ctx("create index", &ipath)?;
        (log, index)
    } else {
        // Recovery just rewrote the index to match the segment.
        let log = OpenOptions::new()
            .append(true)
            .open(&lpath)
            .ctx("open segment for append", &lpath)?;
        let index = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&ipath)
            .ctx("open index for append", &ipath)?;
        (log, index)
    };
    Ok((
        BufWriter::with_capacity(LOG_BUFFER, log),
        BufWriter::with_capacity(INDEX_BUFFER, index),
    ))
}
