//! The demo's human summary, computed with the same SQL a user would run on the tables.

use crate::sql::{self, query, session, Format};
use anyhow::Result;
use std::fmt::Write;
use std::path::Path;

/// The summary sections: a title and the SQL that produces them.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Take-home by platform (gross → platform fee → tax → net)",
        "SELECT platform, currency, count(*) AS payments, sum(gross) AS gross, sum(platform_fee) AS platform_fee, \
         sum(tax) AS tax, sum(net) AS net, round(CAST(sum(net) AS DOUBLE) * 100 / CAST(sum(gross) AS DOUBLE), 1) AS take_home_pct \
         FROM billing_payments GROUP BY platform, currency ORDER BY currency, net DESC",
    ),
    (
        "SLA status per service, latest month",
        "SELECT m.service_id, m.month, m.requests, m.p95_ms, m.p99_ms, round(m.error_rate_pct, 3) AS error_rate_pct, \
         round(m.uptime_pct, 3) AS uptime_pct, m.credit_pct, m.incidents, round(m.mttr_minutes, 1) AS mttr_minutes \
         FROM sla_monthly m JOIN (SELECT service_id, max(month) AS month FROM sla_monthly GROUP BY service_id) l \
         ON m.service_id = l.service_id AND m.month = l.month ORDER BY m.service_id",
    ),
    (
        "Service credits owed (SLA credits applied to subscription charges)",
        "SELECT month, service_id, currency, count(*) AS subscriptions, max(credit_pct) AS credit_pct, sum(credit) AS credit \
         FROM billing_sla_credits WHERE credit > 0 GROUP BY month, service_id, currency ORDER BY month, service_id",
    ),
    (
        "Top skills by demand and conversion",
        "SELECT skill_tag, sum(leads) AS leads, sum(proposals) AS proposals, sum(wins) AS wins, \
         round(CAST(sum(wins) AS DOUBLE) * 100 / CAST(sum(proposals) AS DOUBLE), 1) AS win_rate_pct \
         FROM market_skill_daily GROUP BY skill_tag ORDER BY leads DESC LIMIT 8",
    ),
    (
        "Top churn reasons",
        "SELECT churn_reason, sum(contracts_ended) AS contracts, round(avg(avg_engagement_weeks), 1) AS avg_weeks \
         FROM market_churn WHERE churn_reason <> '' GROUP BY churn_reason ORDER BY contracts DESC LIMIT 6",
    ),
    (
        "Dead letters (kept with reason and original bytes)",
        "SELECT service, code, count(*) AS records FROM dead_letters GROUP BY service, code ORDER BY service, records DESC",
    ),
];

/// Example queries printed after the summary.
pub const EXAMPLES: &[&str] = &[
    "gigstream sql \"SHOW TABLES\"",
    "gigstream sql \"SELECT month, platform, currency, sum(net) AS net FROM billing_monthly GROUP BY 1, 2, 3 ORDER BY 1, 2\"",
    "gigstream sql \"SELECT * FROM billing_receivables WHERE aging_bucket <> 'paid' ORDER BY days_overdue DESC LIMIT 10\"",
    "gigstream sql \"SELECT service_id, rule, count(*) FROM sla_violations GROUP BY 1, 2 ORDER BY 1, 2\"",
    "gigstream sql \"SELECT * FROM market_demand_growth ORDER BY week DESC, leads DESC LIMIT 10\" --format csv",
];

/// Renders every section over the tables in `tables_dir`.
pub fn render(tables_dir: &Path) -> Result<String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let ctx = session(tables_dir).await?;
        let mut out = String::new();
        for (title, sql) in SECTIONS {
            let batches = query(&ctx, sql).await?;
            writeln!(out, "\n{title}")?;
            writeln!(out, "{}", sql::render(&batches, Format::Table)?)?;
        }
        writeln!(out, "\nQuery the aggregates yourself, for example:")?;
        for e in EXAMPLES {
            writeln!(out, "  {e}")?;
        }
        Ok(out)
    })
}
