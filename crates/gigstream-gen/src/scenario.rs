//! The fixed frame of one generated data set: span, process-rework date, services and budgets.
//! Every topic's generator reads it, so they agree on service ids and dates.

use crate::dist;
use crate::GenConfig;
use chrono::Duration;
use gigstream_core::time::{date_start_ms, DAY_MS, MINUTE_MS};

/// Share of the events on the orders and usage topics; telemetry gets the rest.
pub(crate) const ORDERS_SHARE: f64 = 0.10;
pub(crate) const USAGE_SHARE: f64 = 0.10;

/// A service we run for clients (shared by the usage and telemetry topics).
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub id: &'static str,
    /// (route, method, weight).
    pub routes: &'static [(&'static str, &'static str, f64)],
    /// Baseline P95 latency, ms.
    pub p95_ms: f64,
    /// Baseline share of requests with status >= 500.
    pub error_rate: f64,
    /// Probe regions (1-3).
    pub regions: Vec<&'static str>,
    /// Relative request volume.
    pub traffic: f64,
}

/// The frame of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Start of the span (inclusive), UTC ms.
    pub start_ms: i64,
    /// End of the span (exclusive), UTC ms.
    pub end_ms: i64,
    /// When the process rework happened: MTTR and delivery deviation improve from here.
    pub rework_ms: i64,
    pub services: Vec<ServiceSpec>,
    /// The service whose long outage owes a service credit, and when that outage starts.
    pub credit_service: &'static str,
    pub credit_outage_ms: i64,
    /// Number of subscriptions (tenant `t-{i+1:03}` subscribes to service `i % services`).
    pub subscriptions: usize,
}

type Routes = &'static [(&'static str, &'static str, f64)];

const CATALOG: [(&str, Routes, f64); 8] = [
    (
        "svc-billing-api",
        &[
            ("/v1/invoices", "GET", 5.0),
            ("/v1/invoices", "POST", 2.0),
            ("/v1/usage", "POST", 4.0),
            ("/v1/tenants/{id}", "GET", 1.0),
        ],
        3.0,
    ),
    (
        "svc-sync-gateway",
        &[
            ("/v1/sync/batches", "POST", 6.0),
            ("/v1/sync/status", "GET", 3.0),
            ("/v1/connectors", "GET", 1.0),
        ],
        4.0,
    ),
    (
        "svc-metrics-ingest",
        &[
            ("/api/v1/write", "POST", 9.0),
            ("/api/v1/query", "GET", 2.0),
            ("/api/v1/alerts", "GET", 1.0),
        ],
        6.0,
    ),
    (
        "svc-auth",
        &[
            ("/oauth/token", "POST", 6.0),
            ("/v1/sessions", "GET", 3.0),
            ("/v1/users/{id}", "PATCH", 1.0),
        ],
        3.0,
    ),
    (
        "svc-ci-permissions",
        &[
            ("/v1/policies/check", "POST", 5.0),
            ("/v1/audit-log", "GET", 2.0),
            ("/v1/policies", "PUT", 1.0),
        ],
        1.5,
    ),
    (
        "svc-chain-indexer",
        &[
            ("/v1/blocks/{height}", "GET", 4.0),
            ("/v1/txs", "GET", 4.0),
            ("/v1/subscriptions", "POST", 1.0),
        ],
        2.0,
    ),
    (
        "svc-search",
        &[("/v1/search", "GET", 8.0), ("/v1/index", "POST", 1.0)],
        2.5,
    ),
    (
        "svc-notify",
        &[
            ("/v1/webhooks", "POST", 5.0),
            ("/v1/messages", "POST", 3.0),
            ("/v1/templates", "GET", 1.0),
        ],
        1.0,
    ),
];

const REGIONS: [&str; 5] = [
    "us-east-1",
    "eu-west-1",
    "ap-southeast-1",
    "cn-north-1",
    "ap-northeast-1",
];

/// The frame for `cfg` (pure: the same config gives the same frame).
pub fn scenario(cfg: &GenConfig) -> Scenario {
    let mut r = dist::rng(cfg.seed, 1);
    let days = cfg.days.max(1) as i64;
    let end_ms = date_start_ms(cfg.end);
    let start_ms = date_start_ms(cfg.end - Duration::days(days));
    let span = end_ms - start_ms;
    // The rework happens on a day boundary between 40% and 60% of the span.
    let rework_ms =
        start_ms + ((span as f64 * dist::uniform(&mut r, 0.4, 0.6)) as i64 / DAY_MS) * DAY_MS;
    let rework_ms = rework_ms.clamp(start_ms, end_ms);
    let n = dist::int(&mut r, 5, 8) as usize;
    let mut order: Vec<usize> = (0..CATALOG.len()).collect();
    // Keep the billing API first (t-001 and t-002 use it), shuffle the others.
    dist::shuffle(&mut r, &mut order[1..]);
    let services: Vec<ServiceSpec> = order[..n]
        .iter()
        .map(|&i| {
            let (id, routes, traffic) = CATALOG[i];
            let nregions = dist::int(&mut r, 1, 3) as usize;
            let mut regions: Vec<&'static str> = REGIONS.to_vec();
            dist::shuffle(&mut r, &mut regions);
            regions.truncate(nregions);
            ServiceSpec {
                id,
                routes,
                p95_ms: dist::uniform(&mut r, 120.0, 140.0).round(),
                error_rate: dist::uniform(&mut r, 0.001, 0.008),
                regions,
                traffic,
            }
        })
        .collect();
    let credit = &services[dist::int(&mut r, 0, n as i64 - 1) as usize];
    // The long outage falls well before the rework (or anywhere in a very short span).
    let lo = start_ms + span / 20;
    let hi = (rework_ms - 6 * 60 * MINUTE_MS).max(lo + 1);
    let credit_outage_ms = dist::int(&mut r, lo, hi) / MINUTE_MS * MINUTE_MS;
    let subscriptions = dist::int(&mut r, 15, 25) as usize;
    Scenario {
        start_ms,
        end_ms,
        rework_ms,
        credit_service: credit.id,
        credit_outage_ms,
        services,
        subscriptions,
    }
}

impl Scenario {
    pub fn span_ms(&self) -> i64 {
        self.end_ms - self.start_ms
    }

    pub fn service_ids(&self) -> Vec<&'static str> {
        self.services.iter().map(|s| s.id).collect()
    }

    /// The tenants subscribed to the service at `service_ix`.
    pub fn tenants_of(&self, service_ix: usize) -> Vec<String> {
        (0..self.subscriptions)
            .filter(|i| i % self.services.len() == service_ix)
            .map(|i| format!("t-{:03}", i + 1))
            .collect()
    }

    /// Whether `ts` is after the process rework.
    pub fn reworked(&self, ts: i64) -> bool {
        ts >= self.rework_ms
    }
}
