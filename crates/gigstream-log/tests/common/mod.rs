//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use gigstream_log::{Batch, Log, PartitionReader};

/// An owned copy of a record, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owned {
    pub offset: u64,
    pub timestamp_ms: i64,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// Reads a partition from `from` to its current end.
pub fn read_all(log: &Log, topic: &str, partition: u32, from: u64) -> Vec<Owned> {
    let mut reader = log.reader(topic, partition, from).expect("open reader");
    drain(&mut reader, 64 * 1024)
}

/// Reads everything a reader can see now.
pub fn drain(reader: &mut PartitionReader, max_bytes: usize) -> Vec<Owned> {
    let mut batch = Batch::new();
    let mut out = Vec::new();
    loop {
        reader.read(&mut batch, max_bytes).expect("read");
        if batch.is_empty() {
            return out;
        }
        out.extend(batch.iter().map(|r| Owned {
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key.to_vec(),
            value: r.value.to_vec(),
            headers: r.headers.to_vec(),
        }));
    }
}

pub fn partition_dir(dir: &Path, topic: &str, partition: u32) -> PathBuf {
    dir.join("topics").join(topic).join(partition.to_string())
}

pub fn segment_file(dir: &Path, topic: &str, partition: u32, base: u64) -> PathBuf {
    partition_dir(dir, topic, partition).join(format!("{base:020}.log"))
}

/// The value of record `i` in the tests' deterministic data.
pub fn value(i: u64) -> Vec<u8> {
    format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes()
}
