//! How fast clients answer: per platform, and per day of the first answer.
//!
//! Rendered from the deals (each keeps its first proposal and first answer time), so the
//! quantiles are exact and order-independent.

use crate::deal::Deal;
use crate::prices::nearest_rank;
use crate::tables::{self, ratio};
use chrono::NaiveDate;
use gigstream_core::table::{TableData, Value};
use gigstream_core::time::{date_of, HOUR_MS};
use std::collections::BTreeMap;

fn hours(ms: i64) -> f64 {
    ms as f64 / HOUR_MS as f64
}

/// p50, p90 and mean of the response times, in hours; Null when there are none.
fn stats(mut ms: Vec<i64>) -> [Value; 3] {
    ms.sort_unstable();
    let q = |p| Value::from(nearest_rank(&ms, p).map(hours));
    let mean = if ms.is_empty() {
        Value::Null
    } else {
        let sum: i128 = ms.iter().map(|&m| i128::from(m)).sum();
        Value::F64(sum as f64 / ms.len() as f64 / HOUR_MS as f64)
    };
    [q(50), q(90), mean]
}

#[derive(Default)]
struct PlatformTimes {
    deals_with_proposal: u64,
    response_ms: Vec<i64>,
}

pub fn response_times_table(deals: &BTreeMap<String, Deal>) -> TableData {
    let mut by_platform: BTreeMap<&str, PlatformTimes> = BTreeMap::new();
    for deal in deals.values().filter(|d| !d.proposals.is_empty()) {
        let t = by_platform.entry(deal.lead.platform.as_str()).or_default();
        t.deals_with_proposal += 1;
        t.response_ms.extend(deal.first_response_ms());
    }
    let rows = by_platform
        .into_iter()
        .map(|(platform, t)| {
            let responded = t.response_ms.len() as u64;
            let mut row = vec![
                Value::from(platform),
                Value::U64(t.deals_with_proposal),
                Value::U64(responded),
                ratio(responded, t.deals_with_proposal),
            ];
            row.extend(stats(t.response_ms));
            row
        })
        .collect();
    tables::finish(&tables::RESPONSE_TIMES, rows)
}

pub fn response_times_daily_table(deals: &BTreeMap<String, Deal>) -> TableData {
    let mut by_day: BTreeMap<(NaiveDate, &str), Vec<i64>> = BTreeMap::new();
    for deal in deals.values() {
        if let (Some(at), Some(ms)) = (deal.first_response_at, deal.first_response_ms()) {
            by_day
                .entry((date_of(at), deal.lead.platform.as_str()))
                .or_default()
                .push(ms);
        }
    }
    let rows = by_day
        .into_iter()
        .map(|((day, platform), ms)| {
            let mut row = vec![
                Value::from(day),
                Value::from(platform),
                Value::U64(ms.len() as u64),
            ];
            row.extend(stats(ms));
            row
        })
        .collect();
    tables::finish(&tables::RESPONSE_TIMES_DAILY, rows)
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    #[test]
    fn first_response_times_per_platform_and_day() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let all = table(&t, "market_response_times");
        assert_eq!(all.rows.len(), 2);
        // upwork: d1 6 h, d2 12 h, d4 4 h answered; d6 only got no_response.
        // Sorted 4, 6, 12: p50 rank ceil(1.5) = 2 -> 6; p90 rank ceil(2.7) = 3 -> 12.
        assert_row(
            all,
            &[s("upwork")],
            &[
                ("deals_with_proposal", Value::U64(4)),
                ("responded_deals", Value::U64(3)),
                ("response_share", Value::F64(0.75)),
                ("first_response_p50_hours", Value::F64(6.0)),
                ("first_response_p90_hours", Value::F64(12.0)),
                ("first_response_mean_hours", Value::F64(22.0 / 3.0)),
            ],
        );
        // codingmart: d3 answered 2 h after its first proposal (not its second).
        assert_row(
            all,
            &[s("codingmart")],
            &[
                ("responded_deals", Value::U64(1)),
                ("first_response_p50_hours", Value::F64(2.0)),
                ("first_response_p90_hours", Value::F64(2.0)),
                ("first_response_mean_hours", Value::F64(2.0)),
            ],
        );
        let daily = table(&t, "market_response_times_daily");
        assert_eq!(daily.rows.len(), 4);
        let h = |n: f64| {
            vec![
                ("responded_deals", Value::U64(1)),
                ("first_response_p50_hours", Value::F64(n)),
                ("first_response_mean_hours", Value::F64(n)),
            ]
        };
        assert_row(daily, &[date("2026-03-02"), s("upwork")], &h(6.0));
        assert_row(daily, &[date("2026-03-03"), s("upwork")], &h(12.0));
        assert_row(daily, &[date("2026-03-03"), s("codingmart")], &h(2.0));
        assert_row(daily, &[date("2026-03-09"), s("upwork")], &h(4.0));
    }
}
