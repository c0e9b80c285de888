package collector

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
)

// Producer writes enriched events to Kafka. WriteEvents returns only after the broker
// acknowledged every message (acks=all), so a caller may then answer 2xx.
type Producer struct {
	w *kafka.Writer
}

// NewProducer builds a synchronous, batching producer keyed by site/visitor.
func NewProducer(c *kafkabus.Config) *Producer {
	return &Producer{w: &kafka.Writer{
		Addr:         kafka.TCP(c.BrokerList()...),
		Topic:        c.Topic,
		Balancer:     &kafka.Hash{}, // one key, one partition: a visitor's events stay in order
		RequiredAcks: kafka.RequireAll,
		// Concurrent requests share batches; a short timeout keeps latency low on quiet sites.
		BatchTimeout: 2 * time.Millisecond,
		BatchSize:    500,
		Compression:  kafka.Lz4,
		MaxAttempts:  3,
	}}
}

// WriteEvents encodes and produces events, waiting for the acknowledgement.
func (p *Producer) WriteEvents(ctx context.Context, evs []event.Enriched) error {
	msgs := make([]kafka.Message, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			return fmt.Errorf("cannot encode event %s: %w", evs[i].ID, err)
		}
		msgs[i] = kafka.Message{Key: evs[i].Key(), Value: b}
	}
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return fmt.Errorf("cannot produce %d events: %w", len(msgs), err)
	}
	return nil
}

// Close flushes and closes the writer.
func (p *Producer) Close() error { return p.w.Close() }
