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

use crate::minute::MinuteAgg;
#[cfg(test)]
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
    pub error_ratio: [Option<f64>; BURN_WINDOWS.len()],
    /// Per [`BURN_WINDOWS`] entry: error ratio / error budget, `None` without requests or
    /// without a budget (a 100% objective).
    pub burn: [Option<f64>; BURN_WINDOWS.len()],
    /// Per [`ALERT_COLUMNS`] entry: both windows above the factor (false when the alert is not
    /// configured).
    pub alerts: [bool; ALERT_COLUMNS.len()],
}

/// Cumulative request and error counts over a service's minutes.
struct Prefix {
    minutes: Vec<i64>,
    /// `requests[i]` = requests in the first `i` minutes.
    requests: Vec<u64>,
    errors: Vec<u64>,
}

impl Prefix {
    fn new(series: &[(i64, MinuteAgg)]) -> Prefix {
        let n = series.len();
        let mut p = Prefix {
            minutes: Vec::with_capacity(n),
            requests: Vec::with_capacity(n + 1),
            errors: Vec::with_capacity(n + 1),
        };
        p.requests.push(0);
        p.errors.push(0);
        let (mut r, mut e) = (0, 0);
        for (m, agg) in series {
            let m = *m;
            r += agg.requests;
            e += agg.errors;
            p.minutes.push(m);
            p.requests.push(r);
            p.errors.push(e);
        }
        p
    }
}

/// A trailing window of fixed width sliding over increasing steps: the bounds of the minutes
/// in `[at - width, at)` only move forward, so all steps together cost one pass over the
/// minutes instead of two binary searches per step.
struct Trailing {
    width: i64,
    /// First minute `>= at - width`.
    from: usize,
    /// First minute `>= at`.
    to: usize,
}

impl Trailing {
    fn new(width: i64) -> Trailing {
        Trailing {
            width,
            from: 0,
            to: 0,
        }
    }

    /// Errors / requests of the minutes in `[at - width, at)`, `None` without requests; `at`
    /// must not decrease between calls.
    fn ratio(&mut self, p: &Prefix, at: i64) -> Option<f64> {
        let m = &p.minutes;
        while self.from < m.len() && m[self.from] < at - self.width {
            self.from += 1;
        }
        while self.to < m.len() && m[self.to] < at {
            self.to += 1;
        }
        let requests = p.requests[self.to] - p.requests[self.from];
        let errors = p.errors[self.to] - p.errors[self.from];
        (requests > 0).then(|| errors as f64 / requests as f64)
    }
}

/// The burn-rate steps of one service whose request objective is `request_slo_pct`.
pub fn burn_steps(
    series: &(impl AsRef<[(i64, MinuteAgg)]> + ?Sized),
    request_slo_pct: f64,
    alerts: &[BurnAlert],
) -> Vec<BurnStep> {
    let mut steps = Vec::new();
    for_each_burn_step(series, request_slo_pct, alerts, |s| steps.push(s.clone()));
    steps
}

/// [`burn_steps`] handed to `f` one at a time, in time order, without collecting them.
pub fn for_each_burn_step(
    series: &(impl AsRef<[(i64, MinuteAgg)]> + ?Sized),
    request_slo_pct: f64,
    alerts: &[BurnAlert],
    mut f: impl FnMut(&BurnStep),
) {
    let prefix = Prefix::new(series.as_ref());
    let budget = (100.0 - request_slo_pct) / 100.0;
    let burn = |ratio: Option<f64>| ratio.filter(|_| budget > 0.0).map(|r| r / budget);
    // One trailing window per distinct width: the columns' first, then any other alert window.
    let mut trailing: Vec<Trailing> = BURN_WINDOWS
        .iter()
        .map(|(_, w)| Trailing::new(*w))
        .collect();
    let mut slot = |width: i64| match trailing.iter().position(|t| t.width == width) {
        Some(i) => i,
        None => {
            trailing.push(Trailing::new(width));
            trailing.len() - 1
        }
    };
    // (factor, long slot, short slot) per alert column; None when not configured or unparsable.
    let configured: [Option<(f64, usize, usize)>; ALERT_COLUMNS.len()] =
        ALERT_COLUMNS.map(|name| {
            let a = alerts.iter().find(|a| a.name == name)?;
            let long = parse_duration_ms(&a.long_window).ok()?;
            let short = parse_duration_ms(&a.short_window).ok()?;
            Some((a.factor, slot(long), slot(short)))
        });
    let mut ratios: Vec<Option<f64>> = vec![None; trailing.len()];
    // The end of the step interval holding each minute; minutes are sorted, so a new step
    // starts only at a minute at or past the current step's end.
    let mut at = i64::MIN;
    for &m in &prefix.minutes {
        if m < at {
            continue;
        }
        at = window_floor(m, STEP_MS) + STEP_MS;
        for (r, t) in ratios.iter_mut().zip(&mut trailing) {
            *r = t.ratio(&prefix, at);
        }
        let error_ratio: [Option<f64>; BURN_WINDOWS.len()] = std::array::from_fn(|i| ratios[i]);
        let alerts = configured.map(|c| {
            c.is_some_and(|(factor, long, short)| {
                let over = |i: usize| burn(ratios[i]).is_some_and(|b| b > factor);
                over(long) && over(short)
            })
        });
        f(&BurnStep {
            at,
            burn: error_ratio.map(burn),
            error_ratio,
            alerts,
        });
    }
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
        assert_eq!(last.alerts, [false, true, true]);
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
        assert_eq!(steps[0].alerts, [true, true, true]);
        // Step at minute 65: the 5m and 30m windows hold only the good minute; 1h starts at
        // minute 5 and misses the bad minute; 6h and 3d see both: 10 / 20.
        let r = &steps[1].error_ratio;
        assert_eq!(
            (r[0], r[1], r[2], r[3], r[4]),
            (Some(0.0), Some(0.0), Some(0.0), Some(0.5), Some(0.5))
        );
        // Pages need a short window above the factor; the ticket's 6h and 3d both burn at 100x.
        assert_eq!(steps[1].alerts, [false, false, true]);
        // Without a budget there is no burn rate.
        assert_eq!(burn_steps(&s, 100.0, &rd.sla.burn_alerts)[0].burn[0], None);
    }
}
