//! The SLA tables: definitions (names, types, meaning and unit of every column) and rendering
//! from the projection's state. Every table is emitted sorted by its key and unique on it.

use crate::burn::{for_each_burn_step, BurnStep, ALERT_COLUMNS, BURN_WINDOWS};
use crate::incidents::Incidents;
use crate::minute::{MinuteAgg, MinuteSeries};
use crate::monthly::monthly_rows;
use crate::violations::{quantiles, violations, window_width_ms, windows, Violation, WindowAgg};
use crate::Sla;
use gigstream_core::availability::{ProbeMinute, ProbeMinutes};
use gigstream_core::columns::{Column, ColumnTable, ListColumn, Nullable, StrColumn, TableError};
use gigstream_core::table::{
    col, col_null, datetime_ms, ColumnType as T, TableData, TableDef, Value,
};
use gigstream_core::time::window_floor;
use gigstream_core::{RefData, TableChanges};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

pub static SLA_MINUTE: TableDef = TableDef {
    name: "sla_minute",
    doc: "One service in one UTC minute (event time) with at least one request or probe.",
    columns: &[
        col("service_id", T::String, "Service the telemetry is about (envelope key)."),
        col("minute", T::DateTime, "Start of the UTC minute, event time."),
        col("requests", T::UInt64, "Requests observed in the minute (count)."),
        col("errors", T::UInt64, "Requests with status code >= 500 (count)."),
        col("latency_sum_ms", T::UInt64, "Sum of request latencies, ms; divide by requests for the mean."),
        col_null("p50_ms", T::UInt32, "Median latency from the minute's sketch, ms (within 1%, exact below 128 ms); Null without requests."),
        col_null("p95_ms", T::UInt32, "95th percentile latency from the minute's sketch, ms; Null without requests."),
        col_null("p99_ms", T::UInt32, "99th percentile latency from the minute's sketch, ms; Null without requests."),
        col(
            "latency_values",
            T::ArrayUInt32,
            "Latency sketch: representative value (ms) of every non-empty bucket, ascending. Any window's quantile: \
             quantileExactWeighted(q)(v, c) over ARRAY JOIN latency_values AS v, latency_counts AS c.",
        ),
        col("latency_counts", T::ArrayUInt64, "Latency sketch: requests in each bucket of latency_values (count)."),
        col("latency_clamped", T::UInt64, "Requests slower than 60,000 ms, counted in the last bucket (count)."),
        col("probes", T::UInt32, "Synthetic probes in the minute, all regions (count)."),
        col("probes_ok", T::UInt32, "Probes that succeeded (count)."),
        col("unavailable", T::UInt8, "1 when the minute had probes and every one failed (AWS-style unavailable minute), else 0."),
    ],
    key: &["service_id", "minute"],
};

pub static SLA_WINDOW: TableDef = TableDef {
    name: "sla_window",
    doc: "One service in one violation window (refdata sla.violation.window, 5 minutes by default, aligned on the epoch) \
          with at least one request.",
    columns: &[
        col("service_id", T::String, "Service id."),
        col("window_start", T::DateTime, "Start of the window, event time UTC."),
        col("window_end", T::DateTime, "End of the window (exclusive), event time UTC."),
        col("requests", T::UInt64, "Requests in the window (count)."),
        col("errors", T::UInt64, "Requests with status code >= 500 (count)."),
        col("error_rate_pct", T::Float64, "errors / requests x 100, percent."),
        col("p95_ms", T::UInt32, "95th percentile latency of the window's merged sketch, ms."),
        col("p99_ms", T::UInt32, "99th percentile latency of the window's merged sketch, ms."),
        col("p95_over_alert", T::UInt8, "1 when p95_ms > sla.violation.p95_alert_ms (150 ms by default), else 0."),
    ],
    key: &["service_id", "window_start"],
};

pub static SLA_VIOLATIONS: TableDef = TableDef {
    name: "sla_violations",
    doc: "One violation: a run of consecutive slow windows (p95_alert_<n>_windows) or one window above a target \
          (p95_target, p99_target, error_rate_target).",
    columns: &[
        col("service_id", T::String, "Service id."),
        col(
            "rule",
            T::String,
            "p95_alert_3_windows (P95 above p95_alert_ms in 3 or more consecutive windows; one row per run), \
             p95_target, p99_target or error_rate_target (one row per window above the service's target).",
        ),
        col("window_start", T::DateTime, "Start of the first window, event time UTC."),
        col("window_end", T::DateTime, "End of the last window (exclusive), event time UTC."),
        col("windows", T::UInt32, "Windows in the violation (count; 1 for per-window rules)."),
        col(
            "observed",
            T::Float64,
            "Observed value: P95 or P99 in ms (for a run, the largest window P95), or the error rate in percent.",
        ),
        col("threshold", T::Float64, "The limit exceeded, same unit as observed."),
    ],
    key: &["service_id", "rule", "window_start"],
};

pub static SLA_MONTHLY: TableDef = TableDef {
    name: "sla_monthly",
    doc: "One service in one calendar month (UTC) with any request, probe or incident opening.",
    columns: &[
        col("service_id", T::String, "Service id."),
        col("month", T::Date, "First day of the month."),
        col("requests", T::UInt64, "Requests in the month (count)."),
        col("errors", T::UInt64, "Requests with status code >= 500 (count)."),
        col_null("error_rate_pct", T::Float64, "errors / requests x 100, percent; Null without requests."),
        col_null("p50_ms", T::UInt32, "Median latency of the month's merged sketch (not an average of minute percentiles), ms."),
        col_null("p95_ms", T::UInt32, "95th percentile latency of the month's merged sketch, ms; Null without requests."),
        col_null("p99_ms", T::UInt32, "99th percentile latency of the month's merged sketch, ms; Null without requests."),
        col("minutes_in_month", T::UInt32, "Minutes in the calendar month (count)."),
        col("probed_minutes", T::UInt32, "Minutes with at least one probe (count)."),
        col("unavailable_minutes", T::UInt32, "Minutes in which every probe failed (count)."),
        col(
            "uptime_pct",
            T::Float64,
            "100 - unavailable_minutes / minutes_in_month x 100, percent; 100 for a month without probes. Same figure billing \
             uses for credits.",
        ),
        col("availability_target_pct", T::Float64, "Monthly availability target of the service, percent (99.95 by default)."),
        col("met_availability", T::UInt8, "1 when uptime_pct >= availability_target_pct, else 0."),
        col("met_p95", T::UInt8, "1 when p95_ms <= the P95 target (300 ms by default) or there were no requests, else 0."),
        col("met_p99", T::UInt8, "1 when p99_ms <= the P99 target (800 ms by default) or there were no requests, else 0."),
        col(
            "met_error_rate",
            T::UInt8,
            "1 when error_rate_pct <= the error-rate target (0.5% by default) or there were no requests, else 0.",
        ),
        col("error_budget_pct", T::Float64, "100 - request_slo_pct: the share of requests allowed to fail, percent."),
        col_null(
            "error_budget_remaining_pct",
            T::Float64,
            "100 x (1 - (errors / requests) / (error_budget_pct / 100)), percent; negative when overspent; 100 without requests; \
             Null when the budget is zero.",
        ),
        col("credit_pct", T::UInt32, "Service credit owed, percent of the month's charge, from the credit tiers (0 when met)."),
        col("incidents", T::UInt32, "Incidents opened in the month (count)."),
        col_null(
            "mttr_minutes",
            T::Float64,
            "Mean minutes from opening to resolution over the month's resolved incidents (by opening month); Null when none.",
        ),
    ],
    key: &["service_id", "month"],
};

pub static SLA_BURN_RATE: TableDef = TableDef {
    name: "sla_burn_rate",
    doc: "One service at one step: the end of every 5-minute interval (event time, aligned on the epoch) holding at least \
          one of its requests. Every window trails the step: [step_end - width, step_end). Burn rate = error ratio / \
          error budget, error budget = 1 - request_slo_pct / 100.",
    columns: &[
        col("service_id", T::String, "Service id."),
        col("step_end", T::DateTime, "Step time, event time UTC: the exclusive end of every trailing window."),
        col_null("error_ratio_5m", T::Float64, "Errors / requests over the trailing 5 minutes (ratio 0..1); Null without requests."),
        col_null("burn_5m", T::Float64, "Burn rate over the trailing 5 minutes (multiple of the error budget); Null without requests."),
        col_null("error_ratio_30m", T::Float64, "Errors / requests over the trailing 30 minutes (ratio 0..1)."),
        col_null("burn_30m", T::Float64, "Burn rate over the trailing 30 minutes (multiple of the error budget)."),
        col_null("error_ratio_1h", T::Float64, "Errors / requests over the trailing hour (ratio 0..1)."),
        col_null("burn_1h", T::Float64, "Burn rate over the trailing hour (multiple of the error budget)."),
        col_null("error_ratio_6h", T::Float64, "Errors / requests over the trailing 6 hours (ratio 0..1)."),
        col_null("burn_6h", T::Float64, "Burn rate over the trailing 6 hours (multiple of the error budget)."),
        col_null("error_ratio_3d", T::Float64, "Errors / requests over the trailing 3 days (ratio 0..1)."),
        col_null("burn_3d", T::Float64, "Burn rate over the trailing 3 days (multiple of the error budget)."),
        col("page_fast", T::UInt8, "1 when the burn rate exceeds the page_fast factor (14.4) over both 1h and 5m, else 0."),
        col("page_slow", T::UInt8, "1 when the burn rate exceeds the page_slow factor (6) over both 6h and 30m, else 0."),
        col("ticket", T::UInt8, "1 when the burn rate exceeds the ticket factor (1) over both 3d and 6h, else 0."),
    ],
    key: &["service_id", "step_end"],
};

pub static SLA_INCIDENTS: TableDef = TableDef {
    name: "sla_incidents",
    doc: "One incident, matched by id from its opening and resolution whatever order they arrived in.",
    columns: &[
        col("incident_id", T::String, "Incident id."),
        col("service_id", T::String, "Service the incident is about."),
        col("severity", T::String, "sev1 (most severe) to sev4: the most severe seen on either event."),
        col_null("opened_at", T::DateTime, "Opening time, event time UTC; Null while only the resolution has arrived."),
        col_null("resolved_at", T::DateTime, "Resolution time, event time UTC; Null while open."),
        col_null("duration_minutes", T::Float64, "resolved_at - opened_at in minutes (never negative); Null while open."),
    ],
    key: &["service_id", "incident_id"],
};

/// All tables, in the order `Projection::tables` and `Projection::render` emit them.
pub static TABLES: [&TableDef; 6] = [
    &SLA_MINUTE,
    &SLA_WINDOW,
    &SLA_VIOLATIONS,
    &SLA_MONTHLY,
    &SLA_BURN_RATE,
    &SLA_INCIDENTS,
];

/// One service as the states rendered together hold it: borrowed from the one state that has
/// it (a service is a partition key, so normally one), merged only when several do.
struct ServiceView<'a> {
    requests: Cow<'a, MinuteSeries>,
    probes: Cow<'a, ProbeMinutes>,
}

/// The merge of `parts`: the part itself when there is only one.
fn gather<'a, T: Clone + Default>(parts: &[&'a T], merge: impl Fn(&mut T, &T)) -> Cow<'a, T> {
    match parts {
        [] => Cow::Owned(T::default()),
        [one] => Cow::Borrowed(*one),
        [first, rest @ ..] => {
            let mut merged = (*first).clone();
            for r in rest {
                merge(&mut merged, r);
            }
            Cow::Owned(merged)
        }
    }
}

/// Renders every table from the merge of `states` (per-partition states), without building
/// the merged state.
///
/// This runs at every commit over the whole history (months of minutes), so it is written for
/// speed: the large tables are built as typed columns (no per-cell values, no per-row
/// allocation), quantiles come from one pass over the buckets and window sketches are never
/// materialised.
pub fn render(states: &[&Sla], rd: &RefData) -> Result<Vec<ColumnTable>, TableError> {
    let width = window_width_ms(&rd.sla.violation);
    let services: BTreeSet<&str> = states.iter().flat_map(|s| s.service_ids()).collect();
    let incidents = gather(
        &states.iter().map(|s| s.incidents()).collect::<Vec<_>>(),
        Incidents::merge,
    );
    let views: Vec<(&str, ServiceView<'_>)> = services
        .into_iter()
        .map(|id| {
            let requests: Vec<&MinuteSeries> =
                states.iter().filter_map(|s| s.requests(id)).collect();
            let probes: Vec<&ProbeMinutes> = states
                .iter()
                .filter_map(|s| s.probes().service(id))
                .collect();
            let view = ServiceView {
                requests: gather(&requests, MinuteSeries::merge),
                probes: gather(&probes, ProbeMinutes::merge),
            };
            (id, view)
        })
        .collect();

    // Every column is sized once, up front, for at least as many rows as it gets: growing a
    // vector of hundreds of thousands of rows copies it (or, with some allocators, touches
    // fresh memory page by page). sla_minute has at most a row per request or probe minute;
    // windows and burn-rate steps at most one per request minute.
    let (mut rows, mut row_bytes, mut request_rows, mut request_bytes, mut buckets) =
        (0, 0, 0, 0, 0);
    for (id, v) in &views {
        let n = v.requests.len() + v.probes.len();
        rows += n;
        row_bytes += n * id.len();
        request_rows += v.requests.len();
        request_bytes += v.requests.len() * id.len();
        buckets += v
            .requests
            .iter()
            .map(|(_, a)| a.latency.bucket_count())
            .sum::<usize>();
    }
    let mut minute = MinuteColumns::with_capacity(rows, row_bytes, buckets);
    let mut window = WindowColumns::with_capacity(request_rows, request_bytes);
    let mut violation = ViolationColumns::default();
    let mut monthly = TableData::new(&SLA_MONTHLY);
    let mut burn = BurnColumns::with_capacity(request_rows, request_bytes);
    for (service, view) in &views {
        let series: &MinuteSeries = &view.requests;
        let targets = rd.sla.targets_for(service);
        minute.push_service(
            service,
            series.as_slice(),
            view.probes.range(i64::MIN, i64::MAX),
        );

        let ws = windows(series, width);
        window.service.push_n(service, ws.len());
        for w in &ws {
            window.push(w, width, rd.sla.violation.p95_alert_ms);
        }
        for v in violations(&ws, width, targets, &rd.sla.violation) {
            violation.push(service, &v);
        }

        let base = gather(
            &states
                .iter()
                .filter_map(|s| s.probe_base(service))
                .collect::<Vec<_>>(),
            merge_probe_base,
        );
        for row in monthly_rows(
            rd,
            service,
            series.months(),
            &view.probes,
            Some(&base),
            incidents.of_service(service),
            None,
        ) {
            monthly.push(row);
        }

        let steps = burn.step_end.len();
        for_each_burn_step(
            series,
            targets.request_slo_pct,
            &rd.sla.burn_alerts,
            |step| burn.push(step),
        );
        burn.service.push_n(service, burn.step_end.len() - steps);
    }

    let mut incident_rows = TableData::new(&SLA_INCIDENTS);
    for ((service, id), i) in incidents.iter() {
        incident_rows.push(incident_row(service, id, i));
    }
    Ok(vec![
        minute.finish()?,
        window.finish()?,
        violation.finish()?,
        ColumnTable::from_rows(&monthly)?,
        burn.finish()?,
        ColumnTable::from_rows(&incident_rows)?,
    ])
}

/// Sums evicted probe counts per month (for a render of several states).
fn merge_probe_base(a: &mut BTreeMap<i64, (i64, i64)>, b: &BTreeMap<i64, (i64, i64)>) {
    for (m, (p, d)) in b {
        let e = a.entry(*m).or_default();
        e.0 += p;
        e.1 += d;
    }
}

/// How far back a derived row looks: the longest burn-rate window (built in or configured),
/// plus a step.
pub fn lookback_ms(rd: &RefData) -> i64 {
    let configured = rd.sla.burn_alerts.iter().flat_map(|a| {
        [&a.long_window, &a.short_window]
            .into_iter()
            .filter_map(|w| gigstream_core::refdata::parse_duration_ms(w).ok())
    });
    BURN_WINDOWS
        .iter()
        .map(|(_, w)| *w)
        .chain(configured)
        .max()
        .unwrap_or(0)
        + crate::burn::STEP_MS
}

/// The rows one service changed: the minutes in `[lo, hi]` (minute starts) changed, and the
/// months in `months` (month starts) need their report again.
#[allow(clippy::too_many_arguments)]
fn service_changes(
    rd: &RefData,
    service: &str,
    series: &MinuteSeries,
    probes: &ProbeMinutes,
    (lo, hi): (i64, i64),
    reported: &mut BTreeMap<(String, i64), i64>,
    out: &mut ChangeColumns,
) {
    let width = window_width_ms(&rd.sla.violation);
    let targets = rd.sla.targets_for(service);
    // sla_minute: the changed minutes.
    out.minute
        .push_service(service, series.range(lo, hi + 1), probes.range(lo, hi + 1));
    // sla_window: the windows holding a changed minute.
    let (a_lo, a_hi) = (window_floor(lo, width), window_floor(hi, width));
    let changed = windows(series.range(a_lo, a_hi + width), width);
    let n = out.window.start.len();
    for w in &changed {
        out.window.push(w, width, rd.sla.violation.p95_alert_ms);
    }
    out.window
        .service
        .push_n(service, out.window.start.len() - n);

    // sla_violations: per-window rules for the changed windows; the consecutive-windows rule
    // for every run that holds one, found by walking out from them while windows stay slow.
    let alert = rd.sla.violation.p95_alert_ms;
    let slow = |start: i64| -> bool {
        windows(series.range(start, start + width), width)
            .first()
            .is_some_and(|w| w.start == start && w.p95.is_some_and(|p| p > alert))
    };
    let mut r_lo = a_lo;
    while slow(r_lo - width) {
        r_lo -= width;
    }
    let mut r_hi = a_hi;
    while slow(r_hi + width) {
        r_hi += width;
    }
    let region = windows(series.range(r_lo, r_hi + width), width);
    let run_rule = crate::violations::alert_rule_name(&rd.sla.violation);
    let fresh: Vec<Violation> = violations(&region, width, targets, &rd.sla.violation)
        .into_iter()
        .filter(|v| {
            if v.rule == run_rule {
                true
            } else {
                v.start >= a_lo && v.start <= a_hi
            }
        })
        .collect();
    let stale: Vec<(String, i64)> = reported
        .keys()
        .filter(|(rule, start)| {
            if *rule == run_rule {
                *start >= r_lo && *start <= r_hi
            } else {
                *start >= a_lo && *start <= a_hi
            }
        })
        .cloned()
        .collect();
    for k in &stale {
        reported.remove(k);
    }
    for v in &fresh {
        reported.insert((v.rule.clone(), v.start), v.end);
    }
    let kept: BTreeSet<(&str, i64)> = fresh.iter().map(|v| (v.rule.as_str(), v.start)).collect();
    for (rule, start) in stale {
        if !kept.contains(&(rule.as_str(), start)) {
            out.violation_deletes.push(vec![
                Value::from(service),
                Value::from(rule.as_str()),
                Value::DateTime(secs(start)),
            ]);
        }
    }
    for v in &fresh {
        out.violation.push(service, v);
    }

    // sla_burn_rate: every step whose trailing windows hold a changed minute, computed from
    // the minutes those windows need.
    let back = lookback_ms(rd);
    let (s_lo, s_hi) = (
        window_floor(lo, crate::burn::STEP_MS) + crate::burn::STEP_MS,
        window_floor(hi, crate::burn::STEP_MS) + back,
    );
    let n = out.burn.step_end.len();
    for_each_burn_step(
        series.range(lo - back, s_hi + 1),
        targets.request_slo_pct,
        &rd.sla.burn_alerts,
        |step| {
            if step.at >= s_lo && step.at <= s_hi {
                out.burn.push(step);
            }
        },
    );
    out.burn
        .service
        .push_n(service, out.burn.step_end.len() - n);
}

/// The columns of every table one `changes` call emits.
struct ChangeColumns {
    minute: MinuteColumns,
    window: WindowColumns,
    violation: ViolationColumns,
    violation_deletes: Vec<Vec<Value>>,
    burn: BurnColumns,
    monthly: TableData,
    incidents: TableData,
}

/// The month starts (ms) of the months `[lo, hi]` touches.
fn months_of(lo: i64, hi: i64) -> impl Iterator<Item = i64> {
    use gigstream_core::time::{date_of, date_start_ms, month_start, next_month_start};
    let mut m = month_start(date_of(lo));
    let last = month_start(date_of(hi));
    std::iter::from_fn(move || {
        (m <= last).then(|| {
            let start = date_start_ms(m);
            m = next_month_start(m);
            start
        })
    })
}

/// What changed in `sla` since the last call, per table (see [`gigstream_core::Projection::changes`]).
pub fn changes(sla: &mut Sla, rd: &RefData) -> Result<Vec<TableChanges>, TableError> {
    let mut out = ChangeColumns {
        minute: MinuteColumns::with_capacity(0, 0, 0),
        window: WindowColumns::with_capacity(0, 0),
        violation: ViolationColumns::default(),
        violation_deletes: Vec::new(),
        burn: BurnColumns::with_capacity(0, 0),
        monthly: TableData::new(&SLA_MONTHLY),
        incidents: TableData::new(&SLA_INCIDENTS),
    };
    let mut ranges: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut widen = |service: &str, (lo, hi): (i64, i64)| {
        let e = ranges.entry(service.to_string()).or_insert((lo, hi));
        *e = (e.0.min(lo), e.1.max(hi));
    };
    for (service, series) in sla.requests.iter_mut() {
        if let Some(r) = series.take_dirty() {
            widen(service, r);
        }
    }
    for service in sla
        .probes
        .services()
        .into_iter()
        .map(str::to_string)
        .collect::<Vec<_>>()
    {
        if let Some(r) = sla
            .probes
            .service_mut(&service)
            .and_then(ProbeMinutes::take_dirty)
        {
            widen(&service, r);
        }
    }
    let dirty_incidents = std::mem::take(&mut sla.dirty_incidents);
    let mut months: BTreeMap<String, BTreeSet<i64>> = BTreeMap::new();
    for (service, month) in std::mem::take(&mut sla.dirty_months) {
        months.entry(service).or_default().insert(month);
    }
    for (service, (lo, hi)) in &ranges {
        months
            .entry(service.clone())
            .or_default()
            .extend(months_of(*lo, *hi));
    }
    for (service, id) in &dirty_incidents {
        if let Some(i) = sla.incidents.get(service, id) {
            if let Some(opened) = i.opened_at {
                months
                    .entry(service.clone())
                    .or_default()
                    .extend(months_of(opened, opened));
            }
        }
    }
    let empty_series = MinuteSeries::default();
    let empty_probes = ProbeMinutes::default();
    for (service, range) in &ranges {
        let series = sla.requests.get(service.as_str()).unwrap_or(&empty_series);
        let probes = sla.probes.service(service).unwrap_or(&empty_probes);
        let reported = sla.reported.entry(service.clone()).or_default();
        service_changes(rd, service, series, probes, *range, reported, &mut out);
    }
    for (service, list) in &months {
        let series = sla.requests.get(service.as_str()).unwrap_or(&empty_series);
        let probes = sla.probes.service(service).unwrap_or(&empty_probes);
        for row in monthly_rows(
            rd,
            service,
            series.months(),
            probes,
            sla.probe_base.get(service),
            sla.incidents.of_service(service),
            Some(list),
        ) {
            out.monthly.push(row);
        }
    }
    for (service, id) in &dirty_incidents {
        if let Some(i) = sla.incidents.get(service, id) {
            out.incidents.push(incident_row(service, id, i));
        }
    }
    let mut violations = TableChanges {
        upserts: out.violation.finish()?,
        deletes: out.violation_deletes,
    };
    violations
        .deletes
        .sort_by(|a, b| gigstream_core::table::compare_keys(a, b));
    Ok(vec![
        TableChanges {
            upserts: out.minute.finish()?,
            deletes: Vec::new(),
        },
        TableChanges {
            upserts: out.window.finish()?,
            deletes: Vec::new(),
        },
        violations,
        TableChanges::upserts(&out.monthly)?,
        TableChanges {
            upserts: out.burn.finish()?,
            deletes: Vec::new(),
        },
        TableChanges::upserts(&out.incidents)?,
    ])
}

/// The `sla_incidents` row of one incident.
fn incident_row(service: &str, id: &str, i: &crate::incidents::Incident) -> Vec<Value> {
    vec![
        id.into(),
        service.into(),
        i.severity.as_str().into(),
        i.opened_at.map(datetime_ms).unwrap_or(Value::Null),
        i.resolved_at.map(datetime_ms).unwrap_or(Value::Null),
        i.duration_minutes().into(),
    ]
}

/// Event-time milliseconds as a `DateTime` cell (seconds, truncated), like [`datetime_ms`].
fn secs(ms: i64) -> i64 {
    ms.div_euclid(1000)
}

/// The columns of [`SLA_MINUTE`].
struct MinuteColumns {
    service: StrColumn,
    minute: Vec<i64>,
    requests: Vec<u64>,
    errors: Vec<u64>,
    latency_sum: Vec<u64>,
    p50: Nullable<u32>,
    p95: Nullable<u32>,
    p99: Nullable<u32>,
    values: ListColumn<u32>,
    counts: ListColumn<u64>,
    clamped: Vec<u64>,
    probes: Vec<u32>,
    ok: Vec<u32>,
    unavailable: Vec<u8>,
}

impl MinuteColumns {
    /// Room for `n` rows, `bytes` bytes of service ids and `buckets` sketch buckets.
    fn with_capacity(n: usize, bytes: usize, buckets: usize) -> MinuteColumns {
        MinuteColumns {
            service: StrColumn::with_capacity(n, bytes),
            minute: Vec::with_capacity(n),
            requests: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
            latency_sum: Vec::with_capacity(n),
            p50: Nullable::with_capacity(n),
            p95: Nullable::with_capacity(n),
            p99: Nullable::with_capacity(n),
            values: ListColumn::with_capacity(n, buckets),
            counts: ListColumn::with_capacity(n, buckets),
            clamped: Vec::with_capacity(n),
            probes: Vec::with_capacity(n),
            ok: Vec::with_capacity(n),
            unavailable: Vec::with_capacity(n),
        }
    }

    /// The union of a service's request minutes and probe minutes, in time order: a merge of
    /// the two sorted, unique sequences.
    fn push_service(
        &mut self,
        service: &str,
        series: &[(i64, MinuteAgg)],
        probes: &[(i64, ProbeMinute)],
    ) {
        let none = MinuteAgg::default();
        let first = self.minute.len();
        let mut requests = series.iter().map(|(m, a)| (*m, a)).peekable();
        let mut probes = probes.iter().copied().peekable();
        loop {
            let next = (
                requests.peek().map(|(m, _)| *m),
                probes.peek().map(|(m, _)| *m),
            );
            let (m, agg, p) = match next {
                (None, None) => break,
                (Some(r), Some(p)) if r == p => (
                    r,
                    requests.next().map(|(_, a)| a),
                    probes.next().map(|(_, p)| p),
                ),
                (Some(r), Some(p)) if p < r => (p, None, probes.next().map(|(_, p)| p)),
                (Some(r), _) => (r, requests.next().map(|(_, a)| a), None),
                (None, Some(p)) => (p, None, probes.next().map(|(_, p)| p)),
            };
            let a = agg.unwrap_or(&none);
            let p = p.unwrap_or_default();
            let [p50, p95, p99] =
                quantiles(a.latency.buckets(), a.latency.count(), [0.5, 0.95, 0.99]);
            self.minute.push(secs(m));
            self.requests.push(a.requests);
            self.errors.push(a.errors);
            self.latency_sum.push(a.latency_sum_ms);
            self.p50.push(p50);
            self.p95.push(p95);
            self.p99.push(p99);
            self.values.push_iter(a.latency.value_iter());
            self.counts.push(a.latency.count_slice());
            self.clamped.push(a.latency.clamped());
            self.probes.push(p.probes);
            self.ok.push(p.ok);
            self.unavailable.push(u8::from(p.unavailable()));
        }
        self.service.push_n(service, self.minute.len() - first);
    }

    fn finish(self) -> Result<ColumnTable, TableError> {
        ColumnTable::new(
            &SLA_MINUTE,
            vec![
                Column::str(self.service),
                Column::datetime(self.minute),
                Column::u64(self.requests),
                Column::u64(self.errors),
                Column::u64(self.latency_sum),
                Column::opt_u32(self.p50),
                Column::opt_u32(self.p95),
                Column::opt_u32(self.p99),
                Column::arr_u32(self.values),
                Column::arr_u64(self.counts),
                Column::u64(self.clamped),
                Column::u32(self.probes),
                Column::u32(self.ok),
                Column::u8(self.unavailable),
            ],
        )
    }
}

/// The columns of [`SLA_WINDOW`].
struct WindowColumns {
    service: StrColumn,
    start: Vec<i64>,
    end: Vec<i64>,
    requests: Vec<u64>,
    errors: Vec<u64>,
    error_rate: Nullable<f64>,
    p95: Nullable<u32>,
    p99: Nullable<u32>,
    over_alert: Vec<u8>,
}

impl WindowColumns {
    fn with_capacity(n: usize, bytes: usize) -> WindowColumns {
        WindowColumns {
            service: StrColumn::with_capacity(n, bytes),
            start: Vec::with_capacity(n),
            end: Vec::with_capacity(n),
            requests: Vec::with_capacity(n),
            errors: Vec::with_capacity(n),
            error_rate: Nullable::with_capacity(n),
            p95: Nullable::with_capacity(n),
            p99: Nullable::with_capacity(n),
            over_alert: Vec::with_capacity(n),
        }
    }

    /// One window's row, except its service (pushed for the whole run of the service's rows).
    fn push(&mut self, w: &WindowAgg, width: i64, p95_alert_ms: u32) {
        self.start.push(secs(w.start));
        self.end.push(secs(w.start + width));
        self.requests.push(w.requests);
        self.errors.push(w.errors);
        self.error_rate.push(w.error_rate_pct());
        self.p95.push(w.p95);
        self.p99.push(w.p99);
        self.over_alert
            .push(u8::from(w.p95.is_some_and(|p| p > p95_alert_ms)));
    }

    fn finish(self) -> Result<ColumnTable, TableError> {
        ColumnTable::new(
            &SLA_WINDOW,
            vec![
                Column::str(self.service),
                Column::datetime(self.start),
                Column::datetime(self.end),
                Column::u64(self.requests),
                Column::u64(self.errors),
                Column::opt_f64(self.error_rate),
                Column::opt_u32(self.p95),
                Column::opt_u32(self.p99),
                Column::u8(self.over_alert),
            ],
        )
    }
}

/// The columns of [`SLA_VIOLATIONS`].
#[derive(Default)]
struct ViolationColumns {
    service: StrColumn,
    rule: StrColumn,
    start: Vec<i64>,
    end: Vec<i64>,
    windows: Vec<u32>,
    observed: Vec<f64>,
    threshold: Vec<f64>,
}

impl ViolationColumns {
    fn push(&mut self, service: &str, v: &Violation) {
        self.service.push(service);
        self.rule.push(&v.rule);
        self.start.push(secs(v.start));
        self.end.push(secs(v.end));
        self.windows.push(v.windows);
        self.observed.push(v.observed);
        self.threshold.push(v.threshold);
    }

    fn finish(self) -> Result<ColumnTable, TableError> {
        ColumnTable::new(
            &SLA_VIOLATIONS,
            vec![
                Column::str(self.service),
                Column::str(self.rule),
                Column::datetime(self.start),
                Column::datetime(self.end),
                Column::u32(self.windows),
                Column::f64(self.observed),
                Column::f64(self.threshold),
            ],
        )
    }
}

/// The columns of [`SLA_BURN_RATE`].
struct BurnColumns {
    service: StrColumn,
    step_end: Vec<i64>,
    error_ratio: [Nullable<f64>; BURN_WINDOWS.len()],
    burn: [Nullable<f64>; BURN_WINDOWS.len()],
    alerts: [Vec<u8>; ALERT_COLUMNS.len()],
}

impl BurnColumns {
    fn with_capacity(n: usize, bytes: usize) -> BurnColumns {
        BurnColumns {
            service: StrColumn::with_capacity(n, bytes),
            step_end: Vec::with_capacity(n),
            error_ratio: std::array::from_fn(|_| Nullable::with_capacity(n)),
            burn: std::array::from_fn(|_| Nullable::with_capacity(n)),
            alerts: std::array::from_fn(|_| Vec::with_capacity(n)),
        }
    }

    /// One step's row, except its service (pushed for the whole run of the service's rows).
    fn push(&mut self, step: &BurnStep) {
        self.step_end.push(secs(step.at));
        for (col, v) in self.error_ratio.iter_mut().zip(step.error_ratio) {
            col.push(v);
        }
        for (col, v) in self.burn.iter_mut().zip(step.burn) {
            col.push(v);
        }
        for (col, a) in self.alerts.iter_mut().zip(step.alerts) {
            col.push(u8::from(a));
        }
    }

    fn finish(self) -> Result<ColumnTable, TableError> {
        let mut columns = Vec::with_capacity(SLA_BURN_RATE.columns.len());
        columns.push(Column::str(self.service));
        columns.push(Column::datetime(self.step_end));
        for (ratio, burn) in self.error_ratio.into_iter().zip(self.burn) {
            columns.push(Column::opt_f64(ratio));
            columns.push(Column::opt_f64(burn));
        }
        columns.extend(self.alerts.into_iter().map(Column::u8));
        ColumnTable::new(&SLA_BURN_RATE, columns)
    }
}

/// The burn-rate column names [`SLA_BURN_RATE`] must have for [`BURN_WINDOWS`] and
/// [`ALERT_COLUMNS`]; checked by a test so the static definition cannot drift from the config.
pub fn burn_column_names() -> Vec<String> {
    let mut names = vec!["service_id".to_string(), "step_end".to_string()];
    for (label, _) in BURN_WINDOWS {
        names.push(format!("error_ratio_{label}"));
        names.push(format!("burn_{label}"));
    }
    names.extend(ALERT_COLUMNS.iter().map(|a| a.to_string()));
    names
}
