//! gigstream's job-market projection: where demand is, what converts, what we quote versus
//! what wins, how fast clients answer, where the hours go, why clients leave and how demand
//! grows.
//!
//! [`Market`] folds the `orders` topic. Per-deal state ([`deal::Deal`], keyed by `deal_id`)
//! remembers the lead's platform, client segment, category, skill tags and currency, so every
//! later event of the deal is counted under them. Cross-deal aggregates are either commutative
//! counters and exact decimal sums (funnel, hours) or are rendered from the deals themselves at
//! output time (quotes, price quantiles, response times, churn, growth), so any interleaving of
//! deals gives the same tables; only one deal's own events must arrive in log order, which the
//! `deal_id` key guarantees.
//!
//! Tables (defined with their columns' meaning and unit in [`tables`]): `market_funnel_daily`,
//! `market_skill_daily`, `market_quotes`, `market_price_stats`, `market_response_times`,
//! `market_response_times_daily`, `market_hours`, `market_effective_daily`, `market_churn`,
//! `market_demand_growth`, `market_demand_growth_platform`.

mod churn;
pub mod deal;
mod funnel;
mod growth;
mod hours;
mod pairs;
mod prices;
mod responses;
pub mod tables;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

use deal::Deal;
use funnel::{Funnel, Stage};
use gigstream_core::event::{OrderEvent, OrderRecord, Response};
use gigstream_core::time::date_of;
use gigstream_core::{Event, Projection, RefData, Rejection, TableData, TableDef, Topic};
use hours::Hours;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The market projection's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Market {
    /// Every deal seen, by `deal_id`.
    #[serde(with = "pairs")]
    deals: BTreeMap<String, Deal>,
    funnel: Funnel,
    hours: Hours,
}

impl Market {
    /// The deal with `deal_id`, if its lead was seen.
    pub fn deal(&self, deal_id: &str) -> Option<&Deal> {
        self.deals.get(deal_id)
    }

    /// Number of deals seen.
    pub fn deal_count(&self) -> usize {
        self.deals.len()
    }

    fn apply_order(&mut self, r: &OrderRecord) -> Result<(), Rejection> {
        let (deal_id, at) = (r.deal_id.as_str(), r.occurred_at);
        let day = date_of(at);
        if let OrderEvent::LeadPosted(e) = &r.payload {
            if self.deals.contains_key(deal_id) {
                return Err(Rejection::new(
                    "duplicate_lead",
                    format!("second LeadPosted for deal {deal_id}"),
                ));
            }
            let deal = Deal::from_lead(e, at);
            self.funnel.record(day, &deal.lead, Stage::Lead);
            self.deals.insert(deal_id.to_string(), deal);
            return Ok(());
        }
        let Some(deal) = self.deals.get_mut(deal_id) else {
            return Err(Rejection::new(
                "unknown_deal",
                format!(
                    "{} for deal {deal_id}, whose LeadPosted was never seen",
                    r.payload.type_name()
                ),
            ));
        };
        match &r.payload {
            OrderEvent::LeadPosted(_) => {}
            OrderEvent::ProposalSubmitted(e) => {
                deal.submit(deal_id, e, at)?;
                self.funnel.record(day, &deal.lead, Stage::Proposal);
            }
            OrderEvent::ClientResponded(e) => {
                deal.respond(deal_id, e, at)?;
                if e.response != Response::NoResponse {
                    let interview = e.response == Response::Interview;
                    self.funnel
                        .record(day, &deal.lead, Stage::Answer { interview });
                }
            }
            OrderEvent::ContractSigned(e) => {
                deal.sign(deal_id, e, at)?;
                self.funnel.record(day, &deal.lead, Stage::Win);
            }
            OrderEvent::WorkLogged(e) => {
                deal.check_work(deal_id)?;
                self.hours.record(e);
            }
            OrderEvent::ContractEnded(e) => deal.end(deal_id, e, at)?,
            // Money events are the billing projection's; the market only needs to know the
            // deal exists (checked above).
            OrderEvent::MilestoneDelivered(_)
            | OrderEvent::InvoiceIssued(_)
            | OrderEvent::PaymentSettled(_) => {}
        }
        Ok(())
    }
}

impl Projection for Market {
    const NAME: &'static str = "market";

    fn topics() -> &'static [Topic] {
        &[Topic::Orders]
    }

    fn table_defs() -> &'static [&'static TableDef] {
        &tables::ALL
    }

    fn new(_refdata: &RefData) -> Self {
        Market::default()
    }

    fn apply(&mut self, _refdata: &RefData, event: &Event) -> Result<(), Rejection> {
        match event {
            Event::Order(r) => self.apply_order(r),
            other => Err(Rejection::new(
                "wrong_topic",
                format!(
                    "the market projection reads orders, not {} (event {})",
                    other.topic(),
                    other.event_id()
                ),
            )),
        }
    }

    /// Funnel counters and hours add key by key. Deals are keyed by `deal_id`, the partition
    /// key, so under a split by partition each deal is in one state only and the deals union.
    /// A deal in both states (the same key fed to two states) cannot be rebuilt without its
    /// events in log order; ours is kept. `apply` reads no other deal's state: everything that
    /// mixes deals besides the counters is rendered from the deals.
    fn merge(&mut self, other: &Self) {
        for (id, deal) in &other.deals {
            if !self.deals.contains_key(id) {
                self.deals.insert(id.clone(), deal.clone());
            }
        }
        self.funnel.merge(&other.funnel);
        self.hours.merge(&other.hours);
    }

    fn tables(&self, _refdata: &RefData) -> Vec<TableData> {
        vec![
            self.funnel.daily_table(),
            self.funnel.skill_table(),
            prices::quotes_table(&self.deals),
            prices::price_stats_table(&self.deals),
            responses::response_times_table(&self.deals),
            responses::response_times_daily_table(&self.deals),
            self.hours.weekly_table(),
            self.hours.daily_table(),
            churn::churn_table(&self.deals),
            growth::by_tag_table(self.funnel.leads_by_day_tag()),
            growth::by_platform_table(self.funnel.leads_by_day_platform()),
        ]
    }
}
