//! Violation windows and the violations found in them.
//!
//! A service's minutes are grouped into windows of `refdata.sla.violation.window` (5 minutes by
//! default, aligned on the epoch); a window's sketch is the merge of its minutes' sketches. A
//! window exists when at least one request fell in it, so a window without traffic breaks a run
//! of consecutive windows.
//!
//! Rules:
//! - `p95_alert_<n>_windows` (the seed's internal rule, `p95_alert_3_windows` by default): P95
//!   above `p95_alert_ms` in `n` or more consecutive windows; one violation per run, with the
//!   run's first window start, its end, the number of windows and the largest P95 in it;
//! - `p95_target`, `p99_target`, `error_rate_target`: one violation per window above the
//!   service's target.

use crate::minute::MinuteAgg;
#[cfg(test)]
use crate::minute::MinuteSeries;
use crate::sketch::rank;
use gigstream_core::refdata::{SlaTargets, ViolationRule};
use gigstream_core::time::{window_floor, MINUTE_MS};

/// Used when the configured window is not a positive duration (the loader only checks syntax).
pub const DEFAULT_WINDOW_MS: i64 = 5 * MINUTE_MS;

/// The configured violation window width, ms.
pub fn window_width_ms(rule: &ViolationRule) -> i64 {
    rule.window_ms()
        .ok()
        .filter(|w| *w > 0)
        .unwrap_or(DEFAULT_WINDOW_MS)
}

/// The requests of one service in one violation window.
///
/// Only the window's P95 and P99 are kept, not its merged sketch: they are all the tables and
/// rules need, and computing them from the members' buckets avoids building (and allocating) a
/// merged sketch per window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowAgg {
    /// Window start, ms.
    pub start: i64,
    pub requests: u64,
    pub errors: u64,
    /// 95th percentile of the window's merged sketch, `None` without requests.
    pub p95: Option<u32>,
    /// 99th percentile of the window's merged sketch, `None` without requests.
    pub p99: Option<u32>,
}

impl WindowAgg {
    pub fn p95(&self) -> Option<u32> {
        self.p95
    }

    pub fn p99(&self) -> Option<u32> {
        self.p99
    }

    /// Errors per 100 requests; `None` without requests.
    pub fn error_rate_pct(&self) -> Option<f64> {
        pct(self.errors, self.requests)
    }
}

/// `part / whole × 100`, `None` when `whole` is zero.
pub fn pct(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 * 100.0 / whole as f64)
}

/// Several quantiles in one pass over `(representative value, count)` buckets sorted by value
/// (a value may repeat, as when the buckets of several sketches are concatenated and sorted),
/// holding `total` values in all. `qs` must be ascending.
///
/// Same definition as [`crate::sketch::LatencySketch::quantile`]: rank `ceil(q × n)` within `1..=n`, the value
/// of the first bucket where the cumulative count reaches it. Equal values are adjacent, so
/// splitting a bucket in several entries gives the same answer as the merged sketch.
pub fn quantiles<const N: usize>(
    buckets: impl IntoIterator<Item = (u32, u64)>,
    total: u64,
    qs: [f64; N],
) -> [Option<u32>; N] {
    let mut out = [None; N];
    if total == 0 {
        return out;
    }
    let ranks = qs.map(|q| rank(q, total));
    let (mut next, mut cum, mut last) = (0, 0u64, None);
    for (value, count) in buckets {
        cum += count;
        last = Some(value);
        while next < N && cum >= ranks[next] {
            out[next] = Some(value);
            next += 1;
        }
        if next == N {
            return out;
        }
    }
    // Only reachable if the counts sum to less than `total`; the sketch answers its last bucket.
    for o in &mut out[next..] {
        *o = last;
    }
    out
}

/// The windows of `width_ms` that hold at least one request, in time order.
pub fn windows(
    series: &(impl AsRef<[(i64, MinuteAgg)]> + ?Sized),
    width_ms: i64,
) -> Vec<WindowAgg> {
    let series = series.as_ref();
    let mut out: Vec<WindowAgg> = Vec::new();
    // The members' buckets, reused across windows.
    let mut buckets: Vec<(u32, u64)> = Vec::new();
    let mut minutes = series.iter().map(|(m, a)| (*m, a)).peekable();
    while let Some((first, _)) = minutes.peek().copied() {
        let start = window_floor(first, width_ms);
        buckets.clear();
        let (mut requests, mut errors, mut total, mut members) = (0, 0, 0, 0);
        // Minutes are sorted: the window's members are those before its end.
        let end = start + width_ms;
        while let Some((_, agg)) = minutes.next_if(|(m, _)| *m < end) {
            requests += agg.requests;
            errors += agg.errors;
            total += agg.latency.count();
            buckets.extend(agg.latency.buckets());
            members += 1;
        }
        if members > 1 {
            buckets.sort_unstable_by_key(|(v, _)| *v);
        }
        let [p95, p99] = quantiles(buckets.iter().copied(), total, [0.95, 0.99]);
        out.push(WindowAgg {
            start,
            requests,
            errors,
            p95,
            p99,
        });
    }
    out
}

/// One violation of one rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    pub rule: String,
    /// Start of the first window, ms.
    pub start: i64,
    /// End of the last window (exclusive), ms.
    pub end: i64,
    pub windows: u32,
    /// The observed value: P95 / P99 in ms, or error rate in percent (the largest in a run).
    pub observed: f64,
    /// The limit it exceeded, same unit.
    pub threshold: f64,
}

/// The name of the consecutive-windows rule, `p95_alert_3_windows` with the default config.
pub fn alert_rule_name(rule: &ViolationRule) -> String {
    format!("p95_alert_{}_windows", rule.consecutive_windows.max(1))
}

/// Every violation in a service's `windows` (as returned by [`windows`]), sorted by rule then
/// start.
pub fn violations(
    windows: &[WindowAgg],
    width_ms: i64,
    targets: &SlaTargets,
    rule: &ViolationRule,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let single = |name: &str, w: &WindowAgg, observed: f64, threshold: f64| Violation {
        rule: name.to_string(),
        start: w.start,
        end: w.start + width_ms,
        windows: 1,
        observed,
        threshold,
    };
    for w in windows {
        if let Some(p95) = w.p95().filter(|p| *p > targets.p95_ms) {
            out.push(single("p95_target", w, p95 as f64, targets.p95_ms as f64));
        }
        if let Some(p99) = w.p99().filter(|p| *p > targets.p99_ms) {
            out.push(single("p99_target", w, p99 as f64, targets.p99_ms as f64));
        }
        if let Some(rate) = w.error_rate_pct().filter(|r| *r > targets.error_rate_pct) {
            out.push(single("error_rate_target", w, rate, targets.error_rate_pct));
        }
    }
    out.extend(p95_alert_runs(windows, width_ms, rule));
    out.sort_by(|a, b| a.rule.cmp(&b.rule).then(a.start.cmp(&b.start)));
    out
}

/// Runs of at least `consecutive_windows` adjacent windows with P95 above `p95_alert_ms`.
fn p95_alert_runs(windows: &[WindowAgg], width_ms: i64, rule: &ViolationRule) -> Vec<Violation> {
    let name = alert_rule_name(rule);
    let need = rule.consecutive_windows.max(1);
    let mut out = Vec::new();
    // (start, end, count, max p95) of the run in progress.
    let mut run: Option<(i64, i64, u32, u32)> = None;
    let close = |run: Option<(i64, i64, u32, u32)>, out: &mut Vec<Violation>| {
        if let Some((start, end, n, max)) = run.filter(|r| r.2 >= need) {
            out.push(Violation {
                rule: name.clone(),
                start,
                end,
                windows: n,
                observed: max as f64,
                threshold: rule.p95_alert_ms as f64,
            });
        }
    };
    for w in windows {
        match w.p95().filter(|p| *p > rule.p95_alert_ms) {
            Some(p95) => {
                run = match run {
                    Some((s, e, n, max)) if e == w.start => {
                        Some((s, e + width_ms, n + 1, max.max(p95)))
                    }
                    other => {
                        close(other, &mut out);
                        Some((w.start, w.start + width_ms, 1, p95))
                    }
                };
            }
            None => close(run.take(), &mut out),
        }
    }
    close(run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::time::parse_ts;
    use gigstream_core::RefData;

    /// A series with one minute per listed window (minute 0 of each 5-minute window), each minute
    /// holding 100 requests all at the given latency.
    fn series(t: i64, windows: &[(i64, u32)]) -> MinuteSeries {
        let mut s = MinuteSeries::default();
        for &(k, latency) in windows {
            for i in 0..100 {
                s.minute_mut(t + k * DEFAULT_WINDOW_MS + i)
                    .record(latency, false);
            }
        }
        s
    }

    fn alert_rows(s: &MinuteSeries) -> Vec<Violation> {
        let rd = RefData::builtin();
        let ws = windows(s, DEFAULT_WINDOW_MS);
        let targets = rd.sla.targets_for("svc");
        violations(&ws, DEFAULT_WINDOW_MS, targets, &rd.sla.violation)
            .into_iter()
            .filter(|v| v.rule == "p95_alert_3_windows")
            .collect()
    }

    #[test]
    fn three_consecutive_slow_windows_give_exactly_one_alert() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let rows = alert_rows(&series(
            t,
            &[(0, 100), (1, 160), (2, 170), (3, 200), (4, 100)],
        ));
        assert_eq!(rows.len(), 1);
        let v = &rows[0];
        assert_eq!(
            (v.start, v.end, v.windows),
            (t + DEFAULT_WINDOW_MS, t + 4 * DEFAULT_WINDOW_MS, 3)
        );
        assert_eq!((v.observed, v.threshold), (200.0, 150.0));
    }

    #[test]
    fn two_slow_windows_or_a_gap_give_no_alert() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        assert!(alert_rows(&series(
            t,
            &[(0, 160), (1, 170), (2, 100), (3, 170), (4, 180)]
        ))
        .is_empty());
        // Three slow windows but window 2 had no traffic: not consecutive.
        assert!(alert_rows(&series(t, &[(0, 160), (1, 170), (3, 170)])).is_empty());
        // Exactly at the limit is not above it.
        assert!(alert_rows(&series(t, &[(0, 150), (1, 150), (2, 150)])).is_empty());
        // Two separate runs of three give two rows.
        let rows = alert_rows(&series(
            t,
            &[
                (0, 160),
                (1, 170),
                (2, 180),
                (3, 10),
                (4, 160),
                (5, 170),
                (6, 180),
                (7, 190),
            ],
        ));
        assert_eq!(
            rows.iter().map(|v| v.windows).collect::<Vec<_>>(),
            vec![3, 4]
        );
    }

    #[test]
    fn per_window_targets() {
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let rd = RefData::builtin();
        let mut s = MinuteSeries::default();
        // Window 0: 200 requests, 2 errors (1% > 0.5%), 10 at 900 ms (p99 > 800, p95 fine).
        for i in 0..200 {
            s.minute_mut(t + i)
                .record(if i < 10 { 900 } else { 100 }, i >= 198);
        }
        let ws = windows(&s, DEFAULT_WINDOW_MS);
        assert_eq!(ws.len(), 1);
        assert_eq!(ws[0].error_rate_pct(), Some(1.0));
        let v = violations(
            &ws,
            DEFAULT_WINDOW_MS,
            rd.sla.targets_for("svc"),
            &rd.sla.violation,
        );
        let rules: Vec<&str> = v.iter().map(|v| v.rule.as_str()).collect();
        assert_eq!(rules, vec!["error_rate_target", "p99_target"]);
        assert_eq!((v[1].observed, v[1].threshold), (899.0, 800.0));
    }

    #[test]
    fn window_quantiles_equal_those_of_the_merged_sketch() {
        use crate::sketch::LatencySketch;
        let t = parse_ts("2026-03-01T10:00:00Z").unwrap();
        let mut s = MinuteSeries::default();
        // Pseudo-random latencies over 40 minutes, some minutes empty, some clamped.
        let mut x: u64 = 12_345;
        for i in 0..4_000i64 {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let minute = (x >> 33) % 40;
            if minute % 7 == 3 {
                continue;
            }
            let ms = match (x >> 20) % 10 {
                0 => ((x >> 8) % 70_000) as u32,
                _ => ((x >> 12) % (50 + i as u64 % 900)) as u32,
            };
            s.minute_mut(t + minute as i64 * MINUTE_MS + i % 60_000)
                .record(ms, false);
        }
        let ws = windows(&s, DEFAULT_WINDOW_MS);
        assert_eq!(ws.len(), 8);
        for w in &ws {
            let members: Vec<&LatencySketch> = s
                .iter()
                .filter(|(m, _)| window_floor(*m, DEFAULT_WINDOW_MS) == w.start)
                .map(|(_, a)| &a.latency)
                .collect();
            let merged = LatencySketch::merged(members);
            assert_eq!(w.p95, merged.quantile(0.95));
            assert_eq!(w.p99, merged.quantile(0.99));
            for q in [0.0, 0.3, 0.5, 0.95, 1.0] {
                let [got] = quantiles(merged.buckets(), merged.count(), [q]);
                assert_eq!(got, merged.quantile(q), "q {q}");
            }
        }
        assert_eq!(quantiles([], 0, [0.5, 0.9]), [None, None]);
    }
}
