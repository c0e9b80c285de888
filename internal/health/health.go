// Package health tells operators whether a service is alive (/healthz) and what it waits
// for (/readyz), and serves its Prometheus metrics (/metrics) for the services that have
// no other HTTP API.
package health

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Listen serves /healthz, /metrics and, when ready is not nil, /readyz on addr until the
// process ends. It returns once it listens, or why it cannot: the address is configuration.
func Listen(addr string, ready http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("cannot serve health and metrics on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: Handler(ready), ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	go srv.Serve(ln)
	return nil
}

// Handler routes /healthz, /metrics and, when ready is not nil, /readyz.
func Handler(ready http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("/metrics", promhttp.Handler())
	if ready != nil {
		mux.Handle("/readyz", ready)
	}
	return mux
}
