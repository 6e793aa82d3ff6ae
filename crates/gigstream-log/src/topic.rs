//! Topic metadata: `topics/<topic>/partitions` holds the partition count, and
//! `topics/<topic>/<n>/` the segments of partition `n`.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError};
use crate::segment::sync_dir;

const PARTITIONS_FILE: &str = "partitions";

/// Checks a topic or group name; the rules are Kafka's (`[A-Za-z0-9._-]`, at most 249
/// characters, not `.` or `..`), which also makes every valid name a safe file name.
pub(crate) fn validate_name(kind: &'static str, name: &str) -> Result<(), LogError> {
    let reason = if name.is_empty() {
        Some("it is empty")
    } else if name == "." || name == ".." {
        Some("`.` and `..` are reserved")
    } else if name.len() > 249 {
        Some("it is longer than 249 characters")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        Some("only ASCII letters, digits, `.`, `_` and `-` are allowed")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LogError::InvalidName {
            kind,
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

pub(crate) fn topic_dir(root: &Path, topic: &str) -> PathBuf {
    root.join("topics").join(topic)
}

pub(crate) fn partition_dir(root: &Path, topic: &str, partition: u32) -> PathBuf {
    topic_dir(root, topic).join(partition.to_string())
}

/// The partition count on disk, `None` if the topic does not exist.
pub(crate) fn read_partitions(root: &Path, topic: &str) -> Result<Option<u32>, LogError> {
    let path = topic_dir(root, topic).join(PARTITIONS_FILE);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(LogError::io("read topic metadata", &path, e)),
    };
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(LogError::BadMetadata {
            path,
            reason: format!(
                "expected a positive partition count, found {:?}",
                text.trim()
            ),
        }),
    }
}

/// Creates the topic's directories and metadata; returns the partition count on disk, which
/// differs from `partitions` when another caller created the topic first.
///
/// The metadata file appears atomically (hard link of a complete temp file, which fails if the
/// name exists), after the partition directories, so a topic that is visible is complete.
pub(crate) fn create(root: &Path, topic: &str, partitions: u32) -> Result<u32, LogError> {
    if let Some(existing) = read_partitions(root, topic)? {
        return Ok(existing);
    }
    let dir = topic_dir(root, topic);
    fs::create_dir_all(&dir).ctx("create topic directory", &dir)?;
    for p in 0..partitions {
        let pdir = partition_dir(root, topic, p);
        fs::create_dir_all(&pdir).ctx("create partition directory", &pdir)?;
    }
    let tmp = dir.join(format!("{PARTITIONS_FILE}.tmp.{}", std::process::id()));
    let mut f = File::create(&tmp).ctx("write topic metadata", &tmp)?;
    f.write_all(format!("{partitions}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .ctx("write topic metadata", &tmp)?;
    let path = dir.join(PARTITIONS_FILE);
    let linked = fs::hard_link(&tmp, &path);
    // The temp file is ours alone (pid in its name); failing to remove it only leaves litter.
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(LogError::io("write topic metadata", &path, e)),
    }
    sync_dir(&dir)?;
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    read_partitions(root, topic)?.ok_or_else(|| LogError::BadMetadata {
        path,
        reason: "the file vanished right after it was created".to_string(),
    })
}

/// Names of the complete topics, sorted.
pub(crate) fn list(root: &Path) -> Result<Vec<String>, LogError> {
    let dir = root.join("topics");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).ctx("list topics", &dir)? {
        let entry = entry.ctx("list topics", &dir)?;
        if let Some(name) = entry.file_name().to_str() {
            if validate_name("topic", name).is_ok() && entry.path().join(PARTITIONS_FILE).exists() {
                names.push(name.to_string());
            }
        }
    }
    names.sort();
    Ok(names)
}
