//! The `orders` topic: deals (key `deal_id`) from lead to end.
//!
//! Deals are planned one by one, each with its lead time drawn over the span (demand grows 37% a
//! year), until their events fill the topic's budget. Freelancer ids are assigned afterwards in
//! contract start order, so a developer holds one full-time contract at a time and a consultant
//! at most two part-time ones: a freelancer's day is about 8 hours.

mod catalog;
mod deal;

use crate::assemble::Draft;
use crate::dist;
use crate::scenario::Scenario;
use deal::{DealPlan, FollowUp, Role};
use gigstream_core::event::{OrderEvent, OrderRecord, SCHEMA_VERSION};
use gigstream_core::time::DAY_MS;
use gigstream_core::Event;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Go freelance demand grows 37% a year (DOMAIN.md): the lead rate rises over the span.
const DEMAND_GROWTH_PER_YEAR: f64 = 0.37;

/// Generates about `target` order events (the last deal may overshoot by its size).
pub(crate) fn generate(sc: &Scenario, seed: u64, target: u64) -> Vec<Draft> {
    let mut r = dist::rng(seed, 10);
    let weights = catalog::lead_weights();
    let g = (1.0 + DEMAND_GROWTH_PER_YEAR).ln() / 365.0 / DAY_MS as f64;
    let span = sc.span_ms() as f64;
    let mut plans: Vec<DealPlan> = Vec::new();
    let mut returning: Vec<FollowUp> = Vec::new();
    let mut count = 0u64;
    while count < target {
        let deal_no = plans.len() as u64 + 1;
        let (at, client) = match returning.pop() {
            Some(f) => (f.at, Some(f.client)),
            None => {
                // Inverse CDF of a density growing as exp(g t) over the span.
                let u = dist::unit(&mut r);
                let t = (1.0 + u * ((g * span).exp() - 1.0)).ln() / g;
                (sc.start_ms + (t as i64).clamp(0, sc.span_ms() - 1), None)
            }
        };
        let plan = deal::plan_deal(&mut r, sc, deal_no, at, client, &weights);
        count += plan.events.len() as u64;
        if let Some(f) = &plan.follow_up {
            returning.push(f.clone());
        }
        plans.push(plan);
    }
    let ids = assign_freelancers(&mut r, &plans);
    let mut out = Vec::with_capacity(count as usize);
    for (plan, fid) in plans.into_iter().zip(ids) {
        let deal_id = format!("d-{:06}", plan.deal_no);
        for (t, mut payload, late_ok) in plan.events {
            set_freelancer(&mut payload, &fid);
            let event = Event::Order(OrderRecord {
                event_id: String::new(),
                occurred_at: t,
                deal_id: deal_id.clone(),
                schema_version: SCHEMA_VERSION,
                trace_id: None,
                payload,
            });
            out.push(Draft {
                event,
                append_ts: 0,
                late_ok,
            });
        }
    }
    out
}

/// Freelancer id per plan: greedy in contract start order over free slots; deals without a
/// contract get a random member of the resulting team.
fn assign_freelancers(r: &mut dist::Rng8, plans: &[DealPlan]) -> Vec<String> {
    let mut ids: Vec<Option<u32>> = vec![None; plans.len()];
    let mut order: Vec<usize> = (0..plans.len())
        .filter(|&i| plans[i].work.is_some())
        .collect();
    order.sort_by_key(|&i| (plans[i].work.map(|w| w.start), plans[i].deal_no));
    let mut devs: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
    let mut consultants: BinaryHeap<Reverse<(i64, u32)>> = BinaryHeap::new();
    let mut next = 1u32;
    for i in order {
        let Some(w) = plans[i].work else { continue };
        let id = match w.role {
            Role::Maintainer => 1 + (plans[i].deal_no % 3) as u32,
            Role::Dev | Role::Consultant => {
                let heap = if w.role == Role::Dev {
                    &mut devs
                } else {
                    &mut consultants
                };
                match heap.peek() {
                    Some(Reverse((free, id))) if *free <= w.start => {
                        let id = *id;
                        heap.pop();
                        heap.push(Reverse((w.end, id)));
                        id
                    }
                    _ => {
                        let id = next;
                        next += 1;
                        heap.push(Reverse((w.end, id)));
                        if w.role == Role::Consultant {
                            heap.push(Reverse((i64::MIN, id)));
                        }
                        id
                    }
                }
            }
        };
        next = next.max(id + 1);
        ids[i] = Some(id);
    }
    let team = (next - 1).max(3) as i64;
    ids.into_iter()
        .map(|id| {
            format!(
                "f-{:03}",
                id.unwrap_or_else(|| dist::int(r, 1, team) as u32)
            )
        })
        .collect()
}

fn set_freelancer(p: &mut OrderEvent, fid: &str) {
    let slot = match p {
        OrderEvent::ProposalSubmitted(e) => &mut e.freelancer_id,
        OrderEvent::ClientResponded(e) => &mut e.freelancer_id,
        OrderEvent::ContractSigned(e) => &mut e.freelancer_id,
        OrderEvent::WorkLogged(e) => &mut e.freelancer_id,
        _ => return,
    };
    *slot = fid.to_string();
}
