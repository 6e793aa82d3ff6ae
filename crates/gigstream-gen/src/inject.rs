//! Invalid copies: extra records, each a copy of a log record (with an event id of its own)
//! broken in one way ([`BadKind`]) and appended right after it, spread over kinds and topics,
//! each failing `validate` (except `TooLate`, which is well-formed but beyond the allowed
//! lateness). The valid stream stays whole, so every valid event still applies: a consumer's
//! dead letters are exactly the injected copies.

use crate::assemble::{event_id_mut, set_time};
use crate::dist::{self, Rng8};
use crate::{BadKind, Generated};
use gigstream_core::event::{OrderEvent, TelemetryEvent, Topic, UsageEvent};
use gigstream_core::time::{DAY_MS, HOUR_MS};
use gigstream_core::{Decimal, Event, RefData};
use std::collections::{HashMap, HashSet};

/// Candidate records per (kind, topic), in log order.
type Pools = Vec<(BadKind, Topic, Vec<usize>)>;

pub(crate) fn inject(
    r: &mut Rng8,
    out: &mut Vec<Generated>,
    ratio: f64,
    rd: &RefData,
    start_ms: i64,
) {
    let k = (ratio * out.len() as f64).round() as usize;
    if k == 0 {
        return;
    }
    let lateness = rd.pipeline.allowed_lateness_ms();
    let pools = pools(out, lateness, start_ms);
    let mut j = 0usize;
    let mut misses = 0usize;
    // The copies, each with the index of the record it copies (it follows that record).
    let mut copies: Vec<(usize, Generated)> = Vec::new();
    let mut copied: HashSet<usize> = HashSet::new();
    while copies.len() < k && misses < 10 * k + 100 {
        let kind = BadKind::ALL[j % BadKind::ALL.len()];
        let round = j / BadKind::ALL.len();
        j += 1;
        let options: Vec<&(BadKind, Topic, Vec<usize>)> = pools
            .iter()
            .filter(|p| p.0 == kind && !p.2.is_empty())
            .collect();
        if options.is_empty() {
            misses += 1;
            continue;
        }
        let pool = &options[round % options.len()].2;
        let Some(i) = (0..20)
            .map(|_| *dist::pick(r, pool))
            .find(|&i| !copied.contains(&i))
        else {
            misses += 1;
            continue;
        };
        let mut g = out[i].clone();
        // An event id of its own: the copy is not a redelivery of the original.
        let id = event_id_mut(&mut g.event);
        *id = format!("{id}-bad{}", copies.len());
        let append = g.append_ts;
        match kind {
            BadKind::NegativeAmount => negate(&mut g.event),
            BadKind::UnknownCurrency => set_currency(
                &mut g.event,
                dist::pick::<&str>(r, &["RMB", "US$", "usd", "XBT"]),
            ),
            BadKind::UnknownPlatform => set_platform(
                &mut g.event,
                dist::pick::<&str>(r, &["zbj", "freelancer_com", "yuanjisong"]),
            ),
            BadKind::FutureTimestamp => {
                set_time(&mut g.event, append + dist::int(r, 2 * DAY_MS, 10 * DAY_MS))
            }
            BadKind::MissingField => blank(&mut g.event),
            // Dated below, once every copy is chosen.
            BadKind::TooLate => {}
        }
        g.bad = Some(kind);
        copied.insert(i);
        copies.push((i, g));
    }
    copies.sort_by_key(|c| c.0);
    // Too-late copies: dated beyond the allowed lateness before the newest event of their key
    // appended up to the original (what the pipeline's watermark sees when the copy arrives).
    let mut newest: HashMap<(Topic, String), i64> = HashMap::new();
    let mut next = 0usize;
    for (i, g) in out.iter().enumerate() {
        let key = (g.event.topic(), g.event.key().to_string());
        let t = g.event.occurred_at();
        let e = newest.entry(key.clone()).or_insert(t);
        *e = (*e).max(t);
        while next < copies.len() && copies[next].0 == i {
            let copy = &mut copies[next].1;
            if copy.bad == Some(BadKind::TooLate) {
                let to = newest
                    .get(&key)
                    .map(|max| max - lateness - dist::int(r, HOUR_MS, 3 * DAY_MS))
                    .filter(|&t| t >= start_ms);
                match to {
                    Some(t) => set_time(&mut copy.event, t),
                    // No history old enough after all: a missing-field copy instead.
                    None => {
                        blank(&mut copy.event);
                        copy.bad = Some(BadKind::MissingField);
                    }
                }
            }
            next += 1;
        }
    }
    // Each copy right after its original, at the same append time.
    let mut merged = Vec::with_capacity(out.len() + copies.len());
    let mut copies = copies.into_iter().peekable();
    for (i, g) in std::mem::take(out).into_iter().enumerate() {
        merged.push(g);
        while let Some((_, copy)) = copies.next_if(|c| c.0 == i) {
            merged.push(copy);
        }
    }
    *out = merged;
}

fn pools(out: &[Generated], lateness: i64, start_ms: i64) -> Pools {
    let mut by: Vec<(BadKind, Topic, Vec<usize>)> = Vec::new();
    for kind in BadKind::ALL {
        for topic in Topic::ALL {
            by.push((kind, topic, Vec::new()));
        }
    }
    let slot = |kind: BadKind, topic: Topic| {
        BadKind::ALL
            .iter()
            .position(|k| *k == kind)
            .expect("invariant: every kind is listed")
            * 3
            + Topic::ALL
                .iter()
                .position(|t| *t == topic)
                .expect("invariant: every topic is listed")
    };
    let mut newest: HashMap<(Topic, &str), i64> = HashMap::new();
    for (i, g) in out.iter().enumerate() {
        let topic = g.event.topic();
        by[slot(BadKind::FutureTimestamp, topic)].2.push(i);
        by[slot(BadKind::MissingField, topic)].2.push(i);
        let (money, platform, leaf) = match &g.event {
            Event::Order(r) => match &r.payload {
                OrderEvent::LeadPosted(_) | OrderEvent::ContractSigned(_) => (true, true, false),
                OrderEvent::ClientResponded(_) | OrderEvent::ContractEnded(_) => {
                    (false, false, false)
                }
                OrderEvent::WorkLogged(_) => (false, false, true),
                _ => (true, false, false),
            },
            Event::Usage(r) => (
                matches!(r.payload, UsageEvent::UsageRecorded(_)),
                false,
                matches!(r.payload, UsageEvent::UsageRecorded(_)),
            ),
            Event::Telemetry(r) => (
                false,
                false,
                !matches!(
                    r.payload,
                    TelemetryEvent::IncidentOpened(_) | TelemetryEvent::IncidentResolved(_)
                ),
            ),
        };
        if money {
            by[slot(BadKind::NegativeAmount, topic)].2.push(i);
            if topic == Topic::Orders {
                by[slot(BadKind::UnknownCurrency, topic)].2.push(i);
            }
        }
        if platform {
            by[slot(BadKind::UnknownPlatform, topic)].2.push(i);
        }
        let key = (topic, g.event.key());
        if let Some(&max) = newest.get(&key) {
            if leaf && max - lateness - 4 * DAY_MS >= start_ms {
                by[slot(BadKind::TooLate, topic)].2.push(i);
            }
        }
        let t = g.event.occurred_at();
        let e = newest.entry(key).or_insert(t);
        *e = (*e).max(t);
    }
    by
}

fn neg(d: &mut Decimal) {
    *d = if d.is_zero() {
        Decimal::new(-100, 2)
    } else {
        -d.abs()
    };
}

fn negate(e: &mut Event) {
    match e {
        Event::Order(r) => match &mut r.payload {
            OrderEvent::LeadPosted(p) => neg(&mut p.budget_min),
            OrderEvent::ProposalSubmitted(p) => neg(&mut p.quote),
            OrderEvent::ContractSigned(p) => match (&mut p.amount, &mut p.hourly_rate) {
                (Some(a), _) | (None, Some(a)) => neg(a),
                (None, None) => p.amount = Some(Decimal::new(-100, 2)),
            },
            OrderEvent::MilestoneDelivered(p) => neg(&mut p.amount),
            OrderEvent::InvoiceIssued(p) => neg(&mut p.gross),
            OrderEvent::PaymentSettled(p) => neg(&mut p.gross),
            _ => blank(e),
        },
        Event::Usage(r) => match &mut r.payload {
            UsageEvent::UsageRecorded(p) => neg(&mut p.quantity),
            UsageEvent::SubscriptionChanged(_) => blank(e),
        },
        Event::Telemetry(_) => blank(e),
    }
}

fn set_currency(e: &mut Event, code: &str) {
    if let Event::Order(r) = e {
        let slot = match &mut r.payload {
            OrderEvent::LeadPosted(p) => &mut p.currency,
            OrderEvent::ProposalSubmitted(p) => &mut p.currency,
            OrderEvent::ContractSigned(p) => &mut p.currency,
            OrderEvent::MilestoneDelivered(p) => &mut p.currency,
            OrderEvent::InvoiceIssued(p) => &mut p.currency,
            OrderEvent::PaymentSettled(p) => &mut p.currency,
            _ => return blank(e),
        };
        *slot = code.to_string();
    }
}

fn set_platform(e: &mut Event, id: &str) {
    if let Event::Order(r) = e {
        match &mut r.payload {
            OrderEvent::LeadPosted(p) => p.platform = id.to_string(),
            OrderEvent::ContractSigned(p) => p.platform = id.to_string(),
            _ => blank(e),
        }
    }
}

/// Empties an id: the payload's own id where it has one, else the event id.
fn blank(e: &mut Event) {
    let slot: &mut String = match e {
        Event::Order(r) => match &mut r.payload {
            OrderEvent::LeadPosted(p) => &mut p.client_id,
            OrderEvent::ProposalSubmitted(p) => &mut p.freelancer_id,
            OrderEvent::ClientResponded(p) => &mut p.freelancer_id,
            OrderEvent::ContractSigned(p) => &mut p.contract_id,
            OrderEvent::WorkLogged(p) => &mut p.freelancer_id,
            OrderEvent::MilestoneDelivered(p) => &mut p.milestone_id,
            OrderEvent::InvoiceIssued(p) => &mut p.invoice_id,
            OrderEvent::PaymentSettled(p) => &mut p.invoice_id,
            OrderEvent::ContractEnded(p) => &mut p.contract_id,
        },
        Event::Usage(r) => match &mut r.payload {
            UsageEvent::SubscriptionChanged(p) => &mut p.tenant_id,
            UsageEvent::UsageRecorded(p) => &mut p.meter,
        },
        Event::Telemetry(r) => match &mut r.payload {
            TelemetryEvent::ProbeResult(p) => &mut p.probe_region,
            TelemetryEvent::IncidentOpened(p) => &mut p.incident_id,
            TelemetryEvent::IncidentResolved(p) => &mut p.incident_id,
            TelemetryEvent::RequestObserved(_) => return event_id_mut(e).clear(),
        },
    };
    slot.clear();
}
