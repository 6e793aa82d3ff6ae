//! Event builders, a hand-checkable scenario and table lookups for the tests.

use crate::Market;
use gigstream_core::event::*;
use gigstream_core::table::{TableData, Value};
use gigstream_core::time::parse_ts;
use gigstream_core::{Decimal, Event, Projection, RefData};

pub fn ts(s: &str) -> i64 {
    parse_ts(s).unwrap()
}

pub fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

pub fn date(s: &str) -> Value {
    Value::from(s.parse::<chrono::NaiveDate>().unwrap())
}

pub fn order(deal: &str, at: &str, payload: OrderEvent) -> Event {
    Event::Order(OrderRecord {
        event_id: format!("{deal}/{}/{at}", payload.type_name()),
        occurred_at: ts(at),
        deal_id: deal.to_string(),
        schema_version: SCHEMA_VERSION,
        trace_id: None,
        payload,
    })
}

pub fn lead(
    deal: &str,
    at: &str,
    platform: &str,
    seg: ClientSegment,
    cat: &str,
    tags: &[&str],
    cur: &str,
) -> Event {
    order(
        deal,
        at,
        OrderEvent::LeadPosted(LeadPosted {
            platform: platform.into(),
            client_id: format!("client-{deal}"),
            client_segment: seg,
            client_country: "US".into(),
            category: cat.into(),
            skill_tags: tags.iter().map(|t| t.to_string()).collect(),
            budget_min: dec("0"),
            budget_max: dec("100000"),
            currency: cur.into(),
        }),
    )
}

pub fn proposal(
    deal: &str,
    at: &str,
    who: &str,
    quote: &str,
    cur: &str,
    model: PricingModel,
) -> Event {
    order(
        deal,
        at,
        OrderEvent::ProposalSubmitted(ProposalSubmitted {
            freelancer_id: who.into(),
            quote: dec(quote),
            currency: cur.into(),
            pricing_model: model,
            estimated_hours: dec("40"),
        }),
    )
}

pub fn respond(deal: &str, at: &str, who: &str, response: Response) -> Event {
    order(
        deal,
        at,
        OrderEvent::ClientResponded(ClientResponded {
            freelancer_id: who.into(),
            response,
        }),
    )
}

/// A contract; `amount` is the total for fixed work and the hourly rate for hourly work.
pub fn sign(
    deal: &str,
    at: &str,
    contract: &str,
    who: &str,
    model: PricingModel,
    amount: &str,
    cur: &str,
) -> Event {
    let (amount, hourly_rate) = match model {
        PricingModel::Hourly => (None, Some(dec(amount))),
        _ => (Some(dec(amount)), None),
    };
    order(
        deal,
        at,
        OrderEvent::ContractSigned(ContractSigned {
            contract_id: contract.into(),
            freelancer_id: who.into(),
            client_id: format!("client-{deal}"),
            platform: "upwork".into(),
            pricing_model: model,
            amount,
            hourly_rate,
            currency: cur.into(),
            settlement_cycle: None,
            tax_regime: TaxRegime::None,
            income_type: IncomeType::Project,
        }),
    )
}

pub fn work(deal: &str, at: &str, who: &str, day: &str, hours: &str, activity: Activity) -> Event {
    order(
        deal,
        at,
        OrderEvent::WorkLogged(WorkLogged {
            freelancer_id: who.into(),
            work_date: day.parse().unwrap(),
            hours: dec(hours),
            activity,
        }),
    )
}

pub fn end(deal: &str, at: &str, contract: &str, outcome: Outcome, reason: Option<&str>) -> Event {
    order(
        deal,
        at,
        OrderEvent::ContractEnded(ContractEnded {
            contract_id: contract.into(),
            outcome,
            churn_reason: reason.map(str::to_string),
        }),
    )
}

/// The scenario the table tests compute by hand, one list of events per deal in log order.
///
/// - d1: upwork, startup, data_sync, tags gin/kafka/postgresql, USD. Proposal by f1 (fixed
///   1000) on 03-02 10:00, interview 16:00 (6 h), signed 03-03 10:00 for 950, hours, completed
///   2026-04-01 10:00 (29 days).
/// - d2: upwork, cross_border_saas, observability, tags prometheus/kafka. Hourly proposal 60
///   on 03-02 12:00, declined 03-03 00:00 (12 h).
/// - d3: codingmart, startup, cli_tool, no tags, CNY. Proposals f2 8000 (09:00) and f1 7000
///   (09:30) on 03-03, no_response, interview 11:00 (2 h after the first proposal), signed by
///   f1 on 03-04 09:00 for 7200, churned 03-20 09:00 (16 days).
/// - d4: upwork, startup, data_sync, tag gin. Lead 03-09, proposal f2 1200, interview after
///   4 h, signed 03-10 11:00 for 1100, completed 2026-04-15 00:00 (35 days 13 h).
/// - d5: upwork, startup, tag gin, a lead a year earlier (2025-03-03, ISO 2025-W10).
/// - d6: upwork, other, data_sync, tag grpc. Lead 03-05, proposal 500, only no_response.
/// - d7: upwork, startup, tag gin, a lead on 03-04 without a proposal.
pub fn scenario() -> Vec<Vec<Event>> {
    use Activity::*;
    use ClientSegment::*;
    use PricingModel::*;
    vec![
        vec![
            lead(
                "d1",
                "2026-03-02T09:00:00Z",
                "upwork",
                Startup,
                "data_sync",
                &["kafka", "gin", "postgresql", "gin"],
                "USD",
            ),
            proposal("d1", "2026-03-02T10:00:00Z", "f1", "1000.00", "USD", Fixed),
            respond("d1", "2026-03-02T16:00:00Z", "f1", Response::Interview),
            sign(
                "d1",
                "2026-03-03T10:00:00Z",
                "c1",
                "f1",
                Fixed,
                "950.00",
                "USD",
            ),
            work(
                "d1",
                "2026-03-05T20:00:00Z",
                "f1",
                "2026-03-04",
                "5.5",
                Coding,
            ),
            work(
                "d1",
                "2026-03-05T20:00:01Z",
                "f1",
                "2026-03-04",
                "1.5",
                Communication,
            ),
            work(
                "d1",
                "2026-03-05T20:00:02Z",
                "f1",
                "2026-03-05",
                "2",
                Testing,
            ),
            work(
                "d1",
                "2026-03-05T20:00:03Z",
                "f1",
                "2026-03-05",
                "0.5",
                Invoicing,
            ),
            end("d1", "2026-04-01T10:00:00Z", "c1", Outcome::Completed, None),
        ],
        vec![
            lead(
                "d2",
                "2026-03-02T11:00:00Z",
                "upwork",
                CrossBorderSaas,
                "observability",
                &["prometheus", "kafka"],
                "USD",
            ),
            proposal("d2", "2026-03-02T12:00:00Z", "f1", "60", "USD", Hourly),
            respond("d2", "2026-03-03T00:00:00Z", "f1", Response::Declined),
        ],
        vec![
            lead(
                "d3",
                "2026-03-03T08:00:00Z",
                "codingmart",
                Startup,
                "cli_tool",
                &[],
                "CNY",
            ),
            proposal("d3", "2026-03-03T09:00:00Z", "f2", "8000", "CNY", Fixed),
            proposal("d3", "2026-03-03T09:30:00Z", "f1", "7000", "CNY", Fixed),
            respond("d3", "2026-03-03T10:00:00Z", "f2", Response::NoResponse),
            respond("d3", "2026-03-03T11:00:00Z", "f1", Response::Interview),
            sign(
                "d3",
                "2026-03-04T09:00:00Z",
                "c3",
                "f1",
                Fixed,
                "7200",
                "CNY",
            ),
            work(
                "d3",
                "2026-03-04T20:00:00Z",
                "f1",
                "2026-03-04",
                "4",
                Coding,
            ),
            end(
                "d3",
                "2026-03-20T09:00:00Z",
                "c3",
                Outcome::Churned,
                Some("go_module_incompatibility"),
            ),
        ],
        vec![
            lead(
                "d4",
                "2026-03-09T10:00:00Z",
                "upwork",
                Startup,
                "data_sync",
                &["gin"],
                "USD",
            ),
            proposal("d4", "2026-03-09T11:00:00Z", "f2", "1200", "USD", Fixed),
            respond("d4", "2026-03-09T15:00:00Z", "f2", Response::Interview),
            sign(
                "d4",
                "2026-03-10T11:00:00Z",
                "c4",
                "f2",
                Fixed,
                "1100",
                "USD",
            ),
            work(
                "d4",
                "2026-03-10T20:00:00Z",
                "f2",
                "2026-03-10",
                "3",
                Coding,
            ),
            work(
                "d4",
                "2026-03-10T20:00:01Z",
                "f2",
                "2026-03-10",
                "1",
                Negotiation,
            ),
            end("d4", "2026-04-15T00:00:00Z", "c4", Outcome::Completed, None),
        ],
        vec![lead(
            "d5",
            "2025-03-03T10:00:00Z",
            "upwork",
            Startup,
            "data_sync",
            &["gin"],
            "USD",
        )],
        vec![
            lead(
                "d6",
                "2026-03-05T10:00:00Z",
                "upwork",
                Other,
                "data_sync",
                &["grpc"],
                "USD",
            ),
            proposal("d6", "2026-03-05T11:00:00Z", "f1", "500", "USD", Fixed),
            respond("d6", "2026-03-12T11:00:00Z", "f1", Response::NoResponse),
        ],
        vec![lead(
            "d7",
            "2026-03-04T12:00:00Z",
            "upwork",
            Startup,
            "cli_tool",
            &["gin"],
            "USD",
        )],
    ]
}

/// Every deal's events, deal after deal.
pub fn in_deal_order(deals: &[Vec<Event>]) -> Vec<Event> {
    deals.iter().flatten().cloned().collect()
}

/// A pseudo-random interleaving that keeps each deal's own order (a small LCG, so the test is
/// deterministic without a dependency).
pub fn interleave(deals: &[Vec<Event>], seed: u64) -> Vec<Event> {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = vec![0usize; deals.len()];
    let mut out = Vec::new();
    loop {
        let open: Vec<usize> = (0..deals.len())
            .filter(|&i| next[i] < deals[i].len())
            .collect();
        if open.is_empty() {
            return out;
        }
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let pick = open[((state >> 33) as usize) % open.len()];
        out.push(deals[pick][next[pick]].clone());
        next[pick] += 1;
    }
}

pub fn run(events: &[Event]) -> Market {
    let rd = RefData::builtin();
    let mut m = Market::new(&rd);
    for e in events {
        m.apply(&rd, e)
            .unwrap_or_else(|r| panic!("{} rejected: {r}", e.event_id()));
    }
    m
}

pub fn tables_of(m: &Market) -> Vec<TableData> {
    m.tables(&RefData::builtin())
}

pub fn table<'a>(tables: &'a [TableData], name: &str) -> &'a TableData {
    tables
        .iter()
        .find(|t| t.def.name == name)
        .unwrap_or_else(|| panic!("no table {name}"))
}

/// The value of column `col` in `row`.
pub fn cell<'a>(t: &TableData, row: &'a [Value], col: &str) -> &'a Value {
    &row[t
        .def
        .column_index(col)
        .unwrap_or_else(|| panic!("{} has no column {col}", t.def.name))]
}

/// The one row whose key columns equal `key` (in the definition's key order).
pub fn row<'a>(t: &'a TableData, key: &[Value]) -> &'a [Value] {
    let idx: Vec<usize> = t
        .def
        .key
        .iter()
        .map(|k| t.def.column_index(k).unwrap())
        .collect();
    let found: Vec<&Vec<Value>> = t
        .rows
        .iter()
        .filter(|r| idx.iter().zip(key).all(|(&i, v)| &r[i] == v))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "rows of {} with key {key:?}: {found:?}",
        t.def.name
    );
    found[0]
}

/// Asserts the non-key columns of the row with `key`, given as (column, value) pairs.
pub fn assert_row(t: &TableData, key: &[Value], expected: &[(&str, Value)]) {
    let r = row(t, key);
    for (col, want) in expected {
        let got = cell(t, r, col);
        match (got, want) {
            (Value::F64(g), Value::F64(w)) => assert!(
                (g - w).abs() < 1e-9,
                "{} {key:?} {col}: {g} != {w}",
                t.def.name
            ),
            _ => assert_eq!(got, want, "{} {key:?} column {col}", t.def.name),
        }
    }
}

pub fn s(v: &str) -> Value {
    Value::from(v)
}
