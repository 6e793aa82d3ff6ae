//! The `telemetry` topic (key `service_id`): sampled requests, synthetic probes and incidents.
//! See the crate docs for the sampling and probe cadence.

mod windows;

use crate::assemble::Draft;
use crate::dist::{self, Rng8};
use crate::scenario::{Scenario, ServiceSpec};
use gigstream_core::event::{
    IncidentOpened, IncidentResolved, ProbeResult, RequestObserved, TelemetryEvent,
    TelemetryRecord, SCHEMA_VERSION,
};
use gigstream_core::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use gigstream_core::Event;
use windows::{Cursor, Window};

/// Share of the telemetry budget spent on probes (the rest are requests and incidents).
const PROBE_SHARE: f64 = 0.4;
/// Probe interval of every region while an incident is open (incident mode).
const INCIDENT_PROBE_MS: i64 = 30_000;
/// Short all-region probe failures outside incidents, per service and 30 days.
const BLIPS_PER_MONTH: f64 = 3.0;
/// Log-normal spread of request latency (P99 is about 1.27 x P95).
const LATENCY_SIGMA: f64 = 0.35;

/// Generates exactly `target` telemetry events (when `target` covers the incidents and probes).
pub(crate) fn generate(sc: &Scenario, seed: u64, target: u64) -> Vec<Draft> {
    let mut r = dist::rng(seed, 30);
    let windows = windows::plan(&mut r, sc);
    let mut out: Vec<Draft> = Vec::with_capacity(target as usize);
    let push = |out: &mut Vec<Draft>, s: &ServiceSpec, t: i64, payload: TelemetryEvent| {
        out.push(Draft {
            event: Event::Telemetry(TelemetryRecord {
                event_id: String::new(),
                occurred_at: t,
                service_id: s.id.to_string(),
                schema_version: SCHEMA_VERSION,
                trace_id: None,
                payload,
            }),
            append_ts: 0,
            late_ok: false,
        })
    };

    // Incidents, numbered by opening time.
    let mut incidents: Vec<(i64, usize, &Window)> = Vec::new();
    for (si, ws) in windows.iter().enumerate() {
        for w in ws.iter().filter(|w| w.severity.is_some()) {
            incidents.push((w.start, si, w));
        }
    }
    incidents.sort_by_key(|x| (x.0, x.1));
    for (n, (_, si, w)) in incidents.iter().enumerate() {
        let s = &sc.services[*si];
        let incident_id = format!("inc-{:05}", n + 1);
        let severity = w.severity.expect("invariant: incidents have a severity");
        push(
            &mut out,
            s,
            w.start,
            TelemetryEvent::IncidentOpened(IncidentOpened {
                incident_id: incident_id.clone(),
                severity,
            }),
        );
        if w.end < sc.end_ms {
            push(
                &mut out,
                s,
                w.end,
                TelemetryEvent::IncidentResolved(IncidentResolved {
                    incident_id,
                    severity,
                }),
            );
        }
    }

    // Probes: incident mode first (at most a quarter of the probes; every 30 s unless the data
    // set is too small for that), then the base cadence fills the probe share.
    let probe_budget = target as f64 * PROBE_SHARE;
    let incident_region_ms: f64 = incidents
        .iter()
        .map(|(_, si, w)| {
            (w.end.min(sc.end_ms) - w.start) as f64 * sc.services[*si].regions.len() as f64
        })
        .sum();
    let incident_interval =
        ((incident_region_ms / (0.25 * probe_budget).max(1.0)) as i64).max(INCIDENT_PROBE_MS);
    let incident_probes =
        (incident_region_ms / incident_interval as f64) as i64 + incidents.len() as i64;
    let base_budget = (probe_budget as i64 - incident_probes).max(sc.services.len() as i64);
    let per_service = base_budget as f64 / sc.services.len() as f64;
    for (si, s) in sc.services.iter().enumerate() {
        let ticks = (per_service / s.regions.len() as f64).max(1.0);
        let interval = ((sc.span_ms() as f64 / ticks) as i64).max(10_000);
        probes(
            &mut r,
            sc,
            s,
            &windows[si],
            (interval, incident_interval),
            &mut |t, p| push(&mut out, s, t, p),
        );
    }

    // Requests fill the rest exactly.
    let left = (target as i64 - out.len() as i64).max(0) as f64;
    let traffic: f64 = sc.services.iter().map(|s| s.traffic).sum();
    let profile = Profile::new(sc);
    let mut assigned = 0i64;
    for (si, s) in sc.services.iter().enumerate() {
        let n = if si + 1 == sc.services.len() {
            left as i64 - assigned
        } else {
            (left * s.traffic / traffic).round() as i64
        };
        assigned += n;
        let tenants = sc.tenants_of(si);
        requests(
            &mut r,
            &profile,
            s,
            &tenants,
            &windows[si],
            n.max(0) as usize,
            &mut |t, p| push(&mut out, s, t, p),
        );
    }
    out
}

fn probes(
    r: &mut Rng8,
    sc: &Scenario,
    s: &ServiceSpec,
    windows: &[Window],
    (interval, incident_interval): (i64, i64),
    emit: &mut dyn FnMut(i64, TelemetryEvent),
) {
    let p_blip = BLIPS_PER_MONTH * interval as f64 / (30 * DAY_MS) as f64;
    let rtt: Vec<f64> = s
        .regions
        .iter()
        .map(|_| dist::uniform(r, 15.0, 180.0))
        .collect();
    let probe = |r: &mut Rng8, region: usize, ok: bool, slow: f64| {
        let latency = if ok {
            rtt[region] + dist::lognormal_p95(r, s.p95_ms * slow / 2.0, 0.3)
        } else {
            10_000.0
        };
        TelemetryEvent::ProbeResult(ProbeResult {
            probe_region: s.regions[region].to_string(),
            ok,
            latency_ms: latency as i32,
        })
    };
    let mut cursor = Cursor::new(windows);
    let mut t = sc.start_ms + dist::int(r, 0, interval - 1);
    while t < sc.end_ms {
        let w = cursor.at(t);
        let blip = dist::chance(r, p_blip);
        for region in 0..s.regions.len() {
            let at = t + region as i64 * dist::int(r, 1_000, 7_000);
            let (ok, slow) = match w {
                Some(w) if w.is_down(at) => (false, 1.0),
                Some(w) => (
                    !(w.severity.is_some() && dist::chance(r, 0.05)),
                    w.p95_ms / s.p95_ms,
                ),
                None => (!blip && !dist::chance(r, 0.0005), 1.0),
            };
            emit(at, probe(r, region, ok, slow));
        }
        t += interval;
    }
    // Incident mode: every region every `incident_interval` (30 s) while the incident is open.
    for w in windows.iter().filter(|w| w.severity.is_some()) {
        let mut t = w.start;
        while t <= w.end.min(sc.end_ms - 1) {
            for region in 0..s.regions.len() {
                let at = t + dist::int(r, 0, 5_000);
                let ok = !w.is_down(at) && !dist::chance(r, 0.05);
                emit(at, probe(r, region, ok, w.p95_ms / s.p95_ms));
            }
            t += incident_interval;
        }
    }
}

/// Cumulative request weight per minute of the span: a diurnal curve peaking at 14:00 UTC,
/// weekends at 75%.
struct Profile {
    start: i64,
    cumulative: Vec<f64>,
}

impl Profile {
    fn new(sc: &Scenario) -> Profile {
        let minutes = (sc.span_ms() / MINUTE_MS).max(1) as usize;
        let mut cumulative = Vec::with_capacity(minutes);
        let mut acc = 0.0;
        for m in 0..minutes {
            let t = sc.start_ms + m as i64 * MINUTE_MS;
            let hour = (t.rem_euclid(DAY_MS)) as f64 / HOUR_MS as f64;
            let weekday = (t.div_euclid(DAY_MS) + 3).rem_euclid(7); // 0 = Monday (1970-01-01 was a Thursday)
            let weekend = if weekday >= 5 { 0.75 } else { 1.0 };
            acc += (1.0 + 0.6 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos()) * weekend;
            cumulative.push(acc);
        }
        Profile {
            start: sc.start_ms,
            cumulative,
        }
    }

    fn sample(&self, r: &mut Rng8) -> i64 {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let x = dist::unit(r) * total;
        let m = self
            .cumulative
            .partition_point(|&c| c <= x)
            .min(self.cumulative.len().saturating_sub(1));
        self.start + m as i64 * MINUTE_MS + dist::int(r, 0, MINUTE_MS - 1)
    }
}

fn requests(
    r: &mut Rng8,
    profile: &Profile,
    s: &ServiceSpec,
    tenants: &[String],
    windows: &[Window],
    n: usize,
    emit: &mut dyn FnMut(i64, TelemetryEvent),
) {
    let mut times: Vec<i64> = (0..n).map(|_| profile.sample(r)).collect();
    times.sort_unstable();
    let route_weights: Vec<(usize, f64)> =
        s.routes.iter().enumerate().map(|(i, x)| (i, x.2)).collect();
    // A few tenants carry most traffic.
    let tenant_weights: Vec<(usize, f64)> = (0..tenants.len())
        .map(|i| (i, 1.0 / (i as f64 + 1.0)))
        .collect();
    let mut cursor = Cursor::new(windows);
    for t in times {
        let w = cursor.at(t);
        let (route, method, _) = s.routes[dist::weighted(r, &route_weights)];
        let tenant_id = if tenants.is_empty() {
            "t-000".to_string()
        } else {
            tenants[dist::weighted(r, &tenant_weights)].clone()
        };
        let (status_code, latency_ms) = match w {
            Some(w) if w.is_down(t) => (503, dist::int(r, 1, 30) as i32),
            _ => {
                let (p95, err) = w.map_or((s.p95_ms, s.error_rate), |w| (w.p95_ms, w.error_rate));
                let latency =
                    dist::lognormal_p95(r, p95, LATENCY_SIGMA).clamp(1.0, 30_000.0) as i32;
                let status = if dist::chance(r, err) {
                    dist::weighted(r, &[(500, 0.3), (502, 0.2), (503, 0.3), (504, 0.2)])
                } else if dist::chance(r, 0.03) {
                    dist::weighted(
                        r,
                        &[(400, 0.3), (401, 0.2), (404, 0.3), (409, 0.1), (429, 0.1)],
                    )
                } else if method == "POST" {
                    201
                } else {
                    200
                };
                (status, latency)
            }
        };
        emit(
            t,
            TelemetryEvent::RequestObserved(RequestObserved {
                tenant_id,
                route: route.to_string(),
                method: method.to_string(),
                status_code,
                latency_ms,
            }),
        );
    }
}
