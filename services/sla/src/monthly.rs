//! The monthly SLA report of one service: merged latency sketch, error budget, availability
//! and credit tier, incidents and MTTR.

use crate::incidents::{mttr_minutes, Incident};
use crate::minute::{MinuteAgg, MinuteSeries};
use crate::sketch::LatencySketch;
use crate::violations::{pct, quantiles};
use chrono::NaiveDate;
use gigstream_core::availability::{MonthUptime, ProbeMinutes};
use gigstream_core::table::Value;
use gigstream_core::time::{date_of, date_start_ms, month_start, next_month_start};
use gigstream_core::RefData;
use std::collections::{BTreeMap, BTreeSet};

/// Rows of `sla_monthly` for one service, in month order: every month with a request, a probe
/// or an incident opening.
///
/// `series` are the service's request minutes, `probes` its probe minutes and `incidents` its
/// incidents.
pub fn monthly_rows<'a>(
    rd: &RefData,
    service: &str,
    series: &MinuteSeries,
    probes: &ProbeMinutes,
    incidents: impl IntoIterator<Item = &'a Incident>,
) -> Vec<Vec<Value>> {
    let month_of = |ts: i64| month_start(date_of(ts));
    // Minutes are sorted: a month's minutes are one run of the series, cut at the next month's
    // start.
    let mut requests: BTreeMap<NaiveDate, &[(i64, MinuteAgg)]> = BTreeMap::new();
    let mut rest = series.as_slice();
    while let Some((first, _)) = rest.first() {
        let month = month_of(*first);
        let end = date_start_ms(next_month_start(month));
        let n = rest.partition_point(|(m, _)| *m < end);
        requests.insert(month, &rest[..n]);
        rest = &rest[n..];
    }
    let uptimes: BTreeMap<NaiveDate, MonthUptime> = MonthUptime::monthly(probes.iter())
        .into_iter()
        .map(|u| (u.month, u))
        .collect();
    let mut opened_in: BTreeMap<NaiveDate, Vec<&Incident>> = BTreeMap::new();
    for i in incidents {
        if let Some(opened) = i.opened_at {
            opened_in.entry(month_of(opened)).or_default().push(i);
        }
    }
    let incidents = opened_in;
    let months: BTreeSet<NaiveDate> = requests
        .keys()
        .chain(uptimes.keys())
        .chain(incidents.keys())
        .copied()
        .collect();

    let targets = rd.sla.targets_for(service);
    let budget_pct = 100.0 - targets.request_slo_pct;
    months
        .into_iter()
        .map(|month| {
            let minutes = requests.get(&month).copied().unwrap_or(&[]);
            let n: u64 = minutes.iter().map(|(_, a)| a.requests).sum();
            let errors: u64 = minutes.iter().map(|(_, a)| a.errors).sum();
            let sketch = LatencySketch::merged(minutes.iter().map(|(_, a)| &a.latency));
            let [p50, p95, p99] = quantiles(sketch.buckets(), sketch.count(), [0.5, 0.95, 0.99]);
            let error_rate = pct(errors, n);
            let up = uptimes
                .get(&month)
                .copied()
                .unwrap_or_else(|| MonthUptime::unprobed(month));
            let remaining =
                (budget_pct > 0.0).then(|| 100.0 * (1.0 - error_rate.unwrap_or(0.0) / budget_pct));
            let opened = incidents.get(&month).map(Vec::as_slice).unwrap_or(&[]);
            vec![
                service.into(),
                month.into(),
                n.into(),
                errors.into(),
                error_rate.into(),
                p50.into(),
                p95.into(),
                p99.into(),
                Value::U32(up.minutes_in_month as u32),
                Value::U32(up.probed_minutes as u32),
                Value::U32(up.unavailable_minutes as u32),
                up.uptime_pct.into(),
                targets.availability_pct.into(),
                (up.uptime_pct >= targets.availability_pct).into(),
                p95.is_none_or(|p| p <= targets.p95_ms).into(),
                p99.is_none_or(|p| p <= targets.p99_ms).into(),
                error_rate
                    .is_none_or(|r| r <= targets.error_rate_pct)
                    .into(),
                budget_pct.into(),
                remaining.into(),
                rd.sla
                    .credit_pct(up.uptime_pct, targets.availability_pct)
                    .into(),
                Value::U32(opened.len() as u32),
                mttr_minutes(opened.iter().copied()).into(),
            ]
        })
        .collect()
}
