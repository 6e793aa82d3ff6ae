//! Tables rendered from the usage periods: the charge per meter and the revenue share per
//! period. Charges are rounded to the cent here, once; the period's revenue is the sum of the
//! rounded charges so the two tables add up.

use crate::payments::pct_f64;
use crate::tables::{REVENUE_SHARE, USAGE_CHARGES};
use crate::usage::{Period, Subscription};
use gigstream_core::money::round_cents;
use gigstream_core::refdata::Aggregation;
use gigstream_core::table::{TableData, Value};
use gigstream_core::Decimal;
use std::collections::BTreeMap;

impl Period {
    /// Sum of the period's rounded meter charges.
    pub(crate) fn revenue(&self) -> Decimal {
        self.meters
            .values()
            .flat_map(|m| m.values())
            .map(|u| round_cents(u.charge))
            .sum()
    }
}

/// Every period of every subscription sorted by (subscription, period_start, period_end).
fn sorted_periods(
    subs: &BTreeMap<String, Subscription>,
) -> Vec<(&str, &Subscription, &str, chrono::NaiveDate, &Period)> {
    let mut v = Vec::new();
    for (id, sub) in subs {
        for (settlement, periods) in &sub.periods {
            for (start, p) in periods {
                v.push((id.as_str(), sub, settlement.as_str(), *start, p));
            }
        }
    }
    // Within one subscription, periods of different settlements interleave by date.
    v.sort_by(|a, b| (a.0, a.3, a.4.end).cmp(&(b.0, b.3, b.4.end)));
    v
}

/// `billing_usage_charges`: subscription × period × plan × meter.
pub(crate) fn usage_charges_table(subs: &BTreeMap<String, Subscription>) -> TableData {
    let mut t = TableData::new(&USAGE_CHARGES);
    for (id, sub, settlement, start, p) in sorted_periods(subs) {
        for (plan_id, meters) in &p.meters {
            for (meter, u) in meters {
                let aggregation = match u.aggregation {
                    Aggregation::Sum => "sum",
                    Aggregation::Max => "max",
                };
                t.push(vec![
                    id.into(),
                    start.into(),
                    p.end.into(),
                    plan_id.as_str().into(),
                    meter.as_str().into(),
                    sub.tenant_id.as_str().into(),
                    sub.service_id.as_str().into(),
                    settlement.into(),
                    aggregation.into(),
                    u.records.into(),
                    u.quantity.into(),
                    u.pricing_model.as_str().into(),
                    round_cents(u.charge).into(),
                    p.currency.as_str().into(),
                ]);
            }
        }
    }
    t
}

/// `billing_revenue_share`: subscription × period.
pub(crate) fn revenue_share_table(subs: &BTreeMap<String, Subscription>) -> TableData {
    let mut t = TableData::new(&REVENUE_SHARE);
    for (id, sub, settlement, start, p) in sorted_periods(subs) {
        let revenue = p.revenue();
        let tenant = round_cents(revenue * p.revenue_share_pct / Decimal::ONE_HUNDRED);
        let payable = revenue > p.payout_threshold;
        t.push(vec![
            id.into(),
            start.into(),
            p.end.into(),
            sub.tenant_id.as_str().into(),
            sub.service_id.as_str().into(),
            p.plan_id.as_str().into(),
            settlement.into(),
            p.currency.as_str().into(),
            revenue.into(),
            pct_f64(p.revenue_share_pct).into(),
            tenant.into(),
            (revenue - tenant).into(),
            p.payout_threshold.into(),
            payable.into(),
            Value::from(if payable { tenant } else { Decimal::ZERO }),
        ]);
    }
    t
}
