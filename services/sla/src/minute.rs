//! Per service, per UTC minute request aggregates: the hot path of the projection.
//!
//! Every aggregate is a count, an integer sum or a [`LatencySketch`], so the result does not
//! depend on the order events arrive in. A service's minutes live in a vector sorted by minute
//! start with a cursor on the last one touched: a service's requests share a partition and
//! mostly arrive in time order, so the common case is "same minute as the last event" or "the
//! next minute, appended", both without a search or an allocation.

use crate::sketch::LatencySketch;
use gigstream_core::packed::{PackError, Reader, Writer};
use gigstream_core::time::minute_floor;
use serde::{Deserialize, Serialize};

/// Request counts of one service in one minute.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MinuteAgg {
    pub requests: u64,
    /// Requests with status code >= 500.
    pub errors: u64,
    /// Sum of latencies, ms.
    pub latency_sum_ms: u64,
    pub latency: LatencySketch,
}

impl MinuteAgg {
    #[inline]
    pub fn record(&mut self, latency_ms: u32, is_error: bool) {
        self.requests += 1;
        self.errors += u64::from(is_error);
        self.latency_sum_ms += u64::from(latency_ms);
        self.latency.record(latency_ms);
    }

    /// Adds `other`'s counts: the aggregate of both minutes' requests.
    pub fn merge(&mut self, other: &MinuteAgg) {
        self.requests += other.requests;
        self.errors += other.errors;
        self.latency_sum_ms += other.latency_sum_ms;
        self.latency.merge(&other.latency);
    }
}

/// One service's minutes, sorted by minute start (ms), unique.
///
/// Stored in checkpoints as one packed byte string ([`gigstream_core::packed`]): the number of
/// minutes, then per minute the difference to the previous minute's start, the requests,
/// errors and latency sum, and the sketch (values, clamped values, then per non-empty bucket
/// the index difference and the count). Checkpoints written before stored the minutes as a
/// serde sequence; that still loads.
#[derive(Debug, Clone, Default)]
pub struct MinuteSeries {
    minutes: Vec<(i64, MinuteAgg)>,
    /// Per UTC month (its start, ms), sorted: every request of the month, including those of
    /// minutes already evicted ([`MinuteSeries::evict`]), so that a month's report needs no
    /// pass over its minutes.
    months: Vec<(i64, MinuteAgg)>,
    /// Position of the last minute touched; a hint only, so not part of the state.
    cursor: usize,
    /// The month last touched: its position and bounds `[from, to)`; a hint only.
    month_hint: (usize, i64, i64),
    /// The first and last minute changed since [`MinuteSeries::take_dirty`]; not part of
    /// the state.
    dirty: Option<(i64, i64)>,
}

/// `[from, to)` of the UTC month holding `ms`.
fn month_bounds(ms: i64) -> (i64, i64) {
    use gigstream_core::time::{date_of, date_start_ms, month_start, next_month_start};
    let m = month_start(date_of(ms));
    (date_start_ms(m), date_start_ms(next_month_start(m)))
}

impl AsRef<[(i64, MinuteAgg)]> for MinuteSeries {
    fn as_ref(&self) -> &[(i64, MinuteAgg)] {
        &self.minutes
    }
}

impl MinuteSeries {
    fn pack(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(8 + (self.minutes.len() + self.months.len()) * 16);
        for list in [&self.minutes, &self.months] {
            w.u64(list.len() as u64);
            let mut prev = 0i64;
            for (m, agg) in list {
                w.i64(m.wrapping_sub(prev));
                w.u64(agg.requests);
                w.u64(agg.errors);
                w.u64(agg.latency_sum_ms);
                agg.latency.pack(&mut w);
                prev = *m;
            }
        }
        w.into_bytes()
    }

    fn unpack_list(r: &mut Reader<'_>) -> Result<Vec<(i64, MinuteAgg)>, PackError> {
        let n: usize = r.int("minute count")?;
        // Each entry takes at least 7 bytes: a damaged count cannot allocate much.
        let mut list = Vec::with_capacity(n.min(r.remaining() / 7));
        let mut prev = 0i64;
        for _ in 0..n {
            let m = prev.wrapping_add(r.i64()?);
            if !list.is_empty() && m <= prev {
                return Err(PackError(format!("minute {m} after {prev}")));
            }
            let agg = MinuteAgg {
                requests: r.u64()?,
                errors: r.u64()?,
                latency_sum_ms: r.u64()?,
                latency: LatencySketch::unpack(r)?,
            };
            list.push((m, agg));
            prev = m;
        }
        Ok(list)
    }

    /// The minutes, then the months; checkpoints written before months were kept hold the
    /// minutes only (the months are then rebuilt from them).
    fn unpack(bytes: &[u8]) -> Result<MinuteSeries, PackError> {
        let mut r = Reader::new(bytes);
        let minutes = MinuteSeries::unpack_list(&mut r)?;
        if r.remaining() == 0 {
            return Ok(MinuteSeries::from_minutes(minutes));
        }
        let months = MinuteSeries::unpack_list(&mut r)?;
        r.finish()?;
        Ok(MinuteSeries {
            minutes,
            months,
            ..MinuteSeries::default()
        })
    }

    /// A series of `minutes` (sorted, unique), its months summed from them.
    fn from_minutes(minutes: Vec<(i64, MinuteAgg)>) -> MinuteSeries {
        let mut months: Vec<(i64, MinuteAgg)> = Vec::new();
        for (m, agg) in &minutes {
            let (from, _) = month_bounds(*m);
            match months.last_mut() {
                Some((start, total)) if *start == from => total.merge(agg),
                _ => {
                    let mut total = MinuteAgg::default();
                    total.merge(agg);
                    months.push((from, total));
                }
            }
        }
        MinuteSeries {
            minutes,
            months,
            ..MinuteSeries::default()
        }
    }
}

impl Serialize for MinuteSeries {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.pack())
    }
}

impl<'de> Deserialize<'de> for MinuteSeries {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
        type Minutes = Vec<(i64, MinuteAgg)>;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = MinuteSeries;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("packed request minutes")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<MinuteSeries, E> {
                MinuteSeries::unpack(v).map_err(E::custom)
            }
            /// The earlier encoding as a sequence (`[minutes]`), or the packed bytes as a
            /// sequence of numbers (formats without byte strings, like JSON).
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<MinuteSeries, A::Error> {
                #[derive(Deserialize)]
                #[serde(untagged)]
                enum Item {
                    Byte(u8),
                    Minutes(Minutes),
                }
                let mut bytes = Vec::new();
                let mut earlier = None;
                while let Some(item) = seq.next_element::<Item>()? {
                    match item {
                        Item::Byte(b) => bytes.push(b),
                        Item::Minutes(m) if earlier.is_none() && bytes.is_empty() => {
                            earlier = Some(m)
                        }
                        Item::Minutes(_) => return Err(A::Error::custom("unexpected minutes")),
                    }
                }
                match earlier {
                    Some(_) if !bytes.is_empty() => Err(A::Error::custom("mixed encodings")),
                    Some(minutes) => Ok(MinuteSeries::from_minutes(minutes)),
                    None => MinuteSeries::unpack(&bytes).map_err(A::Error::custom),
                }
            }
            /// The earlier encoding with field names (`{"minutes": [...]}`).
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MinuteSeries, A::Error> {
                let mut minutes = None;
                while let Some(key) = map.next_key::<String>()? {
                    if key == "minutes" {
                        minutes = Some(map.next_value::<Minutes>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                let minutes = minutes.ok_or_else(|| A::Error::missing_field("minutes"))?;
                Ok(MinuteSeries::from_minutes(minutes))
            }
        }
        d.deserialize_any(V)
    }
}

impl MinuteSeries {
    /// Counts one request at `occurred_at` in its minute and in its month.
    #[inline]
    pub fn record(&mut self, occurred_at: i64, latency_ms: u32, is_error: bool) {
        self.minute_mut(occurred_at).record(latency_ms, is_error);
        self.month_mut(occurred_at).record(latency_ms, is_error);
    }

    /// The first and last minute changed since the last call, if any.
    pub fn take_dirty(&mut self) -> Option<(i64, i64)> {
        self.dirty.take()
    }

    /// The aggregate of the month containing `at`, created when missing.
    #[inline]
    fn month_mut(&mut self, at: i64) -> &mut MinuteAgg {
        let (i, from, to) = self.month_hint;
        if at >= from && at < to && i < self.months.len() && self.months[i].0 == from {
            return &mut self.months[i].1;
        }
        let (from, to) = month_bounds(at);
        let pos = match self.months.binary_search_by_key(&from, |(m, _)| *m) {
            Ok(pos) => pos,
            Err(pos) => {
                self.months.insert(pos, (from, MinuteAgg::default()));
                pos
            }
        };
        self.month_hint = (pos, from, to);
        &mut self.months[pos].1
    }

    /// The aggregate of the minute containing `occurred_at`, created when missing. (Its
    /// month is not counted: [`MinuteSeries::record`] counts both.)
    #[inline]
    pub fn minute_mut(&mut self, occurred_at: i64) -> &mut MinuteAgg {
        let minute = minute_floor(occurred_at);
        self.dirty = Some(match self.dirty {
            Some((lo, hi)) => (lo.min(minute), hi.max(minute)),
            None => (minute, minute),
        });
        let pos = match self.minutes.get(self.cursor) {
            Some((m, _)) if *m == minute => self.cursor,
            _ => self.locate(minute),
        };
        self.cursor = pos;
        &mut self.minutes[pos].1
    }

    /// Finds or inserts `minute`; appending is the common case.
    fn locate(&mut self, minute: i64) -> usize {
        match self.minutes.last() {
            Some((last, _)) if *last < minute => {
                self.minutes.push((minute, MinuteAgg::default()));
                self.minutes.len() - 1
            }
            None => {
                self.minutes.push((minute, MinuteAgg::default()));
                0
            }
            _ => match self.minutes.binary_search_by_key(&minute, |(m, _)| *m) {
                Ok(pos) => pos,
                Err(pos) => {
                    self.minutes.insert(pos, (minute, MinuteAgg::default()));
                    pos
                }
            },
        }
    }

    /// Adds `other`'s minutes: minutes present in both merge their aggregates, the others are
    /// copied. One pass over both sorted vectors.
    pub fn merge(&mut self, other: &MinuteSeries) {
        if other.minutes.is_empty() {
            return;
        }
        let mine = std::mem::take(&mut self.minutes);
        let mut out = Vec::with_capacity(mine.len().max(other.minutes.len()));
        let mut theirs = other.minutes.iter().peekable();
        for (minute, mut agg) in mine {
            while let Some((m, a)) = theirs.next_if(|(m, _)| *m < minute) {
                out.push((*m, a.clone()));
            }
            if let Some((_, a)) = theirs.next_if(|(m, _)| *m == minute) {
                agg.merge(a);
            }
            out.push((minute, agg));
        }
        out.extend(theirs.cloned());
        self.minutes = out;
        self.cursor = 0;
        for (month, agg) in &other.months {
            match self.months.binary_search_by_key(month, |(m, _)| *m) {
                Ok(i) => self.months[i].1.merge(agg),
                Err(i) => self.months.insert(i, (*month, agg.clone())),
            }
        }
        self.month_hint = (0, 0, 0);
    }

    /// The minutes in `[from, to)`, in time order.
    pub fn range(&self, from: i64, to: i64) -> &[(i64, MinuteAgg)] {
        let a = self.minutes.partition_point(|(m, _)| *m < from);
        let b = self.minutes.partition_point(|(m, _)| *m < to);
        &self.minutes[a..b.max(a)]
    }

    /// Per UTC month (start ms): every request of the month, in month order.
    pub fn months(&self) -> &[(i64, MinuteAgg)] {
        &self.months
    }

    /// Drops the minutes before `minutes_before` and the months that end at or before
    /// `months_ending_by` (what can no longer change).
    pub fn evict(&mut self, minutes_before: i64, months_ending_by: i64) {
        let n = self.minutes.partition_point(|(m, _)| *m < minutes_before);
        if n > 0 {
            self.minutes.drain(..n);
            self.cursor = 0;
        }
        self.months
            .retain(|(m, _)| month_bounds(*m).1 > months_ending_by);
        self.month_hint = (0, 0, 0);
    }

    /// `(minute start ms, aggregate)` in time order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &MinuteAgg)> + '_ {
        self.minutes.iter().map(|(m, a)| (*m, a))
    }

    /// `(minute start ms, aggregate)` in time order, as a slice.
    pub fn as_slice(&self) -> &[(i64, MinuteAgg)] {
        &self.minutes
    }

    /// The aggregate of the minute starting at `minute`, if any request fell in it.
    pub fn get(&self, minute: i64) -> Option<&MinuteAgg> {
        self.minutes
            .binary_search_by_key(&minute, |(m, _)| *m)
            .ok()
            .map(|i| &self.minutes[i].1)
    }

    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::time::parse_ts;

    #[test]
    fn a_minute_with_known_latencies() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        // 20 requests in one minute: latencies 10, 20, ..., 200 ms; the last two are errors.
        for i in 1..=20u32 {
            s.minute_mut(t + i as i64 * 1_000).record(i * 10, i > 18);
        }
        let m = s.get(t).unwrap();
        assert_eq!((m.requests, m.errors, m.latency_sum_ms), (20, 2, 2_100));
        // ceil(0.5 × 20) = 10th value = 100 ms (exact); ceil(0.95 × 20) = 19th = 190 ms, which
        // lies in bucket [190, 191]; the 99th is the 20th, 200 in [200, 201].
        assert_eq!(m.latency.quantile(0.5), Some(100));
        assert_eq!(m.latency.quantile(0.95), Some(190));
        assert_eq!(m.latency.quantile(0.99), Some(200));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn out_of_order_minutes_stay_sorted_and_unique() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        for k in [5, 1, 3, 5, 0, 9, 1, 3] {
            s.minute_mut(t + k * 60_000 + 59_999).record(1, false);
        }
        let minutes: Vec<i64> = s.iter().map(|(m, _)| (m - t) / 60_000).collect();
        assert_eq!(minutes, vec![0, 1, 3, 5, 9]);
        assert_eq!(s.get(t + 5 * 60_000).unwrap().requests, 2);
        assert!(s.get(t + 2 * 60_000).is_none());
    }

    #[test]
    fn packed_minutes_round_trip_and_damage_is_refused() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        for (k, ms, err) in [
            (0, 5, false),
            (0, 70_000, true),
            (3, 130, false),
            (9, 900, false),
        ] {
            s.minute_mut(t + k * 60_000).record(ms, err);
        }
        s.record(-60_000, 1, false);
        let packed = s.pack();
        let back = MinuteSeries::unpack(&packed).unwrap();
        assert_eq!(back.minutes, s.minutes);
        assert_eq!(back.months, s.months);
        // The minutes alone (checkpoints before months were kept): the months are rebuilt.
        let minutes_only = {
            let mut w = Writer::default();
            let mut copy = s.clone();
            copy.months.clear();
            let bytes = copy.pack();
            // An empty month list is the last byte.
            w.u64(0);
            bytes[..bytes.len() - w.as_bytes().len()].to_vec()
        };
        let rebuilt = MinuteSeries::unpack(&minutes_only).unwrap();
        assert_eq!(rebuilt.minutes, s.minutes);
        let total = |l: &[(i64, MinuteAgg)]| l.iter().map(|(_, a)| a.requests).sum::<u64>();
        assert_eq!(total(&rebuilt.months), total(&s.minutes));
        // Two months: March 2026 and the minute before 1970.
        assert_eq!(rebuilt.months.len(), 2);
        // Every truncation fails cleanly (but the one that leaves exactly the minutes, the
        // earlier format), and so does trailing garbage.
        for n in 0..packed.len() {
            if n == minutes_only.len() {
                continue;
            }
            assert!(MinuteSeries::unpack(&packed[..n]).is_err(), "cut at {n}");
        }
        let mut longer = packed.clone();
        longer.push(0);
        assert!(MinuteSeries::unpack(&longer).is_err());
        // A minute that does not move forward: two minutes with a zero delta.
        let mut w = Writer::default();
        w.u64(2);
        for _ in 0..2 {
            w.i64(0);
            [1, 0, 1, 1, 0, 0].iter().for_each(|v| w.u64(*v));
        }
        let err = MinuteSeries::unpack(&w.into_bytes()).unwrap_err();
        assert!(err.0.contains("after"), "{err}");
        // A bucket index past the last bucket, or repeated.
        for buckets in [[2u64, 700, 1, 0, 1], [2, 5, 1, 0, 1]] {
            let mut w = Writer::default();
            w.u64(1);
            w.i64(0);
            [2, 0, 10, 2, 0].iter().for_each(|v| w.u64(*v));
            buckets[1..].iter().for_each(|v| w.u64(*v));
            assert!(
                MinuteSeries::unpack(&w.into_bytes()).is_err(),
                "{buckets:?}"
            );
        }
    }

    #[test]
    fn merging_split_minutes_equals_one_series() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        // (minute, latency, error, which part): overlapping minutes 1 and 3, minute 0 only in
        // b, minutes 5 and 9 only in a.
        let reqs = [
            (1, 40, false, 0),
            (3, 900, true, 0),
            (5, 12, false, 0),
            (9, 70_000, false, 0),
            (0, 5, false, 1),
            (1, 300, true, 1),
            (3, 900, false, 1),
            (3, 130, false, 1),
        ];
        let (mut whole, mut a, mut b) = (
            MinuteSeries::default(),
            MinuteSeries::default(),
            MinuteSeries::default(),
        );
        for (k, ms, err, part) in reqs {
            let at = t + k * 60_000 + 7;
            whole.minute_mut(at).record(ms, err);
            let s = if part == 0 { &mut a } else { &mut b };
            s.minute_mut(at).record(ms, err);
        }
        let mut ab = a.clone();
        ab.merge(&b);
        let mut ba = b.clone();
        ba.merge(&a);
        let mut empty = MinuteSeries::default();
        empty.merge(&whole);
        for merged in [&ab, &ba, &empty] {
            assert_eq!(merged.minutes, whole.minutes);
        }
        let m3 = ab.get(t + 3 * 60_000).unwrap();
        assert_eq!((m3.requests, m3.errors, m3.latency_sum_ms), (3, 1, 1_930));
        // The cursor was reset: recording after a merge still finds the right minute.
        ab.minute_mut(t + 60_000).record(1, false);
        assert_eq!(ab.get(t + 60_000).unwrap().requests, 3);
        assert_eq!(ab.len(), 5);
    }
}
