//! Demand growth: leads per ISO week and skill tag (or platform), with week-on-week and
//! year-on-year growth. Rendered from the funnel's lead counts, so it always agrees with them.

use crate::tables::{self, growth_pct};
use chrono::{Datelike, Duration, NaiveDate, Weekday};
use gigstream_core::table::{TableData, TableDef, Value};
use gigstream_core::time::week_start;
use std::collections::{BTreeMap, BTreeSet};

/// The Monday of the same ISO week number one ISO year earlier, if that year has the week
/// (week 53 exists only in some years).
fn same_week_last_year(monday: NaiveDate) -> Option<NaiveDate> {
    let w = monday.iso_week();
    NaiveDate::from_isoywd_opt(w.year() - 1, w.week(), Weekday::Mon)
}

fn iso_week_name(monday: NaiveDate) -> String {
    let w = monday.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Growth rows from leads per day and dimension (tag or platform). A row exists for every week
/// with leads and for the week after it, so a fall to zero shows as -100%.
fn growth_table(def: &'static TableDef, by_day: BTreeMap<(NaiveDate, String), u64>) -> TableData {
    let mut weekly: BTreeMap<(NaiveDate, String), u64> = BTreeMap::new();
    for ((day, dim), n) in by_day {
        *weekly.entry((week_start(day), dim)).or_default() += n;
    }
    let keys: BTreeSet<(NaiveDate, String)> = weekly
        .keys()
        .flat_map(|(week, dim)| {
            [
                (*week, dim.clone()),
                (*week + Duration::days(7), dim.clone()),
            ]
        })
        .collect();
    let count = |week: NaiveDate, dim: &str| -> u64 {
        weekly.get(&(week, dim.to_string())).copied().unwrap_or(0)
    };
    let rows = keys
        .into_iter()
        .map(|(week, dim)| {
            let leads = count(week, &dim);
            let prev = count(week - Duration::days(7), &dim);
            let last_year = same_week_last_year(week)
                .map(|w| count(w, &dim))
                .unwrap_or(0);
            vec![
                Value::from(week),
                Value::from(iso_week_name(week)),
                Value::from(dim),
                Value::U64(leads),
                Value::U64(prev),
                growth_pct(leads, prev),
                Value::U64(last_year),
                growth_pct(leads, last_year),
            ]
        })
        .collect();
    tables::finish(def, rows)
}

pub fn by_tag_table(by_day: BTreeMap<(NaiveDate, String), u64>) -> TableData {
    growth_table(&tables::DEMAND_GROWTH, by_day)
}

pub fn by_platform_table(by_day: BTreeMap<(NaiveDate, String), u64>) -> TableData {
    growth_table(&tables::DEMAND_GROWTH_PLATFORM, by_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn iso_weeks_and_last_year() {
        // 2026-03-02 is the Monday of 2026-W10; 2025-W10 starts on 2025-03-03.
        assert_eq!(iso_week_name(d("2026-03-02")), "2026-W10");
        assert_eq!(same_week_last_year(d("2026-03-02")), Some(d("2025-03-03")));
        // 2026 has 53 ISO weeks (2026-12-28 is W53); 2025 has 52.
        assert_eq!(iso_week_name(d("2026-12-28")), "2026-W53");
        assert_eq!(same_week_last_year(d("2026-12-28")), None);
        // ISO year differs from the calendar year: 2024-12-30 is 2025-W01.
        assert_eq!(iso_week_name(d("2024-12-30")), "2025-W01");
        assert_eq!(same_week_last_year(d("2024-12-30")), Some(d("2024-01-01")));
    }
}

#[cfg(test)]
mod table_tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    fn g(
        leads: u64,
        prev: u64,
        wow: Option<f64>,
        ly: u64,
        yoy: Option<f64>,
    ) -> Vec<(&'static str, Value)> {
        vec![
            ("leads", Value::U64(leads)),
            ("leads_prev_week", Value::U64(prev)),
            ("wow_growth_pct", Value::from(wow)),
            ("leads_same_week_last_year", Value::U64(ly)),
            ("yoy_growth_pct", Value::from(yoy)),
        ]
    }

    #[test]
    fn demand_growth_per_skill_tag() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_demand_growth");
        let k = |w: &str, tag: &str| [date(w), s(tag)];
        // gin: 1 lead in 2025-W10 (d5); 2 in 2026-W10 (d1, d7); 1 in 2026-W11 (d4).
        assert_row(t, &k("2025-03-03", "gin"), &g(1, 0, None, 0, None));
        assert_row(t, &k("2025-03-10", "gin"), &g(0, 1, Some(-100.0), 0, None));
        assert_row(t, &k("2026-03-02", "gin"), &g(2, 0, None, 1, Some(100.0)));
        assert_row(t, &k("2026-03-09", "gin"), &g(1, 2, Some(-50.0), 0, None));
        assert_row(t, &k("2026-03-16", "gin"), &g(0, 1, Some(-100.0), 0, None));
        assert_eq!(
            cell(t, row(t, &k("2026-03-02", "gin")), "iso_week"),
            &s("2026-W10")
        );
        // kafka: d1 and d2 in 2026-W10; nothing after.
        assert_row(t, &k("2026-03-02", "kafka"), &g(2, 0, None, 0, None));
        assert_row(
            t,
            &k("2026-03-09", "kafka"),
            &g(0, 2, Some(-100.0), 0, None),
        );
        // d3 listed no tags.
        assert_row(t, &k("2026-03-02", ""), &g(1, 0, None, 0, None));
        // 2 (gin 2025) + 6 tags in W10 + the same 6 in W11 + gin in W12.
        assert_eq!(t.rows.len(), 15);
    }

    #[test]
    fn demand_growth_per_platform() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_demand_growth_platform");
        let k = |w: &str, p: &str| [date(w), s(p)];
        // upwork: d5 in 2025-W10; d1, d2, d6, d7 in 2026-W10; d4 in 2026-W11.
        assert_row(t, &k("2025-03-03", "upwork"), &g(1, 0, None, 0, None));
        assert_row(
            t,
            &k("2026-03-02", "upwork"),
            &g(4, 0, None, 1, Some(300.0)),
        );
        assert_row(
            t,
            &k("2026-03-09", "upwork"),
            &g(1, 4, Some(-75.0), 0, None),
        );
        assert_row(
            t,
            &k("2026-03-16", "upwork"),
            &g(0, 1, Some(-100.0), 0, None),
        );
        assert_row(t, &k("2026-03-02", "codingmart"), &g(1, 0, None, 0, None));
        assert_row(
            t,
            &k("2026-03-09", "codingmart"),
            &g(0, 1, Some(-100.0), 0, None),
        );
        assert_eq!(t.rows.len(), 7);
    }
}
