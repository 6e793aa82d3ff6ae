//! The conversion funnel: leads, proposals, answers, interviews and wins per day, platform and
//! client segment, in total and per skill tag.
//!
//! The state is a set of counters, one per key; adding is commutative, so the result does not
//! depend on how deals' events interleave. Each event is counted on the UTC date of its own
//! event time under its deal's lead attributes.

use crate::deal::Lead;
use crate::tables::{self, ratio};
use chrono::NaiveDate;
use gigstream_core::event::ClientSegment;
use gigstream_core::table::{TableData, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which funnel stage an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Lead,
    Proposal,
    /// An answer (interview or declined).
    Answer {
        interview: bool,
    },
    Win,
}

/// The counts of one funnel row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub leads: u64,
    pub proposals: u64,
    pub responses: u64,
    pub interviews: u64,
    pub wins: u64,
}

impl Counts {
    fn add(&mut self, stage: Stage) {
        match stage {
            Stage::Lead => self.leads += 1,
            Stage::Proposal => self.proposals += 1,
            Stage::Answer { interview } => {
                self.responses += 1;
                if interview {
                    self.interviews += 1;
                }
            }
            Stage::Win => self.wins += 1,
        }
    }

    fn merge(&mut self, other: &Counts) {
        self.leads += other.leads;
        self.proposals += other.proposals;
        self.responses += other.responses;
        self.interviews += other.interviews;
        self.wins += other.wins;
    }

    /// The count and rate cells, in the column order of the funnel tables.
    fn cells(&self) -> [Value; 8] {
        [
            Value::U64(self.leads),
            Value::U64(self.proposals),
            Value::U64(self.responses),
            Value::U64(self.interviews),
            Value::U64(self.wins),
            ratio(self.responses, self.proposals),
            ratio(self.interviews, self.proposals),
            ratio(self.wins, self.proposals),
        ]
    }
}

type DailyKey = (NaiveDate, String, ClientSegment);
type SkillKey = (NaiveDate, String, String, ClientSegment);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Funnel {
    /// day × platform × segment.
    #[serde(with = "crate::pairs")]
    daily: BTreeMap<DailyKey, Counts>,
    /// day × platform × skill tag × segment.
    #[serde(with = "crate::pairs")]
    skills: BTreeMap<SkillKey, Counts>,
}

impl Funnel {
    /// Counts one event of a deal with `lead`, on `day`.
    pub fn record(&mut self, day: NaiveDate, lead: &Lead, stage: Stage) {
        self.daily
            .entry((day, lead.platform.clone(), lead.client_segment))
            .or_default()
            .add(stage);
        for tag in lead.tags_or_untagged() {
            self.skills
                .entry((
                    day,
                    lead.platform.clone(),
                    tag.to_string(),
                    lead.client_segment,
                ))
                .or_default()
                .add(stage);
        }
    }

    /// Adds `other`'s counters key by key.
    pub fn merge(&mut self, other: &Funnel) {
        for (k, c) in &other.daily {
            match self.daily.get_mut(k) {
                Some(mine) => mine.merge(c),
                None => {
                    self.daily.insert(k.clone(), *c);
                }
            }
        }
        for (k, c) in &other.skills {
            match self.skills.get_mut(k) {
                Some(mine) => mine.merge(c),
                None => {
                    self.skills.insert(k.clone(), *c);
                }
            }
        }
    }

    pub fn daily_table(&self) -> TableData {
        let rows = self
            .daily
            .iter()
            .map(|((day, platform, segment), c)| {
                let mut row = vec![
                    Value::from(*day),
                    Value::from(platform.as_str()),
                    Value::from(segment.as_str()),
                ];
                row.extend(c.cells());
                row
            })
            .collect();
        tables::finish(&tables::FUNNEL_DAILY, rows)
    }

    pub fn skill_table(&self) -> TableData {
        let rows = self
            .skills
            .iter()
            .map(|((day, platform, tag, segment), c)| {
                let mut row = vec![
                    Value::from(*day),
                    Value::from(platform.as_str()),
                    Value::from(tag.as_str()),
                    Value::from(segment.as_str()),
                ];
                row.extend(c.cells());
                row
            })
            .collect();
        tables::finish(&tables::SKILL_DAILY, rows)
    }

    /// Leads per day and skill tag (summed over platforms and segments).
    pub fn leads_by_day_tag(&self) -> BTreeMap<(NaiveDate, String), u64> {
        let mut out = BTreeMap::new();
        for ((day, _, tag, _), c) in &self.skills {
            if c.leads > 0 {
                *out.entry((*day, tag.clone())).or_default() += c.leads;
            }
        }
        out
    }

    /// Leads per day and platform (summed over segments).
    pub fn leads_by_day_platform(&self) -> BTreeMap<(NaiveDate, String), u64> {
        let mut out = BTreeMap::new();
        for ((day, platform, _), c) in &self.daily {
            if c.leads > 0 {
                *out.entry((*day, platform.clone())).or_default() += c.leads;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::testkit::*;
    use gigstream_core::table::Value;

    fn counts(l: u64, p: u64, r: u64, i: u64, w: u64) -> Vec<(&'static str, Value)> {
        let rate = |n: u64| {
            if p == 0 {
                Value::Null
            } else {
                Value::F64(n as f64 / p as f64)
            }
        };
        vec![
            ("leads", Value::U64(l)),
            ("proposals", Value::U64(p)),
            ("responses", Value::U64(r)),
            ("interviews", Value::U64(i)),
            ("wins", Value::U64(w)),
            ("response_rate", rate(r)),
            ("interview_rate", rate(i)),
            ("win_rate", rate(w)),
        ]
    }

    #[test]
    fn daily_funnel_counts_each_event_on_its_day_under_the_lead() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_funnel_daily");
        let k = |day: &str, p: &str, seg: &str| [date(day), s(p), s(seg)];
        // d5, a year earlier.
        assert_row(
            t,
            &k("2025-03-03", "upwork", "startup"),
            &counts(1, 0, 0, 0, 0),
        );
        // d1: lead, proposal, interview on 03-02; the win on 03-03.
        assert_row(
            t,
            &k("2026-03-02", "upwork", "startup"),
            &counts(1, 1, 1, 1, 0),
        );
        assert_row(
            t,
            &k("2026-03-03", "upwork", "startup"),
            &counts(0, 0, 0, 0, 1),
        );
        // d2: lead and proposal on 03-02 (rates 0/1), declined on 03-03 (no proposal: Null).
        assert_row(
            t,
            &k("2026-03-02", "upwork", "cross_border_saas"),
            &counts(1, 1, 0, 0, 0),
        );
        assert_row(
            t,
            &k("2026-03-03", "upwork", "cross_border_saas"),
            &counts(0, 0, 1, 0, 0),
        );
        // d3: two proposals, the no_response is not an answer: rates 1/2.
        assert_row(
            t,
            &k("2026-03-03", "codingmart", "startup"),
            &counts(1, 2, 1, 1, 0),
        );
        assert_row(
            t,
            &k("2026-03-04", "codingmart", "startup"),
            &counts(0, 0, 0, 0, 1),
        );
        // d7's lead on 03-04.
        assert_row(
            t,
            &k("2026-03-04", "upwork", "startup"),
            &counts(1, 0, 0, 0, 0),
        );
        // d6: lead and proposal; its no_response on 03-12 makes no row.
        assert_row(
            t,
            &k("2026-03-05", "upwork", "other"),
            &counts(1, 1, 0, 0, 0),
        );
        // d4.
        assert_row(
            t,
            &k("2026-03-09", "upwork", "startup"),
            &counts(1, 1, 1, 1, 0),
        );
        assert_row(
            t,
            &k("2026-03-10", "upwork", "startup"),
            &counts(0, 0, 0, 0, 1),
        );
        assert_eq!(t.rows.len(), 11);
        // Exact totals: 7 leads, 6 proposals, 4 answers, 3 wins.
        let total = |c: &str| -> u64 {
            t.rows
                .iter()
                .map(|r| match cell(t, r, c) {
                    Value::U64(n) => *n,
                    v => panic!("{c} is {v:?}"),
                })
                .sum()
        };
        assert_eq!(
            [
                total("leads"),
                total("proposals"),
                total("responses"),
                total("wins")
            ],
            [7, 6, 4, 3]
        );
    }

    #[test]
    fn skill_funnel_counts_a_deal_under_each_of_its_tags() {
        let t = tables_of(&run(&in_deal_order(&scenario())));
        let t = table(&t, "market_skill_daily");
        let k = |day: &str, p: &str, tag: &str, seg: &str| [date(day), s(p), s(tag), s(seg)];
        // d1 listed gin twice: counted once under each of gin, kafka, postgresql.
        for tag in ["gin", "kafka", "postgresql"] {
            assert_row(
                t,
                &k("2026-03-02", "upwork", tag, "startup"),
                &counts(1, 1, 1, 1, 0),
            );
            assert_row(
                t,
                &k("2026-03-03", "upwork", tag, "startup"),
                &counts(0, 0, 0, 0, 1),
            );
        }
        for tag in ["kafka", "prometheus"] {
            assert_row(
                t,
                &k("2026-03-02", "upwork", tag, "cross_border_saas"),
                &counts(1, 1, 0, 0, 0),
            );
            assert_row(
                t,
                &k("2026-03-03", "upwork", tag, "cross_border_saas"),
                &counts(0, 0, 1, 0, 0),
            );
        }
        // d3 has no tags: the empty tag.
        assert_row(
            t,
            &k("2026-03-03", "codingmart", "", "startup"),
            &counts(1, 2, 1, 1, 0),
        );
        assert_row(
            t,
            &k("2026-03-04", "codingmart", "", "startup"),
            &counts(0, 0, 0, 0, 1),
        );
        assert_row(
            t,
            &k("2026-03-04", "upwork", "gin", "startup"),
            &counts(1, 0, 0, 0, 0),
        );
        assert_row(
            t,
            &k("2026-03-05", "upwork", "grpc", "other"),
            &counts(1, 1, 0, 0, 0),
        );
        assert_row(
            t,
            &k("2026-03-09", "upwork", "gin", "startup"),
            &counts(1, 1, 1, 1, 0),
        );
        assert_row(
            t,
            &k("2026-03-10", "upwork", "gin", "startup"),
            &counts(0, 0, 0, 0, 1),
        );
        assert_row(
            t,
            &k("2025-03-03", "upwork", "gin", "startup"),
            &counts(1, 0, 0, 0, 0),
        );
        // 1 (2025) + 5 (03-02) + 6 (03-03) + 2 (03-04) + 1 (03-05) + 1 (03-09) + 1 (03-10).
        assert_eq!(t.rows.len(), 17);
    }
}
