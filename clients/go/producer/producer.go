// Package producer sends gigstream events to Kafka the way gigstream's consumers expect them:
//
//   - to the topic "<prefix>orders", "<prefix>usage" or "<prefix>telemetry";
//   - keyed by the entity (deal_id, subscription_id, service_id), partitioned like Kafka's
//     Java producer (murmur2 of the key: kgo.StickyKeyPartitioner(nil)), so all events of one
//     entity share a partition and keep their order;
//   - idempotent (franz-go's default; acks=all), so retries never duplicate or reorder;
//   - in the Confluent wire format: magic byte 0, the 4-byte id that the schema registry
//     assigned to the topic's v2 schema under the subject "<prefix><topic>-value"
//     (TopicNameStrategy), then the Avro binary of events.
//
// New registers the schemas (or, with Config.LookupOnly, only looks their ids up) through
// franz-go's sr client, and encodes with an sr.Serde holding the ids.
package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/gigstream/gigstream/clients/go/events"
)

// Config configures a Producer.
type Config struct {
	// Brokers are the seed brokers, host:port.
	Brokers []string
	// RegistryURL is the base URL of the schema registry's Confluent-compatible REST API:
	// what Confluent's clients take as schema.registry.url. For Confluent's registry and
	// Karapace that is the server's root (http://host:8081); for Apicurio Registry 3 it is
	// http://host:port/apis/ccompat/v7. Several URLs may be given, separated by commas.
	RegistryURL string
	// TopicPrefix is put before every topic name and subject, e.g. "staging." gives the topic
	// "staging.orders" and the subject "staging.orders-value".
	TopicPrefix string
	// Topics are the topics this producer sends to (default: all three); only their schemas
	// are registered.
	Topics []events.Topic
	// LookupOnly does not register the schemas but looks up the ids they already have under
	// their subjects (for registries where producers may not register: Confluent's
	// auto.register.schemas=false). New fails if a schema is not registered.
	LookupOnly bool
	// ClientID is the Kafka client id (default "gigstream-go-producer").
	ClientID string
	// KafkaOpts are more franz-go options (TLS, SASL, linger, compression, logging, ...),
	// applied after this package's; do not replace the partitioner or disable idempotence
	// unless you mean to break gigstream's ordering guarantees.
	KafkaOpts []kgo.Opt
	// RegistryOpts are more sr client options (basic auth, bearer token, TLS, user agent).
	RegistryOpts []sr.ClientOpt
}

// Producer sends events; safe for concurrent use.
type Producer struct {
	kafka    *kgo.Client
	registry *sr.Client
	serde    *sr.Serde
	prefix   string
	ids      map[events.Topic]int
}

// New connects to the registry, registers (or looks up) the schemas of cfg.Topics under
// "<prefix><topic>-value", and makes the Kafka client. It does not wait for the brokers;
// the first Produce does.
func New(ctx context.Context, cfg Config) (*Producer, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("producer: no Brokers")
	}
	if cfg.RegistryURL == "" {
		return nil, errors.New("producer: no RegistryURL (the schema registry's Confluent-compatible API)")
	}
	topics := cfg.Topics
	if len(topics) == 0 {
		topics = events.Topics
	}
	var urls []string
	for _, u := range strings.Split(cfg.RegistryURL, ",") {
		if u = strings.TrimRight(strings.TrimSpace(u), "/"); u != "" {
			urls = append(urls, u)
		}
	}
	registry, err := sr.NewClient(append([]sr.ClientOpt{sr.URLs(urls...), sr.UserAgent("gigstream-go-producer")}, cfg.RegistryOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("producer: schema registry client: %w", err)
	}
	p := &Producer{registry: registry, serde: sr.NewSerde(sr.Header(&sr.ConfluentHeader{})), prefix: cfg.TopicPrefix, ids: map[events.Topic]int{}}
	for _, t := range topics {
		if !t.Valid() {
			return nil, fmt.Errorf("producer: unknown topic %q (want orders, usage or telemetry)", t)
		}
		id, err := SchemaID(ctx, registry, t, cfg.TopicPrefix, !cfg.LookupOnly)
		if err != nil {
			return nil, err
		}
		p.ids[t] = id
		// One Go type per id (Serde keys encoders by type): Produce passes values, not pointers.
		p.serde.Register(id, valueOf(t), sr.AppendEncodeFn(func(b []byte, v any) ([]byte, error) {
			return v.(events.Event).AppendAvro(b)
		}))
	}
	clientID := cfg.ClientID
	if clientID == "" {
		clientID = "gigstream-go-producer"
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(clientID),
		// Java's partitioner for keyed records: toPositive(murmur2(key)) % partitions.
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		// franz-go's defaults, stated: idempotent writes need acks from all in-sync replicas.
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// franz-go waits at least this long between metadata requests (default 5 s). Right
		// after a topic is created, the broker answers NOT_LEADER_FOR_PARTITION for a moment,
		// and the producer would stall 5 s before looking again; librdkafka and the Java
		// client retry within 100 ms.
		kgo.MetadataMinAge(500 * time.Millisecond),
	}
	kafka, err := kgo.NewClient(append(opts, cfg.KafkaOpts...)...)
	if err != nil {
		return nil, fmt.Errorf("producer: kafka client: %w", err)
	}
	p.kafka = kafka
	return p, nil
}

// SchemaID registers the topic's v2 schema (events.Topic.Schema, its exact text) under
// "<prefix><topic>-value" (register false: only looks it up) and returns the registry's id
// for it. Registering an already registered schema returns its id and adds no version.
func SchemaID(ctx context.Context, registry *sr.Client, t events.Topic, prefix string, register bool) (int, error) {
	subject := t.Subject(prefix)
	schema := sr.Schema{Schema: t.Schema(), Type: sr.TypeAvro}
	if register {
		id, err := registry.RegisterSchema(ctx, subject, schema, -1, -1)
		if err != nil {
			return 0, fmt.Errorf("producer: registering %s's v2 schema under %s: %w", t, subject, err)
		}
		return id, nil
	}
	ss, err := registry.LookupSchema(ctx, subject, schema)
	if err != nil {
		return 0, fmt.Errorf("producer: looking up %s's v2 schema under %s (LookupOnly: register it first): %w", t, subject, err)
	}
	return ss.ID, nil
}

func valueOf(t events.Topic) any {
	switch t {
	case events.Orders:
		return events.OrderEvent{}
	case events.Usage:
		return events.UsageEvent{}
	default:
		return events.TelemetryEvent{}
	}
}

// deref turns *OrderEvent (etc.) into the value Serde knows.
func deref(e events.Event) events.Event {
	switch x := e.(type) {
	case *events.OrderEvent:
		return *x
	case *events.UsageEvent:
		return *x
	case *events.TelemetryEvent:
		return *x
	}
	return e
}

// Topic is the Kafka topic events of t go to: the prefix and the topic's name.
func (p *Producer) Topic(t events.Topic) string { return p.prefix + string(t) }

// SchemaID is the registry's id of t's schema (0 for a topic not in Config.Topics).
func (p *Producer) SchemaID(t events.Topic) int { return p.ids[t] }

// Record returns the Kafka record for e: its topic, its entity key, and the Confluent-framed
// Avro value with the registry's id. Partition is left to the partitioner.
func (p *Producer) Record(e events.Event) (*kgo.Record, error) {
	if e == nil {
		return nil, errors.New("producer: nil event")
	}
	e = deref(e)
	if _, ok := p.ids[e.Topic()]; !ok {
		return nil, fmt.Errorf("producer: %s events: topic not in Config.Topics", e.Topic())
	}
	value, err := p.serde.AppendEncode(nil, e)
	if err != nil {
		return nil, err
	}
	return &kgo.Record{Topic: p.Topic(e.Topic()), Key: []byte(e.Key()), Value: value}, nil
}

// Produce sends e asynchronously; promise (may be nil) is called once with the result (the
// record then has its partition and offset). An event that cannot be encoded is given to
// promise at once, with a nil record.
func (p *Producer) Produce(ctx context.Context, e events.Event, promise func(*kgo.Record, error)) {
	r, err := p.Record(e)
	if err != nil {
		if promise != nil {
			promise(nil, err)
		}
		return
	}
	p.kafka.Produce(ctx, r, promise)
}

// ProduceSync sends the events and waits until every one is acknowledged; it returns the
// first error (after all have finished). Events that cannot be encoded are refused before
// anything is sent.
func (p *Producer) ProduceSync(ctx context.Context, evs ...events.Event) ([]*kgo.Record, error) {
	rs := make([]*kgo.Record, 0, len(evs))
	for _, e := range evs {
		r, err := p.Record(e)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, p.kafka.ProduceSync(ctx, rs...).FirstErr()
}

// Flush waits until everything produced so far is acknowledged (or ctx ends).
func (p *Producer) Flush(ctx context.Context) error { return p.kafka.Flush(ctx) }

// Close flushes nothing: call Flush first. It closes the Kafka client.
func (p *Producer) Close() { p.kafka.Close() }

// Kafka is the underlying franz-go client (metrics, admin requests).
func (p *Producer) Kafka() *kgo.Client { return p.kafka }

// Registry is the underlying schema registry client.
func (p *Producer) Registry() *sr.Client { return p.registry }

// EnsureTopics creates each of topics (with the prefix) that does not exist, with partitions
// partitions and replicationFactor replicas (-1: the broker's default), and checks that the
// ones that exist have partitions partitions: an entity's partition is murmur2(key) %
// partitions, so a topic whose count differs from the one its consumers were set up for puts
// keys elsewhere. Gigstream's brokers refuse auto-created topics. A topic created a moment
// ago by someone else may take up to cl's kgo.MetadataMinAge (default 5 s) to be checked.
func EnsureTopics(ctx context.Context, cl *kgo.Client, prefix string, topics []events.Topic, partitions int32, replicationFactor int16) error {
	if len(topics) == 0 {
		topics = events.Topics
	}
	adm := kadm.NewClient(cl)
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = prefix + string(t)
	}
	// check lists the topics and checks the partition counts of those that exist.
	check := func(names []string) (missing []string, err error) {
		have, err := adm.ListTopics(ctx, names...)
		if err != nil {
			return nil, fmt.Errorf("listing topics: %w", err)
		}
		for _, n := range names {
			td, ok := have[n]
			switch {
			case !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition):
				missing = append(missing, n)
			case td.Err != nil:
				return nil, fmt.Errorf("topic %s: %w", n, td.Err)
			case int32(len(td.Partitions)) != partitions:
				return nil, fmt.Errorf("topic %s has %d partitions, want %d (keys are placed by partition count: use a new topic, never add partitions under running consumers)",
					n, len(td.Partitions), partitions)
			}
		}
		return missing, nil
	}
	missing, err := check(names)
	if err != nil || len(missing) == 0 {
		return err
	}
	resp, err := adm.CreateTopics(ctx, partitions, replicationFactor, nil, missing...)
	if err != nil {
		return fmt.Errorf("creating topics %v: %w", missing, err)
	}
	var existed []string
	for _, r := range resp.Sorted() {
		switch {
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
			// Created a moment ago (by us or another producer) and not yet in the metadata
			// the broker answered with: check its partition count once the metadata has it.
			existed = append(existed, r.Topic)
		case r.Err != nil:
			return fmt.Errorf("creating topic %s: %w", r.Topic, r.Err)
		}
	}
	// The client may have looked the topics up (unknown) a moment ago; without this its
	// producer would wait MetadataMinAge (5 s) before looking again.
	defer cl.ForceMetadataRefresh()
	for try := 0; len(existed) > 0; try++ {
		if existed, err = check(existed); err != nil {
			return err
		}
		if len(existed) > 0 {
			if try == 50 {
				return fmt.Errorf("topics %v exist but the brokers' metadata does not list them", existed)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}
