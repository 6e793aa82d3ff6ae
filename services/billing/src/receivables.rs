//! Receivables: what each invoice still owes and how late it is.
//!
//! Aging is measured at the projection's "as of" time, the newest event time billing has seen,
//! never the wall clock, so replaying the same events gives the same rows. Aging counts calendar
//! days, so a row carries the UTC day it was aged on, not the instant: an open invoice's row
//! changes once a day, not at every commit, and a paid invoice's row carries the day of its
//! last payment and no longer changes at all. A commit then rewrites the open invoices on the
//! first event of a new day and otherwise only the invoices its events touched, not every
//! invoice of the history.

use crate::orders::Deal;
use crate::tables::RECEIVABLES;
use gigstream_core::table::{datetime_ms, TableData};
use gigstream_core::time::{date_of, date_start_ms};
use gigstream_core::Decimal;
use std::collections::BTreeMap;

/// An invoice's aging bucket and days overdue at `as_of`.
///
/// Days overdue count UTC calendar days from the due date to the as-of date, so an invoice due
/// today is still `current`. `paid` wins whenever nothing is outstanding (or it was overpaid).
pub fn aging(outstanding: Decimal, due_at: i64, as_of: i64) -> (&'static str, i64) {
    if outstanding <= Decimal::ZERO {
        return ("paid", 0);
    }
    let days = (date_of(as_of) - date_of(due_at)).num_days();
    let bucket = match days {
        i64::MIN..=0 => return ("current", 0),
        1..=30 => "1-30",
        31..=60 => "31-60",
        61..=90 => "61-90",
        _ => "90+",
    };
    (bucket, days)
}

/// `billing_receivables`, one row per invoice, sorted by (deal_id, invoice_id).
pub(crate) fn receivables_table(deals: &BTreeMap<String, Deal>, as_of: i64) -> TableData {
    let mut t = TableData::new(&RECEIVABLES);
    for (deal_id, deal) in deals {
        for (invoice_id, inv) in &deal.invoices {
            let outstanding = inv.gross - inv.paid;
            let (bucket, days) = aging(outstanding, inv.due_at, as_of);
            let aged_on = if outstanding <= Decimal::ZERO {
                inv.last_paid_at.unwrap_or(inv.issued_at).min(as_of)
            } else {
                as_of
            };
            t.push(vec![
                deal_id.as_str().into(),
                invoice_id.as_str().into(),
                deal.contract.contract_id.as_str().into(),
                deal.contract.platform.as_str().into(),
                inv.currency.as_str().into(),
                datetime_ms(inv.issued_at),
                datetime_ms(inv.due_at),
                inv.gross.into(),
                inv.paid.into(),
                outstanding.into(),
                inv.payments.into(),
                inv.last_paid_at.map(datetime_ms).into(),
                days.into(),
                bucket.into(),
                datetime_ms(date_start_ms(date_of(aged_on))),
            ]);
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use gigstream_core::time::parse_ts;

    fn ts(s: &str) -> i64 {
        parse_ts(s).unwrap()
    }

    #[test]
    fn buckets_by_calendar_days_overdue() {
        let due = ts("2026-01-31T12:00:00Z");
        let owed = Decimal::from(100);
        assert_eq!(aging(owed, due, ts("2026-01-20T00:00:00Z")), ("current", 0));
        // Later on the due date itself: not overdue yet.
        assert_eq!(aging(owed, due, ts("2026-01-31T23:59:59Z")), ("current", 0));
        assert_eq!(aging(owed, due, ts("2026-02-01T00:00:00Z")), ("1-30", 1));
        assert_eq!(aging(owed, due, ts("2026-03-02T00:00:00Z")), ("1-30", 30));
        assert_eq!(aging(owed, due, ts("2026-03-03T00:00:00Z")), ("31-60", 31));
        assert_eq!(aging(owed, due, ts("2026-04-01T00:00:00Z")), ("31-60", 60));
        assert_eq!(aging(owed, due, ts("2026-04-02T00:00:00Z")), ("61-90", 61));
        assert_eq!(aging(owed, due, ts("2026-05-01T00:00:00Z")), ("61-90", 90));
        assert_eq!(aging(owed, due, ts("2026-05-02T00:00:00Z")), ("90+", 91));
        assert_eq!(
            aging(Decimal::ZERO, due, ts("2026-05-02T00:00:00Z")),
            ("paid", 0)
        );
        assert_eq!(
            aging(Decimal::from(-5), due, ts("2026-05-02T00:00:00Z")),
            ("paid", 0)
        );
    }
}
