//! Segment files, their sparse offset index, and crash recovery of a partition's tail.
//!
//! A partition directory holds `<base>.log` / `<base>.index` pairs, `<base>` being the offset of
//! the segment's first record written as 20 digits (as Kafka does), so names sort by offset and
//! the segment that follows a full one is named by the next offset to be written.
//!
//! The index holds `(offset - base) u32 LE, file position u32 LE` entries, one each time at least
//! `index_interval_bytes` of records were written since the previous entry. It is only a hint:
//! an entry is checked against the record it points at before use, and the writer rebuilds the
//! active segment's index when it reopens a partition.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError};
use crate::record::{self, Frame, BODY_FIXED, FRAME_HEADER, MAX_RECORD_BYTES};

/// Size of the chunks used when scanning a segment.
const SCAN_CHUNK: usize = 1024 * 1024;

pub(crate) fn segment_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.log"))
}

pub(crate) fn index_path(dir: &Path, base: u64) -> PathBuf {
    dir.join(format!("{base:020}.index"))
}

/// Base offsets of the segments of a partition directory, ascending.
pub(crate) fn list_segments(dir: &Path) -> Result<Vec<u64>, LogError> {
    let mut bases = Vec::new();
    for entry in fs::read_dir(dir).ctx("list partition directory", dir)? {
        let entry = entry.ctx("list partition directory", dir)?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if let Some(stem) = name.strip_suffix(".log") {
            if let Ok(base) = stem.parse::<u64>() {
                bases.push(base);
            }
        }
    }
    bases.sort_unstable();
    Ok(bases)
}

/// Reads as many bytes as available at `pos` into `buf` (short only at end of file).
pub(crate) fn read_at(file: &mut File, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
    file.seek(SeekFrom::Start(pos))?;
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Tracks when the next index entry is due; shared by the writer and by recovery so both build
/// the same index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IndexCadence {
    interval: u64,
    last_entry_pos: u64,
}

impl IndexCadence {
    pub(crate) fn new(interval: u64) -> Self {
        // Position 0 is an implicit entry: the segment's base offset.
        Self {
            interval,
            last_entry_pos: 0,
        }
    }

    /// The entry to write for a record starting at `pos` with `offset`, if one is due.
    pub(crate) fn entry(&mut self, base: u64, offset: u64, pos: u64) -> Option<[u8; 8]> {
        if pos < self.last_entry_pos + self.interval {
            return None;
        }
        // Segments are capped well below 4 GiB and hold fewer than 2^32 records.
        let rel = u32::try_from(offset - base).ok()?;
        let pos32 = u32::try_from(pos).ok()?;
        self.last_entry_pos = pos;
        let mut e = [0u8; 8];
        e[..4].copy_from_slice(&rel.to_le_bytes());
        e[4..].copy_from_slice(&pos32.to_le_bytes());
        Some(e)
    }
}

/// Where to start reading segment `base` to reach `target`: the last index entry at or before
/// it, checked against the record it points at. Returns `(file position, offset there)`.
pub(crate) fn index_start(
    dir: &Path,
    base: u64,
    target: u64,
    file: &mut File,
) -> Result<(u64, u64), LogError> {
    let path = index_path(dir, base);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, base)),
        Err(e) => return Err(LogError::io("read index", &path, e)),
    };
    let entries: Vec<(u64, u64)> = bytes
        .chunks_exact(8)
        .map(|e| {
            let rel = u32::from_le_bytes([e[0], e[1], e[2], e[3]]);
            let pos = u32::from_le_bytes([e[4], e[5], e[6], e[7]]);
            (base + u64::from(rel), u64::from(pos))
        })
        .collect();
    let n = entries.partition_point(|&(off, _)| off <= target);
    let Some(&(offset, pos)) = n.checked_sub(1).and_then(|i| entries.get(i)) else {
        return Ok((0, base));
    };
    // Check the entry: the frame there must carry that offset.
    let mut head = [0u8; FRAME_HEADER + 8];
    let got = read_at(file, pos, &mut head).ctx("read segment", &segment_path(dir, base))?;
    let body_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let stored = u64::from_le_bytes([
        head[8], head[9], head[10], head[11], head[12], head[13], head[14], head[15],
    ]);
    if got == head.len() && (BODY_FIXED..=MAX_RECORD_BYTES).contains(&body_len) && stored == offset
    {
        Ok((pos, offset))
    } else {
        tracing::warn!(
            index = %path.display(),
            offset,
            position = pos,
            "index entry does not match the segment; scanning the segment from its start"
        );
        Ok((0, base))
    }
}

/// Whether a valid frame with an offset at or after `expected` starts anywhere in
/// `file[from + 1..]`: tells damage in the middle of a segment (records follow) from a torn tail
/// (nothing valid follows). Only called on the error path.
pub(crate) fn valid_frame_follows(
    file: &mut File,
    path: &Path,
    from: u64,
    expected: u64,
) -> Result<bool, LogError> {
    let mut rest = Vec::new();
    file.seek(SeekFrom::Start(from + 1))
        .and_then(|_| file.read_to_end(&mut rest))
        .ctx("read segment", path)?;
    // A record is at least FRAME_HEADER + BODY_FIXED bytes, which bounds how far offsets can go.
    let max_offset = expected + (rest.len() / (FRAME_HEADER + BODY_FIXED)) as u64 + 1;
    for at in 0..rest.len() {
        let b = &rest[at..];
        if b.len() < FRAME_HEADER + BODY_FIXED {
            break;
        }
        let body_len = u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize;
        if !(BODY_FIXED..=MAX_RECORD_BYTES).contains(&body_len) || FRAME_HEADER + body_len > b.len()
        {
            continue;
        }
        let mut off = [0u8; 8];
        off.copy_from_slice(&b[FRAME_HEADER..FRAME_HEADER + 8]);
        let offset = u64::from_le_bytes(off);
        if !(expected..=max_offset).contains(&offset) {
            continue;
        }
        if matches!(record::decode(&rest, at, None), Frame::Complete { .. }) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// State of the active segment after [`recover`].
#[derive(Debug)]
pub(crate) struct Recovered {
    /// Length of the valid part (the file is truncated to it).
    pub len: u64,
    /// Offset the next record gets.
    pub next_offset: u64,
    /// Index cadence positioned after the last entry, for the writer to continue.
    pub cadence: IndexCadence,
}

/// Scans segment `base` (the last of its partition) from the start, cuts a torn tail, and
/// rewrites its index. Damage followed by valid records is an error, not something to cut.
pub(crate) fn recover(dir: &Path, base: u64, index_interval: u64) -> Result<Recovered, LogError> {
    let path = segment_path(dir, base);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .ctx("open segment", &path)?;
    let file_len = file.metadata().ctx("stat segment", &path)?.len();

    let mut cadence = IndexCadence::new(index_interval);
    let mut index = Vec::new();
    let mut buf = vec![0u8; SCAN_CHUNK];
    let mut pos = 0u64; // file position of buf[0]
    let mut next_offset = base;
    let problem = loop {
        let n = read_at(&mut file, pos, &mut buf).ctx("read segment", &path)?;
        let mut at = 0;
        let stop = loop {
            match record::decode(&buf[..n], at, Some(next_offset)) {
                Frame::Complete { len, .. } => {
                    if let Some(e) = cadence.entry(base, next_offset, pos + at as u64) {
                        index.extend_from_slice(&e);
                    }
                    at += len;
                    next_offset += 1;
                }
                Frame::Incomplete => break None,
                Frame::Invalid(reason) => break Some(reason),
            }
        };
        let chunk_full = n == buf.len();
        if let Some(reason) = stop {
            break Some((pos + at as u64, reason));
        }
        if at == 0 && chunk_full {
            // One record larger than the chunk: grow to hold it.
            let body_len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            buf.resize(FRAME_HEADER + body_len, 0);
            continue;
        }
        pos += at as u64;
        if !chunk_full {
            break (pos < file_len).then(|| (pos, "record cut short".to_string()));
        }
    };

    let len = match problem {
        None => file_len,
        Some((bad_pos, reason)) => {
            if valid_frame_follows(&mut file, &path, bad_pos, next_offset)? {
                return Err(LogError::Corrupt {
                    file: path,
                    position: bad_pos,
                    reason,
                });
            }
            tracing::warn!(
                file = %path.display(),
                position = bad_pos,
                bytes_cut = file_len - bad_pos,
                %reason,
                "truncating torn tail of the event log segment (an interrupted write)"
            );
            file.set_len(bad_pos).ctx("truncate segment", &path)?;
            file.sync_all().ctx("sync segment", &path)?;
            bad_pos
        }
    };

    let ipath = index_path(dir, base);
    let mut ifile = File::create(&ipath).ctx("rewrite index", &ipath)?;
    ifile
        .write_all(&index)
        .and_then(|_| ifile.sync_all())
        .ctx("rewrite index", &ipath)?;

    Ok(Recovered {
        len,
        next_offset,
        cadence,
    })
}

/// Makes a directory's entries (new or renamed files) durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), LogError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .ctx("sync directory", dir)?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}
