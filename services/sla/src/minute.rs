//! Per service, per UTC minute request aggregates: the hot path of the projection.
//!
//! Every aggregate is a count, an integer sum or a [`LatencySketch`], so the result does not
//! depend on the order events arrive in. A service's minutes live in a vector sorted by minute
//! start with a cursor on the last one touched: a service's requests share a partition and
//! mostly arrive in time order, so the common case is "same minute as the last event" or "the
//! next minute, appended", both without a search or an allocation.

use crate::sketch::LatencySketch;
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct MinuteSeries {
    minutes: Vec<(i64, MinuteAgg)>,
    /// Position of the last minute touched; a hint only, so not part of the state.
    #[serde(skip)]
    cursor: usize,
}

impl MinuteSeries {
    /// The aggregate of the minute containing `occurred_at`, created when missing.
    #[inline]
    pub fn minute_mut(&mut self, occurred_at: i64) -> &mut MinuteAgg {
        let minute = minute_floor(occurred_at);
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
    }

    /// `(minute start ms, aggregate)` in time order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, &MinuteAgg)> + '_ {
        self.minutes.iter().map(|(m, a)| (*m, a))
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
