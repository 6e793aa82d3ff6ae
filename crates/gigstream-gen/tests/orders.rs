//! The orders topic against DOMAIN.md's market figures (on the shared 1M-event data set).

mod common;

use common::big;
use gigstream_core::event::*;
use gigstream_core::time::{date_of, DAY_MS, HOUR_MS};
use gigstream_core::{Decimal, Event};
use gigstream_gen::{scenario, GenConfig, Generated};
use std::collections::{BTreeMap, HashMap};

fn orders() -> Vec<(&'static Generated, &'static OrderRecord)> {
    big()
        .iter()
        .filter_map(|g| {
            if let Event::Order(r) = &g.event {
                Some((g, r))
            } else {
                None
            }
        })
        .collect()
}

fn stage(e: &OrderEvent) -> u8 {
    match e {
        OrderEvent::LeadPosted(_) => 0,
        OrderEvent::ProposalSubmitted(_) => 1,
        OrderEvent::ClientResponded(_) => 2,
        OrderEvent::ContractSigned(_) => 3,
        _ => 4,
    }
}

#[test]
fn each_deal_is_in_causal_order_in_the_log() {
    let mut deals: BTreeMap<&str, Vec<(&Generated, &OrderRecord)>> = BTreeMap::new();
    for (g, r) in orders() {
        deals.entry(&r.deal_id).or_default().push((g, r));
    }
    assert!(deals.len() > 1000);
    for (id, evs) in &deals {
        assert!(
            matches!(evs[0].1.payload, OrderEvent::LeadPosted(_)),
            "{id} starts with {}",
            evs[0].1.payload.type_name()
        );
        let mut max_stage = 0;
        let mut invoices = std::collections::HashSet::new();
        let mut last_on_time = i64::MIN;
        for (g, r) in evs {
            let s = stage(&r.payload);
            assert!(
                s <= max_stage + 1,
                "{id}: {} after stage {max_stage}",
                r.payload.type_name()
            );
            max_stage = max_stage.max(s);
            match &r.payload {
                OrderEvent::InvoiceIssued(i) => {
                    invoices.insert(i.invoice_id.clone());
                }
                OrderEvent::PaymentSettled(p) => assert!(
                    invoices.contains(&p.invoice_id),
                    "{id}: payment before its invoice"
                ),
                _ => {}
            }
            // Events that arrived on time are in event-time order.
            if g.append_ts - r.occurred_at < HOUR_MS {
                assert!(
                    r.occurred_at >= last_on_time,
                    "{id}: {} goes back in time",
                    r.payload.type_name()
                );
                last_on_time = r.occurred_at;
            }
        }
        // At most one lead, proposal and contract per deal.
        for t in [
            "LeadPosted",
            "ProposalSubmitted",
            "ContractSigned",
            "ContractEnded",
        ] {
            assert!(
                evs.iter().filter(|e| e.1.payload.type_name() == t).count() <= 1,
                "{id} has several {t}"
            );
        }
    }
}

#[test]
fn segments_and_response_rates_match_the_seed() {
    let mut seg: BTreeMap<ClientSegment, f64> = BTreeMap::new();
    let mut platform_of: HashMap<&str, &str> = HashMap::new();
    let mut proposals: BTreeMap<&str, f64> = BTreeMap::new();
    let mut answers: BTreeMap<&str, f64> = BTreeMap::new();
    let mut leads = 0.0;
    for (_, r) in orders() {
        match &r.payload {
            OrderEvent::LeadPosted(l) => {
                *seg.entry(l.client_segment).or_default() += 1.0;
                leads += 1.0;
                platform_of.insert(&r.deal_id, &l.platform);
            }
            OrderEvent::ProposalSubmitted(_) => {
                *proposals
                    .entry(platform_of[r.deal_id.as_str()])
                    .or_default() += 1.0
            }
            OrderEvent::ClientResponded(c) if c.response != Response::NoResponse => {
                *answers.entry(platform_of[r.deal_id.as_str()]).or_default() += 1.0
            }
            _ => {}
        }
    }
    for (s, want) in [
        (ClientSegment::Startup, 0.41),
        (ClientSegment::CrossBorderSaas, 0.29),
        (ClientSegment::BlockchainInfra, 0.18),
        (ClientSegment::Other, 0.12),
    ] {
        let got = seg[&s] / leads;
        assert!((got - want).abs() < 0.025, "{s}: {got}");
    }
    for (p, want, tol) in [
        ("upwork", 0.38, 0.04),
        ("toptal", 0.62, 0.06),
        ("clouddevs", 0.79, 0.06),
    ] {
        // Proposals of the last week may not have an answer yet: compare with a small allowance.
        let got = answers[p] / proposals[p];
        assert!((got - want).abs() < tol, "{p}: {got} of {}", proposals[p]);
    }
}

#[test]
fn first_answers_come_within_the_platform_limits() {
    let mut platform_of: HashMap<&str, &str> = HashMap::new();
    let mut proposed: HashMap<&str, i64> = HashMap::new();
    let mut n = 0;
    for (_, r) in orders() {
        match &r.payload {
            OrderEvent::LeadPosted(l) => {
                platform_of.insert(&r.deal_id, &l.platform);
            }
            OrderEvent::ProposalSubmitted(_) => {
                proposed.insert(&r.deal_id, r.occurred_at);
            }
            OrderEvent::ClientResponded(c) if c.response != Response::NoResponse => {
                let wait = r.occurred_at - proposed[r.deal_id.as_str()];
                let limit = match platform_of[r.deal_id.as_str()] {
                    "codingmart" => 2 * HOUR_MS,
                    "proginn" => 12 * HOUR_MS,
                    "oschina_crowd" => 24 * HOUR_MS,
                    _ => 6 * DAY_MS,
                };
                assert!(wait > 0 && wait <= limit, "{} waited {wait} ms", r.deal_id);
                n += 1;
            }
            _ => {}
        }
    }
    assert!(n > 500);
}

#[test]
fn contracts_follow_the_income_mix_and_currency_rules() {
    let mut mix: BTreeMap<IncomeType, f64> = BTreeMap::new();
    let mut n = 0.0;
    for (_, r) in orders() {
        if let OrderEvent::ContractSigned(c) = &r.payload {
            *mix.entry(c.income_type).or_default() += 1.0;
            n += 1.0;
            let cn = matches!(
                c.platform.as_str(),
                "codingmart" | "oschina_crowd" | "proginn"
            );
            assert_eq!(c.currency, if cn { "CNY" } else { "USD" });
            match c.tax_regime {
                TaxRegime::None => assert!(!cn),
                TaxRegime::CnLaborRemuneration => assert!(cn),
                TaxRegime::CnBusinessIncome => {
                    assert!(cn && c.income_type == IncomeType::Consulting)
                }
            }
            if c.income_type == IncomeType::Sponsorship {
                assert!(matches!(
                    c.platform.as_str(),
                    "github_sponsors" | "opencollective"
                ));
                let a = c.amount.unwrap();
                assert!(a >= Decimal::from(900) && a <= Decimal::from(1500), "{a}");
            }
            assert_eq!(
                c.pricing_model == PricingModel::Hourly,
                c.hourly_rate.is_some()
            );
        }
    }
    for (t, want) in [
        (IncomeType::Project, 0.63),
        (IncomeType::Consulting, 0.22),
        (IncomeType::Sponsorship, 0.15),
    ] {
        let got = mix[&t] / n;
        assert!((got - want).abs() < 0.06, "{t}: {got} of {n}");
    }
}

#[test]
fn effective_work_is_about_five_point_two_hours_a_day() {
    let mut days: HashMap<(&str, chrono::NaiveDate), (Decimal, Decimal)> = HashMap::new();
    for (_, r) in orders() {
        if let OrderEvent::WorkLogged(w) = &r.payload {
            let e = days.entry((&w.freelancer_id, w.work_date)).or_default();
            e.0 += w.hours;
            if matches!(w.activity, Activity::Coding | Activity::Testing) {
                e.1 += w.hours;
            }
        }
    }
    let full: Vec<f64> = days
        .values()
        .filter(|(t, _)| *t >= Decimal::from(6))
        .map(|(_, e)| e.to_string().parse().unwrap())
        .collect();
    let total: Vec<f64> = days
        .values()
        .filter(|(t, _)| *t >= Decimal::from(6))
        .map(|(t, _)| t.to_string().parse().unwrap())
        .collect();
    let mean = full.iter().sum::<f64>() / full.len() as f64;
    let mean_total = total.iter().sum::<f64>() / total.len() as f64;
    assert!((mean - 5.2).abs() < 0.25, "effective {mean}");
    assert!((mean_total - 8.0).abs() < 0.6, "total {mean_total}");
    assert!(
        full.len() as f64 > days.len() as f64 * 0.6,
        "most logged days are full days"
    );
}

#[test]
fn delivery_deviation_shrinks_after_the_rework_and_churn_reasons_are_led_by_go_modules() {
    let sc = scenario(&GenConfig::default());
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for (_, r) in orders() {
        match &r.payload {
            OrderEvent::MilestoneDelivered(m) => {
                let dev = (m.delivered_date - m.due_date).num_days() as f64;
                if gigstream_core::time::date_start_ms(m.due_date) < sc.rework_ms {
                    before.push(dev)
                } else {
                    after.push(dev)
                }
            }
            OrderEvent::ContractEnded(e) => {
                if let Some(reason) = &e.churn_reason {
                    *reasons.entry(reason.clone()).or_default() += 1;
                }
            }
            _ => {}
        }
    }
    let sd = |v: &[f64]| (v.iter().map(|x| x * x).sum::<f64>() / v.len() as f64).sqrt();
    assert!(before.len() > 50 && after.len() > 50);
    // Early deliveries are capped by the start date, so the spread before is a little under 17.
    assert!((8.0..20.0).contains(&sd(&before)), "before {}", sd(&before));
    assert!((1.5..3.5).contains(&sd(&after)), "after {}", sd(&after));
    for r in [
        "go_module_incompatibility",
        "single_delivery",
        "budget_cut",
        "communication",
        "quality",
        "price",
    ] {
        assert!(reasons.contains_key(r), "{r} missing: {reasons:?}");
    }
    let churn_only: usize = reasons
        .iter()
        .filter(|(k, _)| k.as_str() != "single_delivery")
        .map(|(_, v)| v)
        .sum();
    assert!(
        reasons["go_module_incompatibility"] * 3 > churn_only,
        "{reasons:?}"
    );
}

#[test]
fn invoices_are_paid_fully_late_partially_or_not_at_all() {
    let end = scenario(&GenConfig::default()).end_ms;
    let mut inv: BTreeMap<&str, (Decimal, i64, i64, Decimal, i64)> = BTreeMap::new();
    for (_, r) in orders() {
        match &r.payload {
            OrderEvent::InvoiceIssued(i) => {
                assert!(
                    i.due_at - i.issued_at == 14 * DAY_MS || i.due_at - i.issued_at == 30 * DAY_MS
                );
                inv.insert(
                    &i.invoice_id,
                    (i.gross, i.issued_at, i.due_at, Decimal::ZERO, 0),
                );
            }
            OrderEvent::PaymentSettled(p) => {
                let e = inv.get_mut(p.invoice_id.as_str()).unwrap();
                e.3 += p.gross;
                e.4 = e.4.max(p.settled_at);
                assert_eq!(r.occurred_at, p.settled_at);
            }
            _ => {}
        }
    }
    // Invoices whose due date passed a month before the end.
    let old: Vec<_> = inv.values().filter(|v| v.2 < end - 30 * DAY_MS).collect();
    let n = old.len() as f64;
    let unpaid = old.iter().filter(|v| v.3.is_zero()).count() as f64 / n;
    let partial = old.iter().filter(|v| !v.3.is_zero() && v.3 < v.0).count() as f64 / n;
    let late = old.iter().filter(|v| v.3 == v.0 && v.4 > v.2).count() as f64 / n;
    assert!(n > 200.0);
    assert!((0.02..0.10).contains(&unpaid), "unpaid {unpaid}");
    assert!((0.01..0.10).contains(&partial), "partial {partial}");
    assert!((0.05..0.25).contains(&late), "late {late}");
    assert!(inv.values().all(|v| date_of(v.1) <= date_of(v.2)));
}
