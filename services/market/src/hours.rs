//! Where the hours go: per ISO week and activity, and effective hours per freelancer and day.
//!
//! Hours are exact decimals summed per key (commutative, so order-independent). Both tables
//! use the WorkLogged `work_date`, the day the work was done, not the event time.

use crate::tables;
use chrono::NaiveDate;
use gigstream_core::event::{Activity, WorkLogged};
use gigstream_core::table::{TableData, Value};
use gigstream_core::time::week_start;
use gigstream_core::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Coding and testing are effective work; the rest (clarifying, negotiating, invoicing, docs)
/// is overhead, as the seed articles count it.
pub fn is_effective(activity: Activity) -> bool {
    matches!(activity, Activity::Coding | Activity::Testing)
}

/// One freelancer's hours on one date.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DayHours {
    pub logged: Decimal,
    pub effective: Decimal,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hours {
    /// Monday of the week × activity.
    #[serde(with = "crate::pairs")]
    weekly: BTreeMap<(NaiveDate, Activity), Decimal>,
    /// work date × freelancer.
    #[serde(with = "crate::pairs")]
    daily: BTreeMap<(NaiveDate, String), DayHours>,
}

impl Hours {
    pub fn record(&mut self, e: &WorkLogged) {
        *self
            .weekly
            .entry((week_start(e.work_date), e.activity))
            .or_default() += e.hours;
        let day = self
            .daily
            .entry((e.work_date, e.freelancer_id.clone()))
            .or_default();
        day.logged += e.hours;
        if is_effective(e.activity) {
            day.effective += e.hours;
        }
    }

    /// Adds `other`'s hours key by key.
    pub fn merge(&mut self, other: &Hours) {
        for (k, h) in &other.weekly {
            *self.weekly.entry(*k).or_default() += *h;
        }
        for (k, h) in &other.daily {
            let mine = match self.daily.get_mut(k) {
                Some(m) => m,
                None => self.daily.entry(k.clone()).or_default(),
            };
            mine.logged += h.logged;
            mine.effective += h.effective;
        }
    }

    pub fn weekly_table(&self) -> TableData {
        let mut week_totals: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
        for ((week, _), h) in &self.weekly {
            *week_totals.entry(*week).or_default() += *h;
        }
        let rows = self
            .weekly
            .iter()
            .map(|((week, activity), h)| {
                let total = week_totals.get(week).copied().unwrap_or_default();
                // Hours are positive (validated), so a week with a row has a positive total.
                let share = if total.is_zero() {
                    0.0
                } else {
                    (*h / total).to_f64().unwrap_or(0.0)
                };
                vec![
                    Value::from(*week),
                    Value::from(activity.as_str()),
                    Value::from(is_effective(*activity)),
                    Value::Dec(*h),
                    Value::F64(share),
                ]
            })
            .collect();
        tables::finish(&tables::HOURS, rows)
    }

    pub fn daily_table(&self) -> TableData {
        let rows = self
            .daily
            .iter()
            .map(|((day, freelancer), h)| {
                vec![
                    Value::from(*day),
                    Value::from(freelancer.as_str()),
                    Value::Dec(h.logged),
                    Value::Dec(h.effective),
                ]
            })
            .collect();
        tables::finish(&tables::EFFECTIVE_DAILY, rows)
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    #[test]
    fn hours_per_week_and_activity_and_effective_hours_per_day() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let weekly = table(&t, "market_hours");
        // Week of 2026-03-02: coding 5.5 + 4 = 9.5, communication 1.5, testing 2, invoicing 0.5;
        // total 13.5. Week of 2026-03-09: coding 3, negotiation 1; total 4.
        let r = |eff: u8, h: &str, share: f64| {
            vec![
                ("effective", Value::U8(eff)),
                ("hours", Value::Dec(dec(h))),
                ("share_of_week", Value::F64(share)),
            ]
        };
        let w1 = date("2026-03-02");
        assert_row(weekly, &[w1.clone(), s("coding")], &r(1, "9.5", 9.5 / 13.5));
        assert_row(
            weekly,
            &[w1.clone(), s("communication")],
            &r(0, "1.5", 1.5 / 13.5),
        );
        assert_row(weekly, &[w1.clone(), s("testing")], &r(1, "2", 2.0 / 13.5));
        assert_row(weekly, &[w1, s("invoicing")], &r(0, "0.5", 0.5 / 13.5));
        let w2 = date("2026-03-09");
        assert_row(weekly, &[w2.clone(), s("coding")], &r(1, "3", 0.75));
        assert_row(weekly, &[w2, s("negotiation")], &r(0, "1", 0.25));
        assert_eq!(weekly.rows.len(), 6);

        let daily = table(&t, "market_effective_daily");
        let d = |logged: &str, eff: &str| {
            vec![
                ("hours_logged", Value::Dec(dec(logged))),
                ("effective_hours", Value::Dec(dec(eff))),
            ]
        };
        // f1 on 03-04: 5.5 coding + 1.5 communication (d1) + 4 coding (d3).
        assert_row(daily, &[date("2026-03-04"), s("f1")], &d("11", "9.5"));
        assert_row(daily, &[date("2026-03-05"), s("f1")], &d("2.5", "2"));
        assert_row(daily, &[date("2026-03-10"), s("f2")], &d("4", "3"));
        assert_eq!(daily.rows.len(), 3);
    }
}
