package collector

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

var (
	requests = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "tp_collector_requests_total", Help: "HTTP requests by endpoint and status.",
	}, []string{"endpoint", "status"})
	refusals = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "tp_collector_refusals_total", Help: "Refused requests and refused events, by reason.",
	}, []string{"reason"})
	eventsAccepted = promauto.NewCounterVec(prometheus.CounterOpts{
		Name: "tp_collector_events_total", Help: "Events made durable (Kafka or spool), by origin.",
	}, []string{"origin"})
	eventsDeadLettered = promauto.NewCounter(prometheus.CounterOpts{
		Name: "tp_collector_dlq_events_total", Help: "Refused events written to the dead-letter topic.",
	})
)
