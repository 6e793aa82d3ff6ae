//! The on-disk record frame, and the zero-copy [`Batch`] / [`RecordRef`] view readers get.
//!
//! A frame is
//!
//! ```text
//! body_len u32 LE | crc32(body) u32 LE | body
//! body = offset u64 | timestamp_ms i64 | key_len u32 | value_len u32 | headers_len u32
//!        | key | value | headers
//! headers = repeated (name_len u16 | name utf-8 | value_len u32 | value)
//! ```
//!
//! The offset is stored in every record even though it could be derived from the segment's base
//! offset: it lets the index be checked, and a reader detect a frame boundary gone wrong.

use crate::error::LogError;

/// Bytes before the body: length and CRC.
pub(crate) const FRAME_HEADER: usize = 8;
/// Fixed part of the body: offset, timestamp, three lengths.
pub(crate) const BODY_FIXED: usize = 28;
/// Largest body accepted. Anything larger is treated as a damaged length field, so a garbage
/// tail is recognised instead of making a reader wait for gigabytes that will never come.
pub const MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

/// Appends one encoded frame to `out`; returns the frame length.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    offset: u64,
    timestamp_ms: i64,
    key: &[u8],
    value: &[u8],
    headers: &[(&str, &[u8])],
) -> Result<usize, LogError> {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| 2 + name.len() + 4 + value.len())
        .sum();
    let body_len = BODY_FIXED + key.len() + value.len() + headers_len;
    if body_len > MAX_RECORD_BYTES {
        return Err(LogError::RecordTooLarge {
            size: body_len,
            max: MAX_RECORD_BYTES,
        });
    }
    for (name, _) in headers {
        if name.len() > usize::from(u16::MAX) {
            return Err(LogError::InvalidArgument(format!(
                "header name of {} bytes is longer than {} bytes",
                name.len(),
                u16::MAX
            )));
        }
    }
    let start = out.len();
    out.reserve(FRAME_HEADER + body_len);
    // Casts below are lossless: every length is bounded by MAX_RECORD_BYTES < u32::MAX.
    out.extend_from_slice(&(body_len as u32).to_le_bytes());
    out.extend_from_slice(&[0; 4]); // CRC, filled in below
    out.extend_from_slice(&offset.to_le_bytes());
    out.extend_from_slice(&timestamp_ms.to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&(headers_len as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
    }
    let crc = crc32fast::hash(&out[start + FRAME_HEADER..]);
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
    Ok(FRAME_HEADER + body_len)
}

/// Where one decoded record lives inside a buffer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub offset: u64,
    pub timestamp_ms: i64,
    /// Index of the key's first byte in the buffer.
    pub key_start: usize,
    pub key_len: u32,
    pub value_len: u32,
    pub headers_len: u32,
}

/// Result of looking at the bytes at one position.
#[derive(Debug)]
pub(crate) enum Frame {
    /// A valid record whose frame is `len` bytes long.
    Complete { len: usize, slot: Slot },
    /// The bytes end before the frame does (normal at the end of what a writer has written).
    Incomplete,
    /// The bytes cannot be a valid frame.
    Invalid(String),
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Decodes the frame at `buf[at..]`, checking its CRC, its internal lengths and, if given, that
/// it carries `expected_offset`. `at` is kept so the slot indexes into `buf` itself.
pub(crate) fn decode(buf: &[u8], at: usize, expected_offset: Option<u64>) -> Frame {
    let bytes = &buf[at..];
    if bytes.len() < FRAME_HEADER {
        return Frame::Incomplete;
    }
    let body_len = u32_at(bytes, 0) as usize;
    if !(BODY_FIXED..=MAX_RECORD_BYTES).contains(&body_len) {
        return Frame::Invalid(format!("impossible record length {body_len}"));
    }
    let len = FRAME_HEADER + body_len;
    if bytes.len() < len {
        return Frame::Incomplete;
    }
    let body = &bytes[FRAME_HEADER..len];
    let offset = u64_at(body, 0);
    if let Some(expected) = expected_offset {
        // Checked before the CRC: it is cheaper, and makes scanning for resynchronisation fast.
        if offset != expected {
            return Frame::Invalid(format!(
                "record carries offset {offset} where {expected} was expected"
            ));
        }
    }
    let stored_crc = u32_at(bytes, 4);
    if crc32fast::hash(body) != stored_crc {
        return Frame::Invalid("crc32 mismatch".to_string());
    }
    let key_len = u32_at(body, 16);
    let value_len = u32_at(body, 20);
    let headers_len = u32_at(body, 24);
    let parts = key_len as usize + value_len as usize + headers_len as usize;
    if BODY_FIXED + parts != body_len {
        return Frame::Invalid(format!(
            "field lengths {key_len}+{value_len}+{headers_len} do not add up to the record length {body_len}"
        ));
    }
    let key_start = at + FRAME_HEADER + BODY_FIXED;
    if headers_len > 0 {
        let h_start = key_start + key_len as usize + value_len as usize;
        if let Err(reason) = check_headers(&buf[h_start..h_start + headers_len as usize]) {
            return Frame::Invalid(reason);
        }
    }
    Frame::Complete {
        len,
        slot: Slot {
            offset,
            timestamp_ms: u64_at(body, 8) as i64,
            key_start,
            key_len,
            value_len,
            headers_len,
        },
    }
}

fn check_headers(mut b: &[u8]) -> Result<(), String> {
    while !b.is_empty() {
        let (name, _value, rest) =
            split_header(b).ok_or_else(|| "headers are truncated".to_string())?;
        std::str::from_utf8(name).map_err(|_| "header name is not utf-8".to_string())?;
        b = rest;
    }
    Ok(())
}

/// Splits one header off the front: (name, value, rest).
fn split_header(b: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let name_len = usize::from(u16::from_le_bytes([*b.first()?, *b.get(1)?]));
    let name = b.get(2..2 + name_len)?;
    let v_at = 2 + name_len;
    let value_len = u32::from_le_bytes(b.get(v_at..v_at + 4)?.try_into().ok()?) as usize;
    let value = b.get(v_at + 4..v_at + 4 + value_len)?;
    Some((name, value, &b[v_at + 4 + value_len..]))
}

/// A reusable buffer of records read from one partition.
///
/// [`crate::PartitionReader::read`] fills it with whole records straight from the segment file;
/// iterating slices records out of that buffer without copying or allocating. Keep one batch per
/// reader and pass it to every `read` so the buffer is reused.
#[derive(Debug, Default)]
pub struct Batch {
    pub(crate) buf: Vec<u8>,
    pub(crate) slots: Vec<Slot>,
}

impl Batch {
    /// An empty batch; its buffer grows to the `max_bytes` of the first read.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of records in the batch.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when the last read found no new record.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The records, in offset order.
    pub fn iter(&self) -> BatchIter<'_> {
        BatchIter {
            batch: self,
            slots: self.slots.iter(),
        }
    }

    /// The record at `index` within the batch.
    pub fn get(&self, index: usize) -> Option<RecordRef<'_>> {
        self.slots.get(index).map(|s| self.record(s))
    }

    fn record(&self, s: &Slot) -> RecordRef<'_> {
        let key_end = s.key_start + s.key_len as usize;
        let value_end = key_end + s.value_len as usize;
        let headers_end = value_end + s.headers_len as usize;
        RecordRef {
            offset: s.offset,
            timestamp_ms: s.timestamp_ms,
            key: &self.buf[s.key_start..key_end],
            value: &self.buf[key_end..value_end],
            headers: Headers(&self.buf[value_end..headers_end]),
        }
    }

    pub(crate) fn clear(&mut self) {
        self.slots.clear();
    }
}

impl<'a> IntoIterator for &'a Batch {
    type Item = RecordRef<'a>;
    type IntoIter = BatchIter<'a>;

    fn into_iter(self) -> BatchIter<'a> {
        self.iter()
    }
}

/// Iterator over the records of a [`Batch`].
#[derive(Debug, Clone)]
pub struct BatchIter<'a> {
    batch: &'a Batch,
    slots: std::slice::Iter<'a, Slot>,
}

impl<'a> Iterator for BatchIter<'a> {
    type Item = RecordRef<'a>;

    fn next(&mut self) -> Option<RecordRef<'a>> {
        self.slots.next().map(|s| self.batch.record(s))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.slots.size_hint()
    }
}

impl ExactSizeIterator for BatchIter<'_> {}

/// One record, borrowed from a [`Batch`].
#[derive(Debug, Clone, Copy)]
pub struct RecordRef<'a> {
    /// Position in the partition, dense from 0.
    pub offset: u64,
    /// Create time given by the producer, milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    /// The key the partition was chosen by.
    pub key: &'a [u8],
    /// The payload.
    pub value: &'a [u8],
    /// Record headers (used by dead-letter records).
    pub headers: Headers<'a>,
}

/// The headers of a record: `(name, value)` pairs in the order they were sent.
#[derive(Debug, Clone, Copy)]
pub struct Headers<'a>(&'a [u8]);

impl<'a> Headers<'a> {
    /// True when the record has no header.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The headers in order.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter(self.0)
    }

    /// The value of the first header called `name`.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Owned copy, for callers that keep headers beyond the batch.
    pub fn to_vec(&self) -> Vec<(String, Vec<u8>)> {
        self.iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect()
    }
}

impl<'a> IntoIterator for Headers<'a> {
    type Item = (&'a str, &'a [u8]);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'a>(&'a [u8]);

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a str, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Headers were validated when the record was read; a failure here cannot happen, and
        // ending the iteration is the harmless answer if it did.
        let (name, value, rest) = split_header(self.0)?;
        let name = std::str::from_utf8(name).ok()?;
        self.0 = rest;
        Some((name, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        let mut buf = vec![0xAA; 3]; // decoding at a non-zero position
        let len = encode(
            &mut buf,
            42,
            -5,
            b"key",
            b"value",
            &[("reason", b"bad"), ("n", b"")],
        )
        .expect("encode");
        assert_eq!(buf.len(), 3 + len);
        let Frame::Complete { len: l, slot } = decode(&buf, 3, Some(42)) else {
            panic!("not complete")
        };
        assert_eq!(l, len);
        let batch = Batch {
            buf: buf.clone(),
            slots: vec![slot],
        };
        let r = batch.get(0).expect("record");
        assert_eq!((r.offset, r.timestamp_ms), (42, -5));
        assert_eq!((r.key, r.value), (&b"key"[..], &b"value"[..]));
        assert_eq!(r.headers.get("reason"), Some(&b"bad"[..]));
        assert_eq!(r.headers.iter().count(), 2);

        assert!(matches!(decode(&buf, 3, Some(41)), Frame::Invalid(_)));
        assert!(matches!(
            decode(&buf[..buf.len() - 1], 3, None),
            Frame::Incomplete
        ));
        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(decode(&flipped, 3, None), Frame::Invalid(r) if r.contains("crc")));
    }
}
