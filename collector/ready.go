package collector

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
)

// readiness answers /readyz from a Kafka check made at most once a second, so probes
// cannot load the broker; a background check every few seconds keeps tp_dependency_up
// and the log current when nobody asks.
type readiness struct {
	check func(context.Context) error
	state *health.Readiness

	mu sync.Mutex
	at time.Time
}

func newReadiness(check func(context.Context) error) *readiness {
	return &readiness{check: check, state: health.NewReadiness("collector", "kafka")}
}

// refresh checks Kafka unless that was done less than a second ago.
func (r *readiness) refresh(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.at) < time.Second {
		return
	}
	c, cancel := context.WithTimeout(ctx, 2*time.Second)
	err := r.check(c)
	cancel()
	if err != nil {
		err = fmt.Errorf("%w (events go to the spool meanwhile)", err)
	}
	r.state.Set("kafka", err)
	r.at = time.Now()
}

// watch refreshes every interval until ctx is done.
func (r *readiness) watch(ctx context.Context, every time.Duration) {
	for {
		r.refresh(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// serve answers /readyz on the public port, without the errors (they name internal
// addresses); the metrics address has them.
func (r *readiness) serve(ctx *fasthttp.RequestCtx) {
	r.refresh(ctx)
	status, body := r.state.Report(false)
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	ctx.Response.Header.Set("Cache-Control", "no-store")
	ctx.SetBody(body)
}

// ServeHTTP answers /readyz on the metrics address.
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.refresh(req.Context())
	r.state.ServeHTTP(w, req)
}

// KafkaCheck reports whether a broker answers for the events topic.
func KafkaCheck(c *kafkabus.Config) func(context.Context) error {
	return func(ctx context.Context) error { return kafkabus.Check(ctx, c) }
}
