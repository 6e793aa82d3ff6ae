// Command produce sends realistic gigstream events of all three kinds (orders, usage,
// telemetry) to Kafka with a schema registry's ids, as a Go service would with the producer
// package:
//
//	go run ./examples/produce -brokers 127.0.0.1:9092 \
//	    -registry http://127.0.0.1:8081/apis/ccompat/v7 -n 10000 -rate 500
//
// -brokers and -registry default to $GIGSTREAM_KAFKA_BROKERS and
// $GIGSTREAM_SCHEMA_REGISTRY_URL. Topics are "<prefix>orders" and so on; -create-topics
// (default on) creates missing ones with -partitions partitions and checks the count of
// existing ones. Event times start so that the last event is about now (or, with -rate, move
// with the clock). -dry-run prints the events as JSON lines instead, touching nothing.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/gigstream/gigstream/clients/go/events"
	"github.com/gigstream/gigstream/clients/go/gen"
	"github.com/gigstream/gigstream/clients/go/producer"
)

func main() {
	brokers := flag.String("brokers", os.Getenv("GIGSTREAM_KAFKA_BROKERS"), "Kafka seed brokers, host:port[,host:port] (default $GIGSTREAM_KAFKA_BROKERS)")
	registry := flag.String("registry", os.Getenv("GIGSTREAM_SCHEMA_REGISTRY_URL"), "schema registry base URL of its Confluent-compatible API (default $GIGSTREAM_SCHEMA_REGISTRY_URL), e.g. http://127.0.0.1:8081/apis/ccompat/v7 for Apicurio, http://127.0.0.1:8081 for Confluent or Karapace")
	prefix := flag.String("topic-prefix", "", "prefix of the topic names and subjects, e.g. \"staging.\"")
	n := flag.Int("n", 1000, "number of events to send")
	rate := flag.Float64("rate", 0, "events per second (0: as fast as the producer takes them)")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the event generator (same seed, same events)")
	run := flag.String("run", "", "prefix of every event, deal and subscription id (default: go-<seed in hex>)")
	create := flag.Bool("create-topics", true, "create missing topics; check the partition count of existing ones")
	partitions := flag.Int("partitions", 4, "partitions of the topics (-create-topics)")
	replicas := flag.Int("replication-factor", -1, "replicas of created topics (-1: the broker's default)")
	lookupOnly := flag.Bool("lookup-only", false, "do not register the schemas, only look up their ids")
	dryRun := flag.Bool("dry-run", false, "print the events as JSON lines on stdout; no Kafka, no registry")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("produce: ")
	if *n < 0 || *rate < 0 || *partitions < 1 {
		log.Fatal("-n and -rate must not be negative, -partitions must be positive")
	}
	if *run == "" {
		*run = fmt.Sprintf("go-%x", *seed&0xffffffffff)
	}

	// Event times: with a rate they move with the clock; otherwise the last event is about now.
	step := time.Second
	start := time.Now().Add(-time.Duration(*n) * step / 2)
	if *rate > 0 {
		step = time.Duration(2 * float64(time.Second) / *rate)
		start = time.Now()
	}
	g := gen.New(*seed, *run, start.UTC(), step)

	if *dryRun {
		enc := json.NewEncoder(os.Stdout)
		enc.SetEscapeHTML(false)
		for i := 0; i < *n; i++ {
			if err := enc.Encode(g.Next()); err != nil {
				log.Fatal(err)
			}
		}
		return
	}
	if *brokers == "" || *registry == "" {
		log.Fatal("need -brokers and -registry (or GIGSTREAM_KAFKA_BROKERS and GIGSTREAM_SCHEMA_REGISTRY_URL), or -dry-run")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	p, err := producer.New(ctx, producer.Config{
		Brokers:     strings.Split(*brokers, ","),
		RegistryURL: *registry,
		TopicPrefix: *prefix,
		LookupOnly:  *lookupOnly,
		ClientID:    "gigstream-example-produce",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	for _, t := range events.Topics {
		log.Printf("%s: subject %s, schema id %d", p.Topic(t), t.Subject(*prefix), p.SchemaID(t))
	}
	if *create {
		if err := producer.EnsureTopics(ctx, p.Kafka(), *prefix, nil, int32(*partitions), int16(*replicas)); err != nil {
			log.Fatal(err)
		}
	}

	var (
		acked, failed atomic.Int64
		mu            sync.Mutex
		firstErr      error
		perTopic      = map[events.Topic]int{}
	)
	began := time.Now()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	sent := 0
loop:
	for ; sent < *n; sent++ {
		if *rate > 0 {
			due := began.Add(time.Duration(float64(sent) / *rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				select {
				case <-ctx.Done():
					break loop
				case <-time.After(d):
				}
			}
		}
		select {
		case <-ctx.Done():
			break loop
		case <-ticker.C:
			log.Printf("%d sent, %d acknowledged, %d failed", sent, acked.Load(), failed.Load())
		default:
		}
		e := g.Next()
		perTopic[e.Topic()]++
		p.Produce(ctx, e, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Add(1)
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("%v: %w", e, err)
				}
				mu.Unlock()
				return
			}
			acked.Add(1)
		})
	}
	flushCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Flush(flushCtx); err != nil {
		log.Printf("flush: %v", err)
	}
	elapsed := time.Since(began)
	log.Printf("done: %d sent (orders %d, usage %d, telemetry %d), %d acknowledged, %d failed, in %.2fs (%.0f/s); run %s",
		sent, perTopic[events.Orders], perTopic[events.Usage], perTopic[events.Telemetry],
		acked.Load(), failed.Load(), elapsed.Seconds(), float64(acked.Load())/elapsed.Seconds(), *run)
	if firstErr != nil {
		log.Fatalf("first error: %v", firstErr)
	}
	if ctx.Err() != nil {
		os.Exit(130)
	}
}
