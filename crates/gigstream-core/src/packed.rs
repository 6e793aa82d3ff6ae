//! A compact byte encoding for large, regular parts of projection states (per-minute series,
//! sets of ids), used in their checkpoints.
//!
//! Serialising hundreds of thousands of small structs field by field through serde costs more
//! than the rest of a commit; writing them as one byte string of LEB128 varints is an order of
//! magnitude faster and smaller. Types that use it serialise as bytes and, so that checkpoints
//! written before still load, also accept their earlier serde shape when deserialising.

use std::fmt;

/// A byte string being written.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(bytes: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(bytes),
        }
    }

    /// An unsigned integer as a LEB128 varint (1 byte below 128, at most 10).
    #[inline]
    pub fn u64(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A signed integer, zigzag-encoded so small magnitudes stay short.
    #[inline]
    pub fn i64(&mut self, v: i64) {
        self.u64(((v << 1) ^ (v >> 63)) as u64);
    }

    /// Raw bytes, without a length.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }
}

/// Why a byte string could not be read: it ends early or holds a value out of range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackError(pub String);

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PackError {}

/// A byte string being read.
#[derive(Debug)]
pub struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes }
    }

    #[inline]
    pub fn u64(&mut self) -> Result<u64, PackError> {
        let mut v = 0u64;
        for (i, &b) in self.bytes.iter().enumerate().take(10) {
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                if i == 9 && b > 1 {
                    break;
                }
                self.bytes = &self.bytes[i + 1..];
                return Ok(v);
            }
        }
        Err(PackError(if self.bytes.len() < 10 {
            "the data ends inside a number".into()
        } else {
            "a number is longer than 64 bits".into()
        }))
    }

    #[inline]
    pub fn i64(&mut self) -> Result<i64, PackError> {
        let z = self.u64()?;
        Ok(((z >> 1) as i64) ^ -((z & 1) as i64))
    }

    /// A `u64` that must fit `T` (a count, an index).
    pub fn int<T: TryFrom<u64>>(&mut self, what: &str) -> Result<T, PackError> {
        let v = self.u64()?;
        T::try_from(v).map_err(|_| PackError(format!("{what} {v} is out of range")))
    }

    /// The next `n` bytes.
    pub fn raw(&mut self, n: usize) -> Result<&'a [u8], PackError> {
        if self.bytes.len() < n {
            return Err(PackError(format!(
                "{n} bytes expected, {} left",
                self.bytes.len()
            )));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len()
    }

    /// Errors unless everything was read.
    pub fn finish(self) -> Result<(), PackError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(PackError(format!(
                "{} bytes left over at the end",
                self.bytes.len()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        let us = [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX];
        let is = [0, 1, -1, 63, -64, 64, i64::MIN, i64::MAX];
        let mut w = Writer::default();
        us.iter().for_each(|v| w.u64(*v));
        is.iter().for_each(|v| w.i64(*v));
        w.raw(b"xy");
        assert_eq!(w.as_bytes()[0], 0);
        let bytes = w.into_bytes();
        let mut r = Reader::new(&bytes);
        for v in us {
            assert_eq!(r.u64().unwrap(), v);
        }
        for v in is {
            assert_eq!(r.i64().unwrap(), v);
        }
        assert_eq!(r.raw(2).unwrap(), b"xy");
        assert_eq!(r.remaining(), 0);
        r.finish().unwrap();
    }

    #[test]
    fn damaged_data_is_an_error() {
        assert!(Reader::new(&[0x80]).u64().is_err());
        assert!(Reader::new(&[0xff; 11]).u64().is_err());
        // Ten bytes whose last carries more than the 64th bit.
        let mut too_big = [0xff; 10];
        too_big[9] = 0x02;
        assert!(Reader::new(&too_big).u64().is_err());
        assert!(Reader::new(&[1, 2]).finish().is_err());
        assert!(Reader::new(&[1]).raw(2).is_err());
        assert!(Reader::new(&[0xac, 0x02]).int::<u8>("bucket").is_err());
        assert_eq!(Reader::new(&[0xac, 0x02]).int::<u16>("bucket"), Ok(300));
    }
}
