package producer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/gigstream/gigstream/clients/go/events"
	"github.com/gigstream/gigstream/clients/go/gen"
)

// services returns the Kafka brokers and the registry URL of the integration tests, from
// GIGSTREAM_KAFKA_BROKERS (host:port[,host:port]) and GIGSTREAM_SCHEMA_REGISTRY_URL (the
// registry's Confluent-compatible base URL). Without them the test is skipped, unless
// GIGSTREAM_TEST_SERVICES=require, which makes it fail.
func services(t *testing.T) ([]string, string) {
	t.Helper()
	brokers, registry := os.Getenv("GIGSTREAM_KAFKA_BROKERS"), os.Getenv("GIGSTREAM_SCHEMA_REGISTRY_URL")
	if brokers == "" || registry == "" {
		msg := "set GIGSTREAM_KAFKA_BROKERS and GIGSTREAM_SCHEMA_REGISTRY_URL to run the integration test (e.g. 127.0.0.1:29092 and http://127.0.0.1:28081/apis/ccompat/v7)"
		if os.Getenv("GIGSTREAM_TEST_SERVICES") == "require" {
			t.Fatal("GIGSTREAM_TEST_SERVICES=require: " + msg)
		}
		t.Skip(msg)
	}
	return strings.Split(brokers, ","), registry
}

// TestIntegration produces a few hundred generated events of all three topics to fresh
// topics (a random prefix) of a real broker, with a real registry, reads them back and checks
// every record: the Confluent header (magic 0, the id the registry has for the subject), the
// key, the partition (murmur2(key) % partitions, computed here, not by franz-go), the
// per-key order, and that the value decodes with the schema the registry serves for that id
// to the event that was sent, byte for byte what events.EncodeAvro writes. With
// GIGSTREAM_EXPECT_CATALOG_IDS=1 (a registry seeded by infra/registry/seed_catalog.py) the
// registry's ids must also be those of schemas/catalog.json.
func TestIntegration(t *testing.T) {
	brokers, registryURL := services(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "it-go-" + hex.EncodeToString(rnd[:]) + "."
	partitions := map[events.Topic]int32{events.Orders: 6, events.Usage: 4, events.Telemetry: 3}
	const n = 300
	start := time.Now()
	step := func(what string) { t.Logf("%6.2fs %s", time.Since(start).Seconds(), what) }

	// A short metadata min age: franz-go answers metadata requests from a cache younger than it
	// (default 5 s), so a topic created a moment ago would stay "unknown" that long.
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.MetadataMinAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	for topic, parts := range partitions {
		if err := EnsureTopics(ctx, admin, prefix, []events.Topic{topic}, parts, -1); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { // best effort: the broker keeps no test topics
		names := []string{}
		for topic := range partitions {
			names = append(names, prefix+string(topic))
		}
		_, _ = kadm.NewClient(admin).DeleteTopics(context.Background(), names...)
	}()
	step("topics created")
	// Existing topics: same count is fine, another count is refused.
	if err := EnsureTopics(ctx, admin, prefix, nil, 6, -1); err == nil || !strings.Contains(err.Error(), "partitions, want 6") {
		t.Errorf("EnsureTopics accepted topics with other partition counts: %v", err)
	}

	step("partition counts checked")
	p, err := New(ctx, Config{Brokers: brokers, RegistryURL: registryURL, TopicPrefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	// The registry, asked independently: the id of the latest version of each subject, and
	// the schema it serves for that id.
	registry, err := sr.NewClient(sr.URLs(strings.TrimRight(registryURL, "/")))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[events.Topic]int{}
	schemas := map[int]avro.Schema{}
	for _, topic := range events.Topics {
		ss, err := registry.SchemaByVersion(ctx, topic.Subject(prefix), -1)
		if err != nil {
			t.Fatalf("%s: %v", topic.Subject(prefix), err)
		}
		if ss.ID != p.SchemaID(topic) || ss.ID <= 0 {
			t.Fatalf("%s: registry says id %d, the producer uses %d", topic.Subject(prefix), ss.ID, p.SchemaID(topic))
		}
		ids[topic] = ss.ID
		text, err := registry.SchemaTextByID(ctx, ss.ID)
		if err != nil {
			t.Fatal(err)
		}
		var served, ours any
		_ = json.Unmarshal([]byte(text), &served)
		_ = json.Unmarshal([]byte(topic.Schema()), &ours)
		if !jsonEqual(served, ours) {
			t.Errorf("%s: the registry serves another schema for id %d", topic, ss.ID)
		}
		if schemas[ss.ID], err = avro.Parse(text); err != nil {
			t.Fatalf("id %d: %v", ss.ID, err)
		}
		t.Logf("%s -> id %d (catalog id %d)", topic.Subject(prefix), ss.ID, topic.CatalogID())
		// A registry seeded with infra/registry/seed_catalog.py has the catalog's ids, and then
		// the records are byte-identical to what gigstream's own codec writes.
		if os.Getenv("GIGSTREAM_EXPECT_CATALOG_IDS") == "1" && ss.ID != int(topic.CatalogID()) {
			t.Errorf("GIGSTREAM_EXPECT_CATALOG_IDS=1: %s has id %d, schemas/catalog.json says %d", topic.Subject(prefix), ss.ID, topic.CatalogID())
		}
	}
	if len(schemas) != 3 {
		t.Fatalf("three subjects share ids: %v", ids)
	}

	// Produce: async, every promise checked.
	g := gen.New(7, strings.TrimSuffix(prefix, "."), time.Now().Add(-time.Hour).UTC(), time.Second)
	sent := map[string]events.Event{}
	var order []string
	var mu sync.Mutex
	var firstErr error
	for i := 0; i < n; i++ {
		e := g.Next()
		sent[e.ID()] = e
		order = append(order, e.ID())
		p.Produce(ctx, e, func(r *kgo.Record, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	step("produced and flushed")

	// Consume everything back.
	var topics []string
	for _, topic := range events.Topics {
		topics = append(topics, p.Topic(topic))
	}
	c, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []*kgo.Record
	for len(got) < n && ctx.Err() == nil {
		fs := c.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 && ctx.Err() == nil {
			t.Fatalf("fetch: %v", errs)
		}
		got = append(got, fs.Records()...)
	}
	if len(got) != n {
		t.Fatalf("read %d records back, sent %d", len(got), n)
	}
	step("consumed")

	pos := map[string]int{}
	for i, id := range order {
		pos[id] = i
	}
	last := map[string]int{} // per key: position in `order` of the last record read
	byTopic := map[events.Topic]int{}
	for _, r := range got {
		topic := events.Topic(strings.TrimPrefix(r.Topic, prefix))
		if r.Value[0] != 0 {
			t.Fatalf("%s/%d@%d: magic byte %d", r.Topic, r.Partition, r.Offset, r.Value[0])
		}
		id := int(binary.BigEndian.Uint32(r.Value[1:5]))
		if id != ids[topic] {
			t.Fatalf("%s/%d@%d: schema id %d, the registry's id for %s is %d", r.Topic, r.Partition, r.Offset, id, topic.Subject(prefix), ids[topic])
		}
		var decoded map[string]any
		if err := avro.Unmarshal(schemas[id], r.Value[5:], &decoded); err != nil {
			t.Fatalf("%s/%d@%d: does not decode with the registry's schema %d: %v", r.Topic, r.Partition, r.Offset, id, err)
		}
		eid, _ := decoded["event_id"].(string)
		e, ok := sent[eid]
		if !ok {
			t.Fatalf("%s/%d@%d: event %q was not sent", r.Topic, r.Partition, r.Offset, eid)
		}
		if e.Topic() != topic || string(r.Key) != e.Key() {
			t.Fatalf("%v read from %s with key %q", e, r.Topic, r.Key)
		}
		if want := events.Partition(e.Key(), int(partitions[topic])); int(r.Partition) != want {
			t.Fatalf("%v in partition %d, murmur2(key) %% %d is %d", e, r.Partition, partitions[topic], want)
		}
		want, _ := events.EncodeAvro(e)
		if !bytes.Equal(r.Value[5:], want) {
			t.Fatalf("%v: value differs from events.EncodeAvro", e)
		}
		if prev, ok := last[e.Key()]; ok && pos[eid] < prev {
			t.Fatalf("%v read after a later event of the same key", e)
		}
		last[e.Key()] = pos[eid]
		byTopic[topic]++
	}
	t.Logf("%d records checked: %v; prefix %s", len(got), byTopic, prefix)
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}
