package webhook

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Results of one attempt.
const (
	resultDelivered = "delivered" // the receiver answered 2xx
	resultRetrying  = "retrying"  // it failed and is tried again after its backoff
	resultAbandoned = "abandoned" // it failed and was the last attempt
)

var deliveries = promauto.NewCounterVec(prometheus.CounterOpts{
	Name: "tp_webhook_deliveries_total", Help: "Webhook attempts by result: delivered, retrying (failed, tried again) or abandoned (failed, the last attempt).",
}, []string{"result"})

func init() {
	for _, r := range []string{resultDelivered, resultRetrying, resultAbandoned} {
		deliveries.WithLabelValues(r) // every result is a series from the start, at 0
	}
}
