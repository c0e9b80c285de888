// Package kafkabus is Touchpoint's only way to Kafka: it names the topics, creates them,
// produces (Producer), consumes as a group member (Consumer) and checks that a broker
// answers (Check). Everything underneath is github.com/segmentio/kafka-go.
package kafkabus

import (
	"flag"
	"strings"

	"github.com/segmentio/kafka-go"
)

// Topic names.
const (
	EventsTopic = "tp.events"     // enriched events, keyed by site/visitor
	DLQTopic    = "tp.events.dlq" // refused events with the reason in the "reason" header
)

// Message is one Kafka record: what a Consumer returns and what a Producer sends (its
// Topic, Key, Value, Headers and, when set, Time).
type Message = kafka.Message

// Header is a Message header.
type Header = kafka.Header

// Config is how a service reaches Kafka.
type Config struct {
	Brokers    string // comma-separated host:port list
	Topic      string
	DLQ        string
	Partitions int

	// Topics are created with these; a single broker needs 1 and 1. On a cluster of three
	// brokers, 3 and 2 keep every acknowledged message on two brokers at least, and keep
	// producing while one broker is away.
	ReplicationFactor int
	MinInsyncReplicas int
}

// RegisterFlags declares the Kafka flags shared by every binary.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Brokers, "kafka.brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	fs.StringVar(&c.Topic, "kafka.topic", EventsTopic, "topic of enriched events")
	fs.StringVar(&c.DLQ, "kafka.dlq", DLQTopic, "dead-letter topic of refused events")
	fs.IntVar(&c.Partitions, "kafka.partitions", 4, "partitions when creating topics")
	fs.IntVar(&c.ReplicationFactor, "kafka.replication-factor", 1, "replicas of each partition when creating topics")
	fs.IntVar(&c.MinInsyncReplicas, "kafka.min-insync-replicas", 1,
		"replicas that must have a message before it is acknowledged (min.insync.replicas of created topics)")
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
