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
	// leases checks the lease store when a site tracks calls; nil otherwise.
	leases func(context.Context) error

	mu        sync.Mutex
	at        time.Time
	last      error
	leasesErr error
}

func (r *readiness) serve(ctx *fasthttp.RequestCtx) {
	r.mu.Lock()
	if time.Since(r.at) > time.Second {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		r.last = r.check(c)
		r.leasesErr = nil
		if r.leases != nil {
			r.leasesErr = r.leases(c)
		}
		cancel()
		r.at = time.Now()
	}
	err, leasesErr := r.last, r.leasesErr
	r.mu.Unlock()
	// The lease store being away degrades call tracking only (pages keep their own
	// numbers): it is reported, and the collector stays in service.
	degraded := ""
	if leasesErr != nil {
		degraded = "lease store unreachable (/v1/number answers the default numbers, calls are recorded unmatched): " + leasesErr.Error() + "\n"
	}
	if err != nil {
		ctx.SetStatusCode(fasthttp.StatusServiceUnavailable)
		ctx.SetBodyString("Kafka unreachable (events go to the spool): " + err.Error() + "\n" + degraded)
		return
	}
	if degraded != "" {
		ctx.SetBodyString("ready, degraded: " + degraded)
		return
	}
	ctx.SetBodyString("ready\n")
}

// KafkaCheck reports whether a broker answers for the events topic.
func KafkaCheck(c *kafkabus.Config) func(context.Context) error {
	return func(ctx context.Context) error { return kafkabus.Check(ctx, c) }
}
