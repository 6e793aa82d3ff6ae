//! The market tables: definitions (every column's meaning and unit) and the helpers that put
//! rows in key order.

use gigstream_core::table::{col, col_null, ColumnType as T, TableData, TableDef, Value};
use std::cmp::Ordering;

/// The funnel counts and rates, shared by the daily and the per-skill funnel.
macro_rules! funnel_columns {
    ($($key:expr),+ $(,)?) => {
        &[
            $($key,)+
            col("leads", T::UInt64, "LeadPosted events on this day (count)"),
            col("proposals", T::UInt64, "ProposalSubmitted events on this day (count)"),
            col("responses", T::UInt64, "ClientResponded events on this day that were an answer (interview or declined; not no_response) (count)"),
            col("interviews", T::UInt64, "ClientResponded events on this day with response interview (count)"),
            col("wins", T::UInt64, "ContractSigned events on this day (count)"),
            col_null("response_rate", T::Float64, "responses / proposals of this day, a fraction (0.38 = 38%); an activity ratio, not a cohort conversion; Null when proposals = 0"),
            col_null("interview_rate", T::Float64, "interviews / proposals of this day, a fraction; Null when proposals = 0"),
            col_null("win_rate", T::Float64, "wins / proposals of this day, a fraction; Null when proposals = 0"),
        ]
    };
}

pub static FUNNEL_DAILY: TableDef = TableDef {
    name: "market_funnel_daily",
    doc: "One row per UTC day, platform and client segment: how many leads, proposals, answers, interviews and wins happened that day on deals whose lead came from that platform and segment. Each event is counted on its own day; totals are exact (a deal counts once whatever its skill tags).",
    columns: funnel_columns!(
        col("day", T::Date, "UTC date of the counted events' event time"),
        col("platform", T::String, "platform id of the deal's lead (reference/platforms.toml)"),
        col("client_segment", T::String, "client segment of the deal's lead (startup, cross_border_saas, blockchain_infra, other)"),
    ),
    key: &["day", "platform", "client_segment"],
};

pub static SKILL_DAILY: TableDef = TableDef {
    name: "market_skill_daily",
    doc: "One row per UTC day, platform, skill tag and client segment: the funnel counts of market_funnel_daily for deals whose lead listed that tag. A deal with three tags counts once under each tag, so do not sum across tags (use market_funnel_daily for totals). Leads without tags are counted under the empty tag.",
    columns: funnel_columns!(
        col("day", T::Date, "UTC date of the counted events' event time"),
        col("platform", T::String, "platform id of the deal's lead"),
        col("skill_tag", T::String, "one skill tag of the deal's lead (gin, grpc, kafka, ...); empty string: the lead listed none"),
        col("client_segment", T::String, "client segment of the deal's lead"),
    ),
    key: &["day", "platform", "skill_tag", "client_segment"],
};

pub static QUOTES: TableDef = TableDef {
    name: "market_quotes",
    doc: "One row per proposal we sent: what we quoted and, once the deal's contract is signed, whether this proposal won and for how much.",
    columns: &[
        col("deal_id", T::String, "the deal (orders topic key)"),
        col("proposal_seq", T::UInt32, "1-based position of the proposal among the deal's proposals, in log order"),
        col("submitted_at", T::DateTime, "event time of the ProposalSubmitted (UTC, seconds)"),
        col("freelancer_id", T::String, "who sent the proposal"),
        col("category", T::String, "work category of the deal's lead (data_sync, observability, cli_tool, ...)"),
        col("platform", T::String, "platform id of the deal's lead"),
        col("client_segment", T::String, "client segment of the deal's lead"),
        col("currency", T::String, "ISO 4217 currency of the quote"),
        col("pricing_model", T::String, "pricing model of the proposal (fixed, hourly, retainer, subscription)"),
        col("quote", T::Money, "quoted price in currency (for hourly work, the hourly rate)"),
        col("won", T::UInt8, "1 when the deal's contract is signed and this is the winning proposal (the last one by the contract's freelancer, else the deal's last proposal), else 0"),
        col_null("winning_amount", T::Money, "the signed contract's hourly rate (hourly) or amount (other models), in winning_currency; Null unless won = 1"),
        col_null("winning_currency", T::String, "ISO 4217 currency of the signed contract; Null unless won = 1"),
    ],
    key: &["deal_id", "proposal_seq"],
};

pub static PRICE_STATS: TableDef = TableDef {
    name: "market_price_stats",
    doc: "One row per work category, currency and pricing model: the distribution of what we quote and of what wins. Quotes are keyed by the proposal's currency and model, wins by the signed contract's. Quantiles are exact, nearest-rank: the p-quantile of n sorted values x1..xn is x_k with k = ceil(p/100 * n).",
    columns: &[
        col("category", T::String, "work category of the deal's lead"),
        col("currency", T::String, "ISO 4217 currency of the quotes and wins in this row"),
        col("pricing_model", T::String, "pricing model (fixed, hourly, retainer, subscription)"),
        col("quotes", T::UInt64, "proposals (count)"),
        col_null("quote_p25", T::Money, "25th percentile of the quotes (nearest rank), in currency; Null when quotes = 0"),
        col_null("quote_p50", T::Money, "median quote (nearest rank), in currency; Null when quotes = 0"),
        col_null("quote_p75", T::Money, "75th percentile of the quotes (nearest rank), in currency; Null when quotes = 0"),
        col("wins", T::UInt64, "signed contracts (count)"),
        col_null("win_p25", T::Money, "25th percentile of the winning amounts (contract amount, or hourly rate for hourly), in currency; Null when wins = 0"),
        col_null("win_p50", T::Money, "median winning amount (nearest rank), in currency; Null when wins = 0"),
        col_null("win_p75", T::Money, "75th percentile of the winning amounts (nearest rank), in currency; Null when wins = 0"),
    ],
    key: &["category", "currency", "pricing_model"],
};

pub static RESPONSE_TIMES: TableDef = TableDef {
    name: "market_response_times",
    doc: "One row per platform: how fast clients answer. A deal's first-response time runs from its first ProposalSubmitted to its first ClientResponded that is an answer (interview or declined; no_response is not one). Quantiles are nearest-rank over deals.",
    columns: &[
        col("platform", T::String, "platform id of the deal's lead"),
        col("deals_with_proposal", T::UInt64, "deals with at least one proposal (count)"),
        col("responded_deals", T::UInt64, "of those, deals the client answered (count)"),
        col_null("response_share", T::Float64, "responded_deals / deals_with_proposal, a fraction; Null when no deal has a proposal"),
        col_null("first_response_p50_hours", T::Float64, "median first-response time (nearest rank), hours; Null when responded_deals = 0"),
        col_null("first_response_p90_hours", T::Float64, "90th percentile first-response time (nearest rank), hours; Null when responded_deals = 0"),
        col_null("first_response_mean_hours", T::Float64, "mean first-response time, hours; Null when responded_deals = 0"),
    ],
    key: &["platform"],
};

pub static RESPONSE_TIMES_DAILY: TableDef = TableDef {
    name: "market_response_times_daily",
    doc: "One row per UTC day and platform: the first-response times (as in market_response_times) of the deals whose first answer came that day.",
    columns: &[
        col("day", T::Date, "UTC date of the deal's first answer"),
        col("platform", T::String, "platform id of the deal's lead"),
        col("responded_deals", T::UInt64, "deals first answered this day (count)"),
        col("first_response_p50_hours", T::Float64, "median first-response time (nearest rank), hours"),
        col("first_response_p90_hours", T::Float64, "90th percentile first-response time (nearest rank), hours"),
        col("first_response_mean_hours", T::Float64, "mean first-response time, hours"),
    ],
    key: &["day", "platform"],
};

pub static HOURS: TableDef = TableDef {
    name: "market_hours",
    doc: "One row per ISO week and activity: hours logged (WorkLogged, by its work_date) and their share of the week's logged hours. Coding and testing count as effective work.",
    columns: &[
        col("week", T::Date, "Monday of the ISO week containing the work_date"),
        col("activity", T::String, "coding, communication, testing, docs, negotiation or invoicing"),
        col("effective", T::UInt8, "1 for coding and testing (effective work), else 0"),
        col("hours", T::Quantity, "hours logged on this activity this week (hours)"),
        col("share_of_week", T::Float64, "hours / all hours logged this week, a fraction (0..1)"),
    ],
    key: &["week", "activity"],
};

pub static EFFECTIVE_DAILY: TableDef = TableDef {
    name: "market_effective_daily",
    doc: "One row per work date and freelancer: hours logged and how many of them were effective work (coding and testing). The seed figure to compare with is 5.2 effective hours a day.",
    columns: &[
        col("day", T::Date, "the WorkLogged work_date"),
        col("freelancer_id", T::String, "who logged the hours"),
        col("hours_logged", T::Quantity, "all hours logged for that date (hours)"),
        col("effective_hours", T::Quantity, "hours logged on coding and testing (hours)"),
    ],
    key: &["day", "freelancer_id"],
};

pub static CHURN: TableDef = TableDef {
    name: "market_churn",
    doc: "One row per month, outcome and churn reason: how many contracts ended and how long they had run.",
    columns: &[
        col("month", T::Date, "first day of the UTC month of the ContractEnded event"),
        col("outcome", T::String, "completed, cancelled or churned"),
        col("churn_reason", T::String, "the reason the event gave; empty string when none"),
        col("contracts_ended", T::UInt64, "contracts that ended (count)"),
        col("avg_engagement_weeks", T::Quantity, "mean time from ContractSigned to ContractEnded, in weeks of 7 days (4 decimals, half away from zero)"),
    ],
    key: &["month", "outcome", "churn_reason"],
};

/// The growth columns after the dimension column.
macro_rules! growth_columns {
    ($dim:expr) => {
        &[
            col("week", T::Date, "Monday of the ISO week of the LeadPosted event time (UTC)"),
            col("iso_week", T::String, "the same week as ISO year and week (2026-W09)"),
            $dim,
            col("leads", T::UInt64, "leads posted this week (count)"),
            col("leads_prev_week", T::UInt64, "leads posted the week before (count)"),
            col_null("wow_growth_pct", T::Float64, "(leads - leads_prev_week) / leads_prev_week * 100, percent; Null when leads_prev_week = 0"),
            col("leads_same_week_last_year", T::UInt64, "leads posted in the same ISO week number of the previous ISO year (count; 0 when that year has no such week)"),
            col_null("yoy_growth_pct", T::Float64, "(leads - leads_same_week_last_year) / leads_same_week_last_year * 100, percent; Null when leads_same_week_last_year = 0"),
        ]
    };
}

pub static DEMAND_GROWTH: TableDef = TableDef {
    name: "market_demand_growth",
    doc: "One row per ISO week and skill tag with leads that week or the week before (so a drop to zero shows as -100%): demand and its week-on-week and year-on-year growth. A lead with several tags counts under each.",
    columns: growth_columns!(col(
        "skill_tag",
        T::String,
        "one skill tag of the lead; empty string: the lead listed none"
    )),
    key: &["week", "skill_tag"],
};

pub static DEMAND_GROWTH_PLATFORM: TableDef = TableDef {
    name: "market_demand_growth_platform",
    doc: "One row per ISO week and platform with leads that week or the week before: demand and its week-on-week and year-on-year growth per platform (each lead counts once).",
    columns: growth_columns!(col("platform", T::String, "platform id of the lead")),
    key: &["week", "platform"],
};

/// Every table, in the order [`crate::Market`] renders them.
pub static ALL: [&TableDef; 11] = [
    &FUNNEL_DAILY,
    &SKILL_DAILY,
    &QUOTES,
    &PRICE_STATS,
    &RESPONSE_TIMES,
    &RESPONSE_TIMES_DAILY,
    &HOURS,
    &EFFECTIVE_DAILY,
    &CHURN,
    &DEMAND_GROWTH,
    &DEMAND_GROWTH_PLATFORM,
];

/// `num / den` as a fraction, Null when `den` is 0.
pub fn ratio(num: u64, den: u64) -> Value {
    if den == 0 {
        Value::Null
    } else {
        Value::F64(num as f64 / den as f64)
    }
}

/// `(cur - prev) / prev * 100`, Null when `prev` is 0.
pub fn growth_pct(cur: u64, prev: u64) -> Value {
    if prev == 0 {
        Value::Null
    } else {
        Value::F64((cur as f64 - prev as f64) / prev as f64 * 100.0)
    }
}

/// A total order on cells of one column (same variant); across variants, by variant.
fn cmp_value(a: &Value, b: &Value) -> Ordering {
    fn rank(v: &Value) -> u8 {
        match v {
            Value::Null => 0,
            Value::Str(_) => 1,
            Value::U8(_) => 2,
            Value::U32(_) => 3,
            Value::U64(_) => 4,
            Value::I64(_) => 5,
            Value::F64(_) => 6,
            Value::Dec(_) => 7,
            Value::Date(_) => 8,
            Value::DateTime(_) => 9,
            Value::ArrU32(_) => 10,
            Value::ArrU64(_) => 11,
        }
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x.cmp(y),
        (Value::U8(x), Value::U8(y)) => x.cmp(y),
        (Value::U32(x), Value::U32(y)) => x.cmp(y),
        (Value::U64(x), Value::U64(y)) => x.cmp(y),
        (Value::I64(x), Value::I64(y)) => x.cmp(y),
        (Value::F64(x), Value::F64(y)) => x.total_cmp(y),
        (Value::Dec(x), Value::Dec(y)) => x.cmp(y),
        (Value::Date(x), Value::Date(y)) => x.cmp(y),
        (Value::DateTime(x), Value::DateTime(y)) => x.cmp(y),
        (Value::ArrU32(x), Value::ArrU32(y)) => x.cmp(y),
        (Value::ArrU64(x), Value::ArrU64(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// Compares two rows of `def` by its key columns.
pub fn cmp_key(def: &TableDef, a: &[Value], b: &[Value]) -> Ordering {
    def.key
        .iter()
        .filter_map(|k| def.column_index(k))
        .map(|i| cmp_value(&a[i], &b[i]))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// The table with its rows sorted by key. Sorting the rendered cells (rather than relying on
/// the state's map order) keeps the order the sinks see, string order of the enum names, no
/// matter how the state is keyed.
pub fn finish(def: &'static TableDef, rows: Vec<Vec<Value>>) -> TableData {
    let mut data = TableData::new(def);
    let mut rows = rows;
    rows.sort_by(|a, b| cmp_key(def, a, b));
    debug_assert!(
        rows.windows(2).all(|w| cmp_key(def, &w[0], &w[1]).is_lt()),
        "rows of {} are unique on the key",
        def.name
    );
    for row in rows {
        data.push(row);
    }
    data
}
