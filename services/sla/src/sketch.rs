//! A mergeable latency histogram with fixed log-linear buckets.
//!
//! Buckets are fixed in advance, so two sketches merge by adding counts: the sketch of a window
//! or a month is the sum of its minutes' sketches, whatever order the events arrived in.
//!
//! Layout over integer milliseconds `0..=60_000`:
//! - `0..=127`: one bucket per millisecond, so these values are exact;
//! - from 128 up: every power of two `[2^e, 2^(e+1))` is cut into 64 equal buckets, so a bucket
//!   is at most 1/64 of its lower bound wide and its middle is within 1/128 (0.78%) of any value
//!   in it;
//! - values above 60,000 ms are clamped into the last bucket and counted in
//!   [`LatencySketch::clamped`].
//!
//! Each bucket is represented by one integer value (its middle, rounded down, clipped to the
//! range), [`bucket_value`]. Tables store the non-empty buckets as parallel arrays of
//! representative values and counts, so SQL gets the same quantile as [`LatencySketch::quantile`]
//! over any set of rows with `quantileExactWeighted(q)(v, c)` after `ARRAY JOIN`.

use gigstream_core::packed::{PackError, Reader, Writer};
use serde::{Deserialize, Serialize};

/// Largest latency kept apart; larger values land in the last bucket.
pub const MAX_MS: u32 = 60_000;
/// Values below this have a bucket each.
const LINEAR: u32 = 128;
/// log2 of the buckets per power of two above [`LINEAR`].
const SUB_BITS: u32 = 6;
const SUB: u32 = 1 << SUB_BITS;
/// `log2(LINEAR)`: the first power of two cut into sub-buckets.
const FIRST_EXP: u32 = 7;

/// Number of buckets: the index of [`MAX_MS`] plus one (694).
pub const BUCKETS: usize = bucket_index(MAX_MS) as usize + 1;

/// The bucket holding `ms` (clamped to [`MAX_MS`]).
pub const fn bucket_index(ms: u32) -> u16 {
    let v = if ms > MAX_MS { MAX_MS } else { ms };
    if v < LINEAR {
        return v as u16;
    }
    let exp = 31 - v.leading_zeros();
    let sub = (v >> (exp - SUB_BITS)) & (SUB - 1);
    (LINEAR + (exp - FIRST_EXP) * SUB + sub) as u16
}

/// Lowest and highest millisecond value of bucket `index` (the last one ends at [`MAX_MS`]).
pub const fn bucket_range(index: u16) -> (u32, u32) {
    let i = index as u32;
    if i < LINEAR {
        return (i, i);
    }
    let exp = FIRST_EXP + (i - LINEAR) / SUB;
    let sub = (i - LINEAR) % SUB;
    let shift = exp - SUB_BITS;
    let lo = (SUB + sub) << shift;
    let hi = lo + (1 << shift) - 1;
    (lo, if hi > MAX_MS { MAX_MS } else { hi })
}

/// The value that represents bucket `index`: the middle of its range, rounded down.
pub const fn bucket_value(index: u16) -> u32 {
    let (lo, hi) = bucket_range(index);
    lo + (hi - lo) / 2
}

/// [`bucket_value`] of every bucket, computed at compile time.
static VALUES: [u32; BUCKETS] = {
    let mut v = [0; BUCKETS];
    let mut i = 0;
    while i < BUCKETS {
        v[i] = bucket_value(i as u16);
        i += 1;
    }
    v
};

/// `ceil(q × total)` kept within `1..=total`: the rank of the `q` quantile among `total`
/// values. Exactly what `(q × total as f64).ceil()` gives, without calling `ceil`, which is a
/// library function on baseline x86-64 and showed up in the render profile.
#[inline]
pub fn rank(q: f64, total: u64) -> u64 {
    let x = q.clamp(0.0, 1.0) * total as f64;
    // 0 <= x <= total: truncating is flooring, exact while counts stay below 2^53.
    let floor = x as u64;
    let ceil = if (floor as f64) < x { floor + 1 } else { floor };
    ceil.clamp(1, total)
}

/// Buckets kept in the sketch itself before a heap allocation is needed.
const INLINE: usize = 4;

/// The non-empty buckets of a sketch: indices strictly increasing and their counts.
///
/// A service keeps one sketch per minute for months, and a quiet minute touches only a few
/// buckets: up to [`INLINE`] of them live in the sketch itself, so such a minute costs no
/// allocation (two per minute before, and as many frees when the state is dropped).
#[derive(Debug, Clone)]
enum Buckets {
    Inline {
        len: u8,
        index: [u16; INLINE],
        counts: [u64; INLINE],
    },
    Heap {
        index: Vec<u16>,
        counts: Vec<u64>,
    },
}

impl Default for Buckets {
    fn default() -> Self {
        Buckets::Inline {
            len: 0,
            index: [0; INLINE],
            counts: [0; INLINE],
        }
    }
}

impl Buckets {
    /// From parallel vectors of equal length.
    fn from_vecs(index: Vec<u16>, counts: Vec<u64>) -> Buckets {
        debug_assert_eq!(index.len(), counts.len());
        if index.len() > INLINE {
            return Buckets::Heap { index, counts };
        }
        let mut b = Buckets::default();
        if let Buckets::Inline {
            len,
            index: i,
            counts: c,
        } = &mut b
        {
            *len = index.len() as u8;
            i[..index.len()].copy_from_slice(&index);
            c[..counts.len()].copy_from_slice(&counts);
        }
        b
    }

    #[inline]
    fn index(&self) -> &[u16] {
        match self {
            Buckets::Inline { len, index, .. } => &index[..usize::from(*len)],
            Buckets::Heap { index, .. } => index,
        }
    }

    #[inline]
    fn counts(&self) -> &[u64] {
        match self {
            Buckets::Inline { len, counts, .. } => &counts[..usize::from(*len)],
            Buckets::Heap { counts, .. } => counts,
        }
    }

    #[inline]
    fn counts_mut(&mut self) -> &mut [u64] {
        match self {
            Buckets::Inline { len, counts, .. } => &mut counts[..usize::from(*len)],
            Buckets::Heap { counts, .. } => counts,
        }
    }

    /// Inserts bucket `b` with `count` at `pos`, keeping the order.
    #[inline]
    fn insert(&mut self, pos: usize, b: u16, count: u64) {
        match self {
            Buckets::Inline { len, index, counts } if usize::from(*len) < INLINE => {
                let n = usize::from(*len);
                index.copy_within(pos..n, pos + 1);
                counts.copy_within(pos..n, pos + 1);
                index[pos] = b;
                counts[pos] = count;
                *len += 1;
            }
            Buckets::Inline { index, counts, .. } => {
                let mut i = Vec::with_capacity(2 * INLINE);
                let mut c = Vec::with_capacity(2 * INLINE);
                i.extend_from_slice(&index[..pos]);
                i.push(b);
                i.extend_from_slice(&index[pos..]);
                c.extend_from_slice(&counts[..pos]);
                c.push(count);
                c.extend_from_slice(&counts[pos..]);
                *self = Buckets::Heap {
                    index: i,
                    counts: c,
                };
            }
            Buckets::Heap { index, counts } => {
                index.insert(pos, b);
                counts.insert(pos, count);
            }
        }
    }
}

/// A sparse latency histogram: the non-empty buckets in index order and their counts.
///
/// Sparse because a service keeps one sketch per minute for months; a minute of real traffic
/// touches a few hundred of the 694 buckets.
#[derive(Debug, Clone, Default)]
pub struct LatencySketch {
    buckets: Buckets,
    total: u64,
    clamped: u64,
}

impl PartialEq for LatencySketch {
    /// The same buckets and counts, however they are stored.
    fn eq(&self, other: &Self) -> bool {
        self.total == other.total
            && self.clamped == other.clamped
            && self.buckets.index() == other.buckets.index()
            && self.buckets.counts() == other.buckets.counts()
    }
}

impl Eq for LatencySketch {}

/// The serde form of a sketch (as its fields were before buckets could be stored inline):
/// what checkpoints written before request minutes were packed hold.
#[derive(Serialize, Deserialize)]
#[serde(rename = "LatencySketch")]
struct StoredSketch {
    index: Vec<u16>,
    counts: Vec<u64>,
    total: u64,
    clamped: u64,
}

impl Serialize for LatencySketch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        StoredSketch {
            index: self.buckets.index().to_vec(),
            counts: self.buckets.counts().to_vec(),
            total: self.total,
            clamped: self.clamped,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for LatencySketch {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = StoredSketch::deserialize(d)?;
        if s.index.len() != s.counts.len() {
            return Err(serde::de::Error::custom(format!(
                "{} bucket indices for {} counts",
                s.index.len(),
                s.counts.len()
            )));
        }
        Ok(LatencySketch {
            buckets: Buckets::from_vecs(s.index, s.counts),
            total: s.total,
            clamped: s.clamped,
        })
    }
}

impl LatencySketch {
    pub fn new() -> LatencySketch {
        LatencySketch::default()
    }

    /// Counts one latency. Allocates only when a minute's buckets outgrow the inline ones.
    #[inline]
    pub fn record(&mut self, ms: u32) {
        let b = bucket_index(ms);
        self.total += 1;
        self.clamped += u64::from(ms > MAX_MS);
        match self.buckets.index().binary_search(&b) {
            Ok(pos) => self.buckets.counts_mut()[pos] += 1,
            Err(pos) => self.buckets.insert(pos, b, 1),
        }
    }

    /// Non-empty buckets.
    pub fn bucket_count(&self) -> usize {
        self.buckets.index().len()
    }

    /// Values recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Values above [`MAX_MS`] that were counted in the last bucket.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// Adds `other`'s counts: the result is the sketch of the union of both inputs.
    pub fn merge(&mut self, other: &LatencySketch) {
        let (si, sc) = (self.buckets.index(), self.buckets.counts());
        let (oi, oc) = (other.buckets.index(), other.buckets.counts());
        let mut index = Vec::with_capacity(si.len() + oi.len());
        let mut counts = Vec::with_capacity(index.capacity());
        let (mut i, mut j) = (0, 0);
        while i < si.len() || j < oi.len() {
            let a = si.get(i).copied().unwrap_or(u16::MAX);
            let b = oi.get(j).copied().unwrap_or(u16::MAX);
            if a < b {
                index.push(a);
                counts.push(sc[i]);
                i += 1;
            } else if b < a {
                index.push(b);
                counts.push(oc[j]);
                j += 1;
            } else {
                index.push(a);
                counts.push(sc[i] + oc[j]);
                i += 1;
                j += 1;
            }
        }
        self.buckets = Buckets::from_vecs(index, counts);
        self.total += other.total;
        self.clamped += other.clamped;
    }

    /// The sum of many sketches, through a dense scratch array (cheaper than pairwise merges
    /// when a month of minutes is merged).
    pub fn merged<'a>(sketches: impl IntoIterator<Item = &'a LatencySketch>) -> LatencySketch {
        let mut dense = vec![0u64; BUCKETS];
        let (mut total, mut clamped) = (0, 0);
        for s in sketches {
            for (&b, &c) in s.buckets.index().iter().zip(s.buckets.counts()) {
                dense[b as usize] += c;
            }
            total += s.total;
            clamped += s.clamped;
        }
        let (mut index, mut counts) = (Vec::new(), Vec::new());
        for (b, c) in dense.into_iter().enumerate().filter(|(_, c)| *c > 0) {
            index.push(b as u16);
            counts.push(c);
        }
        LatencySketch {
            buckets: Buckets::from_vecs(index, counts),
            total,
            clamped,
        }
    }

    /// The `q` quantile (0 ≤ q ≤ 1), `None` when empty.
    ///
    /// Definition: with `n` values, rank `r = ceil(q × n)` computed in `f64` and kept within
    /// `1..=n`; the result is the representative value of the first bucket (ascending) where the
    /// cumulative count reaches `r`. This is exactly what ClickHouse's
    /// `quantileExactWeighted(q)(v, c)` returns over the stored `(value, count)` pairs, so a
    /// dashboard can recompute any window's quantile from `sla_minute` rows.
    pub fn quantile(&self, q: f64) -> Option<u32> {
        if self.total == 0 {
            return None;
        }
        let rank = rank(q, self.total);
        let mut cum = 0u64;
        for (&b, &c) in self.buckets.index().iter().zip(self.buckets.counts()) {
            cum += c;
            if cum >= rank {
                return Some(VALUES[usize::from(b)]);
            }
        }
        self.buckets.index().last().map(|&b| VALUES[usize::from(b)])
    }

    /// `(representative value ms, count)` of every non-empty bucket, values ascending.
    pub fn buckets(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        self.value_iter().zip(self.buckets.counts().iter().copied())
    }

    /// The representative values of the non-empty buckets, ascending (`latency_values`).
    pub fn values(&self) -> Vec<u32> {
        self.value_iter().collect()
    }

    /// [`LatencySketch::values`] without collecting them.
    pub fn value_iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.buckets.index().iter().map(|&b| VALUES[usize::from(b)])
    }

    /// The counts matching [`LatencySketch::values`] (`latency_counts`).
    pub fn counts(&self) -> Vec<u64> {
        self.buckets.counts().to_vec()
    }

    /// Appends the sketch to a packed byte string (see [`crate::minute::MinuteSeries`]).
    pub(crate) fn pack(&self, w: &mut Writer) {
        w.u64(self.total);
        w.u64(self.clamped);
        let index = self.buckets.index();
        w.u64(index.len() as u64);
        let mut prev = 0u16;
        for (&b, &c) in index.iter().zip(self.buckets.counts()) {
            w.u64(u64::from(b - prev));
            w.u64(c);
            prev = b;
        }
    }

    /// Reads a sketch written by [`LatencySketch::pack`], checking that bucket indices are
    /// increasing and within range.
    pub(crate) fn unpack(r: &mut Reader<'_>) -> Result<LatencySketch, PackError> {
        let total = r.u64()?;
        let clamped = r.u64()?;
        let n: usize = r.int("bucket count")?;
        if n > BUCKETS {
            return Err(PackError(format!("{n} buckets, at most {BUCKETS} exist")));
        }
        let (mut index, mut counts) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut prev = 0u64;
        for i in 0..n {
            let b = prev + r.u64()?;
            if b >= BUCKETS as u64 || (i > 0 && b == prev) {
                return Err(PackError(format!("bucket {b} after {prev}")));
            }
            index.push(b as u16);
            counts.push(r.u64()?);
            prev = b;
        }
        Ok(LatencySketch {
            buckets: Buckets::from_vecs(index, counts),
            total,
            clamped,
        })
    }

    /// [`LatencySketch::counts`] without copying them.
    pub fn count_slice(&self) -> &[u64] {
        self.buckets.counts()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn layout_is_exact_below_128_and_within_one_percent_above() {
        assert_eq!(BUCKETS, 694);
        for v in 0..=100 {
            assert_eq!(bucket_value(bucket_index(v)), v, "value {v} is exact");
        }
        let mut prev = None;
        for v in 0..=MAX_MS {
            let b = bucket_index(v);
            let (lo, hi) = bucket_range(b);
            assert!(lo <= v && v <= hi, "{v} in bucket {b} [{lo}, {hi}]");
            let rep = bucket_value(b);
            let err = (rep as f64 - v as f64).abs() / v.max(1) as f64;
            assert!(err <= 0.01, "value {v} represented by {rep}: error {err}");
            if let Some(p) = prev {
                assert!(b == p || b == p + 1, "buckets are contiguous at {v}");
            }
            prev = Some(b);
        }
        assert_eq!(bucket_index(MAX_MS + 1), bucket_index(MAX_MS));
        for (i, v) in VALUES.iter().enumerate() {
            assert_eq!(*v, bucket_value(i as u16));
        }
        assert_eq!(bucket_index(u32::MAX) as usize, BUCKETS - 1);
    }

    /// The value of rank `ceil(q × n)` in sorted data: the definition the sketch approximates.
    fn exact_quantile(sorted: &[u32], q: f64) -> u32 {
        let n = sorted.len() as u64;
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        sorted[rank as usize - 1]
    }

    #[test]
    fn quantiles_are_within_one_percent_of_exact_ones() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..50 {
            let n = rng.random_range(1..5_000);
            let mut data: Vec<u32> = (0..n)
                .map(|_| match rng.random_range(0..10) {
                    0 => rng.random_range(0..100),
                    1 => rng.random_range(0..70_000), // some clamp
                    _ => (rng.random::<f64>().powi(3) * 3_000.0) as u32,
                })
                .collect();
            let mut s = LatencySketch::new();
            for &v in &data {
                s.record(v);
            }
            data.iter_mut().for_each(|v| *v = (*v).min(MAX_MS));
            data.sort_unstable();
            assert_eq!(s.count(), n);
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let exact = exact_quantile(&data, q);
                let got = s.quantile(q).unwrap();
                let err = (got as f64 - exact as f64).abs() / exact.max(1) as f64;
                assert!(
                    err <= 0.01,
                    "round {round} q {q}: sketch {got} exact {exact}"
                );
            }
        }
    }

    #[test]
    fn merge_equals_the_sketch_of_the_union() {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let a_data: Vec<u32> = (0..3_000).map(|_| rng.random_range(0..2_000)).collect();
        let b_data: Vec<u32> = (0..2_000).map(|_| rng.random_range(50..90_000)).collect();
        let (mut a, mut b, mut union) = (
            LatencySketch::new(),
            LatencySketch::new(),
            LatencySketch::new(),
        );
        a_data.iter().for_each(|&v| a.record(v));
        b_data.iter().for_each(|&v| b.record(v));
        a_data.iter().chain(&b_data).for_each(|&v| union.record(v));
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        assert_eq!(ab, union);
        assert_eq!(ba, union);
        assert_eq!(LatencySketch::merged([&b, &a]), union);
        assert_eq!(
            LatencySketch::merged([&a, &LatencySketch::new(), &b]),
            union
        );
        assert!(union.clamped() > 0);
    }

    #[test]
    fn buckets_stay_sorted_inline_and_on_the_heap() {
        use std::collections::BTreeMap;
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for n in [0, 1, 3, 4, 5, 9, 200] {
            let mut s = LatencySketch::new();
            let mut want: BTreeMap<u16, u64> = BTreeMap::new();
            for _ in 0..n {
                // Few distinct buckets for small n, so the inline capacity is crossed exactly.
                let v = rng.random_range(0..(n as u32 * 7 + 1));
                s.record(v);
                *want.entry(bucket_index(v)).or_default() += 1;
            }
            assert_eq!(s.buckets.index(), want.keys().copied().collect::<Vec<_>>());
            assert_eq!(s.counts(), want.values().copied().collect::<Vec<_>>());
            assert_eq!(s.count(), n);
            assert_eq!(
                matches!(s.buckets, Buckets::Inline { .. }),
                want.len() <= INLINE
            );
            // Equal whatever the storage: the same buckets rebuilt from vectors, and through
            // the serde form.
            let rebuilt = LatencySketch {
                buckets: Buckets::Heap {
                    index: want.keys().copied().collect(),
                    counts: want.values().copied().collect(),
                },
                total: s.total,
                clamped: s.clamped,
            };
            assert_eq!(rebuilt, s);
            let back: LatencySketch =
                rmp_serde::from_slice(&rmp_serde::to_vec(&s).unwrap()).unwrap();
            assert_eq!(back, s);
        }
        // Mismatched serde vectors are refused.
        let bad = StoredSketch {
            index: vec![1, 2],
            counts: vec![1],
            total: 1,
            clamped: 0,
        };
        assert!(rmp_serde::from_slice::<LatencySketch>(&rmp_serde::to_vec(&bad).unwrap()).is_err());
    }

    #[test]
    fn rank_is_the_ceiling_of_q_times_n() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let qs = [
            0.0,
            0.01,
            0.25,
            0.5,
            0.9,
            0.95,
            0.99,
            0.999,
            1.0,
            -1.0,
            2.0,
            f64::NAN,
        ];
        for n in (1..2_000u64).chain([1 << 20, (1 << 53) - 1, 123_456_789_012]) {
            for q in qs.into_iter().chain((0..5).map(|_| rng.random::<f64>())) {
                let want = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).clamp(1, n);
                assert_eq!(rank(q, n), want, "q {q} n {n}");
            }
        }
    }

    #[test]
    fn quantile_follows_the_ceil_rank_definition() {
        let mut s = LatencySketch::new();
        assert_eq!(s.quantile(0.5), None);
        for v in [10, 20, 30, 40] {
            s.record(v);
        }
        // n = 4: q 0.5 -> rank 2 -> 20; q 0.51 -> rank 3 -> 30; q 0 -> rank 1.
        assert_eq!(s.quantile(0.5), Some(20));
        assert_eq!(s.quantile(0.51), Some(30));
        assert_eq!(s.quantile(0.0), Some(10));
        assert_eq!(s.quantile(1.0), Some(40));
        assert_eq!(s.values(), vec![10, 20, 30, 40]);
        assert_eq!(s.counts(), vec![1, 1, 1, 1]);
    }
}
