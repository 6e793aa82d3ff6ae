//! Avro object container files (`.avro`), written by hand with the datum encoder: header
//! (`Obj\x01`, metadata map with `avro.schema` and `avro.codec` = `null`, 16-byte sync marker),
//! then blocks of (count, byte size, datums, sync marker). Only the `null` codec is supported.

use crate::codec::{decode_avro_prefix, encode_datum, Codec};
use crate::error::{DecodeError, EncodeError};
use crate::registry::{topic_of_record, SchemaId};
use crate::schema::{self, Node};
use crate::ser::{write_bytes, write_long};
use gigstream_core::{Event, Topic};
use std::io::{Read, Write};

const MAGIC: [u8; 4] = *b"Obj\x01";
/// A block is flushed once its data passes this size.
const BLOCK_BYTES: usize = 64 * 1024;
/// Refuse blocks or metadata larger than this (a corrupt length would otherwise allocate it).
const MAX_CHUNK: u64 = 256 * 1024 * 1024;

impl Codec {
    /// Writes `events` (all of `topic`) as an object container file with `schema` as the writer
    /// schema. Returns how many events were written.
    pub fn write_container<'e, W: Write>(
        &self,
        topic: Topic,
        schema: SchemaId,
        events: impl IntoIterator<Item = &'e Event>,
        mut w: W,
    ) -> Result<u64, EncodeError> {
        let entry = self.checked_entry(schema, topic)?;
        let sync = sync_marker(entry.fingerprint);
        let mut head = Vec::with_capacity(entry.json.len() + 64);
        head.extend_from_slice(&MAGIC);
        write_long(&mut head, 2);
        write_bytes(&mut head, b"avro.schema");
        write_bytes(&mut head, entry.json.as_bytes());
        write_bytes(&mut head, b"avro.codec");
        write_bytes(&mut head, b"null");
        write_long(&mut head, 0);
        head.extend_from_slice(&sync);
        w.write_all(&head)?;

        let mut block = Vec::with_capacity(BLOCK_BYTES + 1024);
        let mut in_block = 0i64;
        let mut total = 0u64;
        let mut frame = Vec::with_capacity(32);
        let mut flush = |block: &mut Vec<u8>, count: i64, w: &mut W| -> std::io::Result<()> {
            frame.clear();
            write_long(&mut frame, count);
            write_long(&mut frame, block.len() as i64);
            w.write_all(&frame)?;
            w.write_all(block)?;
            w.write_all(&sync)?;
            block.clear();
            Ok(())
        };
        for event in events {
            if event.topic() != topic {
                return Err(EncodeError::TopicMismatch {
                    id: schema,
                    schema_topic: topic,
                    topic: event.topic(),
                });
            }
            encode_datum(entry, event, &mut block)?;
            in_block += 1;
            total += 1;
            if block.len() >= BLOCK_BYTES {
                flush(&mut block, in_block, &mut w)?;
                in_block = 0;
            }
        }
        if in_block > 0 {
            flush(&mut block, in_block, &mut w)?;
        }
        w.flush()?;
        Ok(total)
    }

    /// Reads an object container file written by any Avro writer whose schema is one of
    /// gigstream's topic records (resolved by the embedded writer schema, like any Avro reader).
    pub fn read_container<R: Read>(&self, r: R) -> Result<ContainerReader<R>, DecodeError> {
        ContainerReader::open(r)
    }
}

/// The events of a container file, block by block.
pub struct ContainerReader<R> {
    r: R,
    node: Node,
    topic: Topic,
    sync: [u8; 16],
    block: Vec<u8>,
    pos: usize,
    left: u64,
    failed: bool,
}

impl<R: Read> ContainerReader<R> {
    fn open(mut r: R) -> Result<Self, DecodeError> {
        let mut magic = [0u8; 4];
        read_exact(&mut r, &mut magic, "the file magic")?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic(magic[0]));
        }
        let (mut schema_json, mut codec) = (None, None);
        loop {
            let mut n = read_long(&mut r)?.ok_or_else(|| eof("the header"))?;
            if n == 0 {
                break;
            }
            if n < 0 {
                n = -n;
                read_long(&mut r)?;
            }
            for _ in 0..n {
                let key = read_chunk(&mut r, "a metadata key")?;
                let value = read_chunk(&mut r, "a metadata value")?;
                match key.as_slice() {
                    b"avro.schema" => schema_json = Some(value),
                    b"avro.codec" => codec = Some(value),
                    _ => {}
                }
            }
        }
        let mut sync = [0u8; 16];
        read_exact(&mut r, &mut sync, "the sync marker")?;
        if let Some(c) = codec.filter(|c| c.as_slice() != b"null") {
            return Err(DecodeError::InvalidAvro(format!(
                "container codec '{}' is not supported: write files with the null codec",
                String::from_utf8_lossy(&c)
            )));
        }
        let json = schema_json
            .ok_or_else(|| DecodeError::InvalidAvro("container header lacks avro.schema".into()))?;
        let value: serde_json::Value = serde_json::from_slice(&json)
            .map_err(|e| DecodeError::InvalidAvro(format!("container schema is not json: {e}")))?;
        let node = schema::compile(&value)
            .map_err(|e| DecodeError::InvalidAvro(format!("container schema: {e}")))?;
        let topic = match &node {
            Node::Record(rec) => topic_of_record(&rec.fullname),
            _ => None,
        }
        .ok_or_else(|| {
            DecodeError::UnknownSchema(
                "in container: its top-level type is not a gigstream topic record".into(),
            )
        })?;
        Ok(ContainerReader {
            r,
            node,
            topic,
            sync,
            block: Vec::new(),
            pos: 0,
            left: 0,
            failed: false,
        })
    }

    /// The topic the file's writer schema belongs to.
    pub fn topic(&self) -> Topic {
        self.topic
    }

    /// Loads the next block; `false` at a clean end of file.
    fn next_block(&mut self) -> Result<bool, DecodeError> {
        let Some(count) = read_long(&mut self.r)? else {
            return Ok(false);
        };
        let size = read_long(&mut self.r)?.ok_or_else(|| eof("a block header"))?;
        let (Ok(count), Ok(size)) = (u64::try_from(count), u64::try_from(size)) else {
            return Err(DecodeError::InvalidAvro(format!(
                "negative block count {count} or size {size}"
            )));
        };
        if size > MAX_CHUNK {
            return Err(DecodeError::InvalidAvro(format!(
                "block of {size} bytes is too large"
            )));
        }
        self.block.resize(size as usize, 0);
        read_exact(&mut self.r, &mut self.block, "a block")?;
        let mut sync = [0u8; 16];
        read_exact(&mut self.r, &mut sync, "a block's sync marker")?;
        if sync != self.sync {
            return Err(DecodeError::InvalidAvro(
                "block sync marker does not match the header".into(),
            ));
        }
        self.pos = 0;
        self.left = count;
        Ok(true)
    }
}

impl<R: Read> Iterator for ContainerReader<R> {
    type Item = Result<Event, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = (|| {
            while self.left == 0 {
                if !self.next_block()? {
                    return Ok(None);
                }
            }
            let (event, n) = decode_avro_prefix(&self.node, self.topic, &self.block[self.pos..])
                .map_err(|e| DecodeError::InvalidAvro(e.to_string()))?;
            self.pos += n;
            self.left -= 1;
            if self.left == 0 && self.pos != self.block.len() {
                return Err(DecodeError::InvalidAvro(format!(
                    "{} bytes left over at the end of a block",
                    self.block.len() - self.pos
                )));
            }
            Ok(Some(event))
        })();
        match result {
            Ok(Some(e)) => Some(Ok(e)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

fn eof(what: &str) -> DecodeError {
    DecodeError::Truncated(format!("container file ends inside {what}"))
}

fn read_exact<R: Read>(r: &mut R, buf: &mut [u8], what: &str) -> Result<(), DecodeError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        std::io::ErrorKind::UnexpectedEof => eof(what),
        _ => DecodeError::Io(e),
    })
}

/// Reads a zigzag varint; `None` at end of input before its first byte.
fn read_long<R: Read>(r: &mut R) -> Result<Option<i64>, DecodeError> {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let mut b = [0u8; 1];
        if r.read(&mut b)? == 0 {
            return if shift == 0 {
                Ok(None)
            } else {
                Err(eof("a varint"))
            };
        }
        if shift > 63 {
            return Err(DecodeError::InvalidAvro("varint overflows 64 bits".into()));
        }
        n |= u64::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            return Ok(Some((n >> 1) as i64 ^ -((n & 1) as i64)));
        }
        shift += 7;
    }
}

fn read_chunk<R: Read>(r: &mut R, what: &str) -> Result<Vec<u8>, DecodeError> {
    let len = read_long(r)?.ok_or_else(|| eof(what))?;
    let len = u64::try_from(len)
        .ok()
        .filter(|&l| l <= MAX_CHUNK)
        .ok_or_else(|| DecodeError::InvalidAvro(format!("bad length {len} of {what}")))?;
    let mut buf = vec![0u8; len as usize];
    read_exact(r, &mut buf, what)?;
    Ok(buf)
}

/// A per-file sync marker: unpredictable enough that it does not occur in data by accident.
fn sync_marker(fingerprint: u64) -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let a = schema::rabin(&nanos.to_le_bytes()) ^ fingerprint;
    let b = schema::rabin(&a.to_le_bytes()) ^ u64::from(std::process::id());
    let mut sync = [0u8; 16];
    sync[..8].copy_from_slice(&a.to_le_bytes());
    sync[8..].copy_from_slice(&b.to_le_bytes());
    sync
}
