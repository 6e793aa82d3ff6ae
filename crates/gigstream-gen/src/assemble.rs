//! Puts the topics together: ingestion delays and late arrivals, log order, event ids, invalid
//! copies.

use crate::dist;
use crate::scenario::{self, ORDERS_SHARE, USAGE_SHARE};
use crate::{inject, orders, telemetry, usage, GenConfig, Generated};
use gigstream_core::event::OrderEvent;
use gigstream_core::time::{DAY_MS, HOUR_MS};
use gigstream_core::{Event, RefData};

/// An event before it is placed in the log.
pub(crate) struct Draft {
    pub event: Event,
    pub append_ts: i64,
    /// May arrive late (work logs, payments, usage records: facts nothing else waits for).
    pub late_ok: bool,
}

/// Share of orders and usage events that arrive late (hours to 20 days).
const LATE_SHARE: f64 = 0.005;
const MAX_LATE_MS: i64 = 20 * DAY_MS;

pub(crate) fn run(cfg: &GenConfig, rd: &RefData) -> Vec<Generated> {
    let cfg = GenConfig {
        days: cfg.days.max(1),
        bad_ratio: if cfg.bad_ratio.is_nan() {
            0.0
        } else {
            cfg.bad_ratio.clamp(0.0, 1.0)
        },
        ..cfg.clone()
    };
    let sc = scenario::scenario(&cfg);
    let orders_target = (cfg.events as f64 * ORDERS_SHARE).round() as u64;
    let usage_target = (cfg.events as f64 * USAGE_SHARE).round() as u64;
    let mut drafts = orders::generate(&sc, cfg.seed, orders_target);
    drafts.extend(usage::generate(&sc, cfg.seed, usage_target, rd));
    let telemetry_target = cfg.events.saturating_sub(drafts.len() as u64);
    drafts.extend(telemetry::generate(&sc, cfg.seed, telemetry_target));

    // Ingestion delays; a few orders/usage events arrive late.
    let mut r = dist::rng(cfg.seed, 40);
    let business = drafts
        .iter()
        .filter(|d| !matches!(d.event, Event::Telemetry(_)))
        .count();
    let eligible = drafts.iter().filter(|d| d.late_ok).count();
    let p_late = if eligible == 0 {
        0.0
    } else {
        (LATE_SHARE * business as f64 / eligible as f64).min(1.0)
    };
    for d in &mut drafts {
        let t = d.event.occurred_at();
        let delay = match d.event {
            Event::Telemetry(_) => {
                dist::lognormal_mean(&mut r, 200.0, 0.8).clamp(2.0, 5_000.0) as i64
            }
            Event::Order(_) => {
                dist::lognormal_mean(&mut r, 800.0, 1.0).clamp(20.0, 10_000.0) as i64
            }
            Event::Usage(_) => dist::int(&mut r, 1_000, 30_000),
        };
        d.append_ts = t + delay;
        if d.late_ok && dist::chance(&mut r, p_late) {
            let late = dist::log_uniform(&mut r, HOUR_MS as f64, MAX_LATE_MS as f64) as i64;
            if t + late < sc.end_ms {
                d.append_ts = t + late;
            }
        }
    }
    // Log order; the stable sort keeps generation order for equal times.
    drafts.sort_by_key(|d| d.append_ts);
    let mut out: Vec<Generated> = drafts
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let mut event = d.event;
            *event_id_mut(&mut event) = format!("{:x}-{:012}", cfg.seed, i);
            Generated {
                event,
                append_ts: d.append_ts,
                bad: None,
            }
        })
        .collect();
    inject::inject(
        &mut dist::rng(cfg.seed, 50),
        &mut out,
        cfg.bad_ratio,
        rd,
        sc.start_ms,
    );
    out
}

pub(crate) fn event_id_mut(e: &mut Event) -> &mut String {
    match e {
        Event::Order(r) => &mut r.event_id,
        Event::Usage(r) => &mut r.event_id,
        Event::Telemetry(r) => &mut r.event_id,
    }
}

pub(crate) fn occurred_mut(e: &mut Event) -> &mut i64 {
    match e {
        Event::Order(r) => &mut r.occurred_at,
        Event::Usage(r) => &mut r.occurred_at,
        Event::Telemetry(r) => &mut r.occurred_at,
    }
}

/// Moves an event's time, keeping a work log's date in step.
pub(crate) fn set_time(e: &mut Event, t: i64) {
    *occurred_mut(e) = t;
    if let Event::Order(r) = e {
        if let OrderEvent::WorkLogged(w) = &mut r.payload {
            w.work_date = gigstream_core::time::date_of(t);
        }
    }
}
