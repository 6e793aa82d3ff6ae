//! Committed consumer positions: `groups/<group>.offsets`, one `topic partition next_offset`
//! line per partition, replaced atomically (temp file, fsync, rename, fsync of the directory).
//!
//! A `groups/<group>.lock` file lock serialises the read-modify-write of concurrent committers
//! of the same group, across processes.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError};
use crate::segment::sync_dir;
use crate::topic::validate_name;

/// Positions of a group: `(topic, partition) → next offset to read`.
pub type Positions = BTreeMap<(String, u32), u64>;

fn groups_dir(root: &Path) -> PathBuf {
    root.join("groups")
}

fn offsets_path(root: &Path, group: &str) -> PathBuf {
    groups_dir(root).join(format!("{group}.offsets"))
}

pub(crate) fn read(root: &Path, group: &str) -> Result<Positions, LogError> {
    validate_name("consumer group", group)?;
    let path = offsets_path(root, group);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Positions::new()),
        Err(e) => return Err(LogError::io("read committed offsets", &path, e)),
    };
    let mut positions = Positions::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let parsed = match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(topic), Some(p), Some(o), None) => p
                .parse::<u32>()
                .ok()
                .zip(o.parse::<u64>().ok())
                .map(|(p, o)| (topic.to_string(), p, o)),
            _ => None,
        };
        let Some((topic, partition, offset)) = parsed else {
            return Err(LogError::BadMetadata {
                path,
                reason: format!("line {} is not `topic partition offset`", i + 1),
            });
        };
        positions.insert((topic, partition), offset);
    }
    Ok(positions)
}

pub(crate) fn commit(
    root: &Path,
    group: &str,
    updates: &[(&str, u32, u64)],
) -> Result<(), LogError> {
    validate_name("consumer group", group)?;
    for (topic, _, _) in updates {
        validate_name("topic", topic)?;
    }
    let dir = groups_dir(root);
    let lock_path = dir.join(format!("{group}.lock"));
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ctx("open group lock", &lock_path)?;
    lock.lock().ctx("lock consumer group", &lock_path)?;

    let mut positions = read(root, group)?;
    for (topic, partition, offset) in updates {
        positions.insert((topic.to_string(), *partition), *offset);
    }
    let mut text = String::new();
    for ((topic, partition), offset) in &positions {
        text.push_str(&format!("{topic} {partition} {offset}\n"));
    }
    let path = offsets_path(root, group);
    let tmp = dir.join(format!("{group}.offsets.tmp"));
    let mut f = File::create(&tmp).ctx("write committed offsets", &tmp)?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .ctx("write committed offsets", &tmp)?;
    fs::rename(&tmp, &path).ctx("replace committed offsets", &path)?;
    sync_dir(&dir)?;
    // Dropping `lock` releases it.
    Ok(())
}
