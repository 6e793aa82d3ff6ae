//! Sample and random events shared by the integration tests.
#![allow(dead_code)]

use chrono::NaiveDate;
use gigstream_core::event::*;
use gigstream_core::{Decimal, Event, Topic};
use rand::Rng;

pub const ORDER_TYPES: [&str; 9] = [
    "LeadPosted",
    "ProposalSubmitted",
    "ClientResponded",
    "ContractSigned",
    "WorkLogged",
    "MilestoneDelivered",
    "InvoiceIssued",
    "PaymentSettled",
    "ContractEnded",
];
pub const USAGE_TYPES: [&str; 2] = ["SubscriptionChanged", "UsageRecorded"];
pub const TELEMETRY_TYPES: [&str; 4] = [
    "RequestObserved",
    "ProbeResult",
    "IncidentOpened",
    "IncidentResolved",
];

pub fn types_of(topic: Topic) -> &'static [&'static str] {
    match topic {
        Topic::Orders => &ORDER_TYPES,
        Topic::Usage => &USAGE_TYPES,
        Topic::Telemetry => &TELEMETRY_TYPES,
    }
}

fn dec(s: &str) -> Decimal {
    s.parse().expect("sample decimal")
}

fn date(s: &str) -> NaiveDate {
    s.parse().expect("sample date")
}

const T0: i64 = 1_772_359_200_000; // 2026-03-01T10:00:00Z

/// The frozen sample of one event type, as a producer of schema `version` would write it.
pub fn sample(topic: Topic, ty: &str, version: i32) -> Event {
    let trace_id = (version >= 2).then(|| format!("trace-{ty}"));
    let event_id = format!("e-{}-{ty}-v{version}", topic.name());
    match topic {
        Topic::Orders => {
            let payload = match ty {
                "LeadPosted" => OrderEvent::LeadPosted(LeadPosted {
                    platform: "codingmart".into(),
                    client_id: "c-码市-7".into(),
                    client_segment: ClientSegment::CrossBorderSaas,
                    client_country: "CN".into(),
                    category: "data_sync".into(),
                    skill_tags: vec!["kafka".into(), "postgresql".into(), "go-zero".into()],
                    budget_min: dec("15000.00"),
                    budget_max: dec("35000.50"),
                    currency: "CNY".into(),
                }),
                "ProposalSubmitted" => OrderEvent::ProposalSubmitted(ProposalSubmitted {
                    freelancer_id: "f-1".into(),
                    quote: dec("85.00"),
                    currency: "USD".into(),
                    pricing_model: PricingModel::Hourly,
                    estimated_hours: dec("120.2500"),
                }),
                "ClientResponded" => OrderEvent::ClientResponded(ClientResponded {
                    freelancer_id: "f-1".into(),
                    response: Response::NoResponse,
                }),
                "ContractSigned" => OrderEvent::ContractSigned(ContractSigned {
                    contract_id: "k-1".into(),
                    freelancer_id: "f-1".into(),
                    client_id: "c-9".into(),
                    platform: "upwork".into(),
                    pricing_model: PricingModel::Hourly,
                    amount: None,
                    hourly_rate: Some(dec("85.00")),
                    currency: "USD".into(),
                    settlement_cycle: Some("weekly".into()),
                    tax_regime: TaxRegime::None,
                    income_type: IncomeType::Consulting,
                }),
                "WorkLogged" => OrderEvent::WorkLogged(WorkLogged {
                    freelancer_id: "f-1".into(),
                    work_date: date("2026-02-27"),
                    hours: dec("5.2000"),
                    activity: Activity::Coding,
                }),
                "MilestoneDelivered" => OrderEvent::MilestoneDelivered(MilestoneDelivered {
                    milestone_id: "m-2".into(),
                    amount: dec("8500.00"),
                    currency: "USD".into(),
                    due_date: date("2026-02-20"),
                    delivered_date: date("2026-03-09"),
                }),
                "InvoiceIssued" => OrderEvent::InvoiceIssued(InvoiceIssued {
                    invoice_id: "inv-3".into(),
                    gross: dec("20000.00"),
                    currency: "CNY".into(),
                    issued_at: T0,
                    due_at: T0 + 30 * 86_400_000,
                }),
                "PaymentSettled" => OrderEvent::PaymentSettled(PaymentSettled {
                    invoice_id: "inv-3".into(),
                    gross: dec("-0.01"),
                    currency: "CNY".into(),
                    settled_at: T0 + 3_600_000,
                }),
                "ContractEnded" => OrderEvent::ContractEnded(ContractEnded {
                    contract_id: "k-1".into(),
                    outcome: Outcome::Churned,
                    churn_reason: Some("go module version incompatibility".into()),
                }),
                other => panic!("no orders sample {other}"),
            };
            Event::Order(OrderRecord {
                event_id,
                occurred_at: T0,
                deal_id: "d-1".into(),
                schema_version: version,
                trace_id,
                payload,
            })
        }
        Topic::Usage => {
            let payload = match ty {
                "SubscriptionChanged" => UsageEvent::SubscriptionChanged(SubscriptionChanged {
                    tenant_id: "t-002".into(),
                    client_id: "c-9".into(),
                    service_id: "svc-sync".into(),
                    plan_id: "pro".into(),
                    status: SubscriptionStatus::GracePeriod,
                    revenue_share_pct: dec("85.0000"),
                    settlement: Settlement::Weekly,
                }),
                "UsageRecorded" => UsageEvent::UsageRecorded(UsageRecorded {
                    tenant_id: "t-001".into(),
                    meter: "compute_hours".into(),
                    quantity: dec("12.3456"),
                }),
                other => panic!("no usage sample {other}"),
            };
            Event::Usage(UsageRecord {
                event_id,
                occurred_at: T0,
                subscription_id: "s-1".into(),
                schema_version: version,
                trace_id,
                payload,
            })
        }
        Topic::Telemetry => {
            let payload = match ty {
                "RequestObserved" => TelemetryEvent::RequestObserved(request("t-001", 503, 287)),
                "ProbeResult" => TelemetryEvent::ProbeResult(ProbeResult {
                    probe_region: "ap-east-1".into(),
                    ok: false,
                    latency_ms: 1200,
                }),
                "IncidentOpened" => TelemetryEvent::IncidentOpened(IncidentOpened {
                    incident_id: "inc-1".into(),
                    severity: Severity::Sev2,
                }),
                "IncidentResolved" => TelemetryEvent::IncidentResolved(IncidentResolved {
                    incident_id: "inc-1".into(),
                    severity: Severity::Sev3,
                }),
                other => panic!("no telemetry sample {other}"),
            };
            Event::Telemetry(TelemetryRecord {
                event_id,
                occurred_at: T0,
                service_id: "svc-sync".into(),
                schema_version: version,
                trace_id,
                payload,
            })
        }
    }
}

pub fn request(tenant: &str, status_code: i32, latency_ms: i32) -> RequestObserved {
    RequestObserved {
        tenant_id: tenant.into(),
        route: "/v1/orders/{id}".into(),
        method: "GET".into(),
        status_code,
        latency_ms,
    }
}

fn text(rng: &mut impl Rng) -> String {
    const PARTS: [&str; 8] = ["a", "Zz", "码市", "ü", "-", "0", "kafka", " "];
    let n = rng.random_range(0..6);
    (0..n)
        .map(|_| PARTS[rng.random_range(0..PARTS.len())])
        .collect()
}

/// A decimal that fits decimal(precision, max_scale), with a random scale up to `max_scale`.
fn decimal(rng: &mut impl Rng, precision: u32, max_scale: u32) -> Decimal {
    let scale = rng.random_range(0..=max_scale);
    let bound = 10_i64.pow(precision - max_scale + scale);
    Decimal::new(rng.random_range(-bound + 1..bound), scale)
}

fn money(rng: &mut impl Rng) -> Decimal {
    decimal(rng, 18, 2)
}

fn qty(rng: &mut impl Rng) -> Decimal {
    decimal(rng, 18, 4)
}

fn day(rng: &mut impl Rng) -> NaiveDate {
    gigstream_core::time::date_from_days(rng.random_range(-30_000..60_000))
}

fn pick<T: Copy>(rng: &mut impl Rng, all: &[T]) -> T {
    all[rng.random_range(0..all.len())]
}

/// A random event of `topic` exercising every field's range (decimals at or below the
/// schema's scale, negative values, dates before 1970, non-ASCII text, absent options).
pub fn random_event(rng: &mut impl Rng, topic: Topic) -> Event {
    let ty = pick(rng, types_of(topic));
    let trace_id = if rng.random::<bool>() {
        Some(text(rng))
    } else {
        None
    };
    let event_id = text(rng);
    let occurred_at = rng.random_range(-10_i64.pow(12)..10_i64.pow(13));
    let key = text(rng);
    let schema_version = 2;
    match topic {
        Topic::Orders => {
            let payload = match ty {
                "LeadPosted" => OrderEvent::LeadPosted(LeadPosted {
                    platform: text(rng),
                    client_id: text(rng),
                    client_segment: pick(rng, ClientSegment::ALL),
                    client_country: text(rng),
                    category: text(rng),
                    skill_tags: (0..rng.random_range(0..4)).map(|_| text(rng)).collect(),
                    budget_min: money(rng),
                    budget_max: money(rng),
                    currency: text(rng),
                }),
                "ProposalSubmitted" => OrderEvent::ProposalSubmitted(ProposalSubmitted {
                    freelancer_id: text(rng),
                    quote: money(rng),
                    currency: text(rng),
                    pricing_model: pick(rng, PricingModel::ALL),
                    estimated_hours: qty(rng),
                }),
                "ClientResponded" => OrderEvent::ClientResponded(ClientResponded {
                    freelancer_id: text(rng),
                    response: pick(rng, Response::ALL),
                }),
                "ContractSigned" => OrderEvent::ContractSigned(ContractSigned {
                    contract_id: text(rng),
                    freelancer_id: text(rng),
                    client_id: text(rng),
                    platform: text(rng),
                    pricing_model: pick(rng, PricingModel::ALL),
                    amount: if rng.random::<bool>() {
                        Some(money(rng))
                    } else {
                        None
                    },
                    hourly_rate: if rng.random::<bool>() {
                        Some(money(rng))
                    } else {
                        None
                    },
                    currency: text(rng),
                    settlement_cycle: if rng.random::<bool>() {
                        Some(text(rng))
                    } else {
                        None
                    },
                    tax_regime: pick(rng, TaxRegime::ALL),
                    income_type: pick(rng, IncomeType::ALL),
                }),
                "WorkLogged" => OrderEvent::WorkLogged(WorkLogged {
                    freelancer_id: text(rng),
                    work_date: day(rng),
                    hours: qty(rng),
                    activity: pick(rng, Activity::ALL),
                }),
                "MilestoneDelivered" => OrderEvent::MilestoneDelivered(MilestoneDelivered {
                    milestone_id: text(rng),
                    amount: money(rng),
                    currency: text(rng),
                    due_date: day(rng),
                    delivered_date: day(rng),
                }),
                "InvoiceIssued" => OrderEvent::InvoiceIssued(InvoiceIssued {
                    invoice_id: text(rng),
                    gross: money(rng),
                    currency: text(rng),
                    issued_at: rng.random(),
                    due_at: rng.random(),
                }),
                "PaymentSettled" => OrderEvent::PaymentSettled(PaymentSettled {
                    invoice_id: text(rng),
                    gross: money(rng),
                    currency: text(rng),
                    settled_at: rng.random(),
                }),
                _ => OrderEvent::ContractEnded(ContractEnded {
                    contract_id: text(rng),
                    outcome: pick(rng, Outcome::ALL),
                    churn_reason: if rng.random::<bool>() {
                        Some(text(rng))
                    } else {
                        None
                    },
                }),
            };
            Event::Order(OrderRecord {
                event_id,
                occurred_at,
                deal_id: key,
                schema_version,
                trace_id,
                payload,
            })
        }
        Topic::Usage => {
            let payload = match ty {
                "SubscriptionChanged" => UsageEvent::SubscriptionChanged(SubscriptionChanged {
                    tenant_id: text(rng),
                    client_id: text(rng),
                    service_id: text(rng),
                    plan_id: text(rng),
                    status: pick(rng, SubscriptionStatus::ALL),
                    revenue_share_pct: decimal(rng, 7, 4),
                    settlement: pick(rng, Settlement::ALL),
                }),
                _ => UsageEvent::UsageRecorded(UsageRecorded {
                    tenant_id: text(rng),
                    meter: text(rng),
                    quantity: qty(rng),
                }),
            };
            Event::Usage(UsageRecord {
                event_id,
                occurred_at,
                subscription_id: key,
                schema_version,
                trace_id,
                payload,
            })
        }
        Topic::Telemetry => {
            let payload = match ty {
                "RequestObserved" => TelemetryEvent::RequestObserved(RequestObserved {
                    tenant_id: text(rng),
                    route: text(rng),
                    method: text(rng),
                    status_code: rng.random(),
                    latency_ms: rng.random(),
                }),
                "ProbeResult" => TelemetryEvent::ProbeResult(ProbeResult {
                    probe_region: text(rng),
                    ok: rng.random(),
                    latency_ms: rng.random(),
                }),
                "IncidentOpened" => TelemetryEvent::IncidentOpened(IncidentOpened {
                    incident_id: text(rng),
                    severity: pick(rng, Severity::ALL),
                }),
                _ => TelemetryEvent::IncidentResolved(IncidentResolved {
                    incident_id: text(rng),
                    severity: pick(rng, Severity::ALL),
                }),
            };
            Event::Telemetry(TelemetryRecord {
                event_id,
                occurred_at,
                service_id: key,
                schema_version,
                trace_id,
                payload,
            })
        }
    }
}

/// The event as a reader sees it after it was written with schema v1 (no `trace_id`).
pub fn as_v1(event: &Event) -> Event {
    let mut e = event.clone();
    match &mut e {
        Event::Order(r) => r.trace_id = None,
        Event::Usage(r) => r.trace_id = None,
        Event::Telemetry(r) => r.trace_id = None,
    }
    e
}

/// apache-avro's generic `Value` of a datum as the core types' JSON (decimals as text at the
/// schema's scale, dates as YYYY-MM-DD, payload branches as `{"Type": {...}}`), so the
/// reference decoder's view can be compared with ours.
pub fn avro_to_json(
    v: &apache_avro::types::Value,
    schema: &apache_avro::Schema,
    names: &std::collections::HashMap<String, apache_avro::Schema>,
) -> serde_json::Value {
    use apache_avro::types::Value as V;
    use apache_avro::Schema as S;
    use serde_json::json;
    let schema = match schema {
        S::Ref { name } => names.get(&name.fullname(None)).expect("ref resolves"),
        s => s,
    };
    match (v, schema) {
        (V::Null, _) => serde_json::Value::Null,
        (V::Boolean(b), _) => json!(b),
        (V::Int(i), _) => json!(i),
        (V::Long(i), _) | (V::TimestampMillis(i), _) => json!(i),
        (V::String(s), _) => json!(s),
        (V::Enum(_, s), _) => json!(s),
        (V::Date(d), _) => json!(gigstream_core::time::date_from_days(*d).to_string()),
        (V::Decimal(d), S::Decimal(ds)) => {
            let bytes: Vec<u8> = d.try_into().expect("decimal bytes");
            let mut unscaled: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
                -1
            } else {
                0
            };
            for b in bytes {
                unscaled = (unscaled << 8) | i128::from(b);
            }
            json!(Decimal::from_i128_with_scale(unscaled, ds.scale as u32).to_string())
        }
        (V::Array(items), S::Array(a)) => serde_json::Value::Array(
            items
                .iter()
                .map(|i| avro_to_json(i, &a.items, names))
                .collect(),
        ),
        (V::Union(i, inner), S::Union(u)) => {
            let branch = &u.variants()[*i as usize];
            match branch {
                S::Record(r) => json!({ r.name.name.clone(): avro_to_json(inner, branch, names) }),
                _ => avro_to_json(inner, branch, names),
            }
        }
        (V::Record(fields), S::Record(r)) => {
            let mut map = serde_json::Map::new();
            for ((name, value), f) in fields.iter().zip(&r.fields) {
                assert_eq!(name, &f.name);
                let j = avro_to_json(value, &f.schema, names);
                if name == "trace_id" && j.is_null() {
                    continue; // the core types skip an absent trace id
                }
                map.insert(name.clone(), j);
            }
            serde_json::Value::Object(map)
        }
        (v, s) => panic!("unexpected value {v:?} for schema {s:?}"),
    }
}

/// Named types of a schema, for resolving `Schema::Ref`.
pub fn named_types(
    schema: &apache_avro::Schema,
) -> std::collections::HashMap<String, apache_avro::Schema> {
    let mut names = std::collections::HashMap::new();
    collect(schema, &mut names);
    names
}

fn collect(
    schema: &apache_avro::Schema,
    names: &mut std::collections::HashMap<String, apache_avro::Schema>,
) {
    use apache_avro::Schema as S;
    match schema {
        S::Record(r) => {
            names.insert(r.name.fullname(None), schema.clone());
            for f in &r.fields {
                collect(&f.schema, names);
            }
        }
        S::Enum(e) => {
            names.insert(e.name.fullname(None), schema.clone());
        }
        S::Union(u) => u.variants().iter().for_each(|v| collect(v, names)),
        S::Array(a) => collect(&a.items, names),
        _ => {}
    }
}
