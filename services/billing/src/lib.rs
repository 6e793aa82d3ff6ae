//! gigstream's billing projection: what was invoiced, what the platform took, what tax applies,
//! what the studio takes home and when it arrives, what each invoice still owes, what each SaaS
//! tenant's usage costs per settlement period, how revenue splits with the tenant, and which
//! month owes a service credit.
//!
//! [`Billing`] is a pure fold ([`gigstream_core::Projection`]) over three topics:
//!
//! - `orders` ([`orders`]): ContractSigned fixes a deal's terms (platform, currency, tax regime,
//!   settlement cycle); InvoiceIssued opens a receivable; PaymentSettled becomes a payment row
//!   with its fee ([`payments::payment_figures`]), tax ([`tax`]) and payout date.
//! - `usage` ([`usage`]): the subscription state machine and metered usage aggregated per
//!   settlement period and meter, priced on the period total ([`pricing`]).
//! - `telemetry`: only ProbeResult, into the shared probe availability that sets SLA credits.
//!
//! Per-entity state (a deal, a subscription) relies on its events arriving in log order; every
//! table that mixes entities is rendered from that state by sums, so it does not depend on how
//! partitions interleave. Money is exact; rounding to the cent happens once, when a figure is
//! final. Reference data (fees, cycles, tax tables, plans, SLA tiers) comes from
//! [`gigstream_core::RefData`], never from code.

pub mod orders;
pub mod payments;
pub mod pricing;
pub mod receivables;
mod revenue;
mod sla_credits;
pub mod tables;
pub mod tax;
pub mod usage;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tests;

use gigstream_core::availability::Availability;
use gigstream_core::event::TelemetryEvent;
use gigstream_core::table::{TableData, TableDef};
use gigstream_core::{Event, Projection, RefData, Rejection, Topic};
use serde::{Deserialize, Serialize};

pub(crate) fn reject(code: &'static str, detail: impl Into<String>) -> Rejection {
    Rejection::new(code, detail)
}

/// The billing projection's state. Serialises exactly (checkpoints); see the crate docs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Billing {
    /// The newest event time applied (UTC ms): the "as of" time receivables age against, so a
    /// replay gives the same rows whatever the wall clock says.
    as_of: Option<i64>,
    orders: orders::Orders,
    usage: usage::Usage,
    /// Probe results per service and minute, for SLA credits.
    availability: Availability,
}

impl Billing {
    /// The newest event time applied so far, if any.
    pub fn as_of(&self) -> Option<i64> {
        self.as_of
    }
}

impl Projection for Billing {
    const NAME: &'static str = "billing";

    fn topics() -> &'static [Topic] {
        &[Topic::Orders, Topic::Usage, Topic::Telemetry]
    }

    fn table_defs() -> &'static [&'static TableDef] {
        &tables::ALL
    }

    fn new(_refdata: &RefData) -> Self {
        Billing::default()
    }

    fn apply(&mut self, refdata: &RefData, event: &Event) -> Result<(), Rejection> {
        match event {
            Event::Order(r) => self.orders.apply(refdata, r)?,
            Event::Usage(r) => self.usage.apply(refdata, r)?,
            Event::Telemetry(r) => {
                if let TelemetryEvent::ProbeResult(p) = &r.payload {
                    self.availability.record(&r.service_id, r.occurred_at, p.ok);
                }
            }
        }
        // Only accepted events move the as-of time; a rejection leaves the state unchanged.
        let t = event.occurred_at();
        self.as_of = Some(self.as_of.map_or(t, |a| a.max(t)));
        Ok(())
    }

    /// Per-entity state (deals, payments, subscriptions) is keyed by the partition key, so the
    /// parts are disjoint and union; probe counts add; the as-of time is the newest of both.
    /// Nothing in `apply` reads another key's state: tables that mix entities (monthly sums,
    /// SLA credits from a subscription's service and that service's probes, receivable aging
    /// against the as-of time) are computed when rendering.
    fn merge(&mut self, other: &Self) {
        self.as_of = self.as_of.max(other.as_of);
        self.orders.merge(&other.orders);
        self.usage.merge(&other.usage);
        self.availability.merge(&other.availability);
    }

    fn tables(&self, refdata: &RefData) -> Vec<TableData> {
        let payments = &self.orders.payments;
        // With no event yet there is no invoice either, so the fallback never shows.
        let as_of = self.as_of.unwrap_or(0);
        vec![
            payments::payments_table(payments),
            payments::monthly_table(payments),
            payments::settlements_due_table(payments),
            receivables::receivables_table(&self.orders.deals, as_of),
            payments::business_income_table(payments, &refdata.tax),
            revenue::usage_charges_table(&self.usage.subscriptions),
            revenue::revenue_share_table(&self.usage.subscriptions),
            sla_credits::sla_credits_table(
                &self.usage.subscriptions,
                &self.availability,
                &refdata.sla,
            ),
        ]
    }
}
