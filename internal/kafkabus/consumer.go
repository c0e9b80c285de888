package kafkabus

import (
	"context"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"
)

// Consumer is a member of a consumer group reading c.Topic from its first offset. Offsets
// are committed only when Commit is called.
type Consumer struct {
	r *kafka.Reader
}

// NewConsumer joins group on first Fetch.
func NewConsumer(c *Config, group string) (*Consumer, error) {
	rc := kafka.ReaderConfig{
		Brokers:        c.BrokerList(),
		GroupID:        group,
		Topic:          c.Topic,
		MinBytes:       1,
		MaxBytes:       16 << 20,
		MaxWait:        200 * time.Millisecond,
		CommitInterval: 0, // synchronous commits, when the caller says
		StartOffset:    kafka.FirstOffset,
		QueueCapacity:  1000,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create Kafka consumer: %w", err)
	}
	return &Consumer{r: kafka.NewReader(rc)}, nil
}

// Fetch returns the next message of the partitions assigned to this member.
func (c *Consumer) Fetch(ctx context.Context) (Message, error) { return c.r.FetchMessage(ctx) }

// Commit marks msgs as done: after a restart or a rebalance the group reads on after them.
func (c *Consumer) Commit(ctx context.Context, msgs []Message) error {
	return c.r.CommitMessages(ctx, msgs...)
}

// Close leaves the group.
func (c *Consumer) Close() error { return c.r.Close() }
