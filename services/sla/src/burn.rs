//! Error-budget burn rates and multiwindow alerts (Google SRE workbook).
//!
//! Error budget = 1 − `request_slo_pct` / 100; burn rate over a window = the window's error
//! ratio (errors / requests) / error budget, so 1% errors against a 99.9% objective burn at 10×.
//! An alert fires at a step when both its long and its short window burn faster than its factor.
//!
//! Steps are the ends of the 5-minute intervals (aligned on the epoch) in which the service has
//! at least one request, up to the one holding its last request; every window trails its step:
//! `[step − width, step)`. Window sums come from prefix sums over the per-minute counts, so a
//! step costs a binary search per window whatever the window's width.

use crate::minute::MinuteSeries;
use gigstream_core::refdata::{parse_duration_ms, BurnAlert};
use gigstream_core::time::{window_floor, DAY_MS, HOUR_MS, MINUTE_MS};

/// Distance between steps.
pub const STEP_MS: i64 = 5 * MINUTE_MS;

/// The windows that get `error_ratio_<w>` and `burn_<w>` columns: the distinct windows of the
/// built-in `reference/sla.toml` alerts, shortest first. Fixed at build time because
/// `Projection::table_defs` cannot see run-time reference data; a test checks they are still
/// the windows the built-in file configures.
pub const BURN_WINDOWS: [(&str, i64); 5] = [
    ("5m", 5 * MINUTE_MS),
    ("30m", 30 * MINUTE_MS),
    ("1h", HOUR_MS),
    ("6h", 6 * HOUR_MS),
    ("3d", 3 * DAY_MS),
];

/// The alerts that get a 0/1 column, by name: those of the built-in `reference/sla.toml`. Their
/// factor and windows are read from the run-time reference data.
pub const ALERT_COLUMNS: [&str; 3] = ["page_fast", "page_slow", "ticket"];

/// A column label for a duration: the largest of `d`, `h`, `m`, `s`, `ms` that divides it
/// (`3d`, `90m`, `6h`).
pub fn duration_label(ms: i64) -> String {
    for (unit, size) in [
        ("d", DAY_MS),
        ("h", HOUR_MS),
        ("m", MINUTE_MS),
        ("s", 1_000),
    ] {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

/// One step of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct BurnStep {
    /// Step time, ms: the end (exclusive) of every trailing window.
    pub at: i64,
    /// Per [`BURN_WINDOWS`] entry: errors / requests, `None` without requests.
    pub error_ratio: Vec<Option<f64>>,
    /// Per [`BURN_WINDOWS`] entry: error ratio / error budget, `None` without requests or
    /// without a budget (a 100% objective).
    pub burn: Vec<Option<f64>>,
    /// Per [`ALERT_COLUMNS`] entry: both windows above the factor (false when the alert is not
    /// configured).
    pub alerts: Vec<bool>,
}

/// Cumulative request and error counts over a service's minutes.
struct Prefix {
    minutes: Vec<i64>,
    /// `requests[i]` = requests in the first `i` minutes.
    requests: Vec<u64>,
    errors: Vec<u64>,
}

impl Prefix {
    fn new(series: &MinuteSeries) -> Prefix {
        let mut p = Prefix {
            minutes: Vec::new(),
            requests: vec![0],
            errors: vec![0],
        };
        let (mut r, mut e) = (0, 0);
        for (m, agg) in series.iter() {
            r += agg.requests;
            e += agg.errors;
            p.minutes.push(m);
            p.requests.push(r);
            p.errors.push(e);
        }
        p
    }

    /// `(requests, errors)` of the minutes starting in `[from, to)`.
    fn sums(&self, from: i64, to: i64) -> (u64, u64) {
        let a = self.minutes.partition_point(|m| *m < from);
        let b = self.minutes.partition_point(|m| *m < to);
        (
            self.requests[b] - self.requests[a],
            self.errors[b] - self.errors[a],
        )
    }

    fn ratio(&self, at: i64, width: i64) -> Option<f64> {
        let (requests, errors) = self.sums(at - width, at);
        (requests > 0).then(|| errors as f64 / requests as f64)
    }
}

/// The burn-rate steps of one service whose request objective is `request_slo_pct`.
pub fn burn_steps(
    series: &MinuteSeries,
    request_slo_pct: f64,
    alerts: &[BurnAlert],
) -> Vec<BurnStep> {
    let prefix = Prefix::new(series);
    let budget = (100.0 - request_slo_pct) / 100.0;
    let burn = |ratio: Option<f64>| ratio.filter(|_| budget > 0.0).map(|r| r / budget);
    // (factor, long ms, short ms) per alert column; None when not configured or unparsable.
    let configured: Vec<Option<(f64, i64, i64)>> = ALERT_COLUMNS
        .iter()
        .map(|name| {
            let a = alerts.iter().find(|a| a.name == *name)?;
            Some((
                a.factor,
                parse_duration_ms(&a.long_window).ok()?,
                parse_duration_ms(&a.short_window).ok()?,
            ))
        })
        .collect();
    let mut steps: Vec<i64> = prefix
        .minutes
        .iter()
        .map(|m| window_floor(*m, STEP_MS) + STEP_MS)
        .collect();
    steps.dedup();
    steps
        .into_iter()
        .map(|at| {
            let error_ratio: Vec<Option<f64>> = BURN_WINDOWS
                .iter()
                .map(|(_, w)| prefix.ratio(at, *w))
                .collect();
            let alerts = configured
                .iter()
                .map(|c| {
                    c.is_some_and(|(factor, long, short)| {
                        let over = |w: i64| burn(prefix.ratio(at, w)).is_some_and(|b| b > factor);
                        over(long) && over(short)
                    })
                })
                .collect();
            BurnStep {
                at,
                burn: error_ratio.iter().map(|r| burn(*r)).collect(),
                error_ratio,
                alerts,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::time::parse_ts;
    use gigstream_core::RefData;

    #[test]
    fn column_windows_are_the_builtin_alert_windows() {
        let rd = RefData::builtin();
        let mut windows: Vec<i64> = rd
            .sla
            .burn_alerts
            .iter()
            .flat_map(|a| [&a.long_window, &a.short_window])
            .map(|w| parse_duration_ms(w).unwrap())
            .collect();
        windows.sort_unstable();
        windows.dedup();
        let labels: Vec<String> = windows.iter().map(|w| duration_label(*w)).collect();
        assert_eq!(labels, BURN_WINDOWS.map(|(l, _)| l.to_string()).to_vec());
        assert_eq!(BURN_WINDOWS.map(|(_, w)| w).to_vec(), windows);
        let names: Vec<&str> = rd.sla.burn_alerts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ALERT_COLUMNS.to_vec());
        assert_eq!(duration_label(90 * MINUTE_MS), "90m");
    }

    #[test]
    fn one_percent_errors_against_99_9_burn_at_ten_times() {
        // Custom reference data: a 99.9% request objective (budget 0.1%).
        let mut rd = RefData::builtin();
        rd.sla.targets.request_slo_pct = 99.9;
        let t = parse_ts("2026-03-01T00:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        // Two hours, 100 requests a minute, 1 error each.
        for minute in 0..120 {
            for i in 0..100 {
                s.minute_mut(t + minute * MINUTE_MS + i).record(50, i == 0);
            }
        }
        let slo = rd.sla.targets_for("svc").request_slo_pct;
        let steps = burn_steps(&s, slo, &rd.sla.burn_alerts);
        assert_eq!(steps.len(), 24);
        assert_eq!(steps[0].at, t + STEP_MS);
        let last = steps.last().unwrap();
        assert_eq!(last.at, t + 120 * MINUTE_MS);
        for (i, (label, _)) in BURN_WINDOWS.iter().enumerate() {
            assert!(
                (last.error_ratio[i].unwrap() - 0.01).abs() < 1e-12,
                "{label}"
            );
            assert!((last.burn[i].unwrap() - 10.0).abs() < 1e-9, "{label}");
        }
        // 10x is below the fast page's 14.4 but above the slow page's 6 and the ticket's 1.
        assert_eq!(last.alerts, vec![false, true, true]);
    }

    #[test]
    fn trailing_windows_only_see_their_minutes() {
        let rd = RefData::builtin();
        let t = parse_ts("2026-03-01T00:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        // Minute 0: 10 requests all errors; minute 60: 10 requests fine.
        for i in 0..10 {
            s.minute_mut(t + i).record(50, true);
            s.minute_mut(t + 60 * MINUTE_MS + i).record(50, false);
        }
        let steps = burn_steps(&s, 99.5, &rd.sla.burn_alerts);
        assert_eq!(steps.len(), 2);
        // First step: 5m ratio 1.0, burn 1 / 0.005 = 200 on every window: all alerts fire.
        assert_eq!(steps[0].error_ratio[0], Some(1.0));
        assert!((steps[0].burn[0].unwrap() - 200.0).abs() < 1e-9);
        assert_eq!(steps[0].alerts, vec![true, true, true]);
        // Step at minute 65: the 5m and 30m windows hold only the good minute; 1h starts at
        // minute 5 and misses the bad minute; 6h and 3d see both: 10 / 20.
        let r = &steps[1].error_ratio;
        assert_eq!(
            (r[0], r[1], r[2], r[3], r[4]),
            (Some(0.0), Some(0.0), Some(0.0), Some(0.5), Some(0.5))
        );
        // Pages need a short window above the factor; the ticket's 6h and 3d both burn at 100x.
        assert_eq!(steps[1].alerts, vec![false, false, true]);
        // Without a budget there is no burn rate.
        assert_eq!(burn_steps(&s, 100.0, &rd.sla.burn_alerts)[0].burn[0], None);
    }
}
