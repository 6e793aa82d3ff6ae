package events

import "time"

// OrderEvent is a record of the orders topic (gigstream.orders.OrderRecord, schema v2): one
// deal's life from lead to end. Key: DealID.
type OrderEvent struct {
	// EventID is globally unique: the idempotency key.
	EventID string
	// OccurredAt is the event time (written as UTC milliseconds).
	OccurredAt time.Time
	// DealID is the deal (one opportunity from lead to end); the Kafka message key.
	DealID string
	// TraceID is the producer's trace id, if any.
	TraceID *string
	// Payload is the event: LeadPosted, ProposalSubmitted, ClientResponded, ContractSigned,
	// WorkLogged, MilestoneDelivered, InvoiceIssued, PaymentSettled or ContractEnded (values
	// or pointers).
	Payload OrderPayload
}

// OrderPayload is one of the orders topic's event records.
type OrderPayload interface {
	orderBranch() int
	appendAvro(b []byte) ([]byte, error)
	recordName() string
}

func (OrderEvent) Topic() Topic     { return Orders }
func (e OrderEvent) Key() string    { return e.DealID }
func (e OrderEvent) ID() string     { return e.EventID }
func (e OrderEvent) Type() string   { return payloadName(e.Payload) }
func (e OrderEvent) String() string { return describe(e) }

// AppendAvro appends the Avro binary encoding of the event (see Event).
func (e OrderEvent) AppendAvro(b []byte) ([]byte, error) {
	n := len(b)
	out, err := e.appendAvro(b)
	if err != nil {
		return b[:n], wrapEncodeError(Orders, e.EventID, e.Payload, err)
	}
	return out, nil
}

func (e OrderEvent) appendAvro(b []byte) ([]byte, error) {
	if isNil(e.Payload) {
		return b, errNoPayload
	}
	b, err := appendEnvelope(b, e.EventID, e.OccurredAt, "deal_id", e.DealID, e.TraceID)
	if err != nil {
		return b, err
	}
	b = appendLong(b, int64(e.Payload.orderBranch()))
	return e.Payload.appendAvro(b)
}

// ClientSegment is who the client is.
type ClientSegment string

const (
	ClientSegmentStartup         ClientSegment = "startup"
	ClientSegmentCrossBorderSaaS ClientSegment = "cross_border_saas"
	ClientSegmentBlockchainInfra ClientSegment = "blockchain_infra"
	ClientSegmentOther           ClientSegment = "other"
)

// ClientSegments are the symbols in schema order.
var ClientSegments = []ClientSegment{ClientSegmentStartup, ClientSegmentCrossBorderSaaS, ClientSegmentBlockchainInfra, ClientSegmentOther}

// PricingModel is how the work is priced.
type PricingModel string

const (
	PricingFixed        PricingModel = "fixed"
	PricingHourly       PricingModel = "hourly"
	PricingRetainer     PricingModel = "retainer"
	PricingSubscription PricingModel = "subscription"
)

// PricingModels are the symbols in schema order.
var PricingModels = []PricingModel{PricingFixed, PricingHourly, PricingRetainer, PricingSubscription}

// Response is a client's answer to a proposal.
type Response string

const (
	ResponseInterview  Response = "interview"
	ResponseDeclined   Response = "declined"
	ResponseNoResponse Response = "no_response"
)

// Responses are the symbols in schema order.
var Responses = []Response{ResponseInterview, ResponseDeclined, ResponseNoResponse}

// TaxRegime is which tax rule applies to a contract's payments.
type TaxRegime string

const (
	TaxCNLaborRemuneration TaxRegime = "cn_labor_remuneration"
	TaxCNBusinessIncome    TaxRegime = "cn_business_income"
	TaxNone                TaxRegime = "none"
)

// TaxRegimes are the symbols in schema order.
var TaxRegimes = []TaxRegime{TaxCNLaborRemuneration, TaxCNBusinessIncome, TaxNone}

// IncomeType is what kind of income a contract brings.
type IncomeType string

const (
	IncomeProject     IncomeType = "project"
	IncomeConsulting  IncomeType = "consulting"
	IncomeSponsorship IncomeType = "sponsorship"
)

// IncomeTypes are the symbols in schema order.
var IncomeTypes = []IncomeType{IncomeProject, IncomeConsulting, IncomeSponsorship}

// Activity is what logged hours were spent on; coding and testing count as effective work.
type Activity string

const (
	ActivityCoding        Activity = "coding"
	ActivityCommunication Activity = "communication"
	ActivityTesting       Activity = "testing"
	ActivityDocs          Activity = "docs"
	ActivityNegotiation   Activity = "negotiation"
	ActivityInvoicing     Activity = "invoicing"
)

// Activities are the symbols in schema order.
var Activities = []Activity{ActivityCoding, ActivityCommunication, ActivityTesting, ActivityDocs, ActivityNegotiation, ActivityInvoicing}

// Outcome is how a contract ended.
type Outcome string

const (
	OutcomeCompleted Outcome = "completed"
	OutcomeCancelled Outcome = "cancelled"
	OutcomeChurned   Outcome = "churned"
)

// Outcomes are the symbols in schema order.
var Outcomes = []Outcome{OutcomeCompleted, OutcomeCancelled, OutcomeChurned}

// LeadPosted: a client posted work on a platform.
type LeadPosted struct {
	Platform      string        `json:"platform"` // as in reference/platforms.toml (upwork, codingmart, ...)
	ClientID      string        `json:"client_id"`
	ClientSegment ClientSegment `json:"client_segment"`
	ClientCountry string        `json:"client_country"` // ISO 3166-1 alpha-2
	Category      string        `json:"category"`       // data_sync, observability, cli_tool, ...
	SkillTags     []string      `json:"skill_tags"`
	BudgetMin     Decimal       `json:"budget_min"` // decimal(18,2)
	BudgetMax     Decimal       `json:"budget_max"` // decimal(18,2)
	Currency      string        `json:"currency"`   // ISO 4217
}

func (LeadPosted) orderBranch() int   { return 0 }
func (LeadPosted) recordName() string { return "LeadPosted" }
func (p LeadPosted) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("platform", p.Platform)
	w.str("client_id", p.ClientID)
	enum(&w, "client_segment", p.ClientSegment, ClientSegments)
	w.str("client_country", p.ClientCountry)
	w.str("category", p.Category)
	w.strs("skill_tags", p.SkillTags)
	w.dec("budget_min", p.BudgetMin, 18, 2)
	w.dec("budget_max", p.BudgetMax, 18, 2)
	w.str("currency", p.Currency)
	return w.b, w.err
}

// ProposalSubmitted: we sent a proposal.
type ProposalSubmitted struct {
	FreelancerID   string       `json:"freelancer_id"`
	Quote          Decimal      `json:"quote"` // decimal(18,2); for hourly work the hourly rate
	Currency       string       `json:"currency"`
	PricingModel   PricingModel `json:"pricing_model"`
	EstimatedHours Decimal      `json:"estimated_hours"` // decimal(18,4)
}

func (ProposalSubmitted) orderBranch() int   { return 1 }
func (ProposalSubmitted) recordName() string { return "ProposalSubmitted" }
func (p ProposalSubmitted) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("freelancer_id", p.FreelancerID)
	w.dec("quote", p.Quote, 18, 2)
	w.str("currency", p.Currency)
	enum(&w, "pricing_model", p.PricingModel, PricingModels)
	w.dec("estimated_hours", p.EstimatedHours, 18, 4)
	return w.b, w.err
}

// ClientResponded: the client answered (or did not) a proposal; the envelope's OccurredAt is
// when.
type ClientResponded struct {
	FreelancerID string   `json:"freelancer_id"`
	Response     Response `json:"response"`
}

func (ClientResponded) orderBranch() int   { return 2 }
func (ClientResponded) recordName() string { return "ClientResponded" }
func (p ClientResponded) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("freelancer_id", p.FreelancerID)
	enum(&w, "response", p.Response, Responses)
	return w.b, w.err
}

// ContractSigned: a deal became a contract.
type ContractSigned struct {
	ContractID   string       `json:"contract_id"`
	FreelancerID string       `json:"freelancer_id"`
	ClientID     string       `json:"client_id"`
	Platform     string       `json:"platform"`
	PricingModel PricingModel `json:"pricing_model"`
	// Amount is the total (fixed) or per-period (retainer, subscription) amount,
	// decimal(18,2); nil for hourly.
	Amount *Decimal `json:"amount"`
	// HourlyRate is set for hourly contracts, decimal(18,2).
	HourlyRate *Decimal `json:"hourly_rate"`
	Currency   string   `json:"currency"`
	// SettlementCycle is T+N, weekly or monthly; nil means the platform's default.
	SettlementCycle *string    `json:"settlement_cycle"`
	TaxRegime       TaxRegime  `json:"tax_regime"` // tables in reference/tax.toml
	IncomeType      IncomeType `json:"income_type"`
}

func (ContractSigned) orderBranch() int   { return 3 }
func (ContractSigned) recordName() string { return "ContractSigned" }
func (p ContractSigned) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("contract_id", p.ContractID)
	w.str("freelancer_id", p.FreelancerID)
	w.str("client_id", p.ClientID)
	w.str("platform", p.Platform)
	enum(&w, "pricing_model", p.PricingModel, PricingModels)
	w.optDec("amount", p.Amount, 18, 2)
	w.optDec("hourly_rate", p.HourlyRate, 18, 2)
	w.str("currency", p.Currency)
	w.optStr("settlement_cycle", p.SettlementCycle)
	enum(&w, "tax_regime", p.TaxRegime, TaxRegimes)
	enum(&w, "income_type", p.IncomeType, IncomeTypes)
	return w.b, w.err
}

// WorkLogged: hours worked on a contract.
type WorkLogged struct {
	FreelancerID string   `json:"freelancer_id"`
	WorkDate     Date     `json:"work_date"` // the UTC calendar day worked
	Hours        Decimal  `json:"hours"`     // decimal(18,4)
	Activity     Activity `json:"activity"`
}

func (WorkLogged) orderBranch() int   { return 4 }
func (WorkLogged) recordName() string { return "WorkLogged" }
func (p WorkLogged) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("freelancer_id", p.FreelancerID)
	w.date(p.WorkDate)
	w.dec("hours", p.Hours, 18, 4)
	enum(&w, "activity", p.Activity, Activities)
	return w.b, w.err
}

// MilestoneDelivered: a milestone was delivered.
type MilestoneDelivered struct {
	MilestoneID   string  `json:"milestone_id"`
	Amount        Decimal `json:"amount"` // decimal(18,2)
	Currency      string  `json:"currency"`
	DueDate       Date    `json:"due_date"`       // agreed delivery day (UTC)
	DeliveredDate Date    `json:"delivered_date"` // actual delivery day (UTC)
}

func (MilestoneDelivered) orderBranch() int   { return 5 }
func (MilestoneDelivered) recordName() string { return "MilestoneDelivered" }
func (p MilestoneDelivered) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("milestone_id", p.MilestoneID)
	w.dec("amount", p.Amount, 18, 2)
	w.str("currency", p.Currency)
	w.date(p.DueDate)
	w.date(p.DeliveredDate)
	return w.b, w.err
}

// InvoiceIssued: we invoiced the client (through the platform or directly).
type InvoiceIssued struct {
	InvoiceID string    `json:"invoice_id"`
	Gross     Decimal   `json:"gross"` // decimal(18,2): what the client owes
	Currency  string    `json:"currency"`
	IssuedAt  time.Time `json:"issued_at"` // written as UTC milliseconds
	DueAt     time.Time `json:"due_at"`    // when payment is due (receivables aging)
}

func (InvoiceIssued) orderBranch() int   { return 6 }
func (InvoiceIssued) recordName() string { return "InvoiceIssued" }
func (p InvoiceIssued) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("invoice_id", p.InvoiceID)
	w.dec("gross", p.Gross, 18, 2)
	w.str("currency", p.Currency)
	w.ts("issued_at", p.IssuedAt)
	w.ts("due_at", p.DueAt)
	return w.b, w.err
}

// PaymentSettled: the client paid an invoice (all or part); fees and tax apply to this gross
// payment.
type PaymentSettled struct {
	InvoiceID string    `json:"invoice_id"`
	Gross     Decimal   `json:"gross"` // decimal(18,2)
	Currency  string    `json:"currency"`
	SettledAt time.Time `json:"settled_at"`
}

func (PaymentSettled) orderBranch() int   { return 7 }
func (PaymentSettled) recordName() string { return "PaymentSettled" }
func (p PaymentSettled) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("invoice_id", p.InvoiceID)
	w.dec("gross", p.Gross, 18, 2)
	w.str("currency", p.Currency)
	w.ts("settled_at", p.SettledAt)
	return w.b, w.err
}

// ContractEnded: the engagement ended.
type ContractEnded struct {
	ContractID string  `json:"contract_id"`
	Outcome    Outcome `json:"outcome"`
	// ChurnReason is why the client left (for churned and cancelled); free text.
	ChurnReason *string `json:"churn_reason"`
}

func (ContractEnded) orderBranch() int   { return 8 }
func (ContractEnded) recordName() string { return "ContractEnded" }
func (p ContractEnded) appendAvro(b []byte) ([]byte, error) {
	w := writer{b: b}
	w.str("contract_id", p.ContractID)
	enum(&w, "outcome", p.Outcome, Outcomes)
	w.optStr("churn_reason", p.ChurnReason)
	return w.b, w.err
}
