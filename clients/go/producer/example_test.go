package producer_test

import (
	"context"
	"log"
	"time"

	"github.com/gigstream/gigstream/clients/go/events"
	"github.com/gigstream/gigstream/clients/go/producer"
)

// The README's example (compiled by go vet and go test; not run: it needs a broker).
func Example() {
	ctx := context.Background()
	p, err := producer.New(ctx, producer.Config{
		Brokers:     []string{"127.0.0.1:9092"},
		RegistryURL: "http://127.0.0.1:8081/apis/ccompat/v7", // the registry's Confluent-compatible API
		TopicPrefix: "",                                      // "staging." -> topic staging.orders, subject staging.orders-value
	})
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	now := time.Now()
	_, err = p.ProduceSync(ctx, events.OrderEvent{
		EventID: "e-42", OccurredAt: now, DealID: "d-1", // DealID is the Kafka key
		Payload: events.PaymentSettled{InvoiceID: "inv-3", Gross: "20000.00", Currency: "CNY", SettledAt: now},
	})
	if err != nil {
		log.Fatal(err)
	}
}
