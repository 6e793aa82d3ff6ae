package producer

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"
	"github.com/twmb/franz-go/pkg/sr/srfake"

	"github.com/gigstream/gigstream/clients/go/events"
)

func sample() []events.Event {
	at := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	trace := "tr-1"
	return []events.Event{
		events.OrderEvent{EventID: "e-1", OccurredAt: at, DealID: "d-1", TraceID: &trace,
			Payload: events.PaymentSettled{InvoiceID: "inv-1", Gross: "20000.00", Currency: "CNY", SettledAt: at}},
		&events.UsageEvent{EventID: "e-2", OccurredAt: at, SubscriptionID: "s-1",
			Payload: &events.UsageRecorded{TenantID: "t-001", Meter: "api_calls", Quantity: "1200"}},
		events.TelemetryEvent{EventID: "e-3", OccurredAt: at, ServiceID: "svc-sync",
			Payload: events.ProbeResult{ProbeRegion: "ap-east-1", OK: true, LatencyMs: 31}},
	}
}

// TestRecords checks topic, key, header and payload of the records, against a fake registry
// (no Kafka is contacted: records are only built).
func TestRecords(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	// Something registered before, so the registry's ids are not the catalog's.
	if _, _, err := reg.RegisterSchema("other-value", sr.Schema{Schema: `"string"`}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := New(ctx, Config{Brokers: []string{"127.0.0.1:1"}, RegistryURL: reg.URL() + "/", TopicPrefix: "it."})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	seen := map[int]bool{}
	for _, e := range sample() {
		r, err := p.Record(e)
		if err != nil {
			t.Fatal(err)
		}
		ss, ok := reg.GetSchema("it."+string(e.Topic())+"-value", 1)
		if !ok || ss.Schema.Schema != e.Topic().Schema() {
			t.Fatalf("%s: not registered under it.%s-value with the exact schema text", e.Topic(), e.Topic())
		}
		if r.Topic != "it."+string(e.Topic()) || string(r.Key) != e.Key() {
			t.Errorf("%v: topic %s key %s", e, r.Topic, r.Key)
		}
		id := int(binary.BigEndian.Uint32(r.Value[1:5]))
		if r.Value[0] != 0 || id != ss.ID || id != p.SchemaID(e.Topic()) || seen[id] {
			t.Errorf("%v: header %x, registry id %d", e, r.Value[:5], ss.ID)
		}
		seen[id] = true
		avro, _ := events.EncodeAvro(e)
		if !bytes.Equal(r.Value[5:], avro) {
			t.Errorf("%v: payload differs from events.EncodeAvro", e)
		}
	}
	// A second producer (a restart) gets the same ids and adds no versions.
	p2, err := New(ctx, Config{Brokers: []string{"127.0.0.1:1"}, RegistryURL: reg.URL(), TopicPrefix: "it.", LookupOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	for _, topic := range events.Topics {
		if p2.SchemaID(topic) != p.SchemaID(topic) {
			t.Errorf("%s: LookupOnly found id %d, registered %d", topic, p2.SchemaID(topic), p.SchemaID(topic))
		}
	}
}

func TestConfigErrors(t *testing.T) {
	reg := srfake.New()
	defer reg.Close()
	ctx := context.Background()
	for name, c := range map[string]struct {
		cfg  Config
		want string
	}{
		"no brokers":        {Config{RegistryURL: reg.URL()}, "no Brokers"},
		"no registry":       {Config{Brokers: []string{"x:1"}}, "no RegistryURL"},
		"bad topic":         {Config{Brokers: []string{"x:1"}, RegistryURL: reg.URL(), Topics: []events.Topic{"billing"}}, `unknown topic "billing"`},
		"lookup, not there": {Config{Brokers: []string{"x:1"}, RegistryURL: reg.URL(), LookupOnly: true}, "looking up orders's v2 schema under orders-value"},
	} {
		if _, err := New(ctx, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	p, err := New(ctx, Config{Brokers: []string{"x:1"}, RegistryURL: reg.URL(), Topics: []events.Topic{events.Usage}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := p.Record(sample()[0]); err == nil || !strings.Contains(err.Error(), "not in Config.Topics") {
		t.Errorf("an orders event to a usage-only producer: %v", err)
	}
	bad := events.UsageEvent{EventID: "e", OccurredAt: time.Now(), SubscriptionID: "s", Payload: events.UsageRecorded{Quantity: "1.00001"}}
	var got error
	p.Produce(ctx, bad, func(_ *kgo.Record, err error) { got = err })
	if got == nil || !strings.Contains(got.Error(), "quantity") {
		t.Errorf("an invalid decimal: %v", got)
	}
}
