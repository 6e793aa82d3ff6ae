//! The tables billing writes. Names are the ClickHouse table and column names users query, so
//! they are stable: add columns, do not rename them. Every money column has a `currency` column
//! beside it; money is rounded to the cent; ratios are derived at output time.

use gigstream_core::table::{col, col_null, ColumnType::*, TableDef};

pub static PAYMENTS: TableDef = TableDef {
    name: "billing_payments",
    doc: "One row per settled payment: gross, platform fee, tax, take-home and when the money arrives.",
    key: &["settle_date", "payment_event_id"],
    columns: &[
        col("settle_date", Date, "UTC date of settled_at; the fee schedule applies by this date"),
        col("payment_event_id", String, "event_id of the PaymentSettled event (unique)"),
        col("deal_id", String, "deal (opportunity) the payment belongs to"),
        col("contract_id", String, "contract signed on the deal"),
        col("invoice_id", String, "invoice the payment pays (all or part)"),
        col("platform", String, "platform id from reference/platforms.toml (upwork, codingmart, ...)"),
        col("pricing_model", String, "contract pricing model: fixed, hourly, retainer or subscription"),
        col("income_type", String, "contract income type: project, consulting or sponsorship"),
        col("currency", String, "ISO 4217 currency of every money column in the row"),
        col("settled_at", DateTime, "when the client's payment settled (UTC, from the event payload)"),
        col("gross", Money, "gross payment, before platform fee and tax"),
        col("fee_pct", Float64, "platform fee in percent of gross on settle_date (reference data)"),
        col("platform_fee", Money, "gross × fee_pct / 100, rounded to the cent half away from zero"),
        col("tax_regime", String, "cn_labor_remuneration (withheld per payment), cn_business_income (yearly estimate, 0 here) or none"),
        col("tax", Money, "per-payment tax (劳务报酬 on gross minus the exact fee), rounded to the cent; 0 for other regimes"),
        col("tax_withheld_by_platform", UInt8, "1 when the platform withholds the tax, 0 when it is self-declared; net is the same either way"),
        col("net", Money, "take-home: gross − platform_fee − tax (holds exactly in every row)"),
        col_null("take_home_ratio", Float64, "net / gross (0.672 means 67.2%); null when gross is 0"),
        col("settlement_cycle", String, "payout cycle used: T+N, weekly or monthly (contract's, else the platform's default)"),
        col("due_date", Date, "payout date: the cycle applied to the UTC date of the PaymentSettled event time"),
    ],
};

pub static MONTHLY: TableDef = TableDef {
    name: "billing_monthly",
    doc: "Payments per calendar month (of settle_date), platform and currency.",
    key: &["month", "platform", "currency"],
    columns: &[
        col(
            "month",
            Date,
            "first day of the calendar month (UTC) of the payments' settle_date",
        ),
        col("platform", String, "platform id"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("payments", UInt64, "number of payments"),
        col("gross", Money, "sum of gross payments"),
        col("platform_fee", Money, "sum of per-payment platform fees"),
        col("tax", Money, "sum of per-payment tax"),
        col(
            "net",
            Money,
            "sum of per-payment take-home (gross − platform_fee − tax)",
        ),
        col_null(
            "take_home_ratio",
            Float64,
            "net / gross; null when gross is 0",
        ),
    ],
};

pub static SETTLEMENTS_DUE: TableDef = TableDef {
    name: "billing_settlements_due",
    doc: "Money arriving per payout date, platform and currency.",
    key: &["due_date", "platform", "currency"],
    columns: &[
        col("due_date", Date, "payout date from the settlement cycle"),
        col("platform", String, "platform id"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("payments", UInt64, "number of payments paid out that day"),
        col("gross", Money, "sum of their gross payments"),
        col(
            "net_due",
            Money,
            "sum of their take-home (gross − platform_fee − tax)",
        ),
    ],
};

pub static RECEIVABLES: TableDef = TableDef {
    name: "billing_receivables",
    doc: "One row per invoice: invoiced, paid, outstanding and aging as of the newest event time billing has seen (not the wall clock, so replays give the same rows).",
    key: &["deal_id", "invoice_id"],
    columns: &[
        col("deal_id", String, "deal the invoice belongs to"),
        col("invoice_id", String, "invoice id (unique within its deal)"),
        col("contract_id", String, "contract signed on the deal"),
        col("platform", String, "platform id"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("issued_at", DateTime, "when the invoice was issued (UTC)"),
        col("due_at", DateTime, "when payment is due (UTC)"),
        col("gross_invoiced", Money, "gross amount invoiced"),
        col("paid", Money, "sum of the gross of its payments so far"),
        col("outstanding", Money, "gross_invoiced − paid; negative when overpaid"),
        col("payments", UInt64, "number of payments received"),
        col_null("last_paid_at", DateTime, "settled_at of the newest payment; null when unpaid"),
        col("days_overdue", Int64, "UTC calendar days from the due date to as_of when outstanding > 0 and past due; else 0"),
        col("aging_bucket", String, "paid (outstanding ≤ 0), current (not yet due), 1-30, 31-60, 61-90 or 90+ days overdue"),
        col("as_of", DateTime, "00:00 UTC of the day aging is computed at: the day of the newest event time billing has seen; for a paid invoice, the day of its last payment (the row no longer changes)"),
    ],
};

pub static BUSINESS_INCOME: TableDef = TableDef {
    name: "billing_business_income_estimate",
    doc: "ESTIMATE of China 经营所得 (business income) tax per calendar year and currency, from the payments of cn_business_income contracts; it knows no costs or deductions.",
    key: &["year", "currency"],
    columns: &[
        col("year", UInt32, "calendar year (UTC) of the payments' settle_date"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("payments", UInt64, "number of payments of cn_business_income contracts"),
        col("gross", Money, "sum of their gross"),
        col("platform_fee", Money, "sum of their platform fees"),
        col("income_estimate", Money, "gross − platform_fee: the year's income before costs, the estimate's base"),
        col_null("tax_rate_pct_estimate", Float64, "rate in percent of the progressive bracket the income falls in; null when the tax table is in another currency"),
        col_null("quick_deduction_estimate", Money, "quick deduction of that bracket; null when the tax table is in another currency"),
        col_null("tax_estimate", Money, "income_estimate × rate − quick deduction, rounded to the cent; null when the tax table is in another currency"),
        col_null("after_tax_income_estimate", Money, "income_estimate − tax_estimate; null when the tax table is in another currency"),
    ],
};

pub static USAGE_CHARGES: TableDef = TableDef {
    name: "billing_usage_charges",
    doc: "One row per subscription, settlement period, plan and meter: the period's aggregated usage and its charge (computed on the period total).",
    key: &["subscription_id", "period_start", "period_end", "plan_id", "meter"],
    columns: &[
        col("subscription_id", String, "subscription id"),
        col("period_start", Date, "first day of the settlement period (UTC; weeks start on Monday)"),
        col("period_end", Date, "last day of the settlement period (inclusive)"),
        col("plan_id", String, "plan that priced this usage (reference/plans.toml)"),
        col("meter", String, "meter name (api_calls, compute_hours, seats, licenses, ...)"),
        col("tenant_id", String, "tenant the subscription belongs to"),
        col("service_id", String, "delivered service the tenant pays for"),
        col("settlement", String, "settlement of the subscription when the usage was recorded: daily, weekly or monthly"),
        col("aggregation", String, "how records combine in the period: sum or max"),
        col("usage_records", UInt64, "number of UsageRecorded events in the period"),
        col("quantity", Quantity, "the period's quantity: sum or max of the records, in the meter's unit"),
        col("pricing_model", String, "per_unit, graduated, volume, package or percentage"),
        col("charge", Money, "price of the period's quantity, rounded to the cent"),
        col("currency", String, "ISO 4217 currency of the plan"),
    ],
};

pub static REVENUE_SHARE: TableDef = TableDef {
    name: "billing_revenue_share",
    doc: "One row per subscription and settlement period: revenue and its split between tenant and studio.",
    key: &["subscription_id", "period_start", "period_end"],
    columns: &[
        col("subscription_id", String, "subscription id"),
        col("period_start", Date, "first day of the settlement period (UTC)"),
        col("period_end", Date, "last day of the settlement period (inclusive)"),
        col("tenant_id", String, "tenant the subscription belongs to"),
        col("service_id", String, "delivered service"),
        col("plan_id", String, "plan in force at the period's newest usage"),
        col("settlement", String, "daily, weekly or monthly"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("revenue", Money, "sum of the period's charges (before SLA credits)"),
        col("revenue_share_pct", Float64, "tenant's share in percent, as of the period's newest usage"),
        col("tenant_share", Money, "revenue × revenue_share_pct / 100, rounded to the cent"),
        col("studio_share", Money, "revenue − tenant_share"),
        col("payout_threshold", Money, "the plan's threshold: the tenant is paid only when revenue exceeds it"),
        col("payable", UInt8, "1 when revenue > payout_threshold, else 0"),
        col("tenant_amount_payable", Money, "tenant_share when payable, else 0"),
    ],
};

pub static SLA_CREDITS: TableDef = TableDef {
    name: "billing_sla_credits",
    doc: "One row per subscription and calendar month with charges: the service's probe uptime, the credit tier and the charge after credit. Changes while late probes of the month arrive.",
    key: &["subscription_id", "month"],
    columns: &[
        col("subscription_id", String, "subscription id"),
        col("month", Date, "first day of the calendar month; periods count in the month they start in"),
        col("tenant_id", String, "tenant"),
        col("service_id", String, "service whose availability sets the credit"),
        col("currency", String, "ISO 4217 currency of the money columns"),
        col("charges", Money, "sum of the month's usage charges"),
        col("probed_minutes", UInt64, "minutes of the month with at least one probe"),
        col("unavailable_minutes", UInt64, "minutes in which every probe failed"),
        col("uptime_pct", Float64, "100 − unavailable minutes / minutes in the month × 100 (100 with no probes)"),
        col("target_pct", Float64, "monthly availability target in percent (reference/sla.toml)"),
        col("credit_pct", UInt32, "credit in percent of the month's charges from the credit tiers (0 when on target)"),
        col("credit", Money, "charges × credit_pct / 100, rounded to the cent"),
        col("charge_after_credit", Money, "charges − credit"),
    ],
};

/// Every billing table, in the order [`crate::Billing`] renders them.
pub static ALL: [&TableDef; 8] = [
    &PAYMENTS,
    &MONTHLY,
    &SETTLEMENTS_DUE,
    &RECEIVABLES,
    &BUSINESS_INCOME,
    &USAGE_CHARGES,
    &REVENUE_SHARE,
    &SLA_CREDITS,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_columns_and_every_column_is_documented() {
        for def in ALL {
            assert!(def.name.starts_with("billing_"), "{}", def.name);
            for k in def.key {
                assert!(
                    def.column_index(k).is_some(),
                    "{} key {k} is not a column",
                    def.name
                );
            }
            for c in def.columns {
                assert!(!c.doc.is_empty(), "{}.{} has no doc", def.name, c.name);
            }
            let money = def.columns.iter().any(|c| c.ty == Money);
            assert!(
                !money || def.column_index("currency").is_some(),
                "{} has money without currency",
                def.name
            );
            let mut names: Vec<_> = def.columns.iter().map(|c| c.name).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(
                names.len(),
                def.columns.len(),
                "{} has duplicate columns",
                def.name
            );
        }
    }
}
