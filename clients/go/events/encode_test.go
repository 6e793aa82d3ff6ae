package events

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func TestDecimalBytes(t *testing.T) {
	for _, c := range []struct {
		text             string
		precision, scale int
		unscaled         int64
		bytes            []byte // the Avro bytes value (without its length)
	}{
		{"20000.00", 18, 2, 2000000, []byte{0x1e, 0x84, 0x80}},
		{"85.00", 18, 2, 8500, []byte{0x21, 0x34}},
		{"12.3456", 18, 4, 123456, []byte{0x01, 0xe2, 0x40}},
		{"-0.01", 18, 2, -1, []byte{0xff}},
		{"0", 18, 2, 0, []byte{0x00}},
		{"0.00", 18, 2, 0, []byte{0x00}},
		{"-0", 18, 2, 0, []byte{0x00}},
		{"1.27", 18, 2, 127, []byte{0x7f}},
		{"1.28", 18, 2, 128, []byte{0x00, 0x80}},
		{"-1.28", 18, 2, -128, []byte{0x80}},
		{"-1.29", 18, 2, -129, []byte{0xff, 0x7f}},
		{"20000", 18, 2, 2000000, []byte{0x1e, 0x84, 0x80}},         // padded to the scale
		{"12.340000", 18, 2, 1234, []byte{0x04, 0xd2}},              // trailing zeros are exact
		{"+7.5", 18, 2, 750, []byte{0x02, 0xee}},                    // a leading +
		{".5", 18, 2, 50, []byte{0x32}},                             // no integer digits
		{"5.", 18, 2, 500, []byte{0x01, 0xf4}},                      // no decimals
		{" 70 ", 7, 4, 700000, []byte{0x0a, 0xae, 0x60}},            // spaces around are trimmed
		{"999.9999", 7, 4, 9999999, []byte{0x00, 0x98, 0x96, 0x7f}}, // the largest decimal(7,4)
		{"9999999999999999.99", 18, 2, 999999999999999999, []byte{0x0d, 0xe0, 0xb6, 0xb3, 0xa7, 0x63, 0xff, 0xff}},
		{"-9999999999999999.99", 18, 2, -999999999999999999, []byte{0xf2, 0x1f, 0x49, 0x4c, 0x58, 0x9c, 0x00, 0x01}},
	} {
		v, err := Decimal(c.text).Unscaled(c.precision, c.scale)
		if err != nil || v != c.unscaled {
			t.Errorf("%q at (%d,%d): %d, %v; want %d", c.text, c.precision, c.scale, v, err, c.unscaled)
			continue
		}
		got, err := appendDecimal(nil, "f", Decimal(c.text), c.precision, c.scale)
		want := appendRawBytes(nil, c.bytes)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: Avro %x, %v; want %x", c.text, got, err, want)
		}
	}
}

func TestDecimalRefused(t *testing.T) {
	for _, c := range []struct {
		text             string
		precision, scale int
		why              string
	}{
		{"1.005", 18, 2, "more than 2 decimals"}, // never rounded
		{"0.001", 18, 2, "more than 2 decimals"},
		{"1e5", 18, 2, "plain decimal"},
		{"1,000.00", 18, 2, "plain decimal"},
		{"", 18, 2, "not a decimal"},
		{"-", 18, 2, "not a decimal"},
		{".", 18, 2, "not a decimal"},
		{"NaN", 18, 2, "plain decimal"},
		{"1.2.3", 18, 2, "plain decimal"},
		{"1000", 7, 4, "does not fit"}, // decimal(7,4) holds up to 999.9999
		{"10000000000000000", 18, 2, "does not fit"},
		{"99999999999999999999999", 18, 2, "does not fit"}, // no int64 overflow on the way
		{"1.00x", 18, 2, "plain decimal"},
	} {
		_, err := Decimal(c.text).Unscaled(c.precision, c.scale)
		if err == nil || !errors.Is(err, ErrDecimal) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q at (%d,%d): err %v, want one saying %q", c.text, c.precision, c.scale, err, c.why)
		}
	}
	if _, err := Decimal("1").Unscaled(19, 2); err == nil {
		t.Error("precision 19 accepted")
	}
}

func TestZigzag(t *testing.T) {
	for v, want := range map[int64][]byte{
		0: {0x00}, -1: {0x01}, 1: {0x02}, -64: {0x7f}, 64: {0x80, 0x01},
		1772359200000:        {0x80, 0xb4, 0xb9, 0x8d, 0x95, 0x67},
		-9223372036854775808: {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		if got := appendLong(nil, v); !bytes.Equal(got, want) {
			t.Errorf("%d: %x, want %x", v, got, want)
		}
	}
}

func TestDate(t *testing.T) {
	for s, days := range map[string]Date{"1970-01-01": 0, "2026-02-27": 20511, "1969-12-31": -1, "2000-03-01": 11017} {
		d, err := ParseDate(s)
		if err != nil || d != days || d.String() != s || NewDate(d.Time().Date()) != d {
			t.Errorf("%s: %d (%v), want %d", s, d, err, days)
		}
	}
	if DateOf(time.Date(1969, 12, 31, 23, 0, 0, 0, time.UTC)) != -1 {
		t.Error("DateOf does not floor before 1970")
	}
	if DateOf(time.Date(2026, 2, 27, 23, 30, 0, 0, time.FixedZone("UTC-5", -5*3600))) != 20512 {
		t.Error("DateOf is not the UTC day")
	}
}

func TestEncodeErrors(t *testing.T) {
	at := time.UnixMilli(1772359200000)
	ok := OrderEvent{EventID: "e-1", OccurredAt: at, DealID: "d-1", Payload: ClientResponded{FreelancerID: "f-1", Response: ResponseDeclined}}
	if _, err := EncodeAvro(ok); err != nil {
		t.Fatal(err)
	}
	bad := func(mod func(e *OrderEvent)) OrderEvent { e := ok; mod(&e); return e }
	for name, c := range map[string]struct {
		e    Event
		want string
	}{
		"unknown enum":  {bad(func(e *OrderEvent) { e.Payload = ClientResponded{FreelancerID: "f", Response: "maybe"} }), `response: "maybe" is not one of`},
		"no event id":   {bad(func(e *OrderEvent) { e.EventID = "" }), "event_id: empty"},
		"no key":        {bad(func(e *OrderEvent) { e.DealID = "" }), "deal_id: empty"},
		"no time":       {bad(func(e *OrderEvent) { e.OccurredAt = time.Time{} }), "occurred_at: not set"},
		"no payload":    {bad(func(e *OrderEvent) { e.Payload = nil }), "payload: nil"},
		"nil pointer":   {bad(func(e *OrderEvent) { e.Payload = (*ClientResponded)(nil) }), "payload: nil"},
		"invalid utf-8": {bad(func(e *OrderEvent) { e.Payload = ClientResponded{FreelancerID: "f\xff", Response: ResponseDeclined} }), "freelancer_id: not valid UTF-8"},
		"rounding": {bad(func(e *OrderEvent) {
			e.Payload = PaymentSettled{InvoiceID: "i", Gross: "1.005", Currency: "CNY", SettledAt: at}
		}), "gross: invalid decimal: \"1.005\" has more than 2 decimals"},
		"zero settled_at": {bad(func(e *OrderEvent) { e.Payload = PaymentSettled{InvoiceID: "i", Gross: "1", Currency: "CNY"} }), "settled_at: not set"},
		"usage decimal(7,4)": {UsageEvent{EventID: "e", OccurredAt: at, SubscriptionID: "s", Payload: SubscriptionChanged{
			Status: StatusActive, Settlement: SettlementDaily, RevenueSharePct: "1000"}}, "revenue_share_pct: invalid decimal: \"1000\" does not fit decimal(7,4)"},
		"telemetry enum": {TelemetryEvent{EventID: "e", OccurredAt: at, ServiceID: "svc", Payload: IncidentOpened{IncidentID: "i", Severity: "sev0"}}, `severity: "sev0"`},
	} {
		prefix := []byte("keep")
		out, err := c.e.AppendAvro(prefix)
		var ee *EncodeError
		if err == nil || !errors.As(err, &ee) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want an *EncodeError containing %q", name, err, c.want)
		}
		if string(out) != "keep" {
			t.Errorf("%s: on error AppendAvro returned %q, want the input slice back", name, out)
		}
		if f, err := AppendConfluent([]byte("x"), 1, c.e); err == nil || string(f) != "x" {
			t.Errorf("%s: AppendConfluent gave %q, %v", name, f, err)
		}
	}
}

// murmur2Vectors were computed with Apache Kafka 4.4.0's own
// org.apache.kafka.common.utils.Utils.murmur2 and toPositive (kafka-clients, java): key,
// murmur2 as Java's int, then toPositive(h) % 3, % 4 and % 12 (the Java producer's partition
// of a keyed record). The first and the last three are also in Kafka's UtilsTest.
var murmur2Vectors = []struct {
	key         string
	hash        int32
	p3, p4, p12 int
}{
	{"", 275646681, 0, 1, 9},
	{"a", -1563381124, 1, 0, 4},
	{"ab", 316155434, 2, 2, 2},
	{"abc", 479470107, 0, 3, 3},
	{"21", -973932308, 0, 0, 0},
	{"foobar", -790332482, 0, 2, 6},
	{"d-1", -976731133, 1, 3, 7},
	{"d-42", 1178873730, 0, 2, 6},
	{"s-1", -1298194753, 1, 3, 7},
	{"s-7", 46601757, 0, 1, 9},
	{"svc-sync", -526213833, 2, 3, 11},
	{"svc-billing-api", 1494872904, 0, 0, 0},
	{"deal-000123", 1930578305, 2, 1, 5},
	{"sub-000042", -1836982577, 0, 3, 3},
	{"c-码市-7", 1952618535, 0, 3, 3},
	{"a-little-bit-long-string", -985981536, 2, 0, 8},
	{"a-little-bit-longer-string", -1486304829, 2, 3, 11},
	{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 2, 1, 5},
}

// TestPartitionJavaCompatible checks Murmur2/Partition and franz-go's
// kgo.StickyKeyPartitioner(nil) (what the producer package uses) against Java's partitions.
func TestPartitionJavaCompatible(t *testing.T) {
	part := kgo.StickyKeyPartitioner(nil).ForTopic("orders")
	for _, v := range murmur2Vectors {
		if h := int32(Murmur2([]byte(v.key))); h != v.hash {
			t.Errorf("Murmur2(%q) = %d, Java says %d", v.key, h, v.hash)
		}
		for n, want := range map[int]int{3: v.p3, 4: v.p4, 12: v.p12} {
			if got := Partition(v.key, n); got != want {
				t.Errorf("Partition(%q, %d) = %d, Java says %d", v.key, n, got, want)
			}
			r := &kgo.Record{Topic: "orders", Key: []byte(v.key)}
			if got := part.Partition(r, n); got != want {
				t.Errorf("StickyKeyPartitioner: %q among %d: %d, Java says %d", v.key, n, got, want)
			}
			if !part.RequiresConsistency(r) {
				t.Errorf("StickyKeyPartitioner: a keyed record may move to another partition")
			}
		}
	}
}

func TestKeys(t *testing.T) {
	at := time.UnixMilli(1)
	for _, c := range []struct {
		e     Event
		topic Topic
		key   string
	}{
		{OrderEvent{EventID: "e", OccurredAt: at, DealID: "d-1", Payload: &ClientResponded{}}, Orders, "d-1"},
		{&UsageEvent{EventID: "e", OccurredAt: at, SubscriptionID: "s-1", Payload: UsageRecorded{}}, Usage, "s-1"},
		{TelemetryEvent{EventID: "e", OccurredAt: at, ServiceID: "svc-sync", Payload: ProbeResult{}}, Telemetry, "svc-sync"},
	} {
		if c.e.Topic() != c.topic || c.e.Key() != c.key || c.e.Topic().Subject("p.") != "p."+string(c.topic)+"-value" {
			t.Errorf("%v: topic %s key %s subject %s", c.e, c.e.Topic(), c.e.Key(), c.e.Topic().Subject("p."))
		}
	}
}
