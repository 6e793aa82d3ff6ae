//! Quotes versus wins: one row per proposal, and the price distributions per category,
//! currency and pricing model.
//!
//! Both are rendered from the deals themselves (every proposal is kept in its deal), so the
//! quantiles are exact and do not depend on event order.

use crate::deal::Deal;
use crate::tables;
use gigstream_core::table::{datetime_ms, TableData, Value};
use gigstream_core::Decimal;
use std::collections::BTreeMap;

/// The nearest-rank `pct` quantile of `sorted` (ascending): `x_k` with
/// `k = ceil(pct / 100 * n)`, at least 1. `None` when empty.
pub fn nearest_rank<T: Copy>(sorted: &[T], pct: u32) -> Option<T> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let k = (pct as usize * n).div_ceil(100).clamp(1, n);
    Some(sorted[k - 1])
}

pub fn quotes_table(deals: &BTreeMap<String, Deal>) -> TableData {
    let mut rows = Vec::new();
    for (deal_id, deal) in deals {
        for (i, p) in deal.proposals.iter().enumerate() {
            let winner = deal.contract.as_ref().filter(|c| c.winning_proposal == i);
            rows.push(vec![
                Value::from(deal_id.as_str()),
                Value::U32(u32::try_from(i + 1).unwrap_or(u32::MAX)),
                datetime_ms(p.submitted_at),
                Value::from(p.freelancer_id.as_str()),
                Value::from(deal.lead.category.as_str()),
                Value::from(deal.lead.platform.as_str()),
                Value::from(deal.lead.client_segment.as_str()),
                Value::from(p.currency.as_str()),
                Value::from(p.pricing_model.as_str()),
                Value::Dec(p.quote),
                Value::from(winner.is_some()),
                Value::from(winner.map(|c| c.winning_amount)),
                Value::from(winner.map(|c| c.currency.clone())),
            ]);
        }
    }
    tables::finish(&tables::QUOTES, rows)
}

#[derive(Default)]
struct Samples {
    quotes: Vec<Decimal>,
    wins: Vec<Decimal>,
}

fn quantile_cells(mut values: Vec<Decimal>) -> [Value; 4] {
    values.sort();
    let q = |p| Value::from(nearest_rank(&values, p));
    [Value::U64(values.len() as u64), q(25), q(50), q(75)]
}

pub fn price_stats_table(deals: &BTreeMap<String, Deal>) -> TableData {
    let mut by_key: BTreeMap<(&str, &str, &str), Samples> = BTreeMap::new();
    for deal in deals.values() {
        let category = deal.lead.category.as_str();
        for p in &deal.proposals {
            let key = (category, p.currency.as_str(), p.pricing_model.as_str());
            by_key.entry(key).or_default().quotes.push(p.quote);
        }
        if let Some(c) = &deal.contract {
            let key = (category, c.currency.as_str(), c.pricing_model.as_str());
            by_key.entry(key).or_default().wins.push(c.winning_amount);
        }
    }
    let rows = by_key
        .into_iter()
        .map(|((category, currency, model), s)| {
            let mut row = vec![
                Value::from(category),
                Value::from(currency),
                Value::from(model),
            ];
            row.extend(quantile_cells(s.quotes));
            row.extend(quantile_cells(s.wins));
            row
        })
        .collect();
    tables::finish(&tables::PRICE_STATS, rows)
}

#[cfg(test)]
mod tests {
    use super::nearest_rank;

    #[test]
    fn nearest_rank_follows_the_definition() {
        let v = [10, 20, 30, 40];
        // k = ceil(0.25 * 4) = 1, ceil(0.5 * 4) = 2, ceil(0.75 * 4) = 3, ceil(0.9 * 4) = 4.
        assert_eq!(nearest_rank(&v, 25), Some(10));
        assert_eq!(nearest_rank(&v, 50), Some(20));
        assert_eq!(nearest_rank(&v, 75), Some(30));
        assert_eq!(nearest_rank(&v, 90), Some(40));
        assert_eq!(nearest_rank(&v, 0), Some(10));
        assert_eq!(nearest_rank(&v, 100), Some(40));
        // n = 5: ceil(1.25) = 2, ceil(2.5) = 3, ceil(3.75) = 4.
        let v = [1, 2, 3, 4, 5];
        assert_eq!(nearest_rank(&v, 25), Some(2));
        assert_eq!(nearest_rank(&v, 50), Some(3));
        assert_eq!(nearest_rank(&v, 75), Some(4));
        assert_eq!(nearest_rank::<i32>(&[], 50), None);
        assert_eq!(nearest_rank(&[7], 90), Some(7));
    }
}

#[cfg(test)]
mod table_tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    #[test]
    fn one_quote_row_per_proposal_with_the_winner_marked() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_quotes");
        assert_eq!(t.rows.len(), 6);
        let k = |deal: &str, seq: u32| [s(deal), Value::U32(seq)];
        let won = |amount: &str, cur: &str| {
            vec![
                ("won", Value::U8(1)),
                ("winning_amount", Value::Dec(dec(amount))),
                ("winning_currency", s(cur)),
            ]
        };
        let lost = || {
            vec![
                ("won", Value::U8(0)),
                ("winning_amount", Value::Null),
                ("winning_currency", Value::Null),
            ]
        };
        let mut d1 = vec![
            ("category", s("data_sync")),
            ("platform", s("upwork")),
            ("client_segment", s("startup")),
            ("currency", s("USD")),
            ("pricing_model", s("fixed")),
            ("quote", Value::Dec(dec("1000"))),
            ("freelancer_id", s("f1")),
            (
                "submitted_at",
                Value::DateTime(ts("2026-03-02T10:00:00Z") / 1000),
            ),
        ];
        d1.extend(won("950", "USD"));
        assert_row(t, &k("d1", 1), &d1);
        let mut d2 = vec![
            ("pricing_model", s("hourly")),
            ("quote", Value::Dec(dec("60"))),
        ];
        d2.extend(lost());
        assert_row(t, &k("d2", 1), &d2);
        // d3: f2's proposal lost, f1's (the contract's freelancer) won.
        let mut d3a = vec![
            ("freelancer_id", s("f2")),
            ("quote", Value::Dec(dec("8000"))),
            ("currency", s("CNY")),
        ];
        d3a.extend(lost());
        assert_row(t, &k("d3", 1), &d3a);
        let mut d3b = vec![
            ("freelancer_id", s("f1")),
            ("quote", Value::Dec(dec("7000"))),
        ];
        d3b.extend(won("7200", "CNY"));
        assert_row(t, &k("d3", 2), &d3b);
        assert_row(t, &k("d4", 1), &won("1100", "USD"));
        assert_row(t, &k("d6", 1), &lost());
    }

    #[test]
    fn price_stats_are_nearest_rank_quantiles_of_quotes_and_wins() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_price_stats");
        assert_eq!(t.rows.len(), 3);
        let m = |v: &str| Value::Dec(dec(v));
        // data_sync USD fixed: quotes 500 (d6), 1000 (d1), 1200 (d4): ranks ceil(0.75) = 1,
        // ceil(1.5) = 2, ceil(2.25) = 3. Wins 950, 1100: ranks 1, 1, 2.
        assert_row(
            t,
            &[s("data_sync"), s("USD"), s("fixed")],
            &[
                ("quotes", Value::U64(3)),
                ("quote_p25", m("500")),
                ("quote_p50", m("1000")),
                ("quote_p75", m("1200")),
                ("wins", Value::U64(2)),
                ("win_p25", m("950")),
                ("win_p50", m("950")),
                ("win_p75", m("1100")),
            ],
        );
        // cli_tool CNY fixed: quotes 7000, 8000 (ranks 1, 1, 2); one win 7200.
        assert_row(
            t,
            &[s("cli_tool"), s("CNY"), s("fixed")],
            &[
                ("quotes", Value::U64(2)),
                ("quote_p25", m("7000")),
                ("quote_p50", m("7000")),
                ("quote_p75", m("8000")),
                ("wins", Value::U64(1)),
                ("win_p25", m("7200")),
                ("win_p50", m("7200")),
                ("win_p75", m("7200")),
            ],
        );
        // observability USD hourly: one quote, no win.
        assert_row(
            t,
            &[s("observability"), s("USD"), s("hourly")],
            &[
                ("quotes", Value::U64(1)),
                ("quote_p50", m("60")),
                ("wins", Value::U64(0)),
                ("win_p25", Value::Null),
                ("win_p50", Value::Null),
                ("win_p75", Value::Null),
            ],
        );
    }
}
