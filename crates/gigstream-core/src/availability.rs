//! Probe availability, shared by the SLA service (uptime, credit tier) and billing (credits
//! applied to charges), so both compute the same figure from the same events.
//!
//! AWS-style rule (DOMAIN.md): a minute is unavailable when every probe in it failed; a minute
//! with no probe is not counted as unavailable. Monthly uptime % = 100 − unavailable minutes /
//! minutes in the calendar month × 100.

use crate::packed::{PackError, Reader, Writer};
use crate::time::{
    date_of, date_start_ms, minute_floor, minutes_in_month, month_start, next_month_start,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Probe counts of one minute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeMinute {
    pub probes: u32,
    pub ok: u32,
}

impl ProbeMinute {
    /// Every probe in the minute failed.
    pub fn unavailable(&self) -> bool {
        self.probes > 0 && self.ok == 0
    }
}

/// One service's probe counts by minute, in time order.
///
/// Probes are a large share of the telemetry and arrive mostly in time order, so the minutes
/// live in a sorted vector with a cursor on the last one touched (like the SLA's request
/// minutes): the common case is the same minute as the last probe, or the next one, appended.
#[derive(Debug, Clone, Default)]
pub struct ProbeMinutes {
    /// Sorted by minute start, unique.
    minutes: Vec<(i64, ProbeMinute)>,
    /// Position of the last minute touched; a hint only.
    cursor: usize,
    /// The first and last minute changed since [`ProbeMinutes::take_dirty`]; not part of the
    /// state.
    dirty: Option<(i64, i64)>,
}

impl PartialEq for ProbeMinutes {
    fn eq(&self, other: &Self) -> bool {
        self.minutes == other.minutes
    }
}

impl Eq for ProbeMinutes {}

impl ProbeMinutes {
    /// Counts one probe at `occurred_at` (ms).
    #[inline]
    pub fn record(&mut self, occurred_at: i64, ok: bool) {
        let minute = minute_floor(occurred_at);
        self.dirty = Some(match self.dirty {
            Some((lo, hi)) => (lo.min(minute), hi.max(minute)),
            None => (minute, minute),
        });
        let m = self.minute_mut(minute);
        m.probes += 1;
        m.ok += u32::from(ok);
    }

    /// The first and last minute changed since the last call, if any.
    pub fn take_dirty(&mut self) -> Option<(i64, i64)> {
        self.dirty.take()
    }

    #[inline]
    fn minute_mut(&mut self, minute: i64) -> &mut ProbeMinute {
        let pos = match self.minutes.get(self.cursor) {
            Some((m, _)) if *m == minute => self.cursor,
            _ => match self.minutes.last() {
                Some((last, _)) if *last >= minute => {
                    match self.minutes.binary_search_by_key(&minute, |(m, _)| *m) {
                        Ok(pos) => pos,
                        Err(pos) => {
                            self.minutes.insert(pos, (minute, ProbeMinute::default()));
                            pos
                        }
                    }
                }
                _ => {
                    self.minutes.push((minute, ProbeMinute::default()));
                    self.minutes.len() - 1
                }
            },
        };
        self.cursor = pos;
        &mut self.minutes[pos].1
    }

    /// Adds `other`'s counts, minute by minute: one pass over both sorted vectors.
    pub fn merge(&mut self, other: &ProbeMinutes) {
        if other.minutes.is_empty() {
            return;
        }
        let mine = std::mem::take(&mut self.minutes);
        let mut out = Vec::with_capacity(mine.len().max(other.minutes.len()));
        let mut theirs = other.minutes.iter().copied().peekable();
        for (minute, mut c) in mine {
            while let Some(t) = theirs.next_if(|(m, _)| *m < minute) {
                out.push(t);
            }
            if let Some((_, t)) = theirs.next_if(|(m, _)| *m == minute) {
                c.probes += t.probes;
                c.ok += t.ok;
            }
            out.push((minute, c));
        }
        out.extend(theirs);
        self.minutes = out;
        self.cursor = 0;
    }

    /// `(minute start ms, counts)` in time order.
    pub fn iter(&self) -> impl Iterator<Item = (i64, ProbeMinute)> + '_ {
        self.minutes.iter().copied()
    }

    /// The minutes in `[from, to)`, in time order.
    pub fn range(&self, from: i64, to: i64) -> &[(i64, ProbeMinute)] {
        let a = self.minutes.partition_point(|(m, _)| *m < from);
        let b = self.minutes.partition_point(|(m, _)| *m < to);
        &self.minutes[a..b.max(a)]
    }

    /// Removes the minutes before `before` and returns them, in time order.
    pub fn drain_before(&mut self, before: i64) -> Vec<(i64, ProbeMinute)> {
        let n = self.minutes.partition_point(|(m, _)| *m < before);
        self.cursor = 0;
        self.minutes.drain(..n).collect()
    }

    /// Minutes with at least one probe.
    pub fn len(&self) -> usize {
        self.minutes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minutes.is_empty()
    }
}

/// Stored as one byte string ([`crate::packed`]): the number of minutes, then per minute the
/// difference to the previous minute's start, the probes and the successes. Checkpoints
/// written before stored a map from minute start to counts; that still loads.
impl Serialize for ProbeMinutes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut w = Writer::with_capacity(8 + self.minutes.len() * 6);
        w.u64(self.minutes.len() as u64);
        let mut prev = 0i64;
        for (m, c) in &self.minutes {
            w.i64(m.wrapping_sub(prev));
            w.u64(u64::from(c.probes));
            w.u64(u64::from(c.ok));
            prev = *m;
        }
        s.serialize_bytes(w.as_bytes())
    }
}

impl ProbeMinutes {
    fn unpack(bytes: &[u8]) -> Result<ProbeMinutes, PackError> {
        let mut r = Reader::new(bytes);
        let n: usize = r.int("minute count")?;
        // Each minute takes at least 3 bytes: a damaged count cannot allocate much.
        let mut minutes = Vec::with_capacity(n.min(r.remaining() / 3));
        let mut prev = 0i64;
        for _ in 0..n {
            let m = prev.wrapping_add(r.i64()?);
            if !minutes.is_empty() && m <= prev {
                return Err(PackError(format!("minute {m} after {prev}")));
            }
            let probes = r.int("probe count")?;
            let ok = r.int("success count")?;
            minutes.push((m, ProbeMinute { probes, ok }));
            prev = m;
        }
        r.finish()?;
        Ok(ProbeMinutes {
            minutes,
            ..ProbeMinutes::default()
        })
    }

    /// From `(minute, counts)` in any order, repeats added up.
    fn from_entries(entries: Vec<(i64, ProbeMinute)>) -> ProbeMinutes {
        if entries.windows(2).all(|w| w[0].0 < w[1].0) {
            return ProbeMinutes {
                minutes: entries,
                ..ProbeMinutes::default()
            };
        }
        let mut sorted = ProbeMinutes::default();
        for (m, c) in entries {
            let e = sorted.minute_mut(m);
            e.probes += c.probes;
            e.ok += c.ok;
        }
        sorted
    }
}

impl<'de> Deserialize<'de> for ProbeMinutes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = ProbeMinutes;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("packed probe minutes, or a map from minute start (ms) to probe counts")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ProbeMinutes, E> {
                ProbeMinutes::unpack(v).map_err(E::custom)
            }
            /// Bytes as a sequence of numbers (formats without a byte string type, like JSON).
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ProbeMinutes, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                ProbeMinutes::unpack(&bytes).map_err(serde::de::Error::custom)
            }
            /// The earlier encoding.
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<ProbeMinutes, A::Error> {
                let mut minutes = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(entry) = map.next_entry()? {
                    minutes.push(entry);
                }
                Ok(ProbeMinutes::from_entries(minutes))
            }
        }
        d.deserialize_any(V)
    }
}

/// Per service, per minute probe counts. Order-independent: counts only add.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Availability {
    minutes: BTreeMap<String, ProbeMinutes>,
}

/// A service's availability over one calendar month.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthUptime {
    pub month: NaiveDate,
    pub minutes_in_month: i64,
    pub probed_minutes: i64,
    pub unavailable_minutes: i64,
    pub uptime_pct: f64,
}

impl Availability {
    pub fn record(&mut self, service_id: &str, occurred_at: i64, ok: bool) {
        // Probe with the borrowed id first: the String is built once per service, ever.
        let per = match self.minutes.get_mut(service_id) {
            Some(m) => m,
            None => self.minutes.entry(service_id.to_string()).or_default(),
        };
        per.record(occurred_at, ok);
    }

    /// Adds `other`'s probe counts (states of disjoint partitions, see
    /// [`crate::Projection::merge`]).
    pub fn merge(&mut self, other: &Availability) {
        for (service, minutes) in &other.minutes {
            let per = match self.minutes.get_mut(service) {
                Some(m) => m,
                None => self.minutes.entry(service.clone()).or_default(),
            };
            per.merge(minutes);
        }
    }

    /// One service's probe minutes, if it had any probe.
    pub fn service(&self, service_id: &str) -> Option<&ProbeMinutes> {
        self.minutes.get(service_id)
    }

    /// One service's probe minutes, to evict from.
    pub fn service_mut(&mut self, service_id: &str) -> Option<&mut ProbeMinutes> {
        self.minutes.get_mut(service_id)
    }

    /// Services seen, sorted.
    pub fn services(&self) -> Vec<&str> {
        self.minutes.keys().map(String::as_str).collect()
    }

    /// Minute start (ms) → counts for one service, in time order.
    pub fn minutes(&self, service_id: &str) -> impl Iterator<Item = (i64, ProbeMinute)> + '_ {
        self.minutes
            .get(service_id)
            .into_iter()
            .flat_map(ProbeMinutes::iter)
    }

    /// Uptime of every month in which the service has at least one probe, in month order.
    pub fn monthly(&self, service_id: &str) -> Vec<MonthUptime> {
        MonthUptime::monthly(self.minutes(service_id))
    }

    /// Uptime of one month (100% when the service had no probe at all that month).
    pub fn month(&self, service_id: &str, month: NaiveDate) -> MonthUptime {
        let month = month_start(month);
        self.monthly(service_id)
            .into_iter()
            .find(|m| m.month == month)
            .unwrap_or_else(|| MonthUptime::unprobed(month))
    }
}

impl MonthUptime {
    /// Uptime of every month holding at least one of `minutes` (minute start ms → counts), in
    /// month order.
    pub fn monthly(minutes: impl IntoIterator<Item = (i64, ProbeMinute)>) -> Vec<MonthUptime> {
        let mut months: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
        // Minutes come in time order: the month changes rarely, so remember its bounds.
        let mut current: Option<(i64, i64, NaiveDate)> = None;
        for (minute, pm) in minutes {
            let month = match current {
                Some((from, to, m)) if (from..to).contains(&minute) => m,
                _ => {
                    let m = month_start(date_of(minute));
                    current = Some((date_start_ms(m), date_start_ms(next_month_start(m)), m));
                    m
                }
            };
            let e = months.entry(month).or_default();
            e.0 += 1;
            e.1 += pm.unavailable() as i64;
        }
        months
            .into_iter()
            .map(|(month, (probed, down))| {
                let total = minutes_in_month(month);
                MonthUptime {
                    month,
                    minutes_in_month: total,
                    probed_minutes: probed,
                    unavailable_minutes: down,
                    uptime_pct: 100.0 - down as f64 * 100.0 / total as f64,
                }
            })
            .collect()
    }

    /// A month (its first day) without any probe: 100%.
    pub fn unprobed(month: NaiveDate) -> MonthUptime {
        MonthUptime {
            month,
            minutes_in_month: minutes_in_month(month),
            probed_minutes: 0,
            unavailable_minutes: 0,
            uptime_pct: 100.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::parse_ts;

    #[test]
    fn a_minute_is_down_only_when_every_probe_failed() {
        let mut a = Availability::default();
        let t = parse_ts("2026-02-01T00:00:00Z").unwrap();
        a.record("svc", t, false);
        a.record("svc", t + 1000, true); // same minute, one ok: available
        for i in 0..3 {
            a.record("svc", t + 60_000 * (i + 1), false); // three down minutes
        }
        let m = a.month("svc", date_of(t));
        assert_eq!(m.unavailable_minutes, 3);
        assert_eq!(m.minutes_in_month, 28 * 1440);
        assert!((m.uptime_pct - (100.0 - 300.0 / 40320.0)).abs() < 1e-12);
    }

    #[test]
    fn minutes_are_sorted_and_survive_serialisation() {
        let t = parse_ts("2026-02-01T00:00:00Z").unwrap();
        let mut a = Availability::default();
        for (k, ok) in [
            (5, true),
            (1, false),
            (5, false),
            (9, true),
            (0, true),
            (1, false),
        ] {
            a.record("svc", t + k * 60_000 + 59_999, ok);
        }
        a.record("early", -3 * 60_000, true);
        let minutes: Vec<(i64, ProbeMinute)> = a.minutes("svc").collect();
        let expect = [(0, 1, 1), (1, 2, 0), (5, 2, 1), (9, 1, 1)]
            .map(|(k, probes, ok)| (t + k * 60_000, ProbeMinute { probes, ok }));
        assert_eq!(minutes, expect);
        // JSON has no byte strings: the bytes travel as numbers and still load.
        let json = serde_json::to_string(&a).unwrap();
        let back: Availability = serde_json::from_str(&json).unwrap();
        for svc in ["svc", "early"] {
            assert_eq!(back.service(svc), a.service(svc));
        }
        // The earlier encoding, a map of minute -> counts per service, loads too, sorted.
        let earlier = serde_json::json!({"minutes": {"svc": {"120000": {"probes": 1, "ok": 1}, "60000": {"probes": 2, "ok": 0}}}});
        let u: Availability = serde_json::from_value(earlier).unwrap();
        let keys: Vec<i64> = u.minutes("svc").map(|(m, _)| m).collect();
        assert_eq!(keys, vec![60_000, 120_000]);
        // Damaged bytes are an error, not a panic or a wrong state.
        for bad in [vec![5u8, 1, 1], vec![2, 2, 1, 1, 0, 1, 1]] {
            let v = serde_json::to_value(serde_json::json!({"minutes": {"svc": bad}})).unwrap();
            assert!(serde_json::from_value::<Availability>(v).is_err());
        }
    }

    #[test]
    fn merging_split_probes_equals_one_fold() {
        let t = parse_ts("2026-02-01T00:00:00Z").unwrap();
        let probes = [
            (0, false),
            (1000, true),
            (60_000, false),
            (61_000, false),
            (120_000, true),
        ];
        let mut whole = Availability::default();
        let (mut a, mut b) = (Availability::default(), Availability::default());
        for (i, (dt, ok)) in probes.iter().enumerate() {
            whole.record("svc", t + dt, *ok);
            let part = if i % 2 == 0 { &mut a } else { &mut b };
            part.record("svc", t + dt, *ok);
        }
        b.record("other", t, false);
        whole.record("other", t, false);
        a.merge(&b);
        assert_eq!(a.month("svc", date_of(t)), whole.month("svc", date_of(t)));
        assert_eq!(
            a.month("other", date_of(t)),
            whole.month("other", date_of(t))
        );
        assert_eq!(a.services(), whole.services());
    }
}
