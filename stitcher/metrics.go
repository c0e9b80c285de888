package stitcher

import (
	"context"
	"log"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	batchEvents = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "tp_stitcher_batch_events", Help: "Messages per batch taken from Kafka.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 10), // 1 … 262,144
	})
	insertSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "tp_stitcher_insert_seconds", Help: "Time to insert one batch's rows into every table (failed inserts too).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5 ms … 41 s
	})
	eventsWritten = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_stitcher_events_total", Help: "Messages of the events topic written to ClickHouse or to the dead-letter topic.",
	})
	deadLetters = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_stitcher_dead_letters_total", Help: "Messages that can never be written, sent to the dead-letter topic.",
	})
	writeFailures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_stitcher_write_failures_total", Help: "Failed attempts to write a batch (retried until they succeed).",
	})
	consumerLag = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tp_stitcher_consumer_lag", Help: "Messages of the events topic not yet committed by the consumer group, by partition.",
	}, []string{"partition"})
)

// lagger reports a consumer group's lag by partition (kafkabus.Consumer).
type lagger interface {
	Lag(ctx context.Context) (map[int]int64, error)
}

// lagEvery is how often the consumer group's lag is read from the brokers.
const lagEvery = 10 * time.Second

// watchLag publishes the group's lag every interval until ctx is done. While Kafka is
// away the last values stay: tp_dependency_up tells that they are old.
func watchLag(ctx context.Context, l lagger, every time.Duration) {
	logged := time.Time{}
	for {
		lctx, cancel := context.WithTimeout(ctx, every)
		lag, err := l.Lag(lctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && time.Since(logged) > 10*time.Minute:
			logged = time.Now()
			log.Printf("stitcher: cannot read the consumer lag: %v", err)
		}
		for p, n := range lag {
			consumerLag.WithLabelValues(strconv.Itoa(p)).Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
