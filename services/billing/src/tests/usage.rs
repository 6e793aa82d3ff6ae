//! Usage: charges per period and meter, revenue share, SLA credits, state machine rejections.

use super::*;
use gigstream_core::time::MINUTE_MS;
use Settlement::*;
use SubscriptionStatus::*;

/// Two subscriptions, worked by hand with the plans of `reference/plans.toml`:
///
/// - s1 on api-growth (USD), tenant share 70%, daily. 2026-03-02: api_calls 60,000 + 60,000 =
///   120,000 (first 100,000 free, 20,000 × 0.0008 = 16.00); seats 3, 5, 4 → max 5 × 15 = 75.00;
///   compute_hours 10.5 × 0.12 = 1.26. Revenue 92.26: tenant 64.582 → 64.58, studio 27.68.
///   2026-03-03: api_calls 1,000 → 0.00 (free tier), revenue 0, not payable (0 is not > 0).
/// - s2 on api-scale (USD, payout only above $1,000), share 85%, weekly. Week of 2026-03-02:
///   api_calls 2,000,000 (volume: all at 0.0004) = 800.00; compute_hours 600 (500 × 0.10 +
///   100 × 0.08) = 58.00; licenses 12 (2 packages × 99) = 198.00. Revenue 1,056.00 > 1,000:
///   tenant 897.60, studio 158.40, payable. Week of 03-09 (in grace period): api_calls 500,000
///   × 0.0006 = 300.00, tenant 255.00, not payable. Week of 03-30: api_calls 100,000 on
///   2026-04-01 = 60.00, tenant 51.00, not payable; it starts in March so counts there.
pub(super) fn subscriptions() -> Vec<Event> {
    vec![
        sub_changed(
            "u-1",
            "2026-03-02T00:30:00Z",
            "s2",
            "api-scale",
            Created,
            "85",
            Weekly,
        ),
        sub_changed(
            "u-2",
            "2026-03-02T01:00:00Z",
            "s1",
            "api-growth",
            Created,
            "70",
            Daily,
        ),
        sub_changed(
            "u-3",
            "2026-03-02T01:00:00Z",
            "s2",
            "api-scale",
            Active,
            "85",
            Weekly,
        ),
        sub_changed(
            "u-4",
            "2026-03-02T02:00:00Z",
            "s1",
            "api-growth",
            Active,
            "70",
            Daily,
        ),
        used("u-5", "2026-03-02T10:00:00Z", "s1", "api_calls", "60000"),
        used("u-6", "2026-03-02T11:00:00Z", "s1", "api_calls", "60000"),
        used("u-7", "2026-03-02T12:00:00Z", "s1", "seats", "3"),
        used("u-8", "2026-03-02T13:00:00Z", "s1", "seats", "5"),
        used("u-9", "2026-03-02T14:00:00Z", "s1", "seats", "4"),
        used(
            "u-10",
            "2026-03-02T15:00:00Z",
            "s1",
            "compute_hours",
            "10.5",
        ),
        used("u-11", "2026-03-03T09:00:00Z", "s1", "api_calls", "1000"),
        used("u-12", "2026-03-04T09:00:00Z", "s2", "api_calls", "2000000"),
        used("u-13", "2026-03-05T09:00:00Z", "s2", "compute_hours", "600"),
        used("u-14", "2026-03-06T09:00:00Z", "s2", "licenses", "12"),
        sub_changed(
            "u-15",
            "2026-03-09T00:00:00Z",
            "s2",
            "api-scale",
            GracePeriod,
            "85",
            Weekly,
        ),
        used("u-16", "2026-03-10T09:00:00Z", "s2", "api_calls", "500000"),
        sub_changed(
            "u-17",
            "2026-03-11T00:00:00Z",
            "s2",
            "api-scale",
            Active,
            "85",
            Weekly,
        ),
        used("u-18", "2026-04-01T09:00:00Z", "s2", "api_calls", "100000"),
    ]
}

/// 30 minutes of svc-s2 where the only probe failed, one minute with a failed and an ok probe
/// (available), and ignored telemetry.
pub(super) fn probes() -> Vec<Event> {
    let start = ts("2026-03-10T00:00:00Z");
    let mut v: Vec<Event> = (0..30)
        .map(|i| probe(&format!("t-{i}"), start + i * MINUTE_MS, "svc-s2", false))
        .collect();
    v.push(probe(
        "t-mixed-1",
        ts("2026-03-10T01:00:00Z"),
        "svc-s2",
        false,
    ));
    v.push(probe(
        "t-mixed-2",
        ts("2026-03-10T01:00:30Z"),
        "svc-s2",
        true,
    ));
    v.push(request("t-req", "2026-03-10T02:00:00Z", "svc-s2"));
    v
}

#[test]
fn usage_charges_per_period_and_meter() {
    let t = tables(&run(&subscriptions()));
    let got = rows(
        table(&t, "billing_usage_charges"),
        &[
            "subscription_id",
            "period_start",
            "period_end",
            "plan_id",
            "meter",
            "settlement",
            "aggregation",
            "usage_records",
            "quantity",
            "pricing_model",
            "charge",
            "currency",
        ],
    );
    #[allow(clippy::too_many_arguments)]
    let row = |sub: &str,
               from: &str,
               to: &str,
               plan: &str,
               meter: &str,
               st: &str,
               agg: &str,
               n: u64,
               q: &str,
               model: &str,
               c: &str| {
        vec![
            s(sub),
            date(from),
            date(to),
            s(plan),
            s(meter),
            s(st),
            s(agg),
            Value::U64(n),
            m(q),
            s(model),
            m(c),
            s("USD"),
        ]
    };
    assert_eq!(
        got,
        vec![
            row(
                "s1",
                "2026-03-02",
                "2026-03-02",
                "api-growth",
                "api_calls",
                "daily",
                "sum",
                2,
                "120000",
                "graduated",
                "16.00"
            ),
            row(
                "s1",
                "2026-03-02",
                "2026-03-02",
                "api-growth",
                "compute_hours",
                "daily",
                "sum",
                1,
                "10.5",
                "per_unit",
                "1.26"
            ),
            row(
                "s1",
                "2026-03-02",
                "2026-03-02",
                "api-growth",
                "seats",
                "daily",
                "max",
                3,
                "5",
                "per_unit",
                "75.00"
            ),
            row(
                "s1",
                "2026-03-03",
                "2026-03-03",
                "api-growth",
                "api_calls",
                "daily",
                "sum",
                1,
                "1000",
                "graduated",
                "0"
            ),
            row(
                "s2",
                "2026-03-02",
                "2026-03-08",
                "api-scale",
                "api_calls",
                "weekly",
                "sum",
                1,
                "2000000",
                "volume",
                "800"
            ),
            row(
                "s2",
                "2026-03-02",
                "2026-03-08",
                "api-scale",
                "compute_hours",
                "weekly",
                "sum",
                1,
                "600",
                "graduated",
                "58"
            ),
            row(
                "s2",
                "2026-03-02",
                "2026-03-08",
                "api-scale",
                "licenses",
                "weekly",
                "max",
                1,
                "12",
                "package",
                "198"
            ),
            row(
                "s2",
                "2026-03-09",
                "2026-03-15",
                "api-scale",
                "api_calls",
                "weekly",
                "sum",
                1,
                "500000",
                "volume",
                "300"
            ),
            row(
                "s2",
                "2026-03-30",
                "2026-04-05",
                "api-scale",
                "api_calls",
                "weekly",
                "sum",
                1,
                "100000",
                "volume",
                "60"
            ),
        ]
    );
    let who = rows(
        table(&t, "billing_usage_charges"),
        &["tenant_id", "service_id"],
    );
    assert_eq!(who[0], vec![s("t-s1"), s("svc-s1")]);
    assert_eq!(who[4], vec![s("t-s2"), s("svc-s2")]);
    assert_sorted_unique(&t);
}

#[test]
fn revenue_share_per_period() {
    let t = tables(&run(&subscriptions()));
    let got = rows(
        table(&t, "billing_revenue_share"),
        &[
            "subscription_id",
            "period_start",
            "period_end",
            "revenue",
            "revenue_share_pct",
            "tenant_share",
            "studio_share",
            "payout_threshold",
            "payable",
            "tenant_amount_payable",
        ],
    );
    let row = |sub: &str,
               from: &str,
               to: &str,
               rev: &str,
               pct: f64,
               ten: &str,
               stu: &str,
               thr: &str,
               pay: u8,
               amt: &str| {
        vec![
            s(sub),
            date(from),
            date(to),
            m(rev),
            Value::F64(pct),
            m(ten),
            m(stu),
            m(thr),
            Value::U8(pay),
            m(amt),
        ]
    };
    assert_eq!(
        got,
        vec![
            row(
                "s1",
                "2026-03-02",
                "2026-03-02",
                "92.26",
                70.0,
                "64.58",
                "27.68",
                "0",
                1,
                "64.58"
            ),
            row(
                "s1",
                "2026-03-03",
                "2026-03-03",
                "0",
                70.0,
                "0",
                "0",
                "0",
                0,
                "0"
            ),
            row(
                "s2",
                "2026-03-02",
                "2026-03-08",
                "1056",
                85.0,
                "897.60",
                "158.40",
                "1000",
                1,
                "897.60"
            ),
            row(
                "s2",
                "2026-03-09",
                "2026-03-15",
                "300",
                85.0,
                "255",
                "45",
                "1000",
                0,
                "0"
            ),
            row(
                "s2",
                "2026-03-30",
                "2026-04-05",
                "60",
                85.0,
                "51",
                "9",
                "1000",
                0,
                "0"
            ),
        ]
    );
}

#[test]
fn sla_credits_follow_the_services_probe_uptime() {
    let mut events = subscriptions();
    events.extend(probes());
    let b = run(&events);
    let t = tables(&b);
    let cols = [
        "subscription_id",
        "month",
        "service_id",
        "charges",
        "probed_minutes",
        "unavailable_minutes",
        "credit_pct",
        "credit",
        "charge_after_credit",
    ];
    let got = rows(table(&t, "billing_sla_credits"), &cols);
    // March has 44,640 minutes; 30 down: 99.9328% < 99.95% target, ≥ 99% → 10% of 1,416.00.
    assert_eq!(
        got,
        vec![
            vec![
                s("s1"),
                date("2026-03-01"),
                s("svc-s1"),
                m("92.26"),
                Value::U64(0),
                Value::U64(0),
                Value::U32(0),
                m("0"),
                m("92.26")
            ],
            vec![
                s("s2"),
                date("2026-03-01"),
                s("svc-s2"),
                m("1416"),
                Value::U64(31),
                Value::U64(30),
                Value::U32(10),
                m("141.60"),
                m("1274.40")
            ],
        ]
    );
    let up = rows(
        table(&t, "billing_sla_credits"),
        &["uptime_pct", "target_pct"],
    );
    let Value::F64(uptime) = up[1][0] else {
        panic!("uptime is a float")
    };
    assert!(
        (uptime - (100.0 - 30.0 * 100.0 / 44640.0)).abs() < 1e-9,
        "{uptime}"
    );
    assert_eq!(up[1][1], Value::F64(99.95));
    assert_eq!(up[0][0], Value::F64(100.0));

    // Late probes of March (500 more down minutes, 530 in all: 98.81%) move s2 to the 25% tier.
    let rd = RefData::builtin();
    let mut b = b;
    let start = ts("2026-03-20T00:00:00Z");
    for i in 0..500 {
        b.apply(
            &rd,
            &probe(&format!("late-{i}"), start + i * MINUTE_MS, "svc-s2", false),
        )
        .unwrap();
    }
    let t = tables(&b);
    let got = rows(
        table(&t, "billing_sla_credits"),
        &[
            "subscription_id",
            "unavailable_minutes",
            "credit_pct",
            "credit",
            "charge_after_credit",
        ],
    );
    assert_eq!(
        got[1],
        vec![
            s("s2"),
            Value::U64(530),
            Value::U32(25),
            m("354.00"),
            m("1062.00")
        ]
    );
}

#[test]
fn a_settlement_change_mid_week_keeps_periods_apart() {
    let events = vec![
        sub_changed(
            "u-1",
            "2026-03-02T00:00:00Z",
            "s1",
            "api-growth",
            Created,
            "70",
            Daily,
        ),
        used("u-2", "2026-03-02T10:00:00Z", "s1", "compute_hours", "10"),
        // Tuesday: switch to weekly; the week of Monday 2026-03-02 starts the same day as the
        // daily period but is a different period.
        sub_changed(
            "u-3",
            "2026-03-03T00:00:00Z",
            "s1",
            "api-growth",
            Created,
            "60",
            Weekly,
        ),
        used("u-4", "2026-03-03T10:00:00Z", "s1", "compute_hours", "20"),
        used("u-5", "2026-03-05T10:00:00Z", "s1", "compute_hours", "5"),
        // Late: from Monday, when the subscription was still daily.
        used("u-6", "2026-03-02T20:00:00Z", "s1", "compute_hours", "1"),
    ];
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_revenue_share"),
        &[
            "period_start",
            "period_end",
            "settlement",
            "revenue",
            "tenant_share",
        ],
    );
    assert_eq!(
        got,
        vec![
            // 10 + 1 (late) = 11 × 0.12 = 1.32, 70% = 0.924 → 0.92.
            vec![
                date("2026-03-02"),
                date("2026-03-02"),
                s("daily"),
                m("1.32"),
                m("0.92")
            ],
            // 25 × 0.12 = 3.00, 60% = 1.80.
            vec![
                date("2026-03-02"),
                date("2026-03-08"),
                s("weekly"),
                m("3.00"),
                m("1.80")
            ],
        ]
    );
    assert_sorted_unique(&t);
}

#[test]
fn a_plan_change_prices_each_plans_usage_with_its_own_tiers() {
    let events = vec![
        sub_changed(
            "u-1",
            "2026-03-01T00:00:00Z",
            "s1",
            "api-growth",
            Created,
            "50",
            Monthly,
        ),
        used("u-2", "2026-03-02T00:00:00Z", "s1", "api_calls", "150000"), // 50,000 × 0.0008 = 40
        sub_changed(
            "u-3",
            "2026-03-10T00:00:00Z",
            "s1",
            "api-scale",
            Active,
            "50",
            Monthly,
        ),
        used("u-4", "2026-03-12T00:00:00Z", "s1", "api_calls", "150000"), // volume: × 0.0006 = 90
    ];
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_usage_charges"),
        &["plan_id", "meter", "pricing_model", "charge"],
    );
    assert_eq!(
        got,
        vec![
            vec![s("api-growth"), s("api_calls"), s("graduated"), m("40")],
            vec![s("api-scale"), s("api_calls"), s("volume"), m("90")]
        ]
    );
    // One period, one revenue: 130 under api-scale's $1,000 threshold, so not payable.
    let got = rows(
        table(&t, "billing_revenue_share"),
        &["plan_id", "revenue", "tenant_share", "payable"],
    );
    assert_eq!(
        got,
        vec![vec![s("api-scale"), m("130"), m("65"), Value::U8(0)]]
    );
}

#[test]
fn usage_rule_failures_are_rejected_and_change_nothing() {
    let mut b = run(&subscriptions());
    let rd = RefData::builtin();
    let r = assert_rejected(
        &mut b,
        &used("x-1", "2026-03-20T00:00:00Z", "s9", "api_calls", "1"),
        "unknown_subscription",
    );
    assert!(r.detail.contains("s9"), "{r}");
    let r = assert_rejected(
        &mut b,
        &used("x-2", "2026-03-20T00:00:00Z", "s1", "licenses", "1"),
        "unknown_meter",
    );
    assert!(
        r.detail.contains("licenses") && r.detail.contains("api-growth"),
        "{r}"
    );
    // api-growth (USD) to saas-cn (CNY) would mix currencies in one subscription.
    assert_rejected(
        &mut b,
        &sub_changed(
            "x-3",
            "2026-03-20T00:00:00Z",
            "s1",
            "saas-cn",
            Active,
            "70",
            Daily,
        ),
        "plan_currency_mismatch",
    );
    // Active cannot go back to created, nor straight to cancelled.
    assert_rejected(
        &mut b,
        &sub_changed(
            "x-4",
            "2026-03-20T00:00:00Z",
            "s1",
            "api-growth",
            Created,
            "70",
            Daily,
        ),
        "invalid_transition",
    );
    assert_rejected(
        &mut b,
        &sub_changed(
            "x-5",
            "2026-03-20T00:00:00Z",
            "s1",
            "api-growth",
            Cancelled,
            "70",
            Daily,
        ),
        "invalid_transition",
    );
    // A new subscription must start as created.
    assert_rejected(
        &mut b,
        &sub_changed(
            "x-6",
            "2026-03-20T00:00:00Z",
            "s3",
            "api-growth",
            Active,
            "70",
            Daily,
        ),
        "invalid_transition",
    );
    // Usage naming another tenant.
    let mut other = used("x-7", "2026-03-20T00:00:00Z", "s1", "api_calls", "1");
    if let Event::Usage(UsageRecord {
        payload: UsageEvent::UsageRecorded(u),
        ..
    }) = &mut other
    {
        u.tenant_id = "t-other".into();
    }
    assert_rejected(&mut b, &other, "subscription_mismatch");

    // Grace period → cancelled; then usage and reactivation are refused.
    for e in [
        sub_changed(
            "u-20",
            "2026-03-20T00:00:00Z",
            "s1",
            "api-growth",
            GracePeriod,
            "70",
            Daily,
        ),
        sub_changed(
            "u-21",
            "2026-03-21T00:00:00Z",
            "s1",
            "api-growth",
            Cancelled,
            "70",
            Daily,
        ),
    ] {
        b.apply(&rd, &e).unwrap();
    }
    let r = assert_rejected(
        &mut b,
        &used("x-8", "2026-03-22T00:00:00Z", "s1", "api_calls", "1"),
        "subscription_cancelled",
    );
    assert!(r.detail.contains("s1"), "{r}");
    assert_rejected(
        &mut b,
        &sub_changed(
            "x-9",
            "2026-03-22T00:00:00Z",
            "s1",
            "api-growth",
            Active,
            "70",
            Daily,
        ),
        "invalid_transition",
    );
    // Usage from before the subscription existed.
    let r = assert_rejected(
        &mut b,
        &used("x-10", "2026-03-01T23:00:00Z", "s1", "api_calls", "1"),
        "usage_before_subscription",
    );
    assert!(r.detail.contains("s1"), "{r}");
    // The cancelled subscription's past periods are still billed, and a late record of usage
    // from before the cancellation still counts: compute_hours 2 × 0.12 on 2026-03-20.
    b.apply(
        &rd,
        &used("u-22", "2026-03-20T12:00:00Z", "s1", "compute_hours", "2"),
    )
    .unwrap();
    let t = tables(&b);
    let got = rows(
        table(&t, "billing_revenue_share"),
        &["subscription_id", "period_start", "revenue"],
    );
    assert_eq!(got.len(), 6);
    assert_eq!(got[2], vec![s("s1"), date("2026-03-20"), m("0.24")]);
}
