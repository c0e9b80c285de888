// Package collector is the HTTP ingest service of SPEC §4: it accepts events from the
// snippet and from servers, enriches them and produces them to Kafka.
package collector

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"touchpoint/internal/site"
)

// Config holds the collector's settings.
type Config struct {
	Listen      string
	SitesFile   string
	MaxBodySize int
	MaxEvents   int
}

// RegisterFlags declares the collector's flags.
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8080", "address the collector listens on")
	fs.StringVar(&c.SitesFile, "sites", "config/dev.json", "site configuration file")
	fs.IntVar(&c.MaxBodySize, "max-body", 64<<10, "largest accepted request body in bytes")
	fs.IntVar(&c.MaxEvents, "max-events", 100, "most events accepted in one request")
	return c
}

// Server is a running collector.
type Server struct {
	cfg      *Config
	sites    *site.Registry
	producer *Producer
	http     *fasthttp.Server
}

// New wires a collector.
func New(cfg *Config, sites *site.Registry, p *Producer) *Server {
	s := &Server{cfg: cfg, sites: sites, producer: p}
	s.http = &fasthttp.Server{
		Handler:            s.route,
		Name:               "touchpoint",
		MaxRequestBodySize: cfg.MaxBodySize,
		ReadTimeout:        10 * time.Second,
		WriteTimeout:       10 * time.Second,
		IdleTimeout:        60 * time.Second,
	}
	return s
}

func (s *Server) route(ctx *fasthttp.RequestCtx) {
	switch string(ctx.Path()) {
	case "/e":
		s.handleEvents(ctx)
	case "/healthz":
		ctx.SetStatusCode(fasthttp.StatusOK)
		ctx.SetBodyString("ok\n")
	default:
		refuse(ctx, fasthttp.StatusNotFound, "no such endpoint")
	}
}

// ListenAndServe serves until Shutdown.
func (s *Server) ListenAndServe() error {
	if err := s.http.ListenAndServe(s.cfg.Listen); err != nil {
		return fmt.Errorf("cannot serve on %s: %w", s.cfg.Listen, err)
	}
	return nil
}

// Shutdown stops accepting, waits for in-flight requests, then flushes the producer.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.http.ShutdownWithContext(ctx); err != nil {
		return fmt.Errorf("cannot stop HTTP server: %w", err)
	}
	return s.producer.Close()
}

func refuse(ctx *fasthttp.RequestCtx, status int, reason string) {
	ctx.SetStatusCode(status)
	ctx.SetContentType("application/json")
	fmt.Fprintf(ctx, "{\"error\":%q}\n", reason)
}
