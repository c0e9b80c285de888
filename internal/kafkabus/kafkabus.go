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
