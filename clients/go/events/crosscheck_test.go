package events_test

import (
	"bytes"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/gigstream/gigstream/clients/go/events"
	"github.com/gigstream/gigstream/clients/go/gen"
)

// TestAgainstHamba encodes thousands of generated events with this package and checks them
// with an independent Avro implementation (hamba/avro, driven by the schema text): the bytes
// decode, the decoded values are the events' (decimals exactly), and hamba encodes the decoded
// value back to the same bytes.
func TestAgainstHamba(t *testing.T) {
	schemas := map[events.Topic]avro.Schema{}
	for _, topic := range events.Topics {
		schemas[topic] = avro.MustParse(topic.Schema())
	}
	g := gen.New(42, "x", time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), 0)
	types := map[string]int{}
	for i := 0; i < 5000; i++ {
		e := g.Next()
		b, err := events.EncodeAvro(e)
		if err != nil {
			t.Fatalf("%v: %v", e, err)
		}
		s := schemas[e.Topic()]
		var v map[string]any
		if err := avro.Unmarshal(s, b, &v); err != nil {
			t.Fatalf("%v: hamba cannot decode %x: %v", e, b, err)
		}
		again, err := avro.Marshal(s, v)
		if err != nil {
			t.Fatal(err)
		}
		if e.Type() == "LeadPosted" {
			// hamba writes arrays as blocks with a negative count and a byte size (valid Avro,
			// but not what Java, Rust and this package write): compare what it decodes to.
			var v2 map[string]any
			if err := avro.Unmarshal(s, again, &v2); err != nil || !reflect.DeepEqual(v, v2) {
				t.Fatalf("%v: hamba's own encoding decodes to %v (%v)", e, v2, err)
			}
		} else if !bytes.Equal(again, b) {
			t.Fatalf("%v: hamba re-encodes to %x, we wrote %x", e, again, b)
		}
		checkDecoded(t, e, v)
		types[e.Type()]++
	}
	if len(types) != 15 {
		t.Errorf("the generator made %d of the 15 record types: %v", len(types), types)
	}
}

// checkDecoded compares hamba's generic decoding with the event's fields.
func checkDecoded(t *testing.T, e events.Event, v map[string]any) {
	t.Helper()
	keyField := map[events.Topic]string{events.Orders: "deal_id", events.Usage: "subscription_id", events.Telemetry: "service_id"}[e.Topic()]
	if v["event_id"] != e.ID() || v[keyField] != e.Key() || v["schema_version"] != 2 {
		t.Fatalf("%v: envelope decoded as %v", e, v)
	}
	payload := v["payload"].(map[string]any)
	name := "gigstream." + string(e.Topic()) + "." + e.Type()
	rec, ok := payload[name].(map[string]any)
	if !ok {
		t.Fatalf("%v: payload branch %v, want %s", e, payload, name)
	}
	// Every Decimal field of the payload equals hamba's *big.Rat exactly.
	pv := reflect.Indirect(reflect.ValueOf(payloadOf(e)))
	for i := 0; i < pv.NumField(); i++ {
		f := pv.Type().Field(i)
		tag := f.Tag.Get("json")
		var d events.Decimal
		switch x := pv.Field(i).Interface().(type) {
		case events.Decimal:
			d = x
		case *events.Decimal:
			if x == nil {
				if rec[tag] != nil {
					t.Fatalf("%v: %s is null, decoded %v", e, tag, rec[tag])
				}
				continue
			}
			d = *x
		default:
			continue
		}
		want, ok := new(big.Rat).SetString(string(d))
		got, isRat := rec[tag].(*big.Rat)
		if !ok || !isRat || want.Cmp(got) != 0 {
			t.Fatalf("%v: %s is %s, decoded %v", e, tag, d, rec[tag])
		}
	}
}

func payloadOf(e events.Event) any {
	switch x := e.(type) {
	case events.OrderEvent:
		return x.Payload
	case events.UsageEvent:
		return x.Payload
	case events.TelemetryEvent:
		return x.Payload
	}
	return nil
}
