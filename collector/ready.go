package collector

import (
	"context"
	"sync"
	"time"

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

// KafkaCheck reports whether a broker answers for the events topic.
func KafkaCheck(c *kafkabus.Config) func(context.Context) error {
	return func(ctx context.Context) error { return kafkabus.Check(ctx, c) }
}
