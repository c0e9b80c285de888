package health

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var dependencyUp = promauto.NewGaugeVec(prometheus.GaugeOpts{
	Name: "tp_dependency_up", Help: "1 while the service reaches the dependency, 0 while it waits for it.",
}, []string{"dependency"})

// stillWaitingEvery is how often a dependency that stays away is logged again.
const stillWaitingEvery = time.Minute

// Readiness is what a service waits for. A service never stops because a dependency is
// away: it waits, retries, and says here what it waits for and since when. Each
// dependency counts as waited for until it was first reached. A nil *Readiness ignores
// everything, for tests and tools that run parts of a service.
type Readiness struct {
	service string

	mu   sync.Mutex
	deps []*dependency
}

type dependency struct {
	name   string
	ok     bool
	since  time.Time // when the current state began
	err    string
	failed bool      // it was waited for because of an error, not only at start
	logged time.Time // last "still waiting" line
	up     prometheus.Gauge
}

// NewReadiness returns the readiness of service, which needs deps.
func NewReadiness(service string, deps ...string) *Readiness {
	r := &Readiness{service: service}
	for _, d := range deps {
		r.dep(d)
	}
	return r
}

// dep returns the dependency named name, adding it when new; r.mu is held or r is new.
func (r *Readiness) dep(name string) *dependency {
	for _, d := range r.deps {
		if d.name == name {
			return d
		}
	}
	d := &dependency{name: name, since: time.Now(), err: "not reached yet", up: dependencyUp.WithLabelValues(name)}
	d.up.Set(0)
	r.deps = append(r.deps, d)
	return d
}

// Set records the outcome of using dependency name: err is nil when it answered. Changes
// are logged, and a dependency that stays away is logged again every minute.
func (r *Readiness) Set(name string, err error) {
	if r == nil {
		return
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dep(name)
	switch {
	case err == nil && !d.ok:
		if d.failed {
			log.Printf("%s: %s is back after %s", r.service, name, now.Sub(d.since).Round(time.Second))
		}
		d.ok, d.since, d.err, d.failed = true, now, "", false
		d.up.Set(1)
	case err != nil && d.ok:
		d.ok, d.since, d.err, d.failed, d.logged = false, now, err.Error(), true, now
		d.up.Set(0)
		log.Printf("%s: waiting for %s: %v", r.service, name, err)
	case err != nil:
		d.err = err.Error()
		if !d.failed || now.Sub(d.logged) >= stillWaitingEvery {
			d.failed, d.logged = true, now
			log.Printf("%s: waiting for %s since %s: %v", r.service, name, d.since.UTC().Format(time.RFC3339), err)
		}
	}
}

// Wait is one dependency a service waits for.
type Wait struct {
	Dependency string    `json:"dependency"`
	Since      time.Time `json:"since"`
	Seconds    float64   `json:"waiting_seconds"`
	Error      string    `json:"error,omitempty"`
}

// Waiting lists the dependencies the service waits for now, in the order they were named.
func (r *Readiness) Waiting() []Wait {
	if r == nil {
		return nil
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Wait
	for _, d := range r.deps {
		if !d.ok {
			out = append(out, Wait{Dependency: d.name, Since: d.since.UTC(), Seconds: now.Sub(d.since).Seconds(), Error: d.err})
		}
	}
	return out
}

// Err is nil when the service is ready, else what it waits for.
func (r *Readiness) Err() error {
	var errs []error
	for _, w := range r.Waiting() {
		errs = append(errs, fmt.Errorf("waiting for %s since %s: %s", w.Dependency, w.Since.Format(time.RFC3339), w.Error))
	}
	return errors.Join(errs...)
}

// Report is the answer to /readyz: 200 when ready, else 503 with what the service waits
// for and since when, and with the last errors when detail is set. Errors name internal
// addresses: public ports answer without them.
func (r *Readiness) Report(detail bool) (status int, body []byte) {
	var rep struct {
		Ready   bool   `json:"ready"`
		Waiting []Wait `json:"waiting_for,omitempty"`
	}
	rep.Waiting = r.Waiting()
	rep.Ready = len(rep.Waiting) == 0
	if !detail {
		for i := range rep.Waiting {
			rep.Waiting[i].Error = ""
		}
	}
	body, _ = json.Marshal(rep)
	if !rep.Ready {
		return http.StatusServiceUnavailable, append(body, '\n')
	}
	return http.StatusOK, append(body, '\n')
}

// ServeHTTP answers /readyz with the errors, for internal addresses.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, _ *http.Request) { r.serve(w, true) }

// Public answers /readyz without the errors, for ports that may be published.
func (r *Readiness) Public() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { r.serve(w, false) })
}

func (r *Readiness) serve(w http.ResponseWriter, detail bool) {
	status, body := r.Report(detail)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(body)
}

// Probe checks dependency name at once and then every interval until ctx is done; each
// check gets at most the interval, and at least two seconds.
func (r *Readiness) Probe(ctx context.Context, name string, every time.Duration, check func(context.Context) error) {
	for {
		cctx, cancel := context.WithTimeout(ctx, max(every, 2*time.Second))
		err := check(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		r.Set(name, err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}
