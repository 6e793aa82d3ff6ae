use super::symbols;
use serde::{Deserialize, Serialize};

symbols!(
    /// Incident severity.
    Severity {
        Sev1 = "sev1",
        Sev2 = "sev2",
        Sev3 = "sev3",
        Sev4 = "sev4",
    }
);

/// The events of the `telemetry` topic; the envelope's `service_id` names the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum TelemetryEvent {
    RequestObserved(RequestObserved),
    ProbeResult(ProbeResult),
    IncidentOpened(IncidentOpened),
    IncidentResolved(IncidentResolved),
}

impl TelemetryEvent {
    pub fn type_name(&self) -> &'static str {
        match self {
            TelemetryEvent::RequestObserved(_) => "RequestObserved",
            TelemetryEvent::ProbeResult(_) => "ProbeResult",
            TelemetryEvent::IncidentOpened(_) => "IncidentOpened",
            TelemetryEvent::IncidentResolved(_) => "IncidentResolved",
        }
    }
}

/// One served request. A status code of 500 or more counts as an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestObserved {
    pub tenant_id: String,
    pub route: String,
    pub method: String,
    pub status_code: i32,
    pub latency_ms: i32,
}

impl RequestObserved {
    pub fn is_error(&self) -> bool {
        self.status_code >= 500
    }
}

/// One synthetic probe from one region.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    pub probe_region: String,
    pub ok: bool,
    pub latency_ms: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentOpened {
    pub incident_id: String,
    pub severity: Severity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IncidentResolved {
    pub incident_id: String,
    pub severity: Severity,
}
