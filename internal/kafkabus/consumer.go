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
	r      *kafka.Reader
	topic  string
	group  string
	client *kafka.Client // for Lag
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
		// After a broker crash the member rejoins under a new id, and the coordinator waits
		// this long for the old one before the group reads again (kafka-go's default is 30 s).
		// Heartbeats come from their own goroutine every 3 s, so a busy member is not evicted.
		SessionTimeout:   10 * time.Second,
		RebalanceTimeout: 10 * time.Second,
	}
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("cannot create Kafka consumer: %w", err)
	}
	return &Consumer{r: kafka.NewReader(rc), topic: c.Topic, group: group,
		client: &kafka.Client{Addr: kafka.TCP(rc.Brokers...), Timeout: 10 * time.Second, Transport: &kafka.Transport{ClientID: "touchpoint"}}}, nil
}

// Fetch returns the next message of the partitions assigned to this member.
func (c *Consumer) Fetch(ctx context.Context) (Message, error) { return c.r.FetchMessage(ctx) }

// Commit marks msgs as done: after a restart or a rebalance the group reads on after them.
func (c *Consumer) Commit(ctx context.Context, msgs []Message) error {
	return c.r.CommitMessages(ctx, msgs...)
}

// Close leaves the group.
func (c *Consumer) Close() error {
	c.client.Transport.(*kafka.Transport).CloseIdleConnections()
	return c.r.Close()
}

// Lag returns, by partition of the topic, the messages the group has not committed yet:
// the partition's end offset minus the group's committed offset, or minus the partition's
// first offset when the group never committed there. It asks the brokers afresh, so it
// also grows while this member is stuck.
func (c *Consumer) Lag(ctx context.Context) (map[int]int64, error) {
	meta, err := c.client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{c.topic}})
	if err != nil {
		return nil, fmt.Errorf("cannot read the partitions of %s: %w", c.topic, err)
	}
	var parts []int
	for _, t := range meta.Topics {
		if t.Name != c.topic {
			continue
		}
		if t.Error != nil {
			return nil, fmt.Errorf("cannot read the partitions of %s: %w", c.topic, t.Error)
		}
		for _, p := range t.Partitions {
			parts = append(parts, p.ID)
		}
	}
	committed, err := c.client.OffsetFetch(ctx, &kafka.OffsetFetchRequest{GroupID: c.group, Topics: map[string][]int{c.topic: parts}})
	if err == nil {
		err = committed.Error
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read the offsets of group %s: %w", c.group, err)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range parts {
		reqs = append(reqs, kafka.FirstOffsetOf(p), kafka.LastOffsetOf(p))
	}
	ends, err := c.client.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{c.topic: reqs}})
	if err != nil {
		return nil, fmt.Errorf("cannot read the end offsets of %s: %w", c.topic, err)
	}
	at := map[int]int64{}
	for _, p := range committed.Topics[c.topic] {
		if p.Error == nil {
			at[p.Partition] = p.CommittedOffset
		}
	}
	lag := map[int]int64{}
	for _, p := range ends.Topics[c.topic] {
		if p.Error != nil {
			continue
		}
		pos, ok := at[p.Partition]
		if !ok || pos < 0 {
			pos = p.FirstOffset
		}
		lag[p.Partition] = max(p.LastOffset-pos, 0)
	}
	return lag, nil
}
