package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JSON: the events marshal to, and unmarshal from, gigstream's JSON-lines form (what its
// consumers read besides Avro, and what schemas/golden/*.json hold): the schema's field names
// in schema order, schema_version 2, the payload as {"<RecordName>": {...}}, decimals as
// strings, dates as "YYYY-MM-DD", timestamps as UTC milliseconds (unmarshalling also takes
// RFC 3339 text, e.g. "2026-03-01T10:00:00Z"). Unknown fields are refused.

// millis is a time.Time that is a JSON number of UTC milliseconds.
type millis time.Time

func (m millis) MarshalJSON() ([]byte, error) {
	t := time.Time(m)
	if t.IsZero() {
		return nil, errors.New("timestamp not set (zero time.Time)")
	}
	return strconv.AppendInt(nil, t.UnixMilli(), 10), nil
}

func (m *millis) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return fmt.Errorf("timestamp %q: want UTC milliseconds or RFC 3339 text", s)
		}
		*m = millis(t.UTC())
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("timestamp %s: want UTC milliseconds or RFC 3339 text", b)
	}
	*m = millis(time.UnixMilli(n).UTC())
	return nil
}

// MarshalJSON writes the date as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// UnmarshalJSON reads "YYYY-MM-DD" or a number of days since 1970-01-01.
func (d *Date) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseDate(s)
		*d = v
		return err
	}
	n, err := strconv.ParseInt(string(b), 10, 32)
	if err != nil {
		return fmt.Errorf("date %s: want YYYY-MM-DD or days since 1970-01-01", b)
	}
	*d = Date(n)
	return nil
}

// marshal is json.Marshal without HTML escaping (<, >, & stay as they are).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// unmarshalStrict is json.Unmarshal refusing unknown fields and trailing data.
func unmarshalStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("data after the JSON value")
	}
	return nil
}

func marshalEnvelope(id string, at time.Time, keyField, key string, trace *string, p named) ([]byte, error) {
	if isNil(p) {
		return nil, errNoPayload
	}
	var buf bytes.Buffer
	field := func(name string, v any) error {
		if buf.Len() == 0 {
			buf.WriteByte('{')
		} else {
			buf.WriteByte(',')
		}
		buf.WriteString(strconv.Quote(name))
		buf.WriteByte(':')
		b, err := marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		buf.Write(b)
		return nil
	}
	for _, f := range []struct {
		name string
		v    any
	}{
		{"event_id", id},
		{"occurred_at", millis(at)},
		{keyField, key},
		{"schema_version", SchemaVersion},
		{"trace_id", trace},
		{"payload", map[string]any{p.recordName(): p}},
	} {
		if err := field(f.name, f.v); err != nil {
			return nil, err
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

type rawEnvelope struct {
	id      string
	at      time.Time
	key     string
	trace   *string
	branch  string
	payload json.RawMessage
}

func unmarshalEnvelope(b []byte, topic Topic, keyField string) (rawEnvelope, error) {
	var env rawEnvelope
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return env, err
	}
	for _, f := range []string{"event_id", "occurred_at", keyField, "payload"} {
		if _, ok := m[f]; !ok {
			return env, fmt.Errorf("%s event: no %s", topic, f)
		}
	}
	for k, v := range m {
		var err error
		switch k {
		case "event_id":
			err = json.Unmarshal(v, &env.id)
		case "occurred_at":
			var t millis
			err = json.Unmarshal(v, &t)
			env.at = time.Time(t)
		case keyField:
			err = json.Unmarshal(v, &env.key)
		case "schema_version":
			var n int
			if err = json.Unmarshal(v, &n); err == nil && n != SchemaVersion {
				err = fmt.Errorf("is %d; this package reads and writes version %d", n, SchemaVersion)
			}
		case "trace_id":
			err = json.Unmarshal(v, &env.trace)
		case "payload":
			var p map[string]json.RawMessage
			if err = json.Unmarshal(v, &p); err == nil && len(p) != 1 {
				err = fmt.Errorf("want one {\"<RecordName>\": {...}}, got %d keys", len(p))
			}
			for name, raw := range p {
				env.branch = strings.TrimPrefix(name, "gigstream."+string(topic)+".")
				env.payload = raw
			}
		default:
			err = errors.New("unknown field")
		}
		if err != nil {
			return env, fmt.Errorf("%s event: %s: %w", topic, k, err)
		}
	}
	return env, nil
}

func decodeBranch[T any](raw json.RawMessage) (*T, error) {
	p := new(T)
	if err := unmarshalStrict(raw, p); err != nil {
		return nil, err
	}
	return p, nil
}

// MarshalJSON writes gigstream's JSON form of the event.
func (e OrderEvent) MarshalJSON() ([]byte, error) {
	return marshalEnvelope(e.EventID, e.OccurredAt, "deal_id", e.DealID, e.TraceID, e.Payload)
}

// UnmarshalJSON reads gigstream's JSON form of an orders event.
func (e *OrderEvent) UnmarshalJSON(b []byte) error {
	env, err := unmarshalEnvelope(b, Orders, "deal_id")
	if err != nil {
		return err
	}
	var p OrderPayload
	switch env.branch {
	case "LeadPosted":
		p, err = decodeBranch[LeadPosted](env.payload)
	case "ProposalSubmitted":
		p, err = decodeBranch[ProposalSubmitted](env.payload)
	case "ClientResponded":
		p, err = decodeBranch[ClientResponded](env.payload)
	case "ContractSigned":
		p, err = decodeBranch[ContractSigned](env.payload)
	case "WorkLogged":
		p, err = decodeBranch[WorkLogged](env.payload)
	case "MilestoneDelivered":
		p, err = decodeBranch[MilestoneDelivered](env.payload)
	case "InvoiceIssued":
		p, err = decodeBranch[InvoiceIssued](env.payload)
	case "PaymentSettled":
		p, err = decodeBranch[PaymentSettled](env.payload)
	case "ContractEnded":
		p, err = decodeBranch[ContractEnded](env.payload)
	default:
		return fmt.Errorf("orders event: payload: unknown record %q", env.branch)
	}
	if err != nil {
		return fmt.Errorf("orders event: payload %s: %w", env.branch, err)
	}
	*e = OrderEvent{EventID: env.id, OccurredAt: env.at, DealID: env.key, TraceID: env.trace, Payload: p}
	return nil
}

// MarshalJSON writes gigstream's JSON form of the event.
func (e UsageEvent) MarshalJSON() ([]byte, error) {
	return marshalEnvelope(e.EventID, e.OccurredAt, "subscription_id", e.SubscriptionID, e.TraceID, e.Payload)
}

// UnmarshalJSON reads gigstream's JSON form of a usage event.
func (e *UsageEvent) UnmarshalJSON(b []byte) error {
	env, err := unmarshalEnvelope(b, Usage, "subscription_id")
	if err != nil {
		return err
	}
	var p UsagePayload
	switch env.branch {
	case "SubscriptionChanged":
		p, err = decodeBranch[SubscriptionChanged](env.payload)
	case "UsageRecorded":
		p, err = decodeBranch[UsageRecorded](env.payload)
	default:
		return fmt.Errorf("usage event: payload: unknown record %q", env.branch)
	}
	if err != nil {
		return fmt.Errorf("usage event: payload %s: %w", env.branch, err)
	}
	*e = UsageEvent{EventID: env.id, OccurredAt: env.at, SubscriptionID: env.key, TraceID: env.trace, Payload: p}
	return nil
}

// MarshalJSON writes gigstream's JSON form of the event.
func (e TelemetryEvent) MarshalJSON() ([]byte, error) {
	return marshalEnvelope(e.EventID, e.OccurredAt, "service_id", e.ServiceID, e.TraceID, e.Payload)
}

// UnmarshalJSON reads gigstream's JSON form of a telemetry event.
func (e *TelemetryEvent) UnmarshalJSON(b []byte) error {
	env, err := unmarshalEnvelope(b, Telemetry, "service_id")
	if err != nil {
		return err
	}
	var p TelemetryPayload
	switch env.branch {
	case "RequestObserved":
		p, err = decodeBranch[RequestObserved](env.payload)
	case "ProbeResult":
		p, err = decodeBranch[ProbeResult](env.payload)
	case "IncidentOpened":
		p, err = decodeBranch[IncidentOpened](env.payload)
	case "IncidentResolved":
		p, err = decodeBranch[IncidentResolved](env.payload)
	default:
		return fmt.Errorf("telemetry event: payload: unknown record %q", env.branch)
	}
	if err != nil {
		return fmt.Errorf("telemetry event: payload %s: %w", env.branch, err)
	}
	*e = TelemetryEvent{EventID: env.id, OccurredAt: env.at, ServiceID: env.key, TraceID: env.trace, Payload: p}
	return nil
}

// The records with timestamp fields write them as milliseconds too.

// MarshalJSON writes the record with its timestamps as UTC milliseconds.
func (p InvoiceIssued) MarshalJSON() ([]byte, error) {
	type plain InvoiceIssued
	return marshal(struct {
		plain
		IssuedAt millis `json:"issued_at"`
		DueAt    millis `json:"due_at"`
	}{plain(p), millis(p.IssuedAt), millis(p.DueAt)})
}

// UnmarshalJSON reads the record, timestamps as milliseconds or RFC 3339 text.
func (p *InvoiceIssued) UnmarshalJSON(b []byte) error {
	type plain InvoiceIssued
	aux := struct {
		*plain
		IssuedAt millis `json:"issued_at"`
		DueAt    millis `json:"due_at"`
	}{plain: (*plain)(p)}
	if err := unmarshalStrict(b, &aux); err != nil {
		return err
	}
	p.IssuedAt, p.DueAt = time.Time(aux.IssuedAt), time.Time(aux.DueAt)
	return nil
}

// MarshalJSON writes the record with its timestamp as UTC milliseconds.
func (p PaymentSettled) MarshalJSON() ([]byte, error) {
	type plain PaymentSettled
	return marshal(struct {
		plain
		SettledAt millis `json:"settled_at"`
	}{plain(p), millis(p.SettledAt)})
}

// UnmarshalJSON reads the record, the timestamp as milliseconds or RFC 3339 text.
func (p *PaymentSettled) UnmarshalJSON(b []byte) error {
	type plain PaymentSettled
	aux := struct {
		*plain
		SettledAt millis `json:"settled_at"`
	}{plain: (*plain)(p)}
	if err := unmarshalStrict(b, &aux); err != nil {
		return err
	}
	p.SettledAt = time.Time(aux.SettledAt)
	return nil
}
