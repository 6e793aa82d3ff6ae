//! SLA service credits: a month's usage charges reduced by the credit tier of the service's
//! probe uptime that month (the same availability rule the SLA service uses, from
//! `gigstream_core::availability`).
//!
//! Periods count in the calendar month they start in. The credit is rendered from state, so it
//! changes while late probes of the month arrive, as it should.

use crate::tables::SLA_CREDITS;
use crate::usage::Subscription;
use chrono::NaiveDate;
use gigstream_core::availability::{Availability, MonthUptime};
use gigstream_core::money::round_cents;
use gigstream_core::refdata::SlaConfig;
use gigstream_core::table::TableData;
use gigstream_core::time::{minutes_in_month, month_start};
use gigstream_core::Decimal;
use std::collections::BTreeMap;

/// `billing_sla_credits`: subscription × calendar month with charges.
pub(crate) fn sla_credits_table(
    subs: &BTreeMap<String, Subscription>,
    availability: &Availability,
    sla: &SlaConfig,
) -> TableData {
    // Monthly uptime per service, computed once per service rather than per row.
    let mut uptime: BTreeMap<&str, BTreeMap<NaiveDate, MonthUptime>> = BTreeMap::new();
    let mut t = TableData::new(&SLA_CREDITS);
    for (id, sub) in subs {
        let mut months: BTreeMap<NaiveDate, (Decimal, &str)> = BTreeMap::new();
        for (start, p) in sub.periods.values().flat_map(|ps| ps.iter()) {
            let e = months
                .entry(month_start(*start))
                .or_insert((Decimal::ZERO, p.currency.as_str()));
            e.0 += p.revenue();
        }
        if months.is_empty() {
            continue;
        }
        let service = sub.service_id.as_str();
        let by_month = uptime.entry(service).or_insert_with(|| {
            availability
                .monthly(service)
                .into_iter()
                .map(|m| (m.month, m))
                .collect()
        });
        let target = sla.targets_for(service).availability_pct;
        for (month, (charges, currency)) in months {
            let up = by_month.get(&month).copied().unwrap_or(MonthUptime {
                month,
                minutes_in_month: minutes_in_month(month),
                probed_minutes: 0,
                unavailable_minutes: 0,
                uptime_pct: 100.0,
            });
            let credit_pct = sla.credit_pct(up.uptime_pct, target);
            let credit = round_cents(charges * Decimal::from(credit_pct) / Decimal::ONE_HUNDRED);
            t.push(vec![
                id.as_str().into(),
                month.into(),
                sub.tenant_id.as_str().into(),
                service.into(),
                currency.into(),
                charges.into(),
                (up.probed_minutes.max(0) as u64).into(),
                (up.unavailable_minutes.max(0) as u64).into(),
                up.uptime_pct.into(),
                target.into(),
                credit_pct.into(),
                credit.into(),
                (charges - credit).into(),
            ]);
        }
    }
    t
}
