//! Checkpoints stored as content-defined chunks, so that a commit writes what changed of a
//! task's checkpoint, not the whole of it.
//!
//! A task checkpoint is one serialised message of a few megabytes (a partition's projection
//! state over the open horizon); between two commits a small part of it changes (the minutes
//! of the last second, a day of seen event ids). Cut at fixed offsets, one inserted byte would
//! shift every chunk after it; cut where a rolling hash of the last 32 bytes hits a pattern
//! (content-defined chunking, as in rsync and backup tools), boundaries move with the content,
//! and only the chunks around a change are new. A chunk is named by its 128-bit xxh3 hash; a
//! checkpoint is stored as a manifest, the list of its chunks' names, and a sink writes only
//! the chunks it has not written for that task before.

use std::ops::Range;

/// Chunks are at least this long...
const MIN: usize = 512;
/// ...about MIN + 4 KiB long on average...
const MASK: u64 = (1 << 12) - 1;
/// ...and at most this long. Small chunks because a commit changes a few places of a task's
/// checkpoint (the minutes of the last second of each service, the current month, today's
/// seen ids): each place costs one chunk, and low-entropy stretches (runs of zero counts)
/// give no boundary before MAX. `gigstream bench-steady` measured 333 KB of checkpoint per
/// commit at 180 days of history with these chunks, against 1,055 KB with 16 KiB ones, for a
/// manifest of 16 bytes per 4.5 KiB.
const MAX: usize = 16 * 1024;

/// The start of a stored manifest: distinguishes it from a checkpoint stored whole (a
/// MessagePack message never starts with these bytes).
const MAGIC: &[u8; 8] = b"GSCKMAN1";

/// 256 pseudo-random 64-bit values (splitmix64 from a fixed seed): the gear of the rolling
/// hash. Fixed, so that the same content is cut the same way by every process.
fn gear() -> &'static [u64; 256] {
    static GEAR: std::sync::OnceLock<[u64; 256]> = std::sync::OnceLock::new();
    GEAR.get_or_init(|| {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        std::array::from_fn(|_| {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    })
}

/// The content-defined chunks of `data`: `(hash, range)` in order; the ranges cover `data`.
pub fn split(data: &[u8]) -> Vec<(u128, Range<usize>)> {
    let gear = gear();
    let mut out = Vec::with_capacity(data.len() / (MASK as usize + 1) + 1);
    let mut start = 0;
    while start < data.len() {
        let end = boundary(&data[start..], gear) + start;
        out.push((xxhash_rust::xxh3::xxh3_128(&data[start..end]), start..end));
        start = end;
    }
    out
}

/// The length of the first chunk of `data`.
fn boundary(data: &[u8], gear: &[u64; 256]) -> usize {
    if data.len() <= MIN {
        return data.len();
    }
    let mut h: u64 = 0;
    let limit = data.len().min(MAX);
    for (i, b) in data.iter().enumerate().take(limit).skip(MIN) {
        h = (h << 1).wrapping_add(gear[*b as usize]);
        // The top bits, which depend on the last 64 bytes (the low bits depend on the last
        // few only, so data made of short repeating records would rarely or always match).
        if h >> (64 - MASK.count_ones()) == 0 {
            return i + 1;
        }
    }
    limit
}

/// A manifest: the names of a checkpoint's chunks, in order.
pub fn manifest(hashes: &[u128]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 16 * hashes.len());
    out.extend_from_slice(MAGIC);
    for h in hashes {
        out.extend_from_slice(&h.to_le_bytes());
    }
    out
}

/// The chunk names of a stored manifest, or `None` when `stored` is a checkpoint stored whole
/// (written before checkpoints were chunked).
pub fn parse_manifest(stored: &[u8]) -> Option<Vec<u128>> {
    let rest = stored.strip_prefix(MAGIC.as_slice())?;
    if rest.len() % 16 != 0 {
        return None;
    }
    Some(
        rest.chunks_exact(16)
            .map(|c| u128::from_le_bytes(c.try_into().expect("16 bytes")))
            .collect(),
    )
}

/// The name of a chunk: the xxh3-128 hash of its bytes.
pub fn name_of(bytes: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(bytes)
}

/// Hex of a chunk name, for file names and SQL.
pub fn hex(hash: u128) -> String {
    format!("{hash:032x}")
}

/// Reassembles a checkpoint from its manifest's chunks; `get` returns a chunk's bytes by name.
/// Every chunk is checked against its name.
pub fn assemble(
    hashes: &[u128],
    mut get: impl FnMut(u128) -> Option<Vec<u8>>,
) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    for &h in hashes {
        let bytes = get(h).ok_or_else(|| format!("checkpoint chunk {} is missing", hex(h)))?;
        if xxhash_rust::xxh3::xxh3_128(&bytes) != h {
            return Err(format!("checkpoint chunk {} is damaged", hex(h)));
        }
        out.extend_from_slice(&bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn chunks_cover_the_data_and_reassemble() {
        let d = data(1_000_000, 7);
        let parts = split(&d);
        assert!(parts.len() > 20 && parts.len() < 300, "{}", parts.len());
        assert!(parts.iter().all(|(_, r)| r.len() <= MAX));
        let hashes: Vec<u128> = parts.iter().map(|(h, _)| *h).collect();
        let m = manifest(&hashes);
        assert_eq!(parse_manifest(&m).unwrap(), hashes);
        let back = assemble(&hashes, |h| {
            parts
                .iter()
                .find(|(x, _)| *x == h)
                .map(|(_, r)| d[r.clone()].to_vec())
        })
        .unwrap();
        assert_eq!(back, d);
        assert!(parse_manifest(b"\x85\xa6format").is_none());
        assert!(assemble(&hashes, |_| Some(vec![1])).is_err());
        assert!(split(&[]).is_empty());
    }

    #[test]
    fn an_edit_changes_only_the_chunks_around_it() {
        let d = data(2_000_000, 11);
        let before: std::collections::HashSet<u128> = split(&d).iter().map(|(h, _)| *h).collect();
        // Insert 10 bytes in the middle and append 1 KiB at the end.
        let mut e = d.clone();
        e.splice(1_000_000..1_000_000, [1u8; 10]);
        e.extend_from_slice(&[2u8; 1024]);
        let after = split(&e);
        let new = after.iter().filter(|(h, _)| !before.contains(h)).count();
        assert!(new <= 4, "{new} of {} chunks are new", after.len());
        // Removing the first 100 KiB (eviction) re-synchronises too.
        let evicted = &d[100_000..];
        let new = split(evicted)
            .iter()
            .filter(|(h, _)| !before.contains(h))
            .count();
        assert!(new <= 2, "{new} chunks new after removing a prefix");
    }
}
