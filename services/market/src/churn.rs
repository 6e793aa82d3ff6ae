//! Why and when contracts end: per month, outcome and churn reason, with the average
//! engagement length. Rendered from the deals (each keeps its signing and ending).

use crate::deal::Deal;
use crate::tables;
use chrono::NaiveDate;
use gigstream_core::table::{TableData, Value};
use gigstream_core::time::{date_of, month_start, DAY_MS};
use gigstream_core::Decimal;
use rust_decimal::RoundingStrategy;
use std::collections::BTreeMap;

const WEEK_MS: i64 = 7 * DAY_MS;

/// The exact mean of `n` durations summing to `total_ms`, without overflow: every duration fits
/// an `i64`, so the integer part of the mean does too, and the remainder is below `n`.
fn mean_ms(total_ms: i128, n: u64) -> Decimal {
    let n128 = i128::from(n.max(1));
    let whole = i64::try_from(total_ms / n128).unwrap_or(i64::MAX);
    let rem = u64::try_from(total_ms % n128).unwrap_or(0);
    Decimal::from(whole) + Decimal::from(rem) / Decimal::from(n.max(1))
}

pub fn churn_table(deals: &BTreeMap<String, Deal>) -> TableData {
    // month × outcome × reason → (contracts, summed engagement ms)
    let mut by_key: BTreeMap<(NaiveDate, &str, &str), (u64, i128)> = BTreeMap::new();
    for deal in deals.values() {
        let (Some(c), Some(end)) = (&deal.contract, &deal.ending) else {
            continue;
        };
        let key = (
            month_start(date_of(end.ended_at)),
            end.outcome.as_str(),
            end.churn_reason.as_str(),
        );
        let cell = by_key.entry(key).or_default();
        cell.0 += 1;
        // Clamped at zero: producers' clocks may be slightly out of step.
        cell.1 += i128::from((end.ended_at - c.signed_at).max(0));
    }
    let rows = by_key
        .into_iter()
        .map(|((month, outcome, reason), (n, ms))| {
            let avg_weeks = mean_ms(ms, n) / Decimal::from(WEEK_MS);
            vec![
                Value::from(month),
                Value::from(outcome),
                Value::from(reason),
                Value::U64(n),
                Value::Dec(
                    avg_weeks.round_dp_with_strategy(4, RoundingStrategy::MidpointAwayFromZero),
                ),
            ]
        })
        .collect();
    tables::finish(&tables::CHURN, rows)
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    #[test]
    fn mean_keeps_the_remainder() {
        assert_eq!(super::mean_ms(3, 2), dec("1.5"));
        assert_eq!(super::mean_ms(10, 4), dec("2.5"));
        // Two durations near i64::MAX: their sum needs an i128, their mean does not.
        let big = i128::from(i64::MAX - 1);
        assert_eq!(
            super::mean_ms(2 * big, 2),
            gigstream_core::Decimal::from(i64::MAX - 1)
        );
    }

    #[test]
    fn ended_contracts_per_month_outcome_and_reason() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_churn");
        assert_eq!(t.rows.len(), 2);
        // d3: signed 03-04 09:00, churned 03-20 09:00: 16 days = 2.28571 weeks.
        assert_row(
            t,
            &[
                date("2026-03-01"),
                s("churned"),
                s("go_module_incompatibility"),
            ],
            &[
                ("contracts_ended", Value::U64(1)),
                ("avg_engagement_weeks", Value::Dec(dec("2.2857"))),
            ],
        );
        // d1: 29 days (696 h); d4: 03-10 11:00 to 04-15 00:00 = 35 days 13 h (853 h).
        // Mean (696 + 853) / 2 = 774.5 h = 774.5 / 168 weeks = 4.61012 weeks.
        assert_row(
            t,
            &[date("2026-04-01"), s("completed"), s("")],
            &[
                ("contracts_ended", Value::U64(2)),
                ("avg_engagement_weeks", Value::Dec(dec("4.6101"))),
            ],
        );
    }
}
