//! The `usage` topic: subscriptions (key `subscription_id`) of tenants `t-001`..`t-0NN` to the
//! services we run, their lifecycle and their metered usage.
//!
//! Lifecycle: created -> active, and for some a grace period (a failed payment) that returns to
//! active or ends in cancellation. Usage is recorded only while active or in grace, for the
//! meters of the subscription's plan (`reference/plans.toml`): api_calls in batches, compute
//! hours as decimals, gauges (seats, licenses) as their current value, GMV as money. Each meter
//! is recorded at a fixed cadence (with jitter) chosen so that the topic fills its budget.

use crate::assemble::Draft;
use crate::dist::{self, Rng8};
use crate::scenario::Scenario;
use gigstream_core::event::{
    Settlement, SubscriptionChanged, SubscriptionStatus, UsageEvent, UsageRecord, UsageRecorded,
    SCHEMA_VERSION,
};
use gigstream_core::refdata::{Aggregation, Plan};
use gigstream_core::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use gigstream_core::{Decimal, Event, RefData};

struct Sub {
    id: String,
    change: SubscriptionChanged,
    /// (time, status) in time order.
    statuses: Vec<(i64, SubscriptionStatus)>,
    /// When usage is recorded: [from, to).
    active: (i64, i64),
    plan: Plan,
}

/// Generates about `target` usage events.
pub(crate) fn generate(sc: &Scenario, seed: u64, target: u64, rd: &RefData) -> Vec<Draft> {
    let mut r = dist::rng(seed, 20);
    if rd.plans.is_empty() || target == 0 {
        return Vec::new();
    }
    let n = sc.subscriptions;
    let services = sc.service_ids();
    let span = sc.span_ms();
    let plan_or_first = |id: &str| rd.plan(id).unwrap_or(&rd.plans[0]).clone();
    let mut subs = Vec::with_capacity(n);
    for i in 0..n {
        let tenant = format!("t-{:03}", i + 1);
        let (plan, share, settlement) = match i {
            0 => (plan_or_first("api-growth"), 70, Settlement::Daily),
            1 => (plan_or_first("api-scale"), 85, Settlement::Weekly),
            _ => (
                dist::pick(&mut r, &rd.plans).clone(),
                5 * dist::int(&mut r, 12, 18),
                dist::weighted(
                    &mut r,
                    &[
                        (Settlement::Daily, 0.2),
                        (Settlement::Weekly, 0.3),
                        (Settlement::Monthly, 0.5),
                    ],
                ),
            ),
        };
        let created = if i < 2 || dist::chance(&mut r, 0.6) {
            sc.start_ms + dist::int(&mut r, 0, (2 * HOUR_MS).min(span / 10))
        } else {
            sc.start_ms + dist::int(&mut r, 0, span * 8 / 10)
        };
        let active_at = created + dist::int(&mut r, 5 * MINUTE_MS, 2 * HOUR_MS);
        let mut statuses = vec![
            (created, SubscriptionStatus::Created),
            (active_at, SubscriptionStatus::Active),
        ];
        let mut active_end = sc.end_ms;
        let grace_p = if i == 0 {
            0.0
        } else if i == 1 {
            0.5
        } else {
            0.35
        };
        if dist::chance(&mut r, grace_p) && active_at + 4 * DAY_MS < sc.end_ms - DAY_MS {
            let g = dist::int(&mut r, active_at + 3 * DAY_MS, sc.end_ms - DAY_MS);
            let back = g + dist::int(&mut r, 2 * DAY_MS, 10 * DAY_MS);
            statuses.push((g, SubscriptionStatus::GracePeriod));
            if i >= 2 && dist::chance(&mut r, 0.2) {
                statuses.push((back, SubscriptionStatus::Cancelled));
                active_end = back.min(sc.end_ms);
            } else {
                statuses.push((back, SubscriptionStatus::Active));
            }
        }
        statuses.retain(|s| s.0 < sc.end_ms);
        let change = SubscriptionChanged {
            tenant_id: tenant,
            client_id: format!("c-{:06}", 900_000 + i + 1),
            service_id: services[i % services.len()].to_string(),
            plan_id: plan.id.clone(),
            status: SubscriptionStatus::Created,
            revenue_share_pct: Decimal::from(share),
            settlement,
        };
        subs.push(Sub {
            id: format!("sub-{:03}", i + 1),
            change,
            statuses,
            active: (active_at, active_end),
            plan,
        });
    }

    // One cadence per meter weight: interval = K / weight, K chosen to fill the budget.
    let status_events: usize = subs.iter().map(|s| s.statuses.len()).sum();
    let budget = target.saturating_sub(status_events as u64).max(1) as f64;
    let weight_len: f64 = subs
        .iter()
        .map(|s| {
            s.plan
                .meters
                .iter()
                .map(|m| meter_weight(&m.meter, m.aggregation))
                .sum::<f64>()
                * (s.active.1 - s.active.0).max(0) as f64
        })
        .sum();
    let k = weight_len / budget;

    let mut out = Vec::new();
    for s in &subs {
        let record = |t: i64, payload: UsageEvent, late_ok: bool| Draft {
            event: Event::Usage(UsageRecord {
                event_id: String::new(),
                occurred_at: t,
                subscription_id: s.id.clone(),
                schema_version: SCHEMA_VERSION,
                trace_id: None,
                payload,
            }),
            append_ts: 0,
            late_ok,
        };
        for &(t, status) in &s.statuses {
            let change = SubscriptionChanged {
                status,
                ..s.change.clone()
            };
            out.push(record(t, UsageEvent::SubscriptionChanged(change), false));
        }
        for m in &s.plan.meters {
            let interval = (k / meter_weight(&m.meter, m.aggregation)).max(1000.0);
            let mut gen = MeterGen::new(
                &mut r,
                &m.meter,
                m.aggregation,
                s.change.tenant_id == "t-002",
            );
            let mut t = s.active.0 as f64 + interval * dist::unit(&mut r);
            while (t as i64) < s.active.1 {
                let at = t as i64;
                let quantity = gen.next(&mut r, at, interval);
                let payload = UsageEvent::UsageRecorded(UsageRecorded {
                    tenant_id: s.change.tenant_id.clone(),
                    meter: m.meter.clone(),
                    quantity,
                });
                out.push(record(at, payload, true));
                t += interval * dist::uniform(&mut r, 0.9, 1.1);
            }
        }
    }
    out
}

/// Relative recording frequency of a meter.
fn meter_weight(meter: &str, agg: Aggregation) -> f64 {
    match (meter, agg) {
        ("api_calls", _) => 3.0,
        (_, Aggregation::Max) => 0.4,
        _ => 1.5,
    }
}

/// Draws one meter's successive quantities.
struct MeterGen {
    kind: MeterKind,
    /// Daily volume (sums) or current value (gauges).
    level: f64,
}

enum MeterKind {
    Count,
    Decimal,
    Gauge,
}

impl MeterGen {
    fn new(r: &mut Rng8, meter: &str, agg: Aggregation, t002: bool) -> MeterGen {
        let (kind, level) = match (meter, agg) {
            // t-002 hovers around its $1,000 weekly payout threshold on api-scale.
            ("api_calls", _) if t002 => (MeterKind::Count, dist::uniform(r, 300_000.0, 420_000.0)),
            ("api_calls", _) => (
                MeterKind::Count,
                dist::log_uniform(r, 20_000.0, 3_000_000.0),
            ),
            ("compute_hours", _) => (MeterKind::Decimal, dist::log_uniform(r, 4.0, 120.0)),
            ("gmv", _) => (MeterKind::Decimal, dist::log_uniform(r, 5_000.0, 200_000.0)),
            ("licenses", _) => (MeterKind::Gauge, dist::int(r, 10, 60) as f64),
            (_, Aggregation::Max) => (MeterKind::Gauge, dist::int(r, 3, 60) as f64),
            _ => (MeterKind::Count, dist::log_uniform(r, 10.0, 1000.0)),
        };
        MeterGen { kind, level }
    }

    fn next(&mut self, r: &mut Rng8, at: i64, interval_ms: f64) -> Decimal {
        // Busier in the (UTC) working day.
        let hour = (at.rem_euclid(DAY_MS) / HOUR_MS) as f64;
        let diurnal = 1.0 + 0.5 * ((hour - 14.0) / 24.0 * std::f64::consts::TAU).cos();
        let share = interval_ms / DAY_MS as f64 * diurnal * dist::uniform(r, 0.7, 1.3);
        match self.kind {
            MeterKind::Count => Decimal::from(((self.level * share).round() as i64).max(1)),
            MeterKind::Decimal => dist::cents((self.level * share).max(0.01)),
            MeterKind::Gauge => {
                if dist::chance(r, 0.2) {
                    self.level = (self.level + dist::int(r, -2, 3) as f64).max(1.0);
                }
                Decimal::from(self.level as i64)
            }
        }
    }
}
