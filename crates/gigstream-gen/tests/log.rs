//! Log-level properties: determinism, order, volume, mix, validity, late and invalid records.

mod common;

use common::{big, refdata};
use gigstream_core::event::*;
use gigstream_core::time::{DAY_MS, HOUR_MS, MINUTE_MS};
use gigstream_core::validate::validate;
use gigstream_core::{Decimal, Event, Topic};
use gigstream_gen::{generate, BadKind, GenConfig, Generated};
use std::collections::{BTreeMap, HashMap};

fn small(seed: u64, bad_ratio: f64) -> GenConfig {
    GenConfig {
        events: 60_000,
        seed,
        bad_ratio,
        ..GenConfig::default()
    }
}

fn bytes(out: &[Generated]) -> String {
    out.iter()
        .map(|g| {
            format!(
                "{} {} {:?}\n",
                g.append_ts,
                serde_json::to_string(&g.event).unwrap(),
                g.bad
            )
        })
        .collect()
}

#[test]
fn same_config_gives_identical_output_and_seeds_differ() {
    let a = bytes(&generate(&small(7, 0.01), refdata()));
    let b = bytes(&generate(&small(7, 0.01), refdata()));
    assert!(a == b, "two runs of the same config differ");
    let c = bytes(&generate(&small(8, 0.01), refdata()));
    assert_ne!(a, c);
}

#[test]
fn log_is_sorted_by_append_time_and_ids_are_unique() {
    let out = big();
    assert!(out.windows(2).all(|w| w[0].append_ts <= w[1].append_ts));
    let mut ids: Vec<&str> = out.iter().map(|g| g.event.event_id()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), out.len());
    assert!(out
        .iter()
        .all(|g| g.event.schema_version() == SCHEMA_VERSION));
}

#[test]
fn volume_is_within_two_percent() {
    for events in [5_000u64, 40_000, 250_000] {
        let n = generate(
            &GenConfig {
                events,
                ..GenConfig::default()
            },
            refdata(),
        )
        .len() as f64;
        assert!((n / events as f64 - 1.0).abs() <= 0.02, "{events}: got {n}");
    }
    let n = big().len() as f64;
    assert!((n / 1e6 - 1.0).abs() <= 0.02, "1M: got {n}");
    let n = generate(
        &GenConfig {
            events: 100_000,
            days: 30,
            seed: 3,
            ..GenConfig::default()
        },
        refdata(),
    )
    .len() as f64;
    assert!((n / 1e5 - 1.0).abs() <= 0.02, "30 days: got {n}");
}

#[test]
fn topic_mix_is_about_80_10_10() {
    for out in [big(), &generate(&small(11, 0.0), refdata())[..]] {
        let mut n: BTreeMap<Topic, f64> = BTreeMap::new();
        for g in out {
            *n.entry(g.event.topic()).or_default() += 1.0;
        }
        let total = out.len() as f64;
        let share = |t| n.get(&t).copied().unwrap_or(0.0) / total;
        assert!((share(Topic::Telemetry) - 0.80).abs() < 0.03, "{n:?}");
        assert!((share(Topic::Orders) - 0.10).abs() < 0.02, "{n:?}");
        assert!((share(Topic::Usage) - 0.10).abs() < 0.02, "{n:?}");
    }
}

#[test]
fn every_good_event_validates() {
    let rd = refdata();
    for g in big() {
        assert!(g.bad.is_none());
        if let Err(e) = validate(&g.event, rd, g.append_ts) {
            panic!("{} invalid: {e}", serde_json::to_string(&g.event).unwrap());
        }
    }
}

#[test]
fn bad_events_are_spread_marked_and_fail_validation() {
    let rd = refdata();
    let out = generate(
        &GenConfig {
            events: 120_000,
            bad_ratio: 0.02,
            ..GenConfig::default()
        },
        rd,
    );
    let bad: Vec<&Generated> = out.iter().filter(|g| g.bad.is_some()).collect();
    let share = bad.len() as f64 / out.len() as f64;
    assert!((share - 0.02).abs() < 0.002, "bad share {share}");
    let mut kinds: BTreeMap<BadKind, usize> = BTreeMap::new();
    let mut topics: BTreeMap<Topic, usize> = BTreeMap::new();
    for g in &bad {
        *kinds.entry(g.bad.unwrap()).or_default() += 1;
        *topics.entry(g.event.topic()).or_default() += 1;
        let res = validate(&g.event, rd, g.append_ts);
        if g.bad == Some(BadKind::TooLate) {
            assert!(res.is_ok(), "too-late events are well-formed: {res:?}");
            assert!(g.append_ts - g.event.occurred_at() > 35 * DAY_MS);
        } else {
            let code = res.expect_err("an invalid copy must fail validation").code;
            let want = match g.bad.unwrap() {
                BadKind::NegativeAmount => "negative_amount",
                BadKind::UnknownCurrency => "unknown_currency",
                BadKind::UnknownPlatform => "unknown_platform",
                BadKind::FutureTimestamp => "future_timestamp",
                _ => "missing_field",
            };
            assert_eq!(code, want, "{:?}", g.event);
        }
    }
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    assert!(kinds.values().all(|&n| n * 10 > bad.len()), "{kinds:?}");
    assert_eq!(topics.len(), 3, "{topics:?}");
    assert!(topics.values().all(|&n| n * 10 > bad.len()), "{topics:?}");
    // The good ones still validate.
    assert!(out
        .iter()
        .filter(|g| g.bad.is_none())
        .all(|g| validate(&g.event, rd, g.append_ts).is_ok()));
}

#[test]
fn too_late_events_are_beyond_the_allowed_lateness_of_their_key() {
    let rd = refdata();
    let out = generate(
        &GenConfig {
            events: 120_000,
            bad_ratio: 0.03,
            seed: 5,
            ..GenConfig::default()
        },
        rd,
    );
    let lateness = rd.pipeline.allowed_lateness_ms();
    let mut newest: HashMap<(Topic, String), i64> = HashMap::new();
    let mut checked = 0;
    for g in &out {
        let key = (g.event.topic(), g.event.key().to_string());
        if g.bad == Some(BadKind::TooLate) {
            let max = newest[&key];
            assert!(max - g.event.occurred_at() > lateness, "{:?}", g.event);
            checked += 1;
        } else if g.bad.is_none() {
            let e = newest.entry(key).or_insert(i64::MIN);
            *e = (*e).max(g.event.occurred_at());
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn a_few_orders_and_usage_events_arrive_late_within_twenty_days() {
    let out = big();
    let business: Vec<&Generated> = out
        .iter()
        .filter(|g| g.event.topic() != Topic::Telemetry)
        .collect();
    let late: Vec<i64> = business
        .iter()
        .map(|g| g.append_ts - g.event.occurred_at())
        .filter(|&d| d >= HOUR_MS)
        .collect();
    let share = late.len() as f64 / business.len() as f64;
    assert!((0.003..0.007).contains(&share), "late share {share}");
    assert!(late.iter().all(|&d| d <= 20 * DAY_MS));
    assert!(late.iter().any(|&d| d > 5 * DAY_MS));
    // Everything else is appended within seconds.
    assert!(out.iter().all(|g| {
        let d = g.append_ts - g.event.occurred_at();
        d >= 0 && !(MINUTE_MS..HOUR_MS).contains(&d)
    }));
}

fn money_fields(e: &Event) -> Vec<Decimal> {
    match e {
        Event::Order(r) => match &r.payload {
            OrderEvent::LeadPosted(p) => vec![p.budget_min, p.budget_max],
            OrderEvent::ProposalSubmitted(p) => vec![p.quote, p.estimated_hours],
            OrderEvent::ContractSigned(p) => p.amount.into_iter().chain(p.hourly_rate).collect(),
            OrderEvent::WorkLogged(p) => vec![p.hours],
            OrderEvent::MilestoneDelivered(p) => vec![p.amount],
            OrderEvent::InvoiceIssued(p) => vec![p.gross],
            OrderEvent::PaymentSettled(p) => vec![p.gross],
            OrderEvent::ClientResponded(_) | OrderEvent::ContractEnded(_) => vec![],
        },
        Event::Usage(r) => match &r.payload {
            UsageEvent::UsageRecorded(p) => vec![p.quantity],
            UsageEvent::SubscriptionChanged(p) => vec![p.revenue_share_pct],
        },
        Event::Telemetry(_) => vec![],
    }
}

#[test]
fn money_hours_and_quantities_have_at_most_two_decimals_and_are_positive() {
    let mut n = 0;
    for g in big() {
        for d in money_fields(&g.event) {
            assert!(d.normalize().scale() <= 2, "{d} in {:?}", g.event);
            assert!(d > Decimal::ZERO, "{d} in {:?}", g.event);
            n += 1;
        }
    }
    assert!(n > 100_000);
}

#[test]
fn hours_and_invoices_add_up() {
    // Hourly invoices are exactly hours x rate rounded to the cent: a decimal with <= 2 places,
    // and payments of an invoice never exceed it.
    let mut invoiced: HashMap<&str, Decimal> = HashMap::new();
    let mut paid: HashMap<&str, Decimal> = HashMap::new();
    for g in big() {
        if let Event::Order(r) = &g.event {
            match &r.payload {
                OrderEvent::InvoiceIssued(p) => {
                    invoiced.insert(&p.invoice_id, p.gross);
                }
                OrderEvent::PaymentSettled(p) => *paid.entry(&p.invoice_id).or_default() += p.gross,
                _ => {}
            }
        }
    }
    for (id, p) in &paid {
        assert!(*p <= invoiced[id], "{id} paid {p} of {}", invoiced[id]);
    }
}

#[test]
fn invalid_copies_are_mixed_in_and_the_valid_stream_stays_whole() {
    let rd = refdata();
    let clean = generate(&small(11, 0.0), rd);
    let mixed = generate(&small(11, 0.03), rd);
    let good: Vec<&Generated> = mixed.iter().filter(|g| g.bad.is_none()).collect();
    assert_eq!(good.len(), clean.len());
    assert!(good.iter().zip(&clean).all(|(a, b)| *a == b));
    let ids: std::collections::HashSet<&str> = clean.iter().map(|g| g.event.event_id()).collect();
    for (i, g) in mixed.iter().enumerate().filter(|(_, g)| g.bad.is_some()) {
        assert!(
            i > 0 && mixed[i - 1].append_ts == g.append_ts,
            "a copy follows a record"
        );
        assert!(
            !ids.contains(g.event.event_id()),
            "a copy has an event id of its own: {}",
            g.event.event_id()
        );
    }
    assert!(mixed.len() > clean.len());
}
