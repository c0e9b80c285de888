package collector

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/valyala/fasthttp"

	"touchpoint/internal/kafkabus"
)

// readiness caches the Kafka check for a second so /readyz probes cannot load the broker.
type readiness struct {
	check func(context.Context) error

	mu   sync.Mutex
	at   time.Time
	last error
}

func (r *readiness) serve(ctx *fasthttp.RequestCtx) {
	r.mu.Lock()
	if time.Since(r.at) > time.Second {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		r.last = r.check(c)
		cancel()
		r.at = time.Now()
	}
	err := r.last
	r.mu.Unlock()
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("Kafka unreachable (events go to the spool): " + err.Error() + "\n")
		return
	}
	ctx.SetBodyString("ready\n")
}

// KafkaCheck reports whether the first reachable broker knows the events topic.
func KafkaCheck(c *kafkabus.Config) func(context.Context) error {
	return func(ctx context.Context) error {
		var last error
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
}
