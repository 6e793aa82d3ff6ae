// Package events holds gigstream's event types, one Go struct per Avro record of the v2
// schemas (schemas/orders.v2.avsc, usage.v2.avsc, telemetry.v2.avsc in the gigstream
// repository; copies are embedded here), and their Avro binary encoding.
//
// Each topic has an envelope (OrderEvent, UsageEvent, TelemetryEvent) with the fields every
// event carries (event id, event time, the entity key, an optional trace id) and a Payload:
// one of the topic's event records (LeadPosted, ..., IncidentResolved). The envelope's
// schema_version field is not in the structs: the encoder always writes SchemaVersion (2),
// the version of the schema it encodes for.
//
// Money and quantities are Decimal (exact text such as "20000.00", never a float), event
// times time.Time (written as UTC milliseconds), calendar days Date.
//
// AppendAvro writes the bare Avro binary (what goes after a 5-byte Confluent header or the
// 10-byte single-object header); AppendConfluent and AppendSingleObject write the framed
// forms. The producer package sends events to Kafka with a schema registry's ids.
package events

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"time"
)

// SchemaVersion is the version of the schemas this package encodes for: every envelope it
// writes has schema_version 2.
const SchemaVersion = 2

// Topic is one of gigstream's three topics (without any prefix).
type Topic string

const (
	Orders    Topic = "orders"
	Usage     Topic = "usage"
	Telemetry Topic = "telemetry"
)

// Topics lists the three topics.
var Topics = []Topic{Orders, Usage, Telemetry}

var (
	//go:embed schemas/orders.v2.avsc
	ordersSchema string
	//go:embed schemas/usage.v2.avsc
	usageSchema string
	//go:embed schemas/telemetry.v2.avsc
	telemetrySchema string
)

// Schema returns the topic's v2 schema, the exact text of schemas/<topic>.v2.avsc. Register
// this text (not a reformatted one): a registry that compares schema text (Apicurio does)
// gives other text another id.
func (t Topic) Schema() string {
	switch t {
	case Orders:
		return ordersSchema
	case Usage:
		return usageSchema
	case Telemetry:
		return telemetrySchema
	}
	return ""
}

// CatalogID is the topic's v2 schema id in gigstream's schemas/catalog.json (orders 2, usage
// 4, telemetry 6): the id its golden samples and its built-in codec use. A schema registry
// assigns its own ids; use those with a registry (the producer package does).
func (t Topic) CatalogID() uint32 {
	switch t {
	case Orders:
		return 2
	case Usage:
		return 4
	case Telemetry:
		return 6
	}
	return 0
}

// Fingerprint is the 64-bit schema fingerprint that gigstream's consumers expect after C3 01
// in Avro single-object encoding (little-endian), as in schemas/golden/*.so.hex: the
// CRC-64-AVRO (Rabin) of the topic's v2 schema in the Avro specification's Parsing Canonical
// Form, which Java (SchemaNormalization.parsingFingerprint64), fastavro and hamba/avro compute
// for the same schema. Prefer the Confluent framing with a registry's ids.
func (t Topic) Fingerprint() uint64 {
	switch t {
	case Orders:
		return 0x65368ed40eee3820
	case Usage:
		return 0x20bdc80bf1007d74
	case Telemetry:
		return 0x4358f2d625641ffe
	}
	return 0
}

// SpecFingerprint is Fingerprint: the fingerprint of the Parsing Canonical Form. It was a
// separate value while gigstream's codec fingerprinted another canonical form.
//
// Deprecated: use Fingerprint.
func (t Topic) SpecFingerprint() uint64 { return t.Fingerprint() }

// Subject is the schema registry subject of the topic's values under Confluent's default
// TopicNameStrategy: "<prefix><topic>-value" (prefix as the topics are named, e.g.
// "staging." gives "staging.orders-value").
func (t Topic) Subject(prefix string) string { return prefix + string(t) + "-value" }

// Valid reports whether t is one of the three topics.
func (t Topic) Valid() bool { return t.Schema() != "" }

// Event is an event of one of the three topics: *OrderEvent, *UsageEvent, *TelemetryEvent
// (and their values).
type Event interface {
	// Topic is the topic the event belongs to (without prefix).
	Topic() Topic
	// Key is the entity key, the Kafka message key: deal_id (orders), subscription_id
	// (usage) or service_id (telemetry).
	Key() string
	// ID is the event id (the pipeline's idempotency key).
	ID() string
	// Type is the name of the payload's record (LeadPosted, UsageRecorded, ...).
	Type() string
	// AppendAvro appends the event's Avro binary encoding (v2 schema, no header) to b. It
	// fails on a field the schema cannot hold (an unknown enum symbol, a decimal out of its
	// precision or with more decimals than its scale, invalid UTF-8, an unset event time, an
	// empty event id or key, no payload); b is then returned unchanged in length.
	AppendAvro(b []byte) ([]byte, error)
}

// EncodeAvro returns the event's Avro binary encoding (no header).
func EncodeAvro(e Event) ([]byte, error) { return e.AppendAvro(nil) }

// AppendConfluent appends the Confluent wire format: magic byte 0, the 4-byte big-endian
// schema id, then the Avro binary.
func AppendConfluent(b []byte, schemaID uint32, e Event) ([]byte, error) {
	n := len(b)
	b = append(b, 0)
	b = binary.BigEndian.AppendUint32(b, schemaID)
	out, err := e.AppendAvro(b)
	if err != nil {
		return b[:n], err
	}
	return out, nil
}

// AppendSingleObject appends Avro single-object encoding: C3 01, the schema's 8-byte
// little-endian fingerprint (Topic.Fingerprint), then the Avro binary.
func AppendSingleObject(b []byte, e Event) ([]byte, error) {
	n := len(b)
	b = append(b, 0xc3, 0x01)
	b = binary.LittleEndian.AppendUint64(b, e.Topic().Fingerprint())
	out, err := e.AppendAvro(b)
	if err != nil {
		return b[:n], err
	}
	return out, nil
}

// Murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2, as a uint32).
func Murmur2(b []byte) uint32 {
	const (
		seed uint32 = 0x9747b28c
		m    uint32 = 0x5bd1e995
		r           = 24
	)
	h := seed ^ uint32(len(b))
	for len(b) >= 4 {
		k := binary.LittleEndian.Uint32(b)
		b = b[4:]
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	switch len(b) {
	case 3:
		h ^= uint32(b[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(b[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(b[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

// Partition is the partition Kafka's Java producer (and librdkafka's murmur2_random, and
// franz-go's StickyKeyPartitioner(nil)) puts a record with this key in, among n partitions:
// toPositive(murmur2(key)) % n. Gigstream's consumers rely on an entity's events sharing one
// partition; the count of partitions must not change under a running topic.
func Partition(key string, n int) int {
	if n <= 0 {
		panic(fmt.Sprintf("events.Partition: %d partitions", n))
	}
	return int(Murmur2([]byte(key))&0x7fffffff) % n
}

// appendEnvelope appends the fields every envelope starts with: event_id, occurred_at, the
// entity key, schema_version, trace_id.
func appendEnvelope(b []byte, eventID string, occurredAt time.Time, keyField, key string, traceID *string) ([]byte, error) {
	var err error
	if err = requireNonEmpty("event_id", eventID); err != nil {
		return b, err
	}
	if err = requireNonEmpty(keyField, key); err != nil {
		return b, err
	}
	if b, err = appendString(b, "event_id", eventID); err != nil {
		return b, err
	}
	if b, err = appendTimestampMillis(b, "occurred_at", occurredAt); err != nil {
		return b, err
	}
	if b, err = appendString(b, keyField, key); err != nil {
		return b, err
	}
	b = appendInt(b, SchemaVersion)
	return appendNullableString(b, "trace_id", traceID)
}
