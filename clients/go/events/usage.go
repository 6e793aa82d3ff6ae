package events

import "time"

// UsageEvent is a record of the usage topic (gigstream.usage.UsageRecord, schema v2):
// subscription changes and metered usage. Key: SubscriptionID.
type UsageEvent struct {
	// EventID is globally unique: the idempotency key.
	EventID string
	// OccurredAt is the event time (written as UTC milliseconds).
	OccurredAt time.Time
	// SubscriptionID is the subscription; the Kafka message key.
	SubscriptionID string
	// TraceID is the producer's trace id, if any.
	TraceID *string
	// Payload is the event: SubscriptionChanged or UsageRecorded (values or pointers).
	Payload UsagePayload
}

// UsagePayload is one of the usage topic's event records.
type UsagePayload interface {
	usageBranch() int
	appendAvro(b []byte) ([]byte, error)
	recordName() string
}

func (UsageEvent) Topic() Topic     { return Usage }
func (e UsageEvent) Key() string    { return e.SubscriptionID }
func (e UsageEvent) ID() string     { return e.EventID }
func (e UsageEvent) Type() string   { return payloadName(e.Payload) }
func (e UsageEvent) String() string { return describe(e) }

// AppendAvro appends the Avro binary encoding of the event (see Event).
func (e UsageEvent) AppendAvro(b []byte) ([]byte, error) {
	n := len(b)
	out, err := e.appendAvro(b)
	if err != nil {
		return b[:n], wrapEncodeError(Usage, e.EventID, e.Payload, err)
	}
	return out, nil
}

func (e UsageEvent) appendAvro(b []byte) ([]byte, error) {
	if isNil(e.Payload) {
		return b, errNoPayload
	}
	b, err := appendEnvelope(b, e.EventID, e.OccurredAt, "subscription_id", e.SubscriptionID, e.TraceID)
	if err != nil {
		return b, err
	}
	b = appendLong(b, int64(e.Payload.usageBranch()))
	return e.Payload.appendAvro(b)
}

// SubscriptionStatus is a subscription's state: created -> active -> grace_period ->
// cancelled; grace_period returns to active on payment.
type SubscriptionStatus string

const (
	StatusCreated     SubscriptionStatus = "created"
	StatusActive      SubscriptionStatus = "active"
	StatusGracePeriod SubscriptionStatus = "grace_period"
	StatusCancelled   SubscriptionStatus = "cancelled"
)

// SubscriptionStatuses are the symbols in schema order.
var SubscriptionStatuses = []SubscriptionStatus{StatusCreated, StatusActive, StatusGracePeriod, StatusCancelled}

// Settlement is how often usage is charged and the revenue share settled.
type Settlement string

const (
	SettlementDaily   Settlement = "daily"
	SettlementWeekly  Settlement = "weekly"
	SettlementMonthly Settlement = "monthly"
)

// Settlements are the symbols in schema order.
var Settlements = []Settlement{SettlementDaily, SettlementWeekly, SettlementMonthly}

// SubscriptionChanged: a subscription was created or changed state, plan or terms.
type SubscriptionChanged struct {
	TenantID  string             `json:"tenant_id"`  // the tenant (revenue-share partner)
	ClientID  string             `json:"client_id"`  // the paying client
	ServiceID string             `json:"service_id"` // the delivered service the tenant pays for
	PlanID    string             `json:"plan_id"`    // as in reference/plans.toml
	Status    SubscriptionStatus `json:"status"`
	// RevenueSharePct is the tenant's share in percent (70 means 70%), decimal(7,4).
	RevenueSharePct Decimal    `json:"revenue_share_pct"`
	Settlement      Settlement `json:"settlement"`
}

func (SubscriptionChanged) usageBranch() int   { return 0 }
func (SubscriptionChanged) recordName() string { return "SubscriptionChanged" }
func (p SubscriptionChanged) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("tenant_id", p.TenantID)
	w.str("client_id", p.ClientID)
	w.str("service_id", p.ServiceID)
	w.str("plan_id", p.PlanID)
	enum(&w, "status", p.Status, SubscriptionStatuses)
	w.dec("revenue_share_pct", p.RevenueSharePct, 7, 4)
	enum(&w, "settlement", p.Settlement, Settlements)
	return w.b, w.err
}

// UsageRecorded: metered usage of a subscription.
type UsageRecorded struct {
	TenantID string  `json:"tenant_id"`
	Meter    string  `json:"meter"`    // as in the plan: api_calls, compute_hours, seats, licenses
	Quantity Decimal `json:"quantity"` // in the meter's unit, decimal(18,4)
}

func (UsageRecorded) usageBranch() int   { return 1 }
func (UsageRecorded) recordName() string { return "UsageRecorded" }
func (p UsageRecorded) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("tenant_id", p.TenantID)
	w.str("meter", p.Meter)
	w.dec("quantity", p.Quantity, 18, 4)
	return w.b, w.err
}
