//! Tests of the whole projection on small hand-built event sequences. Expected rows are worked
//! out by hand in each test, never by calling the code under test.

mod order_rules;
mod orders;
mod replay;
mod usage;

use crate::Billing;
use chrono::NaiveDate;
use gigstream_core::event::*;
use gigstream_core::table::{TableData, Value};
use gigstream_core::time::{days_since_epoch, parse_ts};
use gigstream_core::{Decimal, Event, Projection, RefData, Rejection};

pub(super) fn ts(s: &str) -> i64 {
    parse_ts(s).unwrap()
}

pub(super) fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn order(id: &str, at: &str, deal: &str, payload: OrderEvent) -> Event {
    Event::Order(OrderRecord {
        event_id: id.into(),
        occurred_at: ts(at),
        deal_id: deal.into(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload,
    })
}

/// A ContractSigned: fixed price, unless the platform's hourly cycle is wanted (`hourly`).
#[allow(clippy::too_many_arguments)]
pub(super) fn signed(
    id: &str,
    at: &str,
    deal: &str,
    platform: &str,
    currency: &str,
    regime: TaxRegime,
    hourly: bool,
    cycle: Option<&str>,
) -> Event {
    order(
        id,
        at,
        deal,
        OrderEvent::ContractSigned(ContractSigned {
            contract_id: format!("c-{deal}"),
            freelancer_id: "f-1".into(),
            client_id: "cl-1".into(),
            platform: platform.into(),
            pricing_model: if hourly {
                PricingModel::Hourly
            } else {
                PricingModel::Fixed
            },
            amount: (!hourly).then(|| d("50000")),
            hourly_rate: hourly.then(|| d("80")),
            currency: currency.into(),
            settlement_cycle: cycle.map(Into::into),
            tax_regime: regime,
            income_type: IncomeType::Project,
        }),
    )
}

pub(super) fn invoice(
    id: &str,
    at: &str,
    deal: &str,
    invoice: &str,
    gross: &str,
    currency: &str,
    due: &str,
) -> Event {
    order(
        id,
        at,
        deal,
        OrderEvent::InvoiceIssued(InvoiceIssued {
            invoice_id: invoice.into(),
            gross: d(gross),
            currency: currency.into(),
            issued_at: ts(at),
            due_at: ts(due),
        }),
    )
}

/// A PaymentSettled whose settled_at is its event time.
pub(super) fn payment(
    id: &str,
    at: &str,
    deal: &str,
    invoice: &str,
    gross: &str,
    currency: &str,
) -> Event {
    order(
        id,
        at,
        deal,
        OrderEvent::PaymentSettled(PaymentSettled {
            invoice_id: invoice.into(),
            gross: d(gross),
            currency: currency.into(),
            settled_at: ts(at),
        }),
    )
}

pub(super) fn ended(id: &str, at: &str, deal: &str, contract: &str) -> Event {
    order(
        id,
        at,
        deal,
        OrderEvent::ContractEnded(ContractEnded {
            contract_id: contract.into(),
            outcome: Outcome::Completed,
            churn_reason: None,
        }),
    )
}

pub(super) fn worked(id: &str, at: &str, deal: &str) -> Event {
    order(
        id,
        at,
        deal,
        OrderEvent::WorkLogged(WorkLogged {
            freelancer_id: "f-1".into(),
            work_date: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
            hours: d("5.2"),
            activity: Activity::Coding,
        }),
    )
}

fn usage_event(id: &str, at: &str, sub: &str, payload: UsageEvent) -> Event {
    Event::Usage(UsageRecord {
        event_id: id.into(),
        occurred_at: ts(at),
        subscription_id: sub.into(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload,
    })
}

/// A SubscriptionChanged; the tenant is `t-<sub>` and the service `svc-<sub>`.
pub(super) fn sub_changed(
    id: &str,
    at: &str,
    sub: &str,
    plan: &str,
    status: SubscriptionStatus,
    share: &str,
    settlement: Settlement,
) -> Event {
    usage_event(
        id,
        at,
        sub,
        UsageEvent::SubscriptionChanged(SubscriptionChanged {
            tenant_id: format!("t-{sub}"),
            client_id: "cl-1".into(),
            service_id: format!("svc-{sub}"),
            plan_id: plan.into(),
            status,
            revenue_share_pct: d(share),
            settlement,
        }),
    )
}

pub(super) fn used(id: &str, at: &str, sub: &str, meter: &str, quantity: &str) -> Event {
    usage_event(
        id,
        at,
        sub,
        UsageEvent::UsageRecorded(UsageRecorded {
            tenant_id: format!("t-{sub}"),
            meter: meter.into(),
            quantity: d(quantity),
        }),
    )
}

pub(super) fn probe(id: &str, at_ms: i64, service: &str, ok: bool) -> Event {
    Event::Telemetry(TelemetryRecord {
        event_id: id.into(),
        occurred_at: at_ms,
        service_id: service.into(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload: TelemetryEvent::ProbeResult(ProbeResult {
            probe_region: "eu".into(),
            ok,
            latency_ms: 120,
        }),
    })
}

pub(super) fn request(id: &str, at: &str, service: &str) -> Event {
    Event::Telemetry(TelemetryRecord {
        event_id: id.into(),
        occurred_at: ts(at),
        service_id: service.into(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload: TelemetryEvent::RequestObserved(RequestObserved {
            tenant_id: "t-1".into(),
            route: "/v1".into(),
            method: "GET".into(),
            status_code: 500,
            latency_ms: 900,
        }),
    })
}

pub(super) fn run(events: &[Event]) -> Billing {
    let rd = RefData::builtin();
    let mut b = Billing::new(&rd);
    for e in events {
        b.apply(&rd, e)
            .unwrap_or_else(|r| panic!("event {} rejected: {r}", e.event_id()));
    }
    b
}

pub(super) fn tables(b: &Billing) -> Vec<TableData> {
    let tables = b.tables(&RefData::builtin());
    for t in &tables {
        t.check().unwrap();
    }
    tables
}

pub(super) fn table<'a>(tables: &'a [TableData], name: &str) -> &'a TableData {
    tables
        .iter()
        .find(|t| t.def.name == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

/// The named cells of every row, for readable assertions.
pub(super) fn rows(t: &TableData, columns: &[&str]) -> Vec<Vec<Value>> {
    let idx: Vec<usize> = columns
        .iter()
        .map(|c| {
            t.def
                .column_index(c)
                .unwrap_or_else(|| panic!("{} has no {c}", t.def.name))
        })
        .collect();
    t.rows
        .iter()
        .map(|r| idx.iter().map(|i| r[*i].clone()).collect())
        .collect()
}

/// Value helpers for expected rows.
pub(super) fn s(v: &str) -> Value {
    Value::Str(v.into())
}
pub(super) fn m(v: &str) -> Value {
    Value::Dec(d(v))
}
pub(super) fn date(v: &str) -> Value {
    Value::Date(days_since_epoch(
        NaiveDate::parse_from_str(v, "%Y-%m-%d").unwrap(),
    ))
}

/// Applies `e`, expects the rejection `code`, and checks that the state did not change.
pub(super) fn assert_rejected(b: &mut Billing, e: &Event, code: &str) -> Rejection {
    let rd = RefData::builtin();
    let before = rmp_serde::to_vec(b).unwrap();
    let tables_before = b.tables(&rd);
    let r = b.apply(&rd, e).expect_err("event should be rejected");
    assert_eq!(r.code, code, "{r}");
    assert!(
        r.detail.contains(e.event_id()),
        "detail names the event: {r}"
    );
    assert_eq!(
        rmp_serde::to_vec(b).unwrap(),
        before,
        "state changed by rejected {}",
        e.event_id()
    );
    assert_eq!(b.tables(&rd), tables_before);
    r
}

/// Asserts that every table is unique on and sorted by its key.
pub(super) fn assert_sorted_unique(tables: &[TableData]) {
    for t in tables {
        let keys: Vec<Vec<String>> = t
            .rows
            .iter()
            .map(|r| {
                t.def
                    .key
                    .iter()
                    .map(|k| format!("{:?}", sort_key(&r[t.def.column_index(k).unwrap()])))
                    .collect()
            })
            .collect();
        for w in keys.windows(2) {
            assert!(
                w[0] < w[1],
                "{} not sorted/unique: {:?} then {:?}",
                t.def.name,
                w[0],
                w[1]
            );
        }
    }
}

/// A string that sorts like the value (dates and numbers zero-padded).
fn sort_key(v: &Value) -> String {
    match v {
        Value::Str(s) => s.clone(),
        Value::Date(d) => format!("{d:010}"),
        Value::U32(n) => format!("{n:010}"),
        other => format!("{other:?}"),
    }
}
