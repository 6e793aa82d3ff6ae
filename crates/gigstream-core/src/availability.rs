//! Probe availability, shared by the SLA service (uptime, credit tier) and billing (credits
//! applied to charges), so both compute the same figure from the same events.
//!
//! AWS-style rule (DOMAIN.md): a minute is unavailable when every probe in it failed; a minute
//! with no probe is not counted as unavailable. Monthly uptime % = 100 − unavailable minutes /
//! minutes in the calendar month × 100.

use crate::time::{
    date_of, date_start_ms, minute_floor, minutes_in_month, month_start, next_month_start,
};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

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

/// One service's probe counts: minute start (ms) → counts, in time order.
pub type ProbeMinutes = BTreeMap<i64, ProbeMinute>;

/// Adds `other`'s counts to `into`, minute by minute.
pub fn merge_minutes(into: &mut ProbeMinutes, other: &ProbeMinutes) {
    for (minute, c) in other {
        let m = into.entry(*minute).or_default();
        m.probes += c.probes;
        m.ok += c.ok;
    }
}

/// Per service, per minute probe counts. Order-independent: counts only add.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Availability {
    minutes: HashMap<String, ProbeMinutes>,
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
        let per = match self.minutes.get_mut(service_id) {
            Some(m) => m,
            None => self.minutes.entry(service_id.to_string()).or_default(),
        };
        let m = per.entry(minute_floor(occurred_at)).or_default();
        m.probes += 1;
        m.ok += ok as u32;
    }

    /// Adds `other`'s probe counts (states of disjoint partitions, see
    /// [`crate::Projection::merge`]).
    pub fn merge(&mut self, other: &Availability) {
        for (service, minutes) in &other.minutes {
            let per = match self.minutes.get_mut(service) {
                Some(m) => m,
                None => self.minutes.entry(service.clone()).or_default(),
            };
            merge_minutes(per, minutes);
        }
    }

    /// One service's probe minutes, if it had any probe.
    pub fn service(&self, service_id: &str) -> Option<&ProbeMinutes> {
        self.minutes.get(service_id)
    }

    /// Services seen, sorted.
    pub fn services(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.minutes.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Minute start (ms) → counts for one service, in time order.
    pub fn minutes(&self, service_id: &str) -> impl Iterator<Item = (i64, ProbeMinute)> + '_ {
        self.minutes
            .get(service_id)
            .into_iter()
            .flat_map(|m| m.iter().map(|(k, v)| (*k, *v)))
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
