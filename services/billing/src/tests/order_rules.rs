//! Orders: business-rule rejections and overpayments.

use super::orders::deals;
use super::*;

const NO_TAX: TaxRegime = TaxRegime::None;

#[test]
fn business_rule_failures_are_rejected_and_change_nothing() {
    let rd = RefData::builtin();
    let mut b = run(&deals());
    // Payment on a deal never signed.
    let r = assert_rejected(
        &mut b,
        &payment("x-1", "2026-03-20T00:00:00Z", "d-9", "inv-9", "10", "CNY"),
        "unknown_contract",
    );
    assert!(r.detail.contains("d-9"), "{r}");
    // Payment of an invoice the deal never issued.
    let r = assert_rejected(
        &mut b,
        &payment("x-2", "2026-03-20T00:00:00Z", "d-1", "inv-9", "10", "CNY"),
        "unknown_invoice",
    );
    assert!(
        r.detail.contains("inv-9") && r.detail.contains("d-1"),
        "{r}"
    );
    // Invoice and payment in another currency than the contract's.
    let r = assert_rejected(
        &mut b,
        &invoice(
            "x-3",
            "2026-03-20T00:00:00Z",
            "d-1",
            "inv-2",
            "10",
            "USD",
            "2026-04-01T00:00:00Z",
        ),
        "currency_mismatch",
    );
    assert!(
        r.detail.contains("inv-2") && r.detail.contains("c-d-1"),
        "{r}"
    );
    assert_rejected(
        &mut b,
        &payment("x-4", "2026-03-20T00:00:00Z", "d-1", "inv-1", "10", "USD"),
        "currency_mismatch",
    );
    // Invoice before the contract.
    assert_rejected(
        &mut b,
        &invoice(
            "x-5",
            "2026-03-20T00:00:00Z",
            "d-9",
            "inv-9",
            "10",
            "CNY",
            "2026-04-01T00:00:00Z",
        ),
        "unknown_contract",
    );
    // The same invoice twice, a second contract on a deal, the end of another contract.
    assert_rejected(
        &mut b,
        &invoice(
            "x-6",
            "2026-03-20T00:00:00Z",
            "d-1",
            "inv-1",
            "10",
            "CNY",
            "2026-04-01T00:00:00Z",
        ),
        "duplicate_invoice",
    );
    assert_rejected(
        &mut b,
        &signed(
            "x-7",
            "2026-03-20T00:00:00Z",
            "d-1",
            "upwork",
            "CNY",
            NO_TAX,
            false,
            None,
        ),
        "contract_already_signed",
    );
    assert_rejected(
        &mut b,
        &ended("x-8", "2026-03-20T00:00:00Z", "d-1", "c-other"),
        "unknown_contract",
    );
    assert_rejected(
        &mut b,
        &payment(
            "x-9",
            "2026-03-20T00:00:00Z",
            "d-1",
            "inv-1",
            "1000000000000000.01",
            "CNY",
        ),
        "amount_out_of_range",
    );
    // A rejected event does not move the as-of time either.
    assert_eq!(b.as_of(), Some(ts("2026-03-15T00:00:00Z")));
    // And the state still takes valid events afterwards.
    b.apply(
        &rd,
        &payment("p-9", "2026-03-20T00:00:00Z", "d-1", "inv-1", "2000", "CNY"),
    )
    .unwrap();
    let t = tables(&b);
    let got = rows(
        table(&t, "billing_receivables"),
        &["invoice_id", "outstanding", "aging_bucket"],
    );
    assert_eq!(got[0], vec![s("inv-1"), m("0"), s("paid")]);
}

#[test]
fn overpayment_is_kept_and_shows_a_negative_outstanding() {
    let mut events = deals();
    events.push(payment(
        "p-9",
        "2026-03-16T00:00:00Z",
        "d-4",
        "inv-4",
        "5200",
        "CNY",
    ));
    let t = tables(&run(&events));
    let got = rows(
        table(&t, "billing_receivables"),
        &["invoice_id", "paid", "outstanding", "aging_bucket"],
    );
    assert_eq!(got[3], vec![s("inv-4"), m("5200"), m("-200"), s("paid")]);
}
