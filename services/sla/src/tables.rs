//! The SLA tables: definitions (names, types, meaning and unit of every column) and rendering
//! from the projection's state. Every table is emitted sorted by its key and unique on it.

use crate::burn::{burn_steps, ALERT_COLUMNS, BURN_WINDOWS};
use crate::minute::{MinuteAgg, MinuteSeries};
use crate::monthly::monthly_rows;
use crate::violations::{quantiles, violations, window_width_ms, windows};
use crate::Sla;
use gigstream_core::availability::ProbeMinute;
use gigstream_core::table::{
    col, col_null, datetime_ms, ColumnType as T, TableData, TableDef, Value,
};
use gigstream_core::RefData;

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

/// All tables, in the order `Projection::tables` emits them.
pub static TABLES: [&TableDef; 6] = [
    &SLA_MINUTE,
    &SLA_WINDOW,
    &SLA_VIOLATIONS,
    &SLA_MONTHLY,
    &SLA_BURN_RATE,
    &SLA_INCIDENTS,
];

fn opt_u32(v: Option<u32>) -> Value {
    v.map(Value::U32).unwrap_or(Value::Null)
}

fn opt_f64(v: Option<f64>) -> Value {
    v.map(Value::F64).unwrap_or(Value::Null)
}

/// Renders every table from the state.
///
/// This runs at every commit over the whole history (months of minutes), so it is written
/// for speed: rows are built with their exact width, tables are pre-sized, quantiles come from
/// one pass over the buckets and window sketches are never materialised.
pub fn render(sla: &Sla, rd: &RefData) -> Vec<TableData> {
    let empty = MinuteSeries::default();
    let mut minute = TableData::new(&SLA_MINUTE);
    let mut window = TableData::new(&SLA_WINDOW);
    let mut violation = TableData::new(&SLA_VIOLATIONS);
    let mut monthly = TableData::new(&SLA_MONTHLY);
    let mut burn = TableData::new(&SLA_BURN_RATE);
    let width = window_width_ms(&rd.sla.violation);
    let services = sla.service_ids();
    let minutes: usize = services
        .iter()
        .filter_map(|s| sla.requests(s))
        .map(MinuteSeries::len)
        .sum();
    // Lower bound for sla_minute (probe-only minutes come on top); steps and windows are at
    // most one per 5 minutes of requests.
    minute.rows.reserve(minutes);
    for service in services {
        let series = sla.requests(service).unwrap_or(&empty);
        let targets = rd.sla.targets_for(service);
        minute_rows(&mut minute, service, series, sla.probes().minutes(service));

        let ws = windows(series, width);
        window.rows.reserve(ws.len());
        for w in &ws {
            window.push(vec![
                service.into(),
                datetime_ms(w.start),
                datetime_ms(w.start + width),
                w.requests.into(),
                w.errors.into(),
                opt_f64(w.error_rate_pct()),
                opt_u32(w.p95),
                opt_u32(w.p99),
                w.p95
                    .is_some_and(|p| p > rd.sla.violation.p95_alert_ms)
                    .into(),
            ]);
        }
        for v in violations(&ws, width, targets, &rd.sla.violation) {
            violation.push(vec![
                service.into(),
                v.rule.into(),
                datetime_ms(v.start),
                datetime_ms(v.end),
                v.windows.into(),
                v.observed.into(),
                v.threshold.into(),
            ]);
        }

        for row in monthly_rows(sla, rd, service, series) {
            monthly.push(row);
        }

        let steps = burn_steps(series, targets.request_slo_pct, &rd.sla.burn_alerts);
        burn.rows.reserve(steps.len());
        for step in steps {
            let mut row = Vec::with_capacity(SLA_BURN_RATE.columns.len());
            row.push(service.into());
            row.push(datetime_ms(step.at));
            for (ratio, b) in step.error_ratio.iter().zip(&step.burn) {
                row.push(opt_f64(*ratio));
                row.push(opt_f64(*b));
            }
            row.extend(step.alerts.iter().map(|a| Value::from(*a)));
            burn.push(row);
        }
    }

    let mut incidents = TableData::new(&SLA_INCIDENTS);
    for ((service, id), i) in sla.incidents().iter() {
        incidents.push(vec![
            id.as_str().into(),
            service.as_str().into(),
            i.severity.as_str().into(),
            i.opened_at.map(datetime_ms).unwrap_or(Value::Null),
            i.resolved_at.map(datetime_ms).unwrap_or(Value::Null),
            opt_f64(i.duration_minutes()),
        ]);
    }
    vec![minute, window, violation, monthly, burn, incidents]
}

/// The union of request minutes and probe minutes, in time order: a merge of the two sorted,
/// unique sequences.
fn minute_rows(
    out: &mut TableData,
    service: &str,
    series: &MinuteSeries,
    probes: impl Iterator<Item = (i64, ProbeMinute)>,
) {
    let none = MinuteAgg::default();
    let mut requests = series.iter().peekable();
    let mut probes = probes.peekable();
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
        let [p50, p95, p99] = quantiles(a.latency.buckets(), a.latency.count(), [0.5, 0.95, 0.99]);
        out.push(vec![
            service.into(),
            datetime_ms(m),
            a.requests.into(),
            a.errors.into(),
            a.latency_sum_ms.into(),
            opt_u32(p50),
            opt_u32(p95),
            opt_u32(p99),
            Value::ArrU32(a.latency.values()),
            Value::ArrU64(a.latency.counts()),
            a.latency.clamped().into(),
            p.probes.into(),
            p.ok.into(),
            p.unavailable().into(),
        ]);
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
