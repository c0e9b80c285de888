// Package health tells operators whether a service is alive (/healthz) and what it waits
// for (/readyz), and serves its Prometheus metrics (/metrics) for the services that have
// no other HTTP API.
package health

import (
	"log"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Serve serves /healthz, /metrics and, when ready is not nil, /readyz on addr in the
// background until the process ends. An address that is taken (by an instance still
// stopping, say) is tried again every few seconds, and logged once a minute: the service
// goes on with its work meanwhile.
func Serve(addr string, ready http.Handler) {
	srv := &http.Server{Handler: Handler(ready), ReadTimeout: 5 * time.Second, WriteTimeout: 10 * time.Second}
	go func() {
		var logged time.Time
		for {
			ln, err := net.Listen("tcp", addr)
			if err == nil {
				srv.Serve(ln)
				return
			}
			if time.Since(logged) >= time.Minute {
				logged = time.Now()
				log.Printf("health: cannot serve /healthz and /metrics on %s, retrying: %v", addr, err)
			}
			time.Sleep(2 * time.Second)
		}
	}()
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
