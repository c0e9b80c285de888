// Package kafkabus names Touchpoint's Kafka topics and creates them.
package kafkabus

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// Topic names.
const (
	EventsTopic = "tp.events"     // enriched events, keyed by site/visitor
	DLQTopic    = "tp.events.dlq" // refused events with the reason in the "reason" header
)

// Config is how a service reaches Kafka.
type Config struct {
	Brokers    string // comma-separated host:port list
	Topic      string
	DLQ        string
	Partitions int
}

// RegisterFlags declares the Kafka flags shared by every binary.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Brokers, "kafka.brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "kafka.topic", EventsTopic, "topic of enriched events")
	fs.StringVar(&c.DLQ, "kafka.dlq", DLQTopic, "dead-letter topic of refused events")
	fs.IntVar(&c.Partitions, "kafka.partitions", 4, "partitions when creating topics")
	return c
}

// BrokerList splits the comma-separated broker list.
func (c *Config) BrokerList() []string {
	var out []string
	for _, b := range strings.Split(c.Brokers, ",") {
		if b = strings.TrimSpace(b); b != "" {
			out = append(out, b)
		}
	}
	return out
}

// EnsureTopics creates the events and dead-letter topics when missing. It waits for
// the broker to answer until ctx is done.
func EnsureTopics(ctx context.Context, c *Config) error {
	var lastErr error
	for {
		lastErr = ensureTopics(ctx, c)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cannot create Kafka topics: %w", lastErr)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// dialController connects to the cluster's controller, which creates and deletes topics,
// asking the first broker where it is.
func dialController(ctx context.Context, c *Config) (*kafka.Conn, error) {
	brokers := c.BrokerList()
	if len(brokers) == 0 {
		return nil, errors.New("no Kafka brokers configured")
	}
	conn, err := kafka.DialContext(ctx, "tcp", brokers[0])
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	b, err := conn.Controller()
	if err != nil {
		return nil, err
	}
	return kafka.DialContext(ctx, "tcp", net.JoinHostPort(b.Host, strconv.Itoa(b.Port)))
}

// DeleteTopics deletes the events and dead-letter topics (test and benchmark topics).
func DeleteTopics(ctx context.Context, c *Config) error {
	cc, err := dialController(ctx, c)
	if err != nil {
		return err
	}
	defer cc.Close()
	return cc.DeleteTopics(c.Topic, c.DLQ)
}

func ensureTopics(ctx context.Context, c *Config) error {
	cc, err := dialController(ctx, c)
	if err != nil {
		return err
	}
	defer cc.Close()
	var cfgs []kafka.TopicConfig
	for _, t := range []string{c.Topic, c.DLQ} {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: t, NumPartitions: c.Partitions, ReplicationFactor: 1})
	}
	if err := cc.CreateTopics(cfgs...); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return err
	}
	// Creation is asynchronous on the broker: wait until the partitions are readable.
	for _, t := range []string{c.Topic, c.DLQ} {
		parts, err := cc.ReadPartitions(t)
		if err != nil {
			return err
		}
		if len(parts) == 0 {
			return fmt.Errorf("topic %s has no partitions yet", t)
		}
		for _, p := range parts {
			if p.Leader.ID < 0 {
				return fmt.Errorf("topic %s partition %d has no leader yet", t, p.ID)
			}
		}
	}
	return nil
}
