//! Idempotency: an event id seen before is counted once.
//!
//! Ids are remembered per partition (a repeated event has the same key, so the same partition)
//! and per UTC day of its event time. Days older than the partition's watermark minus the allowed
//! lateness are forgotten: a repeat of such an event is itself too late and goes to the dead
//! letters as `late`, so nothing accepted can be counted twice. Ids are stored as 64-bit xxh3
//! hashes (a stable hash, so checkpoints stay valid across builds); two different ids collide
//! with probability about n²/2⁶⁵ (3·10⁻⁸ for a million ids in one partition's window).

use gigstream_core::time::DAY_MS;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// The keys are already hashes: hashing them again would only cost time.
#[derive(Default)]
pub struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdSet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// Seen event ids of one partition, by day of event time.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Dedup {
    days: BTreeMap<i64, IdSet>,
}

impl Dedup {
    /// Records the id; returns false when it was seen before.
    pub fn insert(&mut self, event_id: &str, occurred_at: i64) -> bool {
        let h = xxhash_rust::xxh3::xxh3_64(event_id.as_bytes());
        self.days
            .entry(occurred_at.div_euclid(DAY_MS))
            .or_default()
            .insert(h)
    }

    /// Forgets days entirely older than `horizon_ms`.
    pub fn evict_before(&mut self, horizon_ms: i64) {
        let keep_from = horizon_ms.div_euclid(DAY_MS);
        while let Some((&day, _)) = self.days.first_key_value() {
            if day >= keep_from {
                break;
            }
            self.days.pop_first();
        }
    }

    pub fn len(&self) -> usize {
        self.days.values().map(HashSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.days.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_are_detected_and_old_days_forgotten() {
        let mut d = Dedup::default();
        assert!(d.insert("a", 0));
        assert!(!d.insert("a", 0));
        assert!(d.insert("b", 3 * DAY_MS));
        d.evict_before(2 * DAY_MS);
        assert_eq!(d.len(), 1);
        assert!(!d.insert("b", 3 * DAY_MS));
    }
}
