package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	passSeconds = promauto.NewHistogram(prometheus.HistogramOpts{
		Name: "tp_attribution_pass_seconds", Help: "Time of one pass of the watcher over one site (failed passes too).",
		Buckets: prometheus.ExponentialBuckets(0.005, 2, 14), // 5 ms … 41 s
	})
	passFailures = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_attribution_pass_failures_total", Help: "Passes of the watcher that failed (ClickHouse away, a query refused); each is tried again.",
	})
	lastPass = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tp_attribution_last_pass_timestamp_seconds", Help: "When the watcher last finished a pass over the site (its start until the first one).",
	}, []string{"site"})
	creditedConversions = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_attribution_conversions_credited_total", Help: "Conversions credited by the watcher (new, changed, merged or with a late session).",
	})
	waitingConversions = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tp_attribution_conversions_waiting", Help: "Conversions the watcher has seen and not credited yet.",
	}, []string{"site"})
	oldestWaiting = promauto.NewGaugeVec(prometheus.GaugeOpts{
		Name: "tp_attribution_oldest_waiting_seconds", Help: "How long the oldest conversion not credited yet has been waiting (0 when none).",
	}, []string{"site"})
)

// watchStarted publishes a site's series before its first pass.
func watchStarted(site string) {
	lastPass.WithLabelValues(site).SetToCurrentTime()
	waitingConversions.WithLabelValues(site).Set(0)
	oldestWaiting.WithLabelValues(site).Set(0)
}

// passed records a pass over site that began at start and ended with err.
func (e *Engine) passed(site string, start time.Time, err error) {
	passSeconds.Observe(time.Since(start).Seconds())
	if err != nil {
		passFailures.Inc()
	} else {
		lastPass.WithLabelValues(site).SetToCurrentTime()
	}
	e.mu.Lock()
	n, oldest := len(e.waiting[site]), time.Now()
	for _, at := range e.waiting[site] {
		if at.Before(oldest) {
			oldest = at
		}
	}
	e.mu.Unlock()
	waitingConversions.WithLabelValues(site).Set(float64(n))
	oldestWaiting.WithLabelValues(site).Set(time.Since(oldest).Seconds())
}

// waitFor notes that conversion id of site waits for credit, since now unless earlier.
func (e *Engine) waitFor(site, id string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	w := e.waiting[site]
	if w == nil {
		w = map[string]time.Time{}
		e.waiting[site] = w
	}
	if _, ok := w[id]; !ok {
		w[id] = now
	}
}

// stillWaiting makes missing, the site's conversions without any credit, those settling
// and those queued in b the ones that wait: others were credited meanwhile, or replaced.
func (e *Engine) stillWaiting(site string, missing []Conversion, now time.Time, b *backlog) {
	keep := map[string]bool{}
	for _, c := range missing {
		keep[c.ID] = true
		e.waitFor(site, c.ID, now)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	for id := range e.waiting[site] {
		_, settling := e.firstSeen[id]
		if _, queued := b.queued[id]; !keep[id] && !settling && !queued {
			delete(e.waiting[site], id)
		}
	}
}

// credited notes that cs of site were credited.
func (e *Engine) credited(site string, cs []Conversion) {
	creditedConversions.Add(float64(len(cs)))
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range cs {
		delete(e.waiting[site], c.ID)
	}
}
