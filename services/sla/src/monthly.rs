//! The monthly SLA report of one service: merged latency sketch, error budget, availability
//! and credit tier, incidents and MTTR.

use crate::incidents::{mttr_minutes, Incident};
use crate::minute::MinuteAgg;
use crate::sketch::LatencySketch;
use crate::violations::{pct, quantiles};
use chrono::NaiveDate;
use gigstream_core::availability::{MonthUptime, ProbeMinutes};
use gigstream_core::table::Value;
use gigstream_core::time::{
    date_of, date_start_ms, minutes_in_month, month_start, next_month_start,
};
use gigstream_core::RefData;
use std::collections::{BTreeMap, BTreeSet};

/// Rows of `sla_monthly` for one service, in month order: every month with a request, a probe
/// or an incident opening (of `only`, when given: month starts in ms).
///
/// `months` are the service's request totals per month ([`MinuteSeries::months`]), `probes`
/// its probe minutes still held, `probe_base` the probe counts (probed minutes, unavailable
/// minutes) per month of the minutes already evicted, and `incidents` its incidents.
pub fn monthly_rows<'a>(
    rd: &RefData,
    service: &str,
    months: &[(i64, MinuteAgg)],
    probes: &ProbeMinutes,
    probe_base: Option<&BTreeMap<i64, (i64, i64)>>,
    incidents: impl IntoIterator<Item = &'a Incident>,
    only: Option<&BTreeSet<i64>>,
) -> Vec<Vec<Value>> {
    let month_of = |ts: i64| month_start(date_of(ts));
    let wanted = |month: NaiveDate| only.is_none_or(|o| o.contains(&date_start_ms(month)));
    let requests: BTreeMap<NaiveDate, &MinuteAgg> = months
        .iter()
        .map(|(m, a)| (date_of(*m), a))
        .filter(|(m, _)| wanted(*m))
        .collect();
    // Probe counts per month: the minutes held, plus what eviction summed up.
    let mut probe_counts: BTreeMap<NaiveDate, (i64, i64)> = BTreeMap::new();
    let held: Vec<MonthUptime> = match only {
        None => MonthUptime::monthly(probes.iter()),
        Some(o) => o
            .iter()
            .flat_map(|m| {
                let start = date_of(*m);
                let end = date_start_ms(next_month_start(start));
                MonthUptime::monthly(probes.range(*m, end).iter().copied())
            })
            .collect(),
    };
    for u in held {
        let e = probe_counts.entry(u.month).or_default();
        e.0 += u.probed_minutes;
        e.1 += u.unavailable_minutes;
    }
    for (m, (probed, down)) in probe_base.into_iter().flatten() {
        let month = date_of(*m);
        if wanted(month) {
            let e = probe_counts.entry(month).or_default();
            e.0 += probed;
            e.1 += down;
        }
    }
    let mut opened_in: BTreeMap<NaiveDate, Vec<&Incident>> = BTreeMap::new();
    for i in incidents {
        if let Some(opened) = i.opened_at {
            let month = month_of(opened);
            if wanted(month) {
                opened_in.entry(month).or_default().push(i);
            }
        }
    }
    let incidents = opened_in;
    let all: BTreeSet<NaiveDate> = requests
        .keys()
        .chain(probe_counts.keys())
        .chain(incidents.keys())
        .copied()
        .collect();

    let targets = rd.sla.targets_for(service);
    let budget_pct = 100.0 - targets.request_slo_pct;
    let none = MinuteAgg::default();
    all.into_iter()
        .map(|month| {
            let agg = requests.get(&month).copied().unwrap_or(&none);
            let n = agg.requests;
            let errors = agg.errors;
            let sketch: &LatencySketch = &agg.latency;
            let [p50, p95, p99] = quantiles(sketch.buckets(), sketch.count(), [0.5, 0.95, 0.99]);
            let error_rate = pct(errors, n);
            let up = match probe_counts.get(&month) {
                Some((probed, down)) => {
                    let total = minutes_in_month(month);
                    MonthUptime {
                        month,
                        minutes_in_month: total,
                        probed_minutes: *probed,
                        unavailable_minutes: *down,
                        uptime_pct: 100.0 - *down as f64 * 100.0 / total as f64,
                    }
                }
                None => MonthUptime::unprobed(month),
            };
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
