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

/// The ids of one day. Stored as one byte string of little-endian `u64`s (a checkpoint holds
/// every id of the allowed lateness, millions of them: writing them one serde element at a
/// time cost more than the rest of the checkpoint), in the order they were first seen: a
/// commit's new ids then extend the end of the string, and a checkpoint cut into
/// content-defined chunks (`crate::chunks`) changes in one place per day touched. Written in
/// the set's order, each new id landed at a random place and changed a chunk of its own: at
/// 50 events/s that was most of every commit's checkpoint. Checkpoints written before stored a
/// sequence of integers; that still loads.
#[derive(Debug, Default, Clone)]
struct Ids {
    set: IdSet,
    /// The same ids in the order they were first inserted.
    order: Vec<u64>,
}

impl Ids {
    fn with_capacity(capacity: usize) -> Ids {
        Ids {
            set: IdSet::with_capacity_and_hasher(capacity, Default::default()),
            order: Vec::with_capacity(capacity),
        }
    }

    fn insert(&mut self, id: u64) -> bool {
        let new = self.set.insert(id);
        if new {
            self.order.push(id);
        }
        new
    }

    fn len(&self) -> usize {
        self.order.len()
    }
}

impl Serialize for Ids {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::with_capacity(self.order.len() * 8);
        for id in &self.order {
            bytes.extend_from_slice(&id.to_le_bytes());
        }
        s.serialize_bytes(&bytes)
    }
}

impl<'de> Deserialize<'de> for Ids {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ids;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("event id hashes as bytes or as a sequence of integers")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Ids, E> {
                if !v.len().is_multiple_of(8) {
                    return Err(E::custom(format!(
                        "{} bytes of event id hashes is not a multiple of 8",
                        v.len()
                    )));
                }
                let mut ids = Ids::with_capacity(v.len() / 8);
                for c in v.chunks_exact(8) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(c);
                    ids.insert(u64::from_le_bytes(b));
                }
                Ok(ids)
            }
            /// The earlier encoding (and the bytes of formats without a byte string type are
            /// not expected here: checkpoints are MessagePack).
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ids, A::Error> {
                let mut ids = Ids::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(id) = seq.next_element::<u64>()? {
                    ids.insert(id);
                }
                Ok(ids)
            }
        }
        d.deserialize_any(V)
    }
}

/// Seen event ids of one partition, by day of event time.
///
/// Days are a sorted vector with a cursor on the last day used: events arrive mostly in time
/// order, so the common case is the same day as the previous event, found without a search or a
/// division. Stored as a map from day to ids, like the `BTreeMap` it was before.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(from = "StoredDedup")]
pub struct Dedup {
    /// Sorted by day (days since the epoch), unique.
    days: Vec<(i64, Ids)>,
    /// Position of the last day used; a hint only.
    cursor: usize,
}

#[derive(Deserialize)]
struct StoredDedup {
    days: BTreeMap<i64, Ids>,
}

impl From<StoredDedup> for Dedup {
    fn from(s: StoredDedup) -> Dedup {
        Dedup {
            days: s.days.into_iter().collect(),
            cursor: 0,
        }
    }
}

impl Serialize for Dedup {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Days<'a>(&'a [(i64, Ids)]);
        impl Serialize for Days<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_map(self.0.iter().map(|(d, ids)| (d, ids)))
            }
        }
        let mut st = s.serialize_struct("Dedup", 1)?;
        st.serialize_field("days", &Days(&self.days))?;
        st.end()
    }
}

impl Dedup {
    /// Records the id; returns false when it was seen before.
    pub fn insert(&mut self, event_id: &str, occurred_at: i64) -> bool {
        let h = xxhash_rust::xxh3::xxh3_64(event_id.as_bytes());
        let i = match self.days.get(self.cursor) {
            Some((day, _)) if (day * DAY_MS..(day + 1) * DAY_MS).contains(&occurred_at) => {
                self.cursor
            }
            _ => self.locate(occurred_at.div_euclid(DAY_MS)),
        };
        self.cursor = i;
        self.days[i].1.insert(h)
    }

    /// The position of `day`, inserted when missing.
    fn locate(&mut self, day: i64) -> usize {
        match self.days.binary_search_by_key(&day, |(d, _)| *d) {
            Ok(i) => i,
            Err(i) => {
                // A new newest day is sized like the newest one so far (days carry similar
                // traffic), so it does not grow by rehashing; an old day starts empty.
                let capacity = match self.days.last() {
                    Some((_, ids)) if i == self.days.len() => ids.len(),
                    _ => 0,
                };
                self.days.insert(i, (day, Ids::with_capacity(capacity)));
                i
            }
        }
    }

    /// Forgets days entirely older than `horizon_ms`.
    pub fn evict_before(&mut self, horizon_ms: i64) {
        let keep_from = horizon_ms.div_euclid(DAY_MS);
        let old = self.days.partition_point(|(d, _)| *d < keep_from);
        if old > 0 {
            self.days.drain(..old);
            self.cursor = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.days.iter().map(|(_, ids)| ids.len()).sum()
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

    #[test]
    fn days_stay_sorted_whatever_the_arrival_order() {
        let mut d = Dedup::default();
        let days = [5, 2, 5, 9, -1, 2, 7, 9, 0];
        for (i, day) in days.iter().enumerate() {
            assert!(d.insert(&format!("e-{i}"), day * DAY_MS + (i as i64) * 1_000));
            // The last millisecond of the day is the same day; the next one is not.
            assert!(d.insert(&format!("f-{i}"), day * DAY_MS + DAY_MS - 1));
        }
        let stored: Vec<i64> = d.days.iter().map(|(day, _)| *day).collect();
        assert_eq!(stored, vec![-1, 0, 2, 5, 7, 9]);
        for (i, day) in days.iter().enumerate() {
            assert!(!d.insert(&format!("e-{i}"), day * DAY_MS + (i as i64) * 1_000));
        }
        assert_eq!(d.len(), 2 * days.len());
        d.evict_before(3 * DAY_MS + 5);
        let kept: Vec<i64> = d.days.iter().map(|(day, _)| *day).collect();
        assert_eq!(kept, vec![5, 7, 9]);
        assert!(!d.insert("e-3", 9 * DAY_MS + 3_000));
        assert!(
            d.insert("e-1", 2 * DAY_MS + 1_000),
            "forgotten with its day"
        );
    }

    #[test]
    fn new_ids_change_the_chunked_checkpoint_in_one_place_per_day() {
        // A day of 100k ids (a busy partition's day), then a commit's worth of new ones.
        let mut d = Dedup::default();
        for i in 0..100_000 {
            d.insert(&format!("e-{i}"), 10 * DAY_MS + i);
        }
        let chunks = |d: &Dedup| -> std::collections::HashSet<u128> {
            let bytes = rmp_serde::to_vec(d).unwrap();
            crate::chunks::split(&bytes)
                .into_iter()
                .map(|(h, _)| h)
                .collect()
        };
        let before = chunks(&d);
        for i in 0..50 {
            d.insert(&format!("n-{i}"), 10 * DAY_MS + 100_000 + i);
        }
        let new = chunks(&d).difference(&before).count();
        // The day's length (its header) and its end; in set order it was one chunk per id.
        assert!(new <= 3, "{new} new chunks for 50 new ids of one day");
    }

    #[test]
    fn ids_survive_a_checkpoint_in_both_encodings() {
        let mut d = Dedup::default();
        for i in 0..1_000 {
            d.insert(&format!("e-{i}"), i * DAY_MS / 100);
        }
        let packed: Dedup = rmp_serde::from_slice(&rmp_serde::to_vec(&d).unwrap()).unwrap();
        // Checkpoints written before stored each day's ids as a sequence of integers.
        #[derive(Serialize)]
        struct Earlier {
            days: BTreeMap<i64, Vec<u64>>,
        }
        let earlier = Earlier {
            days: d.days.iter().map(|(k, v)| (*k, v.order.clone())).collect(),
        };
        let loaded: Dedup = rmp_serde::from_slice(&rmp_serde::to_vec(&earlier).unwrap()).unwrap();
        for mut restored in [packed, loaded] {
            assert_eq!(restored.len(), 1_000);
            assert_eq!(restored.days.len(), d.days.len());
            for i in 0..1_000 {
                assert!(
                    !restored.insert(&format!("e-{i}"), i * DAY_MS / 100),
                    "e-{i}"
                );
            }
            assert!(restored.insert("new", 0));
        }
        // A byte string that is not whole ids is refused.
        #[derive(Serialize)]
        struct Bad {
            days: BTreeMap<i64, serde_bytes::ByteBuf>,
        }
        let bad = Bad {
            days: [(0, serde_bytes::ByteBuf::from(vec![1u8; 12]))].into(),
        };
        assert!(rmp_serde::from_slice::<Dedup>(&rmp_serde::to_vec(&bad).unwrap()).is_err());
    }
}
