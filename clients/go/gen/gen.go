// Package gen makes realistic gigstream events for examples and tests: deals that go from
// lead to proposal, answer, contract, work, milestones, invoices, payments and end;
// subscriptions that are created, activated, metered and sometimes lapse; services that serve
// requests, are probed and have incidents. Every event is valid for gigstream's pipeline: the
// platforms, plans, meters and currencies of its reference/ data, non-negative amounts, event
// times that move forward from a start time. The same seed gives the same events.
package gen

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gigstream/gigstream/clients/go/events"
)

var (
	platforms  = []string{"upwork", "codingmart", "oschina_crowd", "proginn", "fiverr", "toptal", "clouddevs", "direct"}
	categories = []string{"data_sync", "observability", "cli_tool", "api_gateway", "billing", "etl"}
	skills     = []string{"go", "gin", "grpc", "kafka", "postgresql", "go-zero", "redis", "kubernetes", "clickhouse"}
	countries  = []string{"CN", "US", "DE", "GB", "SG", "HK"}
	regions    = []string{"ap-east-1", "us-east-1", "eu-central-1"}
	routes     = []string{"/v1/orders/{id}", "/v1/orders", "/v1/sync/{tenant}", "/v1/invoices/{id}", "/healthz"}
	methods    = []string{"GET", "GET", "GET", "POST", "PUT"}
	plans      = []struct {
		id, currency string
		meters       []string
	}{
		{"api-growth", "USD", []string{"api_calls", "compute_hours", "seats"}},
		{"api-scale", "USD", []string{"api_calls", "compute_hours", "licenses"}},
		{"saas-cn", "CNY", []string{"api_calls", "seats", "gmv"}},
	}
)

type deal struct {
	id, client, freelancer, platform, currency string
	pricing                                    events.PricingModel
	step, invoices, milestones                 int
	contract, openInvoice                      string
	openGross                                  int64 // cents
}

type subscription struct {
	id, tenant, client, service, plan string
	status                            events.SubscriptionStatus
}

type service struct {
	id           string
	openIncident string
	severity     events.Severity
}

// Generator makes events; not safe for concurrent use.
type Generator struct {
	rnd      *rand.Rand
	run      string
	now      time.Time
	step     time.Duration
	seq      int
	deals    []*deal
	subs     []*subscription
	services []*service
	nDeals   int
	nSubs    int
}

// New returns a generator whose first event happens at start; later events move forward by
// up to step each (0: 2 s). run prefixes every id (event ids, deals, subscriptions), so two
// runs with different run strings never share an event id.
func New(seed uint64, run string, start time.Time, step time.Duration) *Generator {
	if step <= 0 {
		step = 2 * time.Second
	}
	g := &Generator{rnd: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), run: run, now: start, step: step}
	for _, id := range []string{"svc-sync", "svc-billing-api", "svc-gateway", "svc-reports"} {
		g.services = append(g.services, &service{id: id})
	}
	return g
}

// Next returns the next event: about 40% orders, 30% usage, 30% telemetry.
func (g *Generator) Next() events.Event {
	switch x := g.rnd.IntN(10); {
	case x < 4:
		return g.Order()
	case x < 7:
		return g.Usage()
	default:
		return g.Telemetry()
	}
}

func (g *Generator) tick() time.Time {
	g.now = g.now.Add(time.Duration(g.rnd.Int64N(int64(g.step)) + 1))
	return g.now.Truncate(time.Millisecond)
}

func (g *Generator) eventID(kind string) string {
	g.seq++
	return fmt.Sprintf("%s-%s-%07d", g.run, kind, g.seq)
}

func (g *Generator) trace() *string {
	if g.rnd.IntN(4) == 0 {
		return nil
	}
	s := fmt.Sprintf("%016x", g.rnd.Uint64())
	return &s
}

func pick[T any](g *Generator, xs []T) T { return xs[g.rnd.IntN(len(xs))] }

// money formats cents as a decimal with 2 places.
func money(cents int64) events.Decimal {
	return events.Decimal(fmt.Sprintf("%d.%02d", cents/100, cents%100))
}

// scaled4 formats ten-thousandths as a decimal with 4 places.
func scaled4(v int64) events.Decimal {
	return events.Decimal(fmt.Sprintf("%d.%04d", v/10000, v%10000))
}

// Order returns the next step of a random open deal (or a new deal's lead).
func (g *Generator) Order() events.OrderEvent {
	if len(g.deals) < 5 || g.rnd.IntN(8) == 0 {
		g.nDeals++
		d := &deal{
			id:         fmt.Sprintf("%s-d-%d", g.run, g.nDeals),
			client:     fmt.Sprintf("c-%d", g.rnd.IntN(200)),
			freelancer: fmt.Sprintf("f-%d", g.rnd.IntN(20)),
			platform:   pick(g, platforms),
			currency:   pick(g, []string{"CNY", "USD", "USD", "EUR"}),
			pricing:    pick(g, events.PricingModels),
		}
		g.deals = append(g.deals, d)
		lo := int64(100+g.rnd.IntN(500)) * 10000
		return g.order(d, events.LeadPosted{
			Platform: d.platform, ClientID: d.client, ClientSegment: pick(g, events.ClientSegments),
			ClientCountry: pick(g, countries), Category: pick(g, categories),
			SkillTags: []string{pick(g, skills), pick(g, skills)},
			BudgetMin: money(lo), BudgetMax: money(lo * int64(2+g.rnd.IntN(3))), Currency: d.currency,
		})
	}
	i := g.rnd.IntN(len(g.deals))
	d := g.deals[i]
	d.step++
	end := func() {
		g.deals[i] = g.deals[len(g.deals)-1]
		g.deals = g.deals[:len(g.deals)-1]
	}
	switch {
	case d.step == 1:
		return g.order(d, events.ProposalSubmitted{
			FreelancerID: d.freelancer, Quote: money(int64(50+g.rnd.IntN(100)) * 100), Currency: d.currency,
			PricingModel: d.pricing, EstimatedHours: scaled4(int64(10+g.rnd.IntN(200)) * 2500),
		})
	case d.step == 2:
		r := pick(g, []events.Response{events.ResponseInterview, events.ResponseInterview, events.ResponseDeclined, events.ResponseNoResponse})
		if r != events.ResponseInterview {
			end()
		}
		return g.order(d, events.ClientResponded{FreelancerID: d.freelancer, Response: r})
	case d.step == 3:
		d.contract = d.id + "-k"
		cs := events.ContractSigned{
			ContractID: d.contract, FreelancerID: d.freelancer, ClientID: d.client, Platform: d.platform,
			PricingModel: d.pricing, Currency: d.currency, TaxRegime: events.TaxNone,
			IncomeType: pick(g, events.IncomeTypes),
		}
		if d.currency == "CNY" { // Chinese tax rules apply to CNY payments only (reference/tax.toml)
			cs.TaxRegime = pick(g, events.TaxRegimes)
		}
		if d.pricing == events.PricingHourly {
			rate := money(int64(40+g.rnd.IntN(80)) * 100)
			cs.HourlyRate = &rate
		} else {
			amount := money(int64(5+g.rnd.IntN(50)) * 100000)
			cs.Amount = &amount
		}
		if g.rnd.IntN(2) == 0 {
			cycle := pick(g, []string{"T+7", "weekly", "monthly"})
			cs.SettlementCycle = &cycle
		}
		return g.order(d, cs)
	case d.openInvoice != "" && g.rnd.IntN(2) == 0:
		inv, gross := d.openInvoice, d.openGross
		d.openInvoice = ""
		return g.order(d, events.PaymentSettled{InvoiceID: inv, Gross: money(gross), Currency: d.currency, SettledAt: g.now})
	case d.invoices >= 3 && d.openInvoice == "":
		end()
		ce := events.ContractEnded{ContractID: d.contract, Outcome: pick(g, events.Outcomes)}
		if ce.Outcome != events.OutcomeCompleted {
			why := pick(g, []string{"budget cut", "moved in-house", "go module version incompatibility"})
			ce.ChurnReason = &why
		}
		return g.order(d, ce)
	case d.openInvoice == "" && g.rnd.IntN(3) == 0:
		d.invoices++
		d.openInvoice = fmt.Sprintf("%s-inv-%d", d.id, d.invoices)
		d.openGross = int64(1000+g.rnd.IntN(20000)) * 100
		return g.order(d, events.InvoiceIssued{
			InvoiceID: d.openInvoice, Gross: money(d.openGross), Currency: d.currency,
			IssuedAt: g.now, DueAt: g.now.Add(30 * 24 * time.Hour),
		})
	case g.rnd.IntN(3) == 0:
		d.milestones++
		due := events.DateOf(g.now.Add(time.Duration(g.rnd.IntN(10)-5) * 24 * time.Hour))
		return g.order(d, events.MilestoneDelivered{
			MilestoneID: fmt.Sprintf("%s-m-%d", d.id, d.milestones), Amount: money(int64(10+g.rnd.IntN(90)) * 10000),
			Currency: d.currency, DueDate: due, DeliveredDate: events.DateOf(g.now),
		})
	default:
		return g.order(d, events.WorkLogged{
			FreelancerID: d.freelancer, WorkDate: events.DateOf(g.now),
			Hours: scaled4(int64(1+g.rnd.IntN(32)) * 2500), Activity: pick(g, events.Activities),
		})
	}
}

func (g *Generator) order(d *deal, p events.OrderPayload) events.OrderEvent {
	return events.OrderEvent{EventID: g.eventID("o"), OccurredAt: g.tick(), DealID: d.id, TraceID: g.trace(), Payload: p}
}

// Usage returns a subscription change or, mostly, metered usage of an active subscription.
func (g *Generator) Usage() events.UsageEvent {
	if len(g.subs) < 3 || g.rnd.IntN(10) == 0 {
		g.nSubs++
		p := pick(g, plans)
		s := &subscription{
			id: fmt.Sprintf("%s-s-%d", g.run, g.nSubs), tenant: fmt.Sprintf("t-%03d", 1+g.rnd.IntN(10)),
			client: fmt.Sprintf("c-%d", g.rnd.IntN(200)), service: pick(g, g.services).id, plan: p.id,
			status: events.StatusCreated,
		}
		g.subs = append(g.subs, s)
		return g.subChange(s)
	}
	i := g.rnd.IntN(len(g.subs))
	s := g.subs[i]
	switch {
	case s.status == events.StatusCreated || s.status == events.StatusGracePeriod && g.rnd.IntN(2) == 0:
		s.status = events.StatusActive
		return g.subChange(s)
	case s.status == events.StatusActive && g.rnd.IntN(25) == 0:
		s.status = events.StatusGracePeriod
		return g.subChange(s)
	case s.status == events.StatusGracePeriod:
		s.status = events.StatusCancelled
		g.subs[i] = g.subs[len(g.subs)-1]
		g.subs = g.subs[:len(g.subs)-1]
		return g.subChange(s)
	}
	var meters []string
	for _, p := range plans {
		if p.id == s.plan {
			meters = p.meters
		}
	}
	m := pick(g, meters)
	var q events.Decimal
	switch m {
	case "api_calls":
		q = scaled4(int64(1+g.rnd.IntN(5000)) * 10000)
	case "seats", "licenses":
		q = scaled4(int64(1+g.rnd.IntN(50)) * 10000)
	default: // compute_hours, gmv
		q = scaled4(int64(1 + g.rnd.IntN(1000000)))
	}
	return events.UsageEvent{EventID: g.eventID("u"), OccurredAt: g.tick(), SubscriptionID: s.id, TraceID: g.trace(),
		Payload: events.UsageRecorded{TenantID: s.tenant, Meter: m, Quantity: q}}
}

func (g *Generator) subChange(s *subscription) events.UsageEvent {
	return events.UsageEvent{EventID: g.eventID("u"), OccurredAt: g.tick(), SubscriptionID: s.id, TraceID: g.trace(),
		Payload: events.SubscriptionChanged{
			TenantID: s.tenant, ClientID: s.client, ServiceID: s.service, PlanID: s.plan, Status: s.status,
			RevenueSharePct: scaled4(int64(60+g.rnd.IntN(31)) * 10000), Settlement: pick(g, events.Settlements),
		}}
}

// Telemetry returns a served request (mostly), a probe, or an incident opened or resolved.
func (g *Generator) Telemetry() events.TelemetryEvent {
	s := pick(g, g.services)
	var p events.TelemetryPayload
	switch x := g.rnd.IntN(100); {
	case x < 2 && s.openIncident == "":
		g.seq++
		s.openIncident, s.severity = fmt.Sprintf("%s-inc-%d", g.run, g.seq), pick(g, events.Severities)
		p = events.IncidentOpened{IncidentID: s.openIncident, Severity: s.severity}
	case x < 6 && s.openIncident != "":
		p = events.IncidentResolved{IncidentID: s.openIncident, Severity: s.severity}
		s.openIncident = ""
	case x < 20:
		ok := s.openIncident == "" || g.rnd.IntN(2) == 0
		p = events.ProbeResult{ProbeRegion: pick(g, regions), OK: ok, LatencyMs: int32(20 + g.rnd.IntN(400))}
	default:
		status := pick(g, []int32{200, 200, 200, 200, 201, 204, 400, 404})
		if s.openIncident != "" && g.rnd.IntN(3) == 0 || g.rnd.IntN(100) == 0 {
			status = pick(g, []int32{500, 502, 503})
		}
		p = events.RequestObserved{
			TenantID: fmt.Sprintf("t-%03d", 1+g.rnd.IntN(10)), Route: pick(g, routes), Method: pick(g, methods),
			StatusCode: status, LatencyMs: int32(1 + g.rnd.ExpFloat64()*80),
		}
	}
	return events.TelemetryEvent{EventID: g.eventID("t"), OccurredAt: g.tick(), ServiceID: s.id, TraceID: g.trace(), Payload: p}
}
