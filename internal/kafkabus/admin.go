package kafkabus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/segmentio/kafka-go"
)

// EnsureTopics creates the events and dead-letter topics when missing, with c's
// partitions, replication factor and min.insync.replicas (existing topics are left as they
// are). It waits for the brokers to answer until ctx is done.
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
		cfgs = append(cfgs, topicConfig(c, t))
	}
	if err := cc.CreateTopics(cfgs...); err != nil && !errors.Is(err, kafka.TopicAlreadyExists) {
		return err
	}
	// Creation is asynchronous on the brokers: wait until every listed broker knows the
	// topics' partitions and their leaders.
	if err := topicsReady(cc, c); err != nil {
		return err
	}
	for _, b := range c.BrokerList() {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			continue // a broker that is away learns the topics when it is back
		}
		err = topicsReady(conn, c)
		conn.Close()
		if err != nil {
			return fmt.Errorf("broker %s: %w", b, err)
		}
	}
	return nil
}

func topicsReady(conn *kafka.Conn, c *Config) error {
	for _, t := range []string{c.Topic, c.DLQ} {
		parts, err := conn.ReadPartitions(t)
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

// topicConfig is how topic t is created: zero settings take the single-broker values.
func topicConfig(c *Config, t string) kafka.TopicConfig {
	tc := kafka.TopicConfig{Topic: t, NumPartitions: max(c.Partitions, 1), ReplicationFactor: max(c.ReplicationFactor, 1)}
	if c.MinInsyncReplicas > 0 {
		tc.ConfigEntries = []kafka.ConfigEntry{{ConfigName: "min.insync.replicas", ConfigValue: strconv.Itoa(c.MinInsyncReplicas)}}
	}
	return tc
}

// Check reports whether the first reachable broker knows the events topic: readiness
// probes call it, so it dials afresh each time rather than trusting a cached connection.
func Check(ctx context.Context, c *Config) error {
	var last error = errors.New("no Kafka brokers configured")
	for _, b := range c.BrokerList() {
		conn, err := kafka.DialContext(ctx, "tcp", b)
		if err != nil {
			last = err
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			conn.SetDeadline(dl)
		}
		_, err = conn.ReadPartitions(c.Topic)
		conn.Close()
		if err == nil {
			return nil
		}
		last = err
	}
	return fmt.Errorf("no broker answers for topic %s: %w", c.Topic, last)
}
