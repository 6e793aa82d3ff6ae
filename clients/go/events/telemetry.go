package events

import "time"

// TelemetryEvent is a record of the telemetry topic (gigstream.telemetry.TelemetryRecord,
// schema v2): requests, probes and incidents of a delivered service. Key: ServiceID.
type TelemetryEvent struct {
	// EventID is globally unique: the idempotency key.
	EventID string
	// OccurredAt is the event time (written as UTC milliseconds).
	OccurredAt time.Time
	// ServiceID is the delivered service; the Kafka message key.
	ServiceID string
	// TraceID is the producer's trace id, if any.
	TraceID *string
	// Payload is the event: RequestObserved, ProbeResult, IncidentOpened or IncidentResolved
	// (values or pointers).
	Payload TelemetryPayload
}

// TelemetryPayload is one of the telemetry topic's event records.
type TelemetryPayload interface {
	telemetryBranch() int
	appendAvro(b []byte) ([]byte, error)
	recordName() string
}

func (TelemetryEvent) Topic() Topic     { return Telemetry }
func (e TelemetryEvent) Key() string    { return e.ServiceID }
func (e TelemetryEvent) ID() string     { return e.EventID }
func (e TelemetryEvent) Type() string   { return payloadName(e.Payload) }
func (e TelemetryEvent) String() string { return describe(e) }

// AppendAvro appends the Avro binary encoding of the event (see Event).
func (e TelemetryEvent) AppendAvro(b []byte) ([]byte, error) {
	n := len(b)
	out, err := e.appendAvro(b)
	if err != nil {
		return b[:n], wrapEncodeError(Telemetry, e.EventID, e.Payload, err)
	}
	return out, nil
}

func (e TelemetryEvent) appendAvro(b []byte) ([]byte, error) {
	if isNil(e.Payload) {
		return b, errNoPayload
	}
	b, err := appendEnvelope(b, e.EventID, e.OccurredAt, "service_id", e.ServiceID, e.TraceID)
	if err != nil {
		return b, err
	}
	b = appendLong(b, int64(e.Payload.telemetryBranch()))
	return e.Payload.appendAvro(b)
}

// Severity is an incident's severity, sev1 the most severe.
type Severity string

const (
	Sev1 Severity = "sev1"
	Sev2 Severity = "sev2"
	Sev3 Severity = "sev3"
	Sev4 Severity = "sev4"
)

// Severities are the symbols in schema order.
var Severities = []Severity{Sev1, Sev2, Sev3, Sev4}

// RequestObserved: one served request; a status code of 500 or more counts as an error.
type RequestObserved struct {
	TenantID   string `json:"tenant_id"`
	Route      string `json:"route"` // the route template, e.g. /v1/orders/{id}
	Method     string `json:"method"`
	StatusCode int32  `json:"status_code"`
	LatencyMs  int32  `json:"latency_ms"` // server-side latency
}

func (RequestObserved) telemetryBranch() int { return 0 }
func (RequestObserved) recordName() string   { return "RequestObserved" }
func (p RequestObserved) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("tenant_id", p.TenantID)
	w.str("route", p.Route)
	w.str("method", p.Method)
	w.int(p.StatusCode)
	w.int(p.LatencyMs)
	return w.b, w.err
}

// ProbeResult: one synthetic probe from one region.
type ProbeResult struct {
	ProbeRegion string `json:"probe_region"`
	OK          bool   `json:"ok"`
	LatencyMs   int32  `json:"latency_ms"` // round-trip latency
}

func (ProbeResult) telemetryBranch() int { return 1 }
func (ProbeResult) recordName() string   { return "ProbeResult" }
func (p ProbeResult) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("probe_region", p.ProbeRegion)
	w.bool(p.OK)
	w.int(p.LatencyMs)
	return w.b, w.err
}

// IncidentOpened: an incident was opened on the service.
type IncidentOpened struct {
	IncidentID string   `json:"incident_id"`
	Severity   Severity `json:"severity"` // when opened
}

func (IncidentOpened) telemetryBranch() int { return 2 }
func (IncidentOpened) recordName() string   { return "IncidentOpened" }
func (p IncidentOpened) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("incident_id", p.IncidentID)
	enum(&w, "severity", p.Severity, Severities)
	return w.b, w.err
}

// IncidentResolved: an incident was resolved; MTTR is resolved minus opened.
type IncidentResolved struct {
	IncidentID string   `json:"incident_id"`
	Severity   Severity `json:"severity"` // at resolution
}

func (IncidentResolved) telemetryBranch() int { return 3 }
func (IncidentResolved) recordName() string   { return "IncidentResolved" }
func (p IncidentResolved) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("incident_id", p.IncidentID)
	enum(&w, "severity", p.Severity, Severities)
	return w.b, w.err
}
