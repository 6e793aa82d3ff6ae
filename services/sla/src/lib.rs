//! gigstream's SLA projection: are the services we run for clients inside their SLA, how fast
//! is the error budget burning, and which month owes a service credit.
//!
//! [`Sla`] folds the `telemetry` topic. The state is small and order-independent:
//! - per service, per UTC minute of event time: request and error counts, the latency sum and a
//!   mergeable latency sketch ([`minute`], [`sketch`]);
//! - probe counts per minute in the shared [`Availability`], so billing computes the same uptime;
//! - incidents matched by id from whichever half arrives first ([`incidents`]).
//!
//! Everything else is derived when the tables are rendered ([`tables`]): violation windows and
//! violations ([`violations`]), burn rates ([`burn`]) and the monthly report ([`monthly`]).
//! Applying a request is the hot path (the service must sustain a million requests a second on
//! one core): a hash lookup by `&str`, a cursor hit on the current minute and a binary search in
//! the minute's sparse sketch, with no allocation except when a minute or bucket is first used.

pub mod burn;
pub mod incidents;
pub mod minute;
pub mod monthly;
pub mod sketch;
pub mod tables;
pub mod violations;

#[cfg(test)]
mod merge_tests;
#[cfg(test)]
mod tests;

use gigstream_core::availability::Availability;
use gigstream_core::event::{Event, TelemetryEvent, Topic};
use gigstream_core::{
    ColumnTable, Projection, RefData, Rejection, Scope, TableChanges, TableData, TableDef,
    TableError,
};
use incidents::Incidents;
use minute::MinuteSeries;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The SLA projection's state.
///
/// Every table row is keyed by service, and a service's telemetry shares a partition, so a
/// partition's state renders its own rows ([`Scope::Partition`]): [`Projection::changes`]
/// renders only the minutes, windows, violations, burn-rate steps, months and incidents that
/// the events since the last call touched, and [`Projection::evict`] drops the minutes no
/// event can reach any more (older than the lateness horizon and the longest burn-rate
/// window), keeping per month only the totals its report needs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sla {
    /// Request minutes by service id.
    requests: HashMap<String, MinuteSeries, FxBuildHasher>,
    probes: Availability,
    incidents: Incidents,
    /// Per service, per month start (ms): (probed minutes, unavailable minutes) of the probe
    /// minutes evicted, for the month's report.
    #[serde(default)]
    probe_base: BTreeMap<String, BTreeMap<i64, (i64, i64)>>,
    /// Per service, the violations reported by `changes` and not evicted, `(rule, start ms)`
    /// → end ms: what a later change may have to delete.
    #[serde(default)]
    reported: BTreeMap<String, BTreeMap<(String, i64), i64>>,
    /// Incidents changed since the last `changes`; not part of the state (a checkpoint is
    /// taken right after `changes`).
    #[serde(skip)]
    dirty_incidents: BTreeSet<(String, String)>,
    /// Months whose report changed outside the minutes changed (an incident that opened in
    /// another month before); not part of the state.
    #[serde(skip)]
    dirty_months: BTreeSet<(String, i64)>,
}

impl Sla {
    /// Every service seen in any telemetry event, sorted.
    pub fn service_ids(&self) -> Vec<&str> {
        let mut ids: BTreeSet<&str> = self.requests.keys().map(String::as_str).collect();
        ids.extend(self.probes.services());
        ids.extend(self.incidents.iter().map(|((s, _), _)| s.as_str()));
        ids.into_iter().collect()
    }

    /// A service's request minutes, if it had any request.
    pub fn requests(&self, service_id: &str) -> Option<&MinuteSeries> {
        self.requests.get(service_id)
    }

    /// Probe counts per service and minute.
    pub fn probes(&self) -> &Availability {
        &self.probes
    }

    pub fn incidents(&self) -> &Incidents {
        &self.incidents
    }

    /// Probe counts per month start of the evicted probe minutes of a service.
    pub fn probe_base(&self, service_id: &str) -> Option<&BTreeMap<i64, (i64, i64)>> {
        self.probe_base.get(service_id)
    }

    /// Records that incident `id` of `service` changed, and the month it opened in before.
    fn incident_changed(&mut self, service: &str, id: &str, opened_before: Option<i64>) {
        self.dirty_incidents
            .insert((service.to_string(), id.to_string()));
        if let Some(at) = opened_before {
            self.dirty_months
                .insert((service.to_string(), month_start_ms(at)));
        }
    }
}

/// The end (exclusive, ms) of the UTC month starting at `month` (ms).
fn month_end_ms(month: i64) -> i64 {
    use gigstream_core::time::{date_of, date_start_ms, next_month_start};
    date_start_ms(next_month_start(date_of(month)))
}

/// The start (ms) of the UTC month holding `at`.
fn month_start_ms(at: i64) -> i64 {
    use gigstream_core::time::{date_of, date_start_ms, month_start};
    date_start_ms(month_start(date_of(at)))
}

impl Projection for Sla {
    const NAME: &'static str = "sla";
    const SCOPE: Scope = Scope::Partition;

    fn topics() -> &'static [Topic] {
        &[Topic::Telemetry]
    }

    fn table_defs() -> &'static [&'static TableDef] {
        &tables::TABLES
    }

    fn new(_refdata: &RefData) -> Self {
        Sla::default()
    }

    fn apply(&mut self, _refdata: &RefData, event: &Event) -> Result<(), Rejection> {
        let Event::Telemetry(r) = event else {
            return Err(Rejection::new(
                "unexpected_topic",
                format!(
                    "event {} of topic {} reached the sla projection, which reads telemetry only",
                    event.event_id(),
                    event.topic()
                ),
            ));
        };
        let service = r.service_id.as_str();
        match &r.payload {
            TelemetryEvent::RequestObserved(e) => {
                let latency = u32::try_from(e.latency_ms).map_err(|_| {
                    Rejection::new(
                        "negative_latency",
                        format!("event {} has latency_ms {}", r.event_id, e.latency_ms),
                    )
                })?;
                // Probe with the borrowed id first: the String is built once per service, ever.
                let series = match self.requests.get_mut(service) {
                    Some(s) => s,
                    None => self.requests.entry(service.to_string()).or_default(),
                };
                series.record(r.occurred_at, latency, e.is_error());
            }
            TelemetryEvent::ProbeResult(e) => self.probes.record(service, r.occurred_at, e.ok),
            TelemetryEvent::IncidentOpened(e) => {
                let before = self
                    .incidents
                    .get(service, &e.incident_id)
                    .and_then(|i| i.opened_at);
                self.incidents
                    .opened(service, &e.incident_id, e.severity, r.occurred_at);
                self.incident_changed(service, &e.incident_id, before);
            }
            TelemetryEvent::IncidentResolved(e) => {
                let before = self
                    .incidents
                    .get(service, &e.incident_id)
                    .and_then(|i| i.opened_at);
                self.incidents
                    .resolved(service, &e.incident_id, e.severity, r.occurred_at);
                self.incident_changed(service, &e.incident_id, before);
            }
        }
        Ok(())
    }

    /// Every part of the state is keyed by service (the partition key) and only adds up, so
    /// merging is a union with per-minute sums, sketch merges, probe count sums and incident
    /// combination by the same rules as `apply`.
    fn merge(&mut self, other: &Self) {
        for (service, theirs) in &other.requests {
            match self.requests.get_mut(service.as_str()) {
                Some(mine) => mine.merge(theirs),
                None => {
                    self.requests.insert(service.clone(), theirs.clone());
                }
            }
        }
        self.probes.merge(&other.probes);
        self.incidents.merge(&other.incidents);
        for (service, months) in &other.probe_base {
            let mine = self.probe_base.entry(service.clone()).or_default();
            for (m, (p, d)) in months {
                let e = mine.entry(*m).or_default();
                e.0 += p;
                e.1 += d;
            }
        }
    }

    fn changes(&mut self, refdata: &RefData) -> Result<Vec<TableChanges>, TableError> {
        tables::changes(self, refdata)
    }

    /// Keeps the minutes a later event can still change or need: those at or after
    /// `horizon_ms` minus the longest burn-rate window. Months that end by the horizon are
    /// final and go; the probe counts of evicted minutes stay per month.
    fn evict(&mut self, refdata: &RefData, horizon_ms: i64) {
        let keep_from =
            gigstream_core::time::minute_floor(horizon_ms - tables::lookback_ms(refdata));
        let final_before = |month: i64| month_end_ms(month) <= horizon_ms;
        for series in self.requests.values_mut() {
            series.evict(keep_from, horizon_ms);
        }
        for service in self
            .probes
            .services()
            .into_iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
        {
            let Some(p) = self.probes.service_mut(&service) else {
                continue;
            };
            let drained = p.drain_before(keep_from);
            if drained.is_empty() {
                continue;
            }
            let base = self.probe_base.entry(service).or_default();
            for (m, c) in drained {
                let e = base.entry(month_start_ms(m)).or_default();
                e.0 += 1;
                e.1 += i64::from(c.unavailable());
            }
        }
        for base in self.probe_base.values_mut() {
            base.retain(|m, _| !final_before(*m));
        }
        for reported in self.reported.values_mut() {
            reported.retain(|_, end| *end > keep_from);
        }
    }

    fn tables(&self, refdata: &RefData) -> Vec<TableData> {
        tables::render(&[self], refdata)
            .expect("the SLA tables match their definitions (checked by the tests)")
            .iter()
            .map(ColumnTable::to_rows)
            .collect()
    }

    /// Renders straight from the per-partition states: each service's minutes are borrowed
    /// from the state that holds them instead of being cloned into a merged state.
    fn render(states: &[&Self], refdata: &RefData) -> Result<Vec<ColumnTable>, TableError> {
        tables::render(states, refdata)
    }
}
