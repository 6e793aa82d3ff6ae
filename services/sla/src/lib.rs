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
    ColumnTable, Projection, RefData, Rejection, TableData, TableDef, TableError,
};
use incidents::Incidents;
use minute::MinuteSeries;
use rustc_hash::FxBuildHasher;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};

/// The SLA projection's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Sla {
    /// Request minutes by service id.
    requests: HashMap<String, MinuteSeries, FxBuildHasher>,
    probes: Availability,
    incidents: Incidents,
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
}

impl Projection for Sla {
    const NAME: &'static str = "sla";

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
                series
                    .minute_mut(r.occurred_at)
                    .record(latency, e.is_error());
            }
            TelemetryEvent::ProbeResult(e) => self.probes.record(service, r.occurred_at, e.ok),
            TelemetryEvent::IncidentOpened(e) => {
                self.incidents
                    .opened(service, &e.incident_id, e.severity, r.occurred_at)
            }
            TelemetryEvent::IncidentResolved(e) => {
                self.incidents
                    .resolved(service, &e.incident_id, e.severity, r.occurred_at)
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
