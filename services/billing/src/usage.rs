//! The `usage` topic: subscriptions, their state machine, and metered usage aggregated per
//! settlement period and meter.
//!
//! A subscription's events arrive in log order, so its state machine (checked in log order) and
//! its periods are exact. Every change is also kept by event time, so a usage record is judged
//! by the terms in force *at the time of the usage*: a late record of usage from before a
//! cancellation still counts, and it goes into the period of the settlement of its time (UTC
//! date of the event time). Each (period, plan, meter) keeps its aggregated quantity and the
//! exact charge of that total, re-priced whenever the total changes.

use crate::pricing::{charge, model_name};
use crate::reject;
use chrono::{Duration, NaiveDate};
use gigstream_core::event::{
    Settlement, SubscriptionChanged, SubscriptionStatus, UsageEvent, UsageRecord, UsageRecorded,
};
use gigstream_core::refdata::{period_start, Aggregation, Plan};
use gigstream_core::time::{date_of, fmt_ts, next_month_start};
use gigstream_core::{Decimal, RefData, Rejection};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The largest quantity one usage record may carry (ClickHouse quantities are `Decimal(18, 4)`).
pub const MAX_QUANTITY: i64 = 100_000_000_000_000;

/// Usage-side state: subscriptions by id.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Usage {
    pub subscriptions: BTreeMap<String, Subscription>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Subscription {
    pub tenant_id: String,
    pub service_id: String,
    /// The currency of its first plan; every later plan must bill in it.
    pub currency: String,
    /// The newest status and plan in log order: what the next change transitions from.
    pub status: SubscriptionStatus,
    pub plan_id: String,
    /// Every change by event time (ties in log order).
    pub history: Vec<Terms>,
    /// Periods by settlement and first day. The settlement is part of the key because it may
    /// change mid-period, and a daily and a weekly period can start on the same Monday.
    pub periods: BTreeMap<Settlement, BTreeMap<NaiveDate, Period>>,
}

/// What a SubscriptionChanged puts in force from its event time on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Terms {
    pub from: i64,
    pub status: SubscriptionStatus,
    pub plan_id: String,
    pub revenue_share_pct: Decimal,
    pub settlement: Settlement,
}

impl Subscription {
    /// The terms in force at `t`; `None` before the subscription was created.
    fn terms_at(&self, t: i64) -> Option<&Terms> {
        let n = self.history.partition_point(|h| h.from <= t);
        n.checked_sub(1).map(|i| &self.history[i])
    }
}

/// One settlement period of a subscription.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Period {
    /// Last day, inclusive.
    pub end: NaiveDate,
    pub currency: String,
    /// Event time of the period's newest usage record.
    pub newest_usage_at: i64,
    /// The plan, share and threshold in force at the period's newest usage.
    pub plan_id: String,
    pub revenue_share_pct: Decimal,
    pub payout_threshold: Decimal,
    /// Usage by plan id, then meter. A plan change mid-period prices each plan's usage with its
    /// own tiers (the currency cannot change, so the period's revenue stays in one currency).
    pub meters: BTreeMap<String, BTreeMap<String, MeterUsage>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct MeterUsage {
    pub aggregation: Aggregation,
    pub pricing_model: String,
    pub records: u64,
    pub quantity: Decimal,
    /// Exact price of `quantity`; rounded to the cent when rendered.
    pub charge: Decimal,
}

/// The last day (inclusive) of the period of `settlement` starting on `start`.
pub fn period_end(settlement: Settlement, start: NaiveDate) -> NaiveDate {
    match settlement {
        Settlement::Daily => start,
        Settlement::Weekly => start + Duration::days(6),
        Settlement::Monthly => next_month_start(start) - Duration::days(1),
    }
}

/// Whether a subscription may go from `from` (None: it does not exist yet) to `to`.
///
/// created → active → grace_period → cancelled, and grace_period → active on payment. A change
/// that keeps the status changes plan or terms and is allowed, except on a cancelled
/// subscription, which is final.
pub fn transition_allowed(from: Option<SubscriptionStatus>, to: SubscriptionStatus) -> bool {
    use SubscriptionStatus::*;
    matches!(
        (from, to),
        (None, Created)
            | (Some(Created), Created | Active)
            | (Some(Active), Active | GracePeriod)
            | (Some(GracePeriod), GracePeriod | Active | Cancelled)
    )
}

fn plan<'a>(
    rd: &'a RefData,
    plan_id: &str,
    sub_id: &str,
    event_id: &str,
) -> Result<&'a Plan, Rejection> {
    rd.plan(plan_id).ok_or_else(|| {
        reject("unknown_plan", format!("subscription {sub_id} (event {event_id}) uses plan '{plan_id}' missing from reference data"))
    })
}

impl Usage {
    /// Adds the subscriptions of `other`, a state of other input partitions.
    ///
    /// A subscription's events share its key and so a partition, so under a split by partition
    /// every subscription is in one state only and this is a plain union. A subscription in
    /// both states (the same key fed to two states) cannot be combined exactly: its state
    /// machine is checked in log order and a period's charge is priced on the period total with
    /// the plan's tiers, which a merge without reference data cannot redo. Ours is kept.
    pub fn merge(&mut self, other: &Usage) {
        for (id, sub) in &other.subscriptions {
            if !self.subscriptions.contains_key(id) {
                self.subscriptions.insert(id.clone(), sub.clone());
            }
        }
    }

    /// Folds one usage event; on error nothing has changed.
    pub fn apply(&mut self, rd: &RefData, rec: &UsageRecord) -> Result<(), Rejection> {
        match &rec.payload {
            UsageEvent::SubscriptionChanged(e) => self.changed(rd, rec, e),
            UsageEvent::UsageRecorded(e) => self.recorded(rd, rec, e),
        }
    }

    fn changed(
        &mut self,
        rd: &RefData,
        rec: &UsageRecord,
        e: &SubscriptionChanged,
    ) -> Result<(), Rejection> {
        let id = &rec.subscription_id;
        let current = self.subscriptions.get(id);
        let from = current.map(|s| s.status);
        if !transition_allowed(from, e.status) {
            let from = from.map_or("nothing (unknown subscription)", |s| s.as_str());
            return Err(reject(
                "invalid_transition",
                format!(
                    "subscription {id} cannot go from {from} to {} (event {})",
                    e.status, rec.event_id
                ),
            ));
        }
        let new_plan = plan(rd, &e.plan_id, id, &rec.event_id)?;
        if let Some(s) = current {
            for (field, old, new) in [
                ("tenant_id", &s.tenant_id, &e.tenant_id),
                ("service_id", &s.service_id, &e.service_id),
            ] {
                if old != new {
                    return Err(reject(
                        "subscription_mismatch",
                        format!("subscription {id} belongs to {field} {old}; event {} changes it to {new}", rec.event_id),
                    ));
                }
            }
            if s.currency != new_plan.currency {
                return Err(reject(
                    "plan_currency_mismatch",
                    format!(
                        "subscription {id} is billed in {} (plan {}); event {} moves it to plan {} in {}",
                        s.currency, s.plan_id, rec.event_id, e.plan_id, new_plan.currency
                    ),
                ));
            }
        }
        let terms = Terms {
            from: rec.occurred_at,
            status: e.status,
            plan_id: e.plan_id.clone(),
            revenue_share_pct: e.revenue_share_pct,
            settlement: e.settlement,
        };
        let s = self
            .subscriptions
            .entry(id.clone())
            .or_insert_with(|| Subscription {
                tenant_id: e.tenant_id.clone(),
                service_id: e.service_id.clone(),
                currency: new_plan.currency.clone(),
                status: e.status,
                plan_id: e.plan_id.clone(),
                history: Vec::new(),
                periods: BTreeMap::new(),
            });
        s.status = e.status;
        s.plan_id.clone_from(&e.plan_id);
        let at = s.history.partition_point(|h| h.from <= rec.occurred_at);
        s.history.insert(at, terms);
        Ok(())
    }

    fn recorded(
        &mut self,
        rd: &RefData,
        rec: &UsageRecord,
        e: &UsageRecorded,
    ) -> Result<(), Rejection> {
        let id = &rec.subscription_id;
        let Some(sub) = self.subscriptions.get_mut(id) else {
            return Err(reject(
                "unknown_subscription",
                format!(
                    "usage (event {}) on subscription {id} which was never created",
                    rec.event_id
                ),
            ));
        };
        let Some(terms) = sub.terms_at(rec.occurred_at) else {
            return Err(reject(
                "usage_before_subscription",
                format!(
                    "usage (event {}) at {} precedes the creation of subscription {id}",
                    rec.event_id,
                    fmt_ts(rec.occurred_at)
                ),
            ));
        };
        if terms.status == SubscriptionStatus::Cancelled {
            return Err(reject(
                "subscription_cancelled",
                format!(
                    "usage (event {}) at {} on subscription {id}, cancelled since {}",
                    rec.event_id,
                    fmt_ts(rec.occurred_at),
                    fmt_ts(terms.from)
                ),
            ));
        }
        if sub.tenant_id != e.tenant_id {
            return Err(reject(
                "subscription_mismatch",
                format!(
                    "usage (event {}) names tenant {} but subscription {id} belongs to {}",
                    rec.event_id, e.tenant_id, sub.tenant_id
                ),
            ));
        }
        if e.quantity > Decimal::from(MAX_QUANTITY) {
            return Err(reject(
                "amount_out_of_range",
                format!(
                    "quantity {} in event {} exceeds {MAX_QUANTITY}",
                    e.quantity, rec.event_id
                ),
            ));
        }
        let plan = plan(rd, &terms.plan_id, id, &rec.event_id)?;
        let Some(meter) = plan.meter(&e.meter) else {
            return Err(reject(
                "unknown_meter",
                format!("usage (event {}) of meter '{}' on subscription {id}: plan {} has no such meter", rec.event_id, e.meter, plan.id),
            ));
        };
        let (settlement, share_pct) = (terms.settlement, terms.revenue_share_pct);
        let start = period_start(settlement, date_of(rec.occurred_at));
        let existing = sub
            .periods
            .get(&settlement)
            .and_then(|p| p.get(&start))
            .and_then(|p| p.meters.get(&plan.id))
            .and_then(|m| m.get(&e.meter));
        let (records, quantity) = match (existing, meter.aggregation) {
            (None, _) => (1, e.quantity),
            (Some(u), Aggregation::Sum) => (u.records + 1, u.quantity + e.quantity),
            (Some(u), Aggregation::Max) => (u.records + 1, u.quantity.max(e.quantity)),
        };
        let price = charge(&meter.pricing, quantity).map_err(|err| {
            reject(
                "pricing_error",
                format!(
                    "usage (event {}) of {} on plan {}: {err}",
                    rec.event_id, e.meter, plan.id
                ),
            )
        })?;
        // All checks passed: commit.
        let period = sub
            .periods
            .entry(settlement)
            .or_default()
            .entry(start)
            .or_insert_with(|| Period {
                end: period_end(settlement, start),
                currency: plan.currency.clone(),
                newest_usage_at: rec.occurred_at,
                plan_id: plan.id.clone(),
                revenue_share_pct: share_pct,
                payout_threshold: plan.payout_threshold,
                meters: BTreeMap::new(),
            });
        if rec.occurred_at >= period.newest_usage_at {
            period.newest_usage_at = rec.occurred_at;
            period.plan_id.clone_from(&plan.id);
            period.revenue_share_pct = share_pct;
            period.payout_threshold = plan.payout_threshold;
        }
        period.meters.entry(plan.id.clone()).or_default().insert(
            e.meter.clone(),
            MeterUsage {
                aggregation: meter.aggregation,
                pricing_model: model_name(&meter.pricing).to_string(),
                records,
                quantity,
                charge: price,
            },
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionStatus::*;

    #[test]
    fn state_machine() {
        assert!(transition_allowed(None, Created));
        assert!(!transition_allowed(None, Active));
        assert!(transition_allowed(Some(Created), Active));
        assert!(!transition_allowed(Some(Created), GracePeriod));
        assert!(!transition_allowed(Some(Created), Cancelled));
        assert!(transition_allowed(Some(Active), GracePeriod));
        assert!(transition_allowed(Some(Active), Active));
        assert!(!transition_allowed(Some(Active), Created));
        assert!(!transition_allowed(Some(Active), Cancelled));
        assert!(transition_allowed(Some(GracePeriod), Active));
        assert!(transition_allowed(Some(GracePeriod), Cancelled));
        for to in SubscriptionStatus::ALL {
            assert!(
                !transition_allowed(Some(Cancelled), *to),
                "cancelled is final ({to})"
            );
        }
    }

    #[test]
    fn period_ends() {
        let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        assert_eq!(
            period_end(Settlement::Daily, d("2026-02-28")),
            d("2026-02-28")
        );
        assert_eq!(
            period_end(Settlement::Weekly, d("2026-02-23")),
            d("2026-03-01")
        );
        assert_eq!(
            period_end(Settlement::Monthly, d("2026-02-01")),
            d("2026-02-28")
        );
        assert_eq!(
            period_end(Settlement::Monthly, d("2026-12-01")),
            d("2026-12-31")
        );
    }
}
