//! Incidents and slow periods per service: the windows in which latency, errors and probe
//! failures deviate from the service's baseline.

use crate::dist::{self, Rng8};
use crate::scenario::Scenario;
use gigstream_core::event::Severity;
use gigstream_core::time::{DAY_MS, MINUTE_MS};

/// MTTR before and after the process rework, minutes (seed).
pub(crate) const MTTR_BEFORE_MIN: f64 = 41.0;
pub(crate) const MTTR_AFTER_MIN: f64 = 6.3;
/// Mean days between incidents of one service, and between slow periods.
const INCIDENT_GAP_DAYS: f64 = 8.0;
const SLOW_GAP_DAYS: f64 = 5.0;

#[derive(Debug, Clone)]
pub(crate) struct Window {
    pub start: i64,
    pub end: i64,
    /// Some for incidents (with `IncidentOpened`/`IncidentResolved` events).
    pub severity: Option<Severity>,
    /// The part during which the service is down: every probe fails, requests get 503.
    pub hard: Option<(i64, i64)>,
    /// P95 latency during the window, ms.
    pub p95_ms: f64,
    pub error_rate: f64,
    pub major: bool,
}

impl Window {
    pub fn is_down(&self, t: i64) -> bool {
        self.hard.is_some_and(|(a, b)| t >= a && t < b)
    }
}

/// Per service (same order as `sc.services`), its windows sorted by start, not overlapping.
pub(crate) fn plan(r: &mut Rng8, sc: &Scenario) -> Vec<Vec<Window>> {
    // 1. Incident starts and raw durations per service.
    let mut per: Vec<Vec<Window>> = Vec::new();
    for s in &sc.services {
        let mut v = Vec::new();
        let mut t = sc.start_ms as f64 + dist::exp_mean(r, INCIDENT_GAP_DAYS * DAY_MS as f64);
        while (t as i64) < sc.end_ms - DAY_MS / 4 {
            let start = t as i64;
            let mean = if sc.reworked(start) {
                MTTR_AFTER_MIN
            } else {
                MTTR_BEFORE_MIN
            };
            let dur = dist::lognormal_mean(r, mean, 0.6) * MINUTE_MS as f64;
            v.push(incident(r, start, dur as i64, s.p95_ms, false));
            t += dur + dist::exp_mean(r, INCIDENT_GAP_DAYS * DAY_MS as f64);
        }
        if s.id == sc.credit_service {
            let o = sc.credit_outage_ms;
            let dur = (dist::uniform(r, 150.0, 240.0) * MINUTE_MS as f64) as i64;
            v.retain(|w| w.end + DAY_MS < o || w.start > o + dur + DAY_MS);
            v.push(incident(r, o, dur, s.p95_ms, true));
            v.sort_by_key(|w| w.start);
        }
        per.push(v);
    }
    // 2. Rescale durations so MTTR is exactly the seed's figure on each side of the rework.
    for after in [false, true] {
        let target = if after {
            MTTR_AFTER_MIN
        } else {
            MTTR_BEFORE_MIN
        } * MINUTE_MS as f64;
        let (mut n, mut fixed, mut raw) = (0.0, 0.0, 0.0);
        for w in per
            .iter()
            .flatten()
            .filter(|w| sc.reworked(w.start) == after)
        {
            n += 1.0;
            if w.major {
                fixed += (w.end - w.start) as f64;
            } else {
                raw += (w.end - w.start) as f64;
            }
        }
        if raw <= 0.0 {
            continue;
        }
        let f = ((target * n - fixed) / raw).max(0.2);
        for w in per
            .iter_mut()
            .flatten()
            .filter(|w| sc.reworked(w.start) == after && !w.major)
        {
            let dur = ((w.end - w.start) as f64 * f).round() as i64;
            let scale = |x: i64| w.start + ((x - w.start) as f64 * f) as i64;
            w.hard = w.hard.map(|(a, b)| (scale(a), scale(b)));
            w.end = w.start + dur.max(1000);
        }
    }
    // 3. Slow periods between incidents (P95 above the 150 ms alert line for 15-40 minutes).
    for (s, v) in sc.services.iter().zip(per.iter_mut()) {
        let mut t = sc.start_ms as f64 + dist::exp_mean(r, SLOW_GAP_DAYS * DAY_MS as f64);
        let mut slow = Vec::new();
        while (t as i64) < sc.end_ms {
            let start = t as i64;
            let end = start + (dist::uniform(r, 15.0, 40.0) * MINUTE_MS as f64) as i64;
            if !v
                .iter()
                .any(|w| w.start < end + MINUTE_MS && start < w.end + MINUTE_MS)
            {
                slow.push(Window {
                    start,
                    end,
                    severity: None,
                    hard: None,
                    p95_ms: dist::uniform(r, 165.0, 240.0),
                    error_rate: s.error_rate,
                    major: false,
                });
            }
            t += (end - start) as f64 + dist::exp_mean(r, SLOW_GAP_DAYS * DAY_MS as f64);
        }
        v.extend(slow);
        v.sort_by_key(|w| w.start);
    }
    per
}

fn incident(r: &mut Rng8, start: i64, dur: i64, base_p95: f64, major: bool) -> Window {
    let end = start + dur.max(1000);
    let (hard, severity) = if major {
        (
            Some((start + 2 * MINUTE_MS, end - 3 * MINUTE_MS)),
            Severity::Sev1,
        )
    } else if dist::chance(r, 0.2) {
        let len = (dur as f64 * dist::uniform(r, 0.05, 0.2)) as i64;
        let a = start + (dur as f64 * dist::uniform(r, 0.1, 0.4)) as i64;
        (
            Some((a, a + len)),
            if len > 20 * MINUTE_MS {
                Severity::Sev1
            } else {
                Severity::Sev2
            },
        )
    } else if dur > 10 * MINUTE_MS {
        (None, Severity::Sev3)
    } else {
        (None, Severity::Sev4)
    };
    Window {
        start,
        end,
        severity: Some(severity),
        hard,
        p95_ms: dist::uniform(r, 270.0, 420.0).max(base_p95 * 2.0),
        error_rate: dist::uniform(r, 0.03, 0.10),
        major,
    }
}

/// Walks a service's windows in time order (queries must not go back in time).
pub(crate) struct Cursor<'a> {
    windows: &'a [Window],
    i: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(windows: &'a [Window]) -> Self {
        Cursor { windows, i: 0 }
    }

    /// The window containing `t`, if any.
    pub fn at(&mut self, t: i64) -> Option<&'a Window> {
        while self.i < self.windows.len() && self.windows[self.i].end <= t {
            self.i += 1;
        }
        self.windows.get(self.i).filter(|w| w.start <= t)
    }
}
