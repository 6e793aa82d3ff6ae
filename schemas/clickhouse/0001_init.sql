-- Generated from the TableDefs by gigstream-clickhouse (ddl::schema_sql); do not edit.
-- Regenerate with GIGSTREAM_BLESS=1 cargo test -p gigstream-clickhouse.

CREATE TABLE IF NOT EXISTS `billing_payments`
(
    `settle_date` Date,
    `payment_event_id` String,
    `deal_id` String,
    `contract_id` String,
    `invoice_id` String,
    `platform` String,
    `pricing_model` String,
    `income_type` String,
    `currency` String,
    `settled_at` DateTime,
    `gross` Decimal(18, 2),
    `fee_pct` Float64,
    `platform_fee` Decimal(18, 2),
    `tax_regime` String,
    `tax` Decimal(18, 2),
    `tax_withheld_by_platform` UInt8,
    `net` Decimal(18, 2),
    `take_home_ratio` Nullable(Float64),
    `settlement_cycle` String,
    `due_date` Date,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`settle_date`, `payment_event_id`);

CREATE TABLE IF NOT EXISTS `billing_monthly`
(
    `month` Date,
    `platform` String,
    `currency` String,
    `payments` UInt64,
    `gross` Decimal(18, 2),
    `platform_fee` Decimal(18, 2),
    `tax` Decimal(18, 2),
    `net` Decimal(18, 2),
    `take_home_ratio` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`month`, `platform`, `currency`);

CREATE TABLE IF NOT EXISTS `billing_settlements_due`
(
    `due_date` Date,
    `platform` String,
    `currency` String,
    `payments` UInt64,
    `gross` Decimal(18, 2),
    `net_due` Decimal(18, 2),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`due_date`, `platform`, `currency`);

CREATE TABLE IF NOT EXISTS `billing_receivables`
(
    `deal_id` String,
    `invoice_id` String,
    `contract_id` String,
    `platform` String,
    `currency` String,
    `issued_at` DateTime,
    `due_at` DateTime,
    `gross_invoiced` Decimal(18, 2),
    `paid` Decimal(18, 2),
    `outstanding` Decimal(18, 2),
    `payments` UInt64,
    `last_paid_at` Nullable(DateTime),
    `days_overdue` Int64,
    `aging_bucket` String,
    `as_of` DateTime,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`deal_id`, `invoice_id`);

CREATE TABLE IF NOT EXISTS `billing_business_income_estimate`
(
    `year` UInt32,
    `currency` String,
    `payments` UInt64,
    `gross` Decimal(18, 2),
    `platform_fee` Decimal(18, 2),
    `income_estimate` Decimal(18, 2),
    `tax_rate_pct_estimate` Nullable(Float64),
    `quick_deduction_estimate` Nullable(Decimal(18, 2)),
    `tax_estimate` Nullable(Decimal(18, 2)),
    `after_tax_income_estimate` Nullable(Decimal(18, 2)),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`year`, `currency`);

CREATE TABLE IF NOT EXISTS `billing_usage_charges`
(
    `subscription_id` String,
    `period_start` Date,
    `period_end` Date,
    `plan_id` String,
    `meter` String,
    `tenant_id` String,
    `service_id` String,
    `settlement` String,
    `aggregation` String,
    `usage_records` UInt64,
    `quantity` Decimal(18, 4),
    `pricing_model` String,
    `charge` Decimal(18, 2),
    `currency` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`subscription_id`, `period_start`, `period_end`, `plan_id`, `meter`);

CREATE TABLE IF NOT EXISTS `billing_revenue_share`
(
    `subscription_id` String,
    `period_start` Date,
    `period_end` Date,
    `tenant_id` String,
    `service_id` String,
    `plan_id` String,
    `settlement` String,
    `currency` String,
    `revenue` Decimal(18, 2),
    `revenue_share_pct` Float64,
    `tenant_share` Decimal(18, 2),
    `studio_share` Decimal(18, 2),
    `payout_threshold` Decimal(18, 2),
    `payable` UInt8,
    `tenant_amount_payable` Decimal(18, 2),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`subscription_id`, `period_start`, `period_end`);

CREATE TABLE IF NOT EXISTS `billing_sla_credits`
(
    `subscription_id` String,
    `month` Date,
    `tenant_id` String,
    `service_id` String,
    `currency` String,
    `charges` Decimal(18, 2),
    `probed_minutes` UInt64,
    `unavailable_minutes` UInt64,
    `uptime_pct` Float64,
    `target_pct` Float64,
    `credit_pct` UInt32,
    `credit` Decimal(18, 2),
    `charge_after_credit` Decimal(18, 2),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`subscription_id`, `month`);

CREATE TABLE IF NOT EXISTS `sla_minute`
(
    `service_id` String,
    `minute` DateTime,
    `requests` UInt64,
    `errors` UInt64,
    `latency_sum_ms` UInt64,
    `p50_ms` Nullable(UInt32),
    `p95_ms` Nullable(UInt32),
    `p99_ms` Nullable(UInt32),
    `latency_values` Array(UInt32),
    `latency_counts` Array(UInt64),
    `latency_clamped` UInt64,
    `probes` UInt32,
    `probes_ok` UInt32,
    `unavailable` UInt8,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `minute`);

CREATE TABLE IF NOT EXISTS `sla_window`
(
    `service_id` String,
    `window_start` DateTime,
    `window_end` DateTime,
    `requests` UInt64,
    `errors` UInt64,
    `error_rate_pct` Float64,
    `p95_ms` UInt32,
    `p99_ms` UInt32,
    `p95_over_alert` UInt8,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `window_start`);

CREATE TABLE IF NOT EXISTS `sla_violations`
(
    `service_id` String,
    `rule` String,
    `window_start` DateTime,
    `window_end` DateTime,
    `windows` UInt32,
    `observed` Float64,
    `threshold` Float64,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `rule`, `window_start`);

CREATE TABLE IF NOT EXISTS `sla_monthly`
(
    `service_id` String,
    `month` Date,
    `requests` UInt64,
    `errors` UInt64,
    `error_rate_pct` Nullable(Float64),
    `p50_ms` Nullable(UInt32),
    `p95_ms` Nullable(UInt32),
    `p99_ms` Nullable(UInt32),
    `minutes_in_month` UInt32,
    `probed_minutes` UInt32,
    `unavailable_minutes` UInt32,
    `uptime_pct` Float64,
    `availability_target_pct` Float64,
    `met_availability` UInt8,
    `met_p95` UInt8,
    `met_p99` UInt8,
    `met_error_rate` UInt8,
    `error_budget_pct` Float64,
    `error_budget_remaining_pct` Nullable(Float64),
    `credit_pct` UInt32,
    `incidents` UInt32,
    `mttr_minutes` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `month`);

CREATE TABLE IF NOT EXISTS `sla_burn_rate`
(
    `service_id` String,
    `step_end` DateTime,
    `error_ratio_5m` Nullable(Float64),
    `burn_5m` Nullable(Float64),
    `error_ratio_30m` Nullable(Float64),
    `burn_30m` Nullable(Float64),
    `error_ratio_1h` Nullable(Float64),
    `burn_1h` Nullable(Float64),
    `error_ratio_6h` Nullable(Float64),
    `burn_6h` Nullable(Float64),
    `error_ratio_3d` Nullable(Float64),
    `burn_3d` Nullable(Float64),
    `page_fast` UInt8,
    `page_slow` UInt8,
    `ticket` UInt8,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `step_end`);

CREATE TABLE IF NOT EXISTS `sla_incidents`
(
    `incident_id` String,
    `service_id` String,
    `severity` String,
    `opened_at` Nullable(DateTime),
    `resolved_at` Nullable(DateTime),
    `duration_minutes` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service_id`, `incident_id`);

CREATE TABLE IF NOT EXISTS `market_funnel_daily`
(
    `day` Date,
    `platform` String,
    `client_segment` String,
    `leads` UInt64,
    `proposals` UInt64,
    `responses` UInt64,
    `interviews` UInt64,
    `wins` UInt64,
    `response_rate` Nullable(Float64),
    `interview_rate` Nullable(Float64),
    `win_rate` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`day`, `platform`, `client_segment`);

CREATE TABLE IF NOT EXISTS `market_skill_daily`
(
    `day` Date,
    `platform` String,
    `skill_tag` String,
    `client_segment` String,
    `leads` UInt64,
    `proposals` UInt64,
    `responses` UInt64,
    `interviews` UInt64,
    `wins` UInt64,
    `response_rate` Nullable(Float64),
    `interview_rate` Nullable(Float64),
    `win_rate` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`day`, `platform`, `skill_tag`, `client_segment`);

CREATE TABLE IF NOT EXISTS `market_quotes`
(
    `deal_id` String,
    `proposal_seq` UInt32,
    `submitted_at` DateTime,
    `freelancer_id` String,
    `category` String,
    `platform` String,
    `client_segment` String,
    `currency` String,
    `pricing_model` String,
    `quote` Decimal(18, 2),
    `won` UInt8,
    `winning_amount` Nullable(Decimal(18, 2)),
    `winning_currency` Nullable(String),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`deal_id`, `proposal_seq`);

CREATE TABLE IF NOT EXISTS `market_price_stats`
(
    `category` String,
    `currency` String,
    `pricing_model` String,
    `quotes` UInt64,
    `quote_p25` Nullable(Decimal(18, 2)),
    `quote_p50` Nullable(Decimal(18, 2)),
    `quote_p75` Nullable(Decimal(18, 2)),
    `wins` UInt64,
    `win_p25` Nullable(Decimal(18, 2)),
    `win_p50` Nullable(Decimal(18, 2)),
    `win_p75` Nullable(Decimal(18, 2)),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`category`, `currency`, `pricing_model`);

CREATE TABLE IF NOT EXISTS `market_response_times`
(
    `platform` String,
    `deals_with_proposal` UInt64,
    `responded_deals` UInt64,
    `response_share` Nullable(Float64),
    `first_response_p50_hours` Nullable(Float64),
    `first_response_p90_hours` Nullable(Float64),
    `first_response_mean_hours` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`platform`);

CREATE TABLE IF NOT EXISTS `market_response_times_daily`
(
    `day` Date,
    `platform` String,
    `responded_deals` UInt64,
    `first_response_p50_hours` Float64,
    `first_response_p90_hours` Float64,
    `first_response_mean_hours` Float64,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`day`, `platform`);

CREATE TABLE IF NOT EXISTS `market_hours`
(
    `week` Date,
    `activity` String,
    `effective` UInt8,
    `hours` Decimal(18, 4),
    `share_of_week` Float64,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`week`, `activity`);

CREATE TABLE IF NOT EXISTS `market_effective_daily`
(
    `day` Date,
    `freelancer_id` String,
    `hours_logged` Decimal(18, 4),
    `effective_hours` Decimal(18, 4),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`day`, `freelancer_id`);

CREATE TABLE IF NOT EXISTS `market_churn`
(
    `month` Date,
    `outcome` String,
    `churn_reason` String,
    `contracts_ended` UInt64,
    `avg_engagement_weeks` Decimal(18, 4),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`month`, `outcome`, `churn_reason`);

CREATE TABLE IF NOT EXISTS `market_demand_growth`
(
    `week` Date,
    `iso_week` String,
    `skill_tag` String,
    `leads` UInt64,
    `leads_prev_week` UInt64,
    `wow_growth_pct` Nullable(Float64),
    `leads_same_week_last_year` UInt64,
    `yoy_growth_pct` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`week`, `skill_tag`);

CREATE TABLE IF NOT EXISTS `market_demand_growth_platform`
(
    `week` Date,
    `iso_week` String,
    `platform` String,
    `leads` UInt64,
    `leads_prev_week` UInt64,
    `wow_growth_pct` Nullable(Float64),
    `leads_same_week_last_year` UInt64,
    `yoy_growth_pct` Nullable(Float64),
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`week`, `platform`);

CREATE TABLE IF NOT EXISTS `dead_letters`
(
    `service` String,
    `topic` String,
    `partition` UInt32,
    `offset` UInt64,
    `appended_at` DateTime,
    `code` String,
    `reason` String,
    `key` String,
    `payload_text` String,
    `payload_hex` String,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service`, `topic`, `partition`, `offset`);

CREATE TABLE IF NOT EXISTS `positions`
(
    `service` String,
    `topic` String,
    `partition` UInt32,
    `next_offset` UInt64,
    `watermark` DateTime,
    `_version` UInt64
)
ENGINE = ReplacingMergeTree(`_version`)
ORDER BY (`service`, `topic`, `partition`);

CREATE TABLE IF NOT EXISTS `gigstream_task_checkpoints`
(
    `service` String,
    `topic` String,
    `partition` UInt32,
    `epoch` UInt32,
    `next_offset` UInt64,
    `version` UInt64,
    `checkpoint` String,
    `committed_at` DateTime
)
ENGINE = ReplacingMergeTree(`version`)
ORDER BY (`service`, `topic`, `partition`);
