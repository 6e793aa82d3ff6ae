//! A small, fast, non-cryptographic hasher for the per-service map on the hot path.
//!
//! SipHash (std's default) costs about as much as the rest of applying a request. Keys are
//! service ids from our own telemetry, so resistance to hash flooding is not needed here. This
//! is the multiply-rotate scheme of rustc's `FxHasher`.

use std::hash::{BuildHasherDefault, Hasher};

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

#[derive(Debug, Clone, Copy, Default)]
pub struct FxHasher {
    hash: u64,
}

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(c);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// `HashMap<K, V, FxBuildHasher>` hashes with [`FxHasher`].
pub type FxBuildHasher = BuildHasherDefault<FxHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::hash::BuildHasher;

    #[test]
    fn distinct_ids_hash_apart_and_maps_work() {
        let b = FxBuildHasher::default();
        let ids = [
            "api",
            "api2",
            "billing-gateway",
            "search",
            "svc-00",
            "svc-01",
            "",
        ];
        let hashes: std::collections::BTreeSet<u64> = ids.iter().map(|s| b.hash_one(s)).collect();
        assert_eq!(hashes.len(), ids.len());
        let mut m: HashMap<String, usize, FxBuildHasher> = HashMap::default();
        for (i, id) in ids.iter().enumerate() {
            m.insert(id.to_string(), i);
        }
        assert!(ids.iter().enumerate().all(|(i, id)| m.get(*id) == Some(&i)));
    }
}
