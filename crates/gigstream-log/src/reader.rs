//! Sequential reading of one partition.
//!
//! Each [`PartitionReader::read`] does one large read of the current segment into the batch's
//! buffer and slices whole records out of it; a record cut by the end of the chunk is read
//! again, from its start, by the next call. The reader never writes and takes no lock, so any
//! number can follow a partition while the producer appends to it.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use crate::error::{IoContext, LogError};
use crate::record::{self, Batch, Frame, BODY_FIXED, FRAME_HEADER};
use crate::segment::{self, segment_path};

/// Chunk size used internally to skip to a start offset or find the end.
const SKIP_CHUNK: usize = 256 * 1024;

#[derive(Debug)]
struct OpenSegment {
    file: File,
    path: PathBuf,
    base: u64,
}

fn open_segment(dir: &Path, base: u64) -> Result<Option<OpenSegment>, LogError> {
    let path = segment_path(dir, base);
    match File::open(&path) {
        Ok(file) => Ok(Some(OpenSegment { file, path, base })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(LogError::io("open segment", &path, e)),
    }
}

/// Reads the records of one partition in offset order, from a chosen offset.
///
/// At the end of the written data `read` returns an empty batch; call it again later to see
/// records appended since (a record is visible once the producer has written it out, see
/// [`crate::Producer`]).
#[derive(Debug)]
pub struct PartitionReader {
    dir: PathBuf,
    current: Option<OpenSegment>,
    /// Position in `current` of the record with offset `next_offset`.
    file_pos: u64,
    next_offset: u64,
}

impl PartitionReader {
    /// A reader positioned at `from`, found through the sparse index of the segment holding it.
    pub(crate) fn open(
        dir: PathBuf,
        topic: &str,
        partition: u32,
        from: u64,
    ) -> Result<Self, LogError> {
        let mut reader = Self::at_segment_containing(dir, from)?;
        if reader.next_offset > from {
            return Err(LogError::InvalidArgument(format!(
                "offset {from} of {topic}/{partition} is before its first segment (offset {}); segment files are missing",
                reader.next_offset
            )));
        }
        let mut scratch = Batch::new();
        while reader.next_offset < from {
            reader.read_until(&mut scratch, SKIP_CHUNK, Some(from))?;
            if scratch.is_empty() {
                return Err(LogError::OffsetOutOfRange {
                    topic: topic.to_string(),
                    partition,
                    requested: from,
                    end: reader.next_offset,
                });
            }
        }
        Ok(reader)
    }

    /// The partition's next offset: from the last index entry of the last segment, reads to
    /// the end of the complete records.
    pub(crate) fn end_offset(dir: PathBuf) -> Result<u64, LogError> {
        let mut reader = Self::at_segment_containing(dir, u64::MAX)?;
        let mut scratch = Batch::new();
        loop {
            reader.read(&mut scratch, SKIP_CHUNK)?;
            if scratch.is_empty() {
                return Ok(reader.next_offset);
            }
        }
    }

    /// Positioned at the index entry at or before `target` in the last segment whose base is
    /// at or before `target`.
    fn at_segment_containing(dir: PathBuf, target: u64) -> Result<Self, LogError> {
        let bases = segment::list_segments(&dir)?;
        let Some(&base) = bases.iter().rev().find(|&&b| b <= target) else {
            // No segment yet (nothing written): wait at offset 0 for the first one. A first
            // segment above 0 would mean lost files; `open` then reports the target as absent.
            return Ok(Self {
                dir,
                current: None,
                file_pos: 0,
                next_offset: bases.first().copied().unwrap_or(0),
            });
        };
        let Some(mut seg) = open_segment(&dir, base)? else {
            return Err(LogError::io(
                "open segment",
                &segment_path(&dir, base),
                io::Error::new(io::ErrorKind::NotFound, "segment vanished while opening"),
            ));
        };
        let (file_pos, next_offset) = segment::index_start(&dir, base, target, &mut seg.file)?;
        Ok(Self {
            dir,
            current: Some(seg),
            file_pos,
            next_offset,
        })
    }

    /// The offset of the next record `read` will return.
    pub fn position(&self) -> u64 {
        self.next_offset
    }

    /// Replaces the batch's content with the next records, about `max_bytes` of them (at least
    /// one record if one is available, however large). Empty at the end of the written data.
    pub fn read(&mut self, batch: &mut Batch, max_bytes: usize) -> Result<(), LogError> {
        self.read_until(batch, max_bytes, None)
    }

    /// `read`, stopping before offset `limit` if given.
    fn read_until(
        &mut self,
        batch: &mut Batch,
        max_bytes: usize,
        limit: Option<u64>,
    ) -> Result<(), LogError> {
        batch.clear();
        let mut want = max_bytes.max(FRAME_HEADER + BODY_FIXED);
        let mut seen_next_segment = false;
        loop {
            if self.current.is_none() {
                match open_segment(&self.dir, self.next_offset)? {
                    Some(seg) => {
                        self.current = Some(seg);
                        self.file_pos = 0;
                    }
                    None => return Ok(()),
                }
            }
            let seg = self
                .current
                .as_mut()
                .expect("invariant: segment opened just above");
            if batch.buf.len() < want {
                batch.buf.resize(want, 0);
            }
            let n = segment::read_at(&mut seg.file, self.file_pos, &mut batch.buf[..want])
                .ctx("read segment", &seg.path)?;
            let buf = &batch.buf[..n];
            let mut at = 0;
            let mut next = self.next_offset;
            let stop = loop {
                if limit == Some(next) {
                    break None;
                }
                match record::decode(buf, at, Some(next)) {
                    Frame::Complete { len, slot } => {
                        batch.slots.push(slot);
                        at += len;
                        next += 1;
                    }
                    Frame::Incomplete => break None,
                    Frame::Invalid(reason) => break Some(reason),
                }
            };
            if at > 0 {
                self.file_pos += at as u64;
                self.next_offset = next;
                return Ok(());
            }
            if limit == Some(next) {
                return Ok(());
            }
            if let Some(reason) = stop {
                return self.bad_frame(reason);
            }
            if n == want {
                // A single record larger than the buffer: grow to hold it and read again.
                let body_len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
                want = FRAME_HEADER + body_len;
                continue;
            }
            // End of what is written in this segment. The writer seals a segment (writes it
            // out completely) before it creates the next, named by the next offset; so once
            // that file exists, one more read of this segment sees all it will ever hold.
            if self.next_offset == seg.base {
                return Ok(());
            }
            let Some(next_seg) = open_segment(&self.dir, self.next_offset)? else {
                return Ok(());
            };
            if !seen_next_segment {
                seen_next_segment = true;
                continue;
            }
            if n > 0 {
                return Err(LogError::Corrupt {
                    file: seg.path.clone(),
                    position: self.file_pos,
                    reason: format!(
                        "record cut short in a sealed segment ({n} bytes left before the next segment)"
                    ),
                });
            }
            self.current = Some(next_seg);
            self.file_pos = 0;
            seen_next_segment = false;
        }
    }

    /// The frame at the reader's position is invalid. A torn tail of the last segment (left by
    /// a crash, cut when the next producer opens the partition) reads as the end; damage with
    /// valid records after it, or in a sealed segment, is an error.
    fn bad_frame(&mut self, reason: String) -> Result<(), LogError> {
        let seg = self
            .current
            .as_mut()
            .expect("invariant: called with an open segment");
        let later_segment = segment::list_segments(&self.dir)?
            .last()
            .is_some_and(|&b| b > seg.base);
        if later_segment
            || segment::valid_frame_follows(
                &mut seg.file,
                &seg.path,
                self.file_pos,
                self.next_offset,
            )?
        {
            return Err(LogError::Corrupt {
                file: seg.path.clone(),
                position: self.file_pos,
                reason,
            });
        }
        tracing::debug!(
            file = %seg.path.display(),
            position = self.file_pos,
            %reason,
            "unreadable tail, probably torn by a crash; the next producer will cut it"
        );
        Ok(())
    }
}
