//! gigstream's seeded, deterministic generator of realistic event streams.
//!
//! [`generate`] turns a [`GenConfig`] into the records of the three topics (`orders`, `usage`,
//! `telemetry`) in *log order*: sorted by the time each record is appended to the log
//! ([`Generated::append_ts`], its Kafka timestamp). The same config always gives byte-identical
//! output: every draw comes from a [`rand_chacha::ChaCha8Rng`] seeded from [`GenConfig::seed`],
//! one stream per concern, and nothing iterates a hash map.
//!
//! # What is generated (DOMAIN.md, "Market figures for a realistic generator")
//!
//! * **orders** (key `deal_id`, about 10% of the events): deals from `LeadPosted` to
//!   `ContractEnded` with the seed's segment shares, platform response rates and first-response
//!   times, category price ranges, income mix, daily `WorkLogged` with about 5.2 effective hours
//!   (coding + testing) of about 8 on a full-time project day, milestones whose delivery deviation
//!   is about ±17 days before the process rework and ±2.3 after, invoices due in 14 or 30 days,
//!   full, late, partial and missing payments, and churn reasons led by
//!   `go_module_incompatibility`. Single-delivery contracts last 4.2 weeks on average and 17% of
//!   their clients come back with a new deal.
//! * **usage** (key `subscription_id`, about 10%): 15-25 subscriptions of tenants
//!   `t-001`..`t-0NN` on the plans of `reference/plans.toml`, with their lifecycle
//!   (created -> active -> grace_period -> active | cancelled) and metered usage while active or in
//!   grace. `t-001` shares 70% daily; `t-002` shares 85% weekly on `api-scale`.
//! * **telemetry** (key `service_id`, the rest, about 80%): 5-8 services with sampled requests,
//!   synthetic probes and incidents; see below.
//!
//! # Telemetry sampling and probe cadence
//!
//! Real services see tens to 47,600 requests a second; the log holds a *sample*. The telemetry
//! budget (events − orders − usage) is split 40% probes, 60% requests:
//!
//! * **Probes**: every service is probed from 1-3 regions; at each tick every region probes once
//!   (a few seconds apart, in the same minute). The tick interval is chosen per service so that
//!   the probes fill their share: `interval = span × regions × services / probe budget`, which is
//!   about every 2.4 minutes for 3 regions at the default 1M events over 90 days, and about every
//!   15 s at 10M. While an incident is open the monitor switches to *incident mode* and every
//!   region also probes every 30 s (like a monitor's retry interval), so downtime is measured to
//!   the minute whatever the base cadence. A minute is unavailable when all its probes failed.
//! * **Requests**: a fixed number per service (weighted by its traffic), placed by a diurnal
//!   profile; latencies are log-normal with a per-service baseline P95 of 120-140 ms, rising to
//!   150-240 ms in short slow periods and to 270-420 ms during incidents (P99 stays under
//!   800 ms); baseline error rates are 0.1%-0.8% (status >= 500).
//! * **Incidents**: `IncidentOpened`/`IncidentResolved` pairs whose windows carry the latency and
//!   error spikes and, for outages, failing probes. MTTR is 41 minutes before the process rework
//!   date ([`Scenario::rework_ms`]) and 6.3 minutes after. One service ([`Scenario::credit_service`])
//!   has a 2.5-4 hour outage before the rework, so it misses 99.95% that month and a service
//!   credit is owed; the other service-months stay between about 99.9% and 99.99%.
//!
//! With only a sample of requests per 5-minute window (about 15-20 per service at 1M events),
//! a window's P95 is noisy: a few windows cross 150 ms by chance besides the slow periods.
//!
//! # Limits
//!
//! The log starts empty: every deal begins inside the span, so active contracts (and work logs)
//! build up over the first weeks. Deals and contracts that outlive the span are simply cut at
//! its end (open invoices, contracts without `ContractEnded`).
//!
//! # Late and invalid events
//!
//! Records are appended milliseconds to seconds after they happen, except 0.5% of orders and
//! usage events (work logs, payments, usage records), which arrive one hour to 20 days late:
//! within the 35-day allowed lateness, so they are valid and correct earlier windows. With
//! [`GenConfig::bad_ratio`] > 0, invalid copies of that many records ([`BadKind`]) are mixed
//! into the log right after their originals, spread over kinds and topics; the valid stream
//! stays whole.

mod assemble;
mod dist;
mod inject;
mod orders;
mod scenario;
mod telemetry;
mod usage;

pub use scenario::{scenario, Scenario};

use chrono::NaiveDate;
use gigstream_core::{Event, RefData};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct GenConfig {
    /// Approximate total number of events (within 2%).
    pub events: u64,
    /// Time span in days, ending at `end`.
    pub days: u32,
    pub seed: u64,
    /// Last day of the span: events happen before 00:00 UTC of this date.
    pub end: NaiveDate,
    /// Fraction of records replaced by invalid copies, in [0, 1].
    pub bad_ratio: f64,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            events: 1_000_000,
            days: 90,
            seed: 42,
            end: NaiveDate::from_ymd_opt(2026, 11, 1).expect("2026-11-01 is a valid date"),
            bad_ratio: 0.0,
        }
    }
}

/// Why a [`GenConfig`] cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GenError {
    #[error("days must be at least 1, got {0}: give a positive --days")]
    NoDays(u32),
    #[error("bad_ratio must be between 0 and 1, got {0}: give a fraction such as 0.01")]
    BadRatio(f64),
    #[error(
        "the span of {days} days ending {end} starts before 1970: give fewer days or a later end"
    )]
    BeforeEpoch { days: u32, end: NaiveDate },
}

impl GenConfig {
    /// Checks the config; [`generate`] assumes a config that passes.
    pub fn check(&self) -> Result<(), GenError> {
        if self.days == 0 {
            return Err(GenError::NoDays(self.days));
        }
        if !(0.0..=1.0).contains(&self.bad_ratio) || self.bad_ratio.is_nan() {
            return Err(GenError::BadRatio(self.bad_ratio));
        }
        let start = self.end - chrono::Duration::days(self.days as i64);
        if start < NaiveDate::from_ymd_opt(1970, 1, 2).expect("valid date") {
            return Err(GenError::BeforeEpoch {
                days: self.days,
                end: self.end,
            });
        }
        Ok(())
    }
}

/// Why a record was made invalid on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadKind {
    /// A money amount or usage quantity below zero.
    NegativeAmount,
    /// A currency code that is not in `reference/currencies.toml` (such as `RMB`).
    UnknownCurrency,
    /// A platform id that is not in `reference/platforms.toml`.
    UnknownPlatform,
    /// `occurred_at` days ahead of the append time.
    FutureTimestamp,
    /// An empty id (event id or a payload id).
    MissingField,
    /// Well-formed, but more than 35 days older than newer events of its key: beyond the allowed
    /// lateness, so the pipeline dead-letters it.
    TooLate,
}

impl BadKind {
    pub const ALL: [BadKind; 6] = [
        BadKind::NegativeAmount,
        BadKind::UnknownCurrency,
        BadKind::UnknownPlatform,
        BadKind::FutureTimestamp,
        BadKind::MissingField,
        BadKind::TooLate,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BadKind::NegativeAmount => "negative_amount",
            BadKind::UnknownCurrency => "unknown_currency",
            BadKind::UnknownPlatform => "unknown_platform",
            BadKind::FutureTimestamp => "future_timestamp",
            BadKind::MissingField => "missing_field",
            BadKind::TooLate => "too_late",
        }
    }
}

/// One record of the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    pub event: Event,
    /// When the record is appended to the log (its Kafka timestamp), UTC milliseconds.
    pub append_ts: i64,
    /// Some when this record was made invalid on purpose.
    pub bad: Option<BadKind>,
}

/// Generates the records for `cfg`, sorted by `append_ts` (ties in a fixed order). An invalid
/// config (see [`GenConfig::check`]) is clamped: at least one day, `bad_ratio` within [0, 1].
pub fn generate(cfg: &GenConfig, refdata: &RefData) -> Vec<Generated> {
    assemble::run(cfg, refdata)
}
