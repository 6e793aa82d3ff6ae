//! Orders: payments, monthly sums, payouts, receivables, business-income estimate.

use super::*;

const LABOR: TaxRegime = TaxRegime::CnLaborRemuneration;
const BUSINESS: TaxRegime = TaxRegime::CnBusinessIncome;
const NO_TAX: TaxRegime = TaxRegime::None;

/// Four deals, worked by hand:
///
/// - d-1 codingmart (25%, monthly payout), CNY, 劳务报酬. Invoice inv-1 ¥20,000 due 2026-01-20.
///   p-1 ¥10,000 on 2026-01-25: fee 2,500; base 7,500 → taxable 6,000 → tax 1,200; net 6,300;
///   due 2026-02-01. p-2 ¥8,000 on 2026-02-03: fee 2,000; base 6,000 → 4,800 → tax 960;
///   net 5,040; due 2026-03-01.
/// - d-2 upwork (10% since 2023-05-03, hourly → T+10, withholds), USD, no tax. inv-a $1,500;
///   p-a $1,500 on 2026-01-30: fee 150, net 1,350, due 2026-02-09.
/// - d-3 oschina_crowd (15%), contract cycle T+3, CNY, business income. inv-3 ¥40,000;
///   p-3 on 2026-02-10: fee 6,000, tax 0, net 34,000, due 2026-02-13.
/// - d-4 direct, CNY, no tax: inv-4 ¥5,000 due 2026-01-10, never paid.
///
/// The newest event is a WorkLogged at 2026-03-15T00:00Z: that is the as-of time.
pub(super) fn deals() -> Vec<Event> {
    vec![
        signed(
            "e-1",
            "2026-01-02T09:00:00Z",
            "d-1",
            "codingmart",
            "CNY",
            LABOR,
            false,
            None,
        ),
        signed(
            "e-2",
            "2026-01-03T09:00:00Z",
            "d-2",
            "upwork",
            "USD",
            NO_TAX,
            true,
            None,
        ),
        invoice(
            "e-3",
            "2026-01-05T09:00:00Z",
            "d-1",
            "inv-1",
            "20000",
            "CNY",
            "2026-01-20T00:00:00Z",
        ),
        signed(
            "e-4",
            "2026-01-06T09:00:00Z",
            "d-4",
            "direct",
            "CNY",
            NO_TAX,
            false,
            None,
        ),
        invoice(
            "e-5",
            "2026-01-07T09:00:00Z",
            "d-4",
            "inv-4",
            "5000",
            "CNY",
            "2026-01-10T00:00:00Z",
        ),
        invoice(
            "e-6",
            "2026-01-20T09:00:00Z",
            "d-2",
            "inv-a",
            "1500",
            "USD",
            "2026-02-01T00:00:00Z",
        ),
        payment(
            "p-1",
            "2026-01-25T10:00:00Z",
            "d-1",
            "inv-1",
            "10000",
            "CNY",
        ),
        payment("p-a", "2026-01-30T10:00:00Z", "d-2", "inv-a", "1500", "USD"),
        signed(
            "e-7",
            "2026-02-01T09:00:00Z",
            "d-3",
            "oschina_crowd",
            "CNY",
            BUSINESS,
            false,
            Some("T+3"),
        ),
        payment("p-2", "2026-02-03T10:00:00Z", "d-1", "inv-1", "8000", "CNY"),
        invoice(
            "e-8",
            "2026-02-05T09:00:00Z",
            "d-3",
            "inv-3",
            "40000",
            "CNY",
            "2026-03-01T00:00:00Z",
        ),
        payment(
            "p-3",
            "2026-02-10T10:00:00Z",
            "d-3",
            "inv-3",
            "40000",
            "CNY",
        ),
        ended("e-9", "2026-02-11T10:00:00Z", "d-3", "c-d-3"),
        worked("e-10", "2026-03-15T00:00:00Z", "d-1"),
    ]
}

#[test]
fn payments_table_rows() {
    let t = tables(&run(&deals()));
    let p = table(&t, "billing_payments");
    let got = rows(
        p,
        &[
            "settle_date",
            "payment_event_id",
            "deal_id",
            "platform",
            "currency",
            "gross",
            "platform_fee",
            "tax_regime",
            "tax",
            "tax_withheld_by_platform",
            "net",
            "settlement_cycle",
            "due_date",
        ],
    );
    let row = |day: &str,
               id: &str,
               deal: &str,
               pf: &str,
               cur: &str,
               g: &str,
               fee: &str,
               reg: &str,
               tax: &str,
               w: u8,
               net: &str,
               cyc: &str,
               due: &str| {
        vec![
            date(day),
            s(id),
            s(deal),
            s(pf),
            s(cur),
            m(g),
            m(fee),
            s(reg),
            m(tax),
            Value::U8(w),
            m(net),
            s(cyc),
            date(due),
        ]
    };
    assert_eq!(
        got,
        vec![
            row(
                "2026-01-25",
                "p-1",
                "d-1",
                "codingmart",
                "CNY",
                "10000",
                "2500",
                "cn_labor_remuneration",
                "1200",
                0,
                "6300",
                "monthly",
                "2026-02-01"
            ),
            row(
                "2026-01-30",
                "p-a",
                "d-2",
                "upwork",
                "USD",
                "1500",
                "150",
                "none",
                "0",
                1,
                "1350",
                "T+10",
                "2026-02-09"
            ),
            row(
                "2026-02-03",
                "p-2",
                "d-1",
                "codingmart",
                "CNY",
                "8000",
                "2000",
                "cn_labor_remuneration",
                "960",
                0,
                "5040",
                "monthly",
                "2026-03-01"
            ),
            row(
                "2026-02-10",
                "p-3",
                "d-3",
                "oschina_crowd",
                "CNY",
                "40000",
                "6000",
                "cn_business_income",
                "0",
                0,
                "34000",
                "T+3",
                "2026-02-13"
            ),
        ]
    );
    let ratios = rows(p, &["fee_pct", "take_home_ratio", "pricing_model"]);
    assert_eq!(
        ratios[0],
        vec![Value::F64(25.0), Value::F64(0.63), s("fixed")]
    );
    assert_eq!(
        ratios[1],
        vec![Value::F64(10.0), Value::F64(0.9), s("hourly")]
    );
    assert_eq!(
        ratios[3],
        vec![Value::F64(15.0), Value::F64(0.85), s("fixed")]
    );
    assert_sorted_unique(&t);
}

#[test]
fn monthly_and_settlements_due() {
    let t = tables(&run(&deals()));
    let monthly = rows(
        table(&t, "billing_monthly"),
        &[
            "month",
            "platform",
            "currency",
            "payments",
            "gross",
            "platform_fee",
            "tax",
            "net",
            "take_home_ratio",
        ],
    );
    let mrow = |mo: &str, pf: &str, cur: &str, g: &str, fee: &str, tax: &str, net: &str, r: f64| {
        vec![
            date(mo),
            s(pf),
            s(cur),
            Value::U64(1),
            m(g),
            m(fee),
            m(tax),
            m(net),
            Value::F64(r),
        ]
    };
    assert_eq!(
        monthly,
        vec![
            mrow(
                "2026-01-01",
                "codingmart",
                "CNY",
                "10000",
                "2500",
                "1200",
                "6300",
                0.63
            ),
            mrow(
                "2026-01-01",
                "upwork",
                "USD",
                "1500",
                "150",
                "0",
                "1350",
                0.9
            ),
            mrow(
                "2026-02-01",
                "codingmart",
                "CNY",
                "8000",
                "2000",
                "960",
                "5040",
                0.63
            ),
            mrow(
                "2026-02-01",
                "oschina_crowd",
                "CNY",
                "40000",
                "6000",
                "0",
                "34000",
                0.85
            ),
        ]
    );
    let due = rows(
        table(&t, "billing_settlements_due"),
        &[
            "due_date", "platform", "currency", "payments", "gross", "net_due",
        ],
    );
    let drow = |day: &str, pf: &str, cur: &str, g: &str, net: &str| {
        vec![date(day), s(pf), s(cur), Value::U64(1), m(g), m(net)]
    };
    assert_eq!(
        due,
        vec![
            drow("2026-02-01", "codingmart", "CNY", "10000", "6300"),
            drow("2026-02-09", "upwork", "USD", "1500", "1350"),
            drow("2026-02-13", "oschina_crowd", "CNY", "40000", "34000"),
            drow("2026-03-01", "codingmart", "CNY", "8000", "5040"),
        ]
    );
}

#[test]
fn two_payments_in_one_month_add_up() {
    let mut events = deals();
    // A second codingmart payment in January: ¥2,000 → fee 500, base 1,500 → (1,500 − 800) × 20%
    // = 140, net 1,360. January codingmart: 12,000 / 3,000 / 1,340 / 7,660.
    events.push(payment(
        "p-4",
        "2026-01-28T10:00:00Z",
        "d-1",
        "inv-1",
        "2000",
        "CNY",
    ));
    let t = tables(&run(&events));
    let monthly = rows(
        table(&t, "billing_monthly"),
        &[
            "month",
            "platform",
            "payments",
            "gross",
            "platform_fee",
            "tax",
            "net",
        ],
    );
    assert_eq!(
        monthly[0],
        vec![
            date("2026-01-01"),
            s("codingmart"),
            Value::U64(2),
            m("12000"),
            m("3000"),
            m("1340"),
            m("7660")
        ]
    );
    let due = rows(
        table(&t, "billing_settlements_due"),
        &["due_date", "platform", "payments", "net_due"],
    );
    assert_eq!(
        due[0],
        vec![
            date("2026-02-01"),
            s("codingmart"),
            Value::U64(2),
            m("7660")
        ]
    );
}

#[test]
fn receivables_age_against_the_newest_event_time() {
    let b = run(&deals());
    assert_eq!(b.as_of(), Some(ts("2026-03-15T00:00:00Z")));
    let t = tables(&b);
    let got = rows(
        table(&t, "billing_receivables"),
        &[
            "deal_id",
            "invoice_id",
            "currency",
            "gross_invoiced",
            "paid",
            "outstanding",
            "payments",
            "days_overdue",
            "aging_bucket",
        ],
    );
    // inv-1: due 2026-01-20, 54 days before 2026-03-15 (11 + 28 + 15) with ¥2,000 left.
    // inv-4: due 2026-01-10, 64 days (21 + 28 + 15), nothing paid.
    assert_eq!(
        got,
        vec![
            vec![
                s("d-1"),
                s("inv-1"),
                s("CNY"),
                m("20000"),
                m("18000"),
                m("2000"),
                Value::U64(2),
                Value::I64(54),
                s("31-60")
            ],
            vec![
                s("d-2"),
                s("inv-a"),
                s("USD"),
                m("1500"),
                m("1500"),
                m("0"),
                Value::U64(1),
                Value::I64(0),
                s("paid")
            ],
            vec![
                s("d-3"),
                s("inv-3"),
                s("CNY"),
                m("40000"),
                m("40000"),
                m("0"),
                Value::U64(1),
                Value::I64(0),
                s("paid")
            ],
            vec![
                s("d-4"),
                s("inv-4"),
                s("CNY"),
                m("5000"),
                m("0"),
                m("5000"),
                Value::U64(0),
                Value::I64(64),
                s("61-90")
            ],
        ]
    );
    let times = rows(
        table(&t, "billing_receivables"),
        &["as_of", "last_paid_at", "due_at"],
    );
    let secs = |s: &str| Value::DateTime(ts(s) / 1000);
    assert_eq!(
        times[0],
        vec![
            secs("2026-03-15T00:00:00Z"),
            secs("2026-02-03T10:00:00Z"),
            secs("2026-01-20T00:00:00Z")
        ]
    );
    assert_eq!(times[3][1], Value::Null);
}

#[test]
fn aging_moves_with_event_time_not_the_wall_clock() {
    let mut events = deals();
    events.pop(); // without the 2026-03-15 event the newest is p-3's 2026-02-10 and e-9's 02-11
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_receivables"),
        &["invoice_id", "days_overdue", "aging_bucket"],
    );
    // inv-1: 2026-01-20 → 2026-02-11 = 22 days; inv-4: 2026-01-10 → 2026-02-11 = 32 days.
    assert_eq!(got[0], vec![s("inv-1"), Value::I64(22), s("1-30")]);
    assert_eq!(got[3], vec![s("inv-4"), Value::I64(32), s("31-60")]);
}

#[test]
fn business_income_estimate() {
    let mut events = deals();
    // A USD business-income contract: shown, but without a CNY-table estimate.
    events.push(signed(
        "e-20",
        "2026-02-01T09:00:00Z",
        "d-5",
        "direct",
        "USD",
        BUSINESS,
        false,
        None,
    ));
    events.push(invoice(
        "e-21",
        "2026-02-02T09:00:00Z",
        "d-5",
        "inv-5",
        "700",
        "USD",
        "2026-02-20T00:00:00Z",
    ));
    events.push(payment(
        "p-5",
        "2026-02-03T09:00:00Z",
        "d-5",
        "inv-5",
        "700",
        "USD",
    ));
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_business_income_estimate"),
        &[
            "year",
            "currency",
            "payments",
            "gross",
            "platform_fee",
            "income_estimate",
            "tax_rate_pct_estimate",
            "quick_deduction_estimate",
            "tax_estimate",
            "after_tax_income_estimate",
        ],
    );
    // ¥40,000 − 6,000 = 34,000 falls in the 30,000–90,000 bracket: 10% − 1,500 = 1,900.
    assert_eq!(
        got,
        vec![
            vec![
                Value::U32(2026),
                s("CNY"),
                Value::U64(1),
                m("40000"),
                m("6000"),
                m("34000"),
                Value::F64(10.0),
                m("1500"),
                m("1900"),
                m("32100")
            ],
            vec![
                Value::U32(2026),
                s("USD"),
                Value::U64(1),
                m("700"),
                m("0"),
                m("700"),
                Value::Null,
                Value::Null,
                Value::Null,
                Value::Null
            ],
        ]
    );
}

#[test]
fn upwork_fee_follows_the_schedule_by_settle_date() {
    let events = vec![
        signed(
            "e-1",
            "2023-04-01T09:00:00Z",
            "d-1",
            "upwork",
            "CNY",
            LABOR,
            false,
            None,
        ),
        invoice(
            "e-2",
            "2023-04-02T09:00:00Z",
            "d-1",
            "inv-1",
            "40000",
            "CNY",
            "2023-06-01T00:00:00Z",
        ),
        // 2023-05-02: 20%: fee 4,000, base 16,000 → 12,800 × 20% = 2,560, net 13,440.
        payment(
            "p-1",
            "2023-05-02T23:00:00Z",
            "d-1",
            "inv-1",
            "20000",
            "CNY",
        ),
        // 2023-05-03: 10%: fee 2,000, base 18,000 → 14,400 × 20% = 2,880, net 15,120.
        payment(
            "p-2",
            "2023-05-03T01:00:00Z",
            "d-1",
            "inv-1",
            "20000",
            "CNY",
        ),
    ];
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_payments"),
        &[
            "payment_event_id",
            "platform_fee",
            "tax",
            "net",
            "due_date",
            "tax_withheld_by_platform",
        ],
    );
    assert_eq!(
        got[0],
        vec![
            s("p-1"),
            m("4000"),
            m("2560"),
            m("13440"),
            date("2023-05-03"),
            Value::U8(1)
        ]
    );
    assert_eq!(
        got[1],
        vec![
            s("p-2"),
            m("2000"),
            m("2880"),
            m("15120"),
            date("2023-05-04"),
            Value::U8(1)
        ]
    );
}

/// A receivable's row changes when its invoice does or when the aging day moves, not with
/// every newer event: a commit rewrites the invoices it touched (and the open ones once a day),
/// not every invoice of the history. A paid invoice's row is final.
#[test]
fn receivable_rows_change_with_the_day_not_with_every_event() {
    let receivables = |events: &[Event]| -> Vec<Vec<Value>> {
        let t = tables(&run(events));
        table(&t, "billing_receivables").rows.clone()
    };
    let mut events = deals();
    let before = receivables(&events);
    // Later the same day: no row changes.
    events.push(worked("e-11", "2026-03-15T18:30:00Z", "d-1"));
    assert_eq!(receivables(&events), before);
    // The next day: the open invoices are aged a day more; the paid ones (inv-a, inv-3) keep
    // the row they had, as_of the day of their last payment.
    events.push(worked("e-12", "2026-03-16T08:00:00Z", "d-1"));
    let after = receivables(&events);
    let by_id = |rows: &[Vec<Value>], id: &str| -> Vec<Value> {
        rows.iter()
            .find(|r| r[1] == Value::Str(id.into()))
            .unwrap_or_else(|| panic!("no row for {id}"))
            .clone()
    };
    for paid in ["inv-a", "inv-3"] {
        assert_eq!(by_id(&after, paid), by_id(&before, paid), "{paid}");
    }
    let secs = |s: &str| Value::DateTime(ts(s) / 1000);
    assert_eq!(by_id(&after, "inv-a")[14], secs("2026-01-30T00:00:00Z"));
    let (open_before, open_after) = (by_id(&before, "inv-4"), by_id(&after, "inv-4"));
    assert_eq!(open_before[14], secs("2026-03-15T00:00:00Z"));
    assert_eq!(open_after[14], secs("2026-03-16T00:00:00Z"));
    assert_eq!(
        open_after[12],
        Value::I64(65),
        "one day more overdue than 64"
    );
}
