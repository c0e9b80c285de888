// Package collector is the HTTP ingest service (docs/collector.md): it accepts events from the
// snippet and from servers, enriches them and makes them durable in Kafka (or the local
// spool) before answering 2xx.
package collector

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"

	"touchpoint/collector/enrich"
	"touchpoint/collector/leases"
	"touchpoint/collector/spool"
	"touchpoint/internal/site"
	trackerjs "touchpoint/tracker-js"
)

// Config holds the collector's settings; RegisterFlags declares each with its default.
type Config struct {
	Listen          string
	MetricsListen   string
	SitesFile       string
	PathPrefix      string
	TrustedProxies  string
	GeoIPFile       string
	MaxBodySize     int
	MaxServerBody   int
	MaxEvents       int
	MaxImportEvents int
	SpoolDir        string
	SpoolMaxBytes   int64
	SiteRate        float64
	SiteBurst       int
	IPRate          float64
	IPBurst         int
	AuthRate        float64
	AuthBurst       int
	ReadTimeout     time.Duration
	WriteTimeout    time.Duration
	IdleTimeout     time.Duration
	KafkaTimeout    time.Duration
	Linger          time.Duration
	Compression     string
	ClockSkew       time.Duration
	MaxEventAge     time.Duration
	CallsPublicURL  string
	Leases          leases.Config
}

// RegisterFlags declares the collector's flags (each also readable as TP_<NAME>, see envflag).
func RegisterFlags(fs *flag.FlagSet) *Config {
	c := &Config{}
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8080", "address the collector listens on")
	fs.StringVar(&c.MetricsListen, "metrics.listen", "127.0.0.1:8083", "address serving /metrics (Prometheus) and /healthz, apart from the public endpoints (empty: off)")
	fs.StringVar(&c.SitesFile, "sites", "config/dev.json", "site configuration file")
	fs.StringVar(&c.PathPrefix, "http.path-prefix", "", "path prefix a reverse proxy keeps in front of the endpoints, e.g. /tp")
	fs.StringVar(&c.TrustedProxies, "http.trusted-proxies", "127.0.0.0/8,::1/128", "comma-separated CIDRs whose X-Forwarded-For and X-Forwarded-Proto are believed")
	fs.StringVar(&c.GeoIPFile, "geoip", "", "GeoIP databases (.mmdb), comma-separated, asked in order: MaxMind GeoIP2/GeoLite2 or DB-IP City or Country; empty: no GeoIP")
	fs.IntVar(&c.MaxBodySize, "max-body", 64<<10, "largest accepted /e body in bytes")
	fs.IntVar(&c.MaxServerBody, "max-server-body", 4<<20, "largest accepted server API body in bytes")
	fs.IntVar(&c.MaxEvents, "max-events", 100, "most events accepted in one /e request")
	fs.IntVar(&c.MaxImportEvents, "max-import-events", 1000, "most events accepted in one /v1/import request")
	fs.StringVar(&c.SpoolDir, "spool.dir", ".stack/spool/collector", "directory of the local spool used while Kafka is unreachable")
	fs.Int64Var(&c.SpoolMaxBytes, "spool.max-bytes", 1<<30, "largest spool size; beyond it requests get 503")
	fs.Float64Var(&c.SiteRate, "ratelimit.site", 5000, "requests per second allowed per site (0: unlimited)")
	fs.IntVar(&c.SiteBurst, "ratelimit.site-burst", 10000, "burst of requests allowed per site")
	fs.Float64Var(&c.IPRate, "ratelimit.ip", 50, "requests per second allowed per client IP (0: unlimited)")
	fs.IntVar(&c.IPBurst, "ratelimit.ip-burst", 200, "burst of requests allowed per client IP")
	fs.Float64Var(&c.AuthRate, "ratelimit.auth", 0.1, "failed server API authentications per second allowed per client IP, after the burst (0: unlimited)")
	fs.IntVar(&c.AuthBurst, "ratelimit.auth-burst", 10, "failed server API authentications a client IP may make before the rate applies")
	fs.DurationVar(&c.ReadTimeout, "http.read-timeout", 10*time.Second, "time to read a whole request")
	fs.DurationVar(&c.WriteTimeout, "http.write-timeout", 15*time.Second, "time to write a response")
	fs.DurationVar(&c.IdleTimeout, "http.idle-timeout", 60*time.Second, "keep-alive idle time")
	fs.DurationVar(&c.KafkaTimeout, "kafka.write-timeout", 5*time.Second, "time to wait for Kafka's acknowledgement before spooling")
	fs.DurationVar(&c.Linger, "kafka.linger", 0, "how long a produce batch waits for more messages (batches also grow while a produce is in flight)")
	fs.StringVar(&c.Compression, "kafka.compression", "lz4", "compression of produced batches: none, gzip, snappy, lz4 or zstd")
	fs.DurationVar(&c.ClockSkew, "clock.skew", time.Minute, "how far in the future a client time may be")
	fs.DurationVar(&c.MaxEventAge, "clock.max-age", 7*24*time.Hour, "how far in the past a live event's client time may be before it is clamped")
	fs.StringVar(&c.CallsPublicURL, "calls.public-url", "", "the collector's public base URL as call providers reach it (https://t.example.com, with a proxy's path prefix): Twilio signs the URL it posts to; empty: the request's Host and scheme")
	fs.StringVar(&c.Leases.Addr, "leases.addr", "127.0.0.1:6379", "address of the Redis-compatible lease store of call tracking (shared by every collector)")
	fs.StringVar(&c.Leases.Password, "leases.password", "", "password of the lease store")
	fs.DurationVar(&c.Leases.Timeout, "leases.timeout", 200*time.Millisecond, "longest wait for the lease store; past it /v1/number answers the default numbers")
	return c
}

// Sink is where accepted messages go: Write returns once they are durable. KafkaSink is
// the real one.
type Sink interface {
	// Write returns nil once every message is durable; errSpoolFull when it cannot be.
	Write(ctx context.Context, msgs []spool.Message) error
	Close(ctx context.Context) error
}

// Server is a collector.
type Server struct {
	cfg     *Config
	sites   *site.Registry
	pipe    *enrich.Pipeline
	sink    Sink
	trusted []netip.Prefix
	siteRL  *limiter
	ipRL    *limiter
	authRL  *limiter         // failed server API authentications
	tracker *trackerFile     // /t.js
	linksJS *trackerFile     // /l.js
	callsJS *trackerFile     // /c.js
	agents  *enrich.UAParser // tells crawlers apart at /v1/number
	ready   *readiness
	// Call tracking (numbers.go, calls.go): nil leases until UseLeases.
	leases    *leases.Store
	leaseOut  *leaseWriter
	referrals sync.Map           // *site.Site → *session.Referrals
	watchCtx  context.Context    // background readiness checks run until unwatch
	unwatch   context.CancelFunc // stops the background readiness checks
	topic     string
	dlq       string
	http      *fasthttp.Server
}

// New wires a collector.
func New(cfg *Config, sites *site.Registry, pipe *enrich.Pipeline, sink Sink, ready func(context.Context) error, topic, dlq string) (*Server, error) {
	trusted, err := parseCIDRs(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, sites: sites, pipe: pipe, sink: sink, trusted: trusted,
		siteRL: newLimiter(cfg.SiteRate, cfg.SiteBurst), ipRL: newLimiter(cfg.IPRate, cfg.IPBurst), authRL: newLimiter(cfg.AuthRate, cfg.AuthBurst),
		tracker: newScriptFile(trackerjs.Script), linksJS: newScriptFile(trackerjs.Links), callsJS: newScriptFile(trackerjs.Calls), agents: enrich.NewUAParser(1024), ready: newReadiness(ready),
		topic: topic, dlq: dlq,
	}
	s.watchCtx, s.unwatch = context.WithCancel(context.Background())
	go s.ready.watch(s.watchCtx, 5*time.Second)
	s.http = &fasthttp.Server{
		Handler:            s.route,
		Name:               "touchpoint",
		MaxRequestBodySize: max(cfg.MaxBodySize, cfg.MaxServerBody),
		ReadTimeout:        cfg.ReadTimeout,
		WriteTimeout:       cfg.WriteTimeout,
		IdleTimeout:        cfg.IdleTimeout,
		ReadBufferSize:     8 << 10,
		CloseOnShutdown:    true,
		ErrorHandler:       s.transportError,
		Logger:             &throttledLogger{},
	}
	return s, nil
}

// Handler is the request router, for tests that serve it themselves.
func (s *Server) Handler() fasthttp.RequestHandler { return s.http.Handler }

// Serve serves on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); err != nil {
		return fmt.Errorf("cannot serve: %w", err)
	}
	return nil
}

// ListenAndServe serves on the configured address until Shutdown.
func (s *Server) ListenAndServe() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ln)
}

// Readiness answers /readyz, for the metrics address.
func (s *Server) Readiness() http.Handler { return s.ready }

// Shutdown stops accepting, waits for in-flight requests (each ends durable or refused),
// then gives the spool to Kafka and closes the sink, all within ctx's deadline: what
// Kafka has not taken by then stays in the spool for the next start.
func (s *Server) Shutdown(ctx context.Context) error {
	s.unwatch()
	var errs []error
	if err := s.http.ShutdownWithContext(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cannot stop HTTP server: %w", err))
	}
	if s.leaseOut != nil {
		s.leaseOut.close(ctx)
	}
	if s.leases != nil {
		s.leases.Close()
	}
	if err := s.sink.Close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("cannot close the sink: %w", err))
	}
	return errors.Join(errs...)
}

// transportError answers requests fasthttp refused before routing: a body over the
// server-wide limit gets a readable 413 (valyala/fasthttp#1348), a slow one 408.
func (s *Server) transportError(ctx *fasthttp.RequestCtx, err error) {
	var netErr net.Error
	switch {
	case errors.Is(err, fasthttp.ErrBodyTooLarge):
		s.refuse(ctx, fasthttp.StatusRequestEntityTooLarge, reasonBodyTooLarge, "body larger than the server accepts")
	case errors.As(err, &netErr) && netErr.Timeout():
		s.refuse(ctx, fasthttp.StatusRequestTimeout, reasonTimeout, "request not received in time")
	default:
		s.refuse(ctx, fasthttp.StatusBadRequest, reasonBadRequest, "cannot parse HTTP request")
	}
}

// throttledLogger keeps fasthttp's connection errors (scanners, broken clients) from
// flooding the log: at most one line every 5 seconds.
type throttledLogger struct {
	last atomic.Int64
}

func (l *throttledLogger) Printf(format string, args ...any) {
	now := time.Now().Unix()
	if last := l.last.Load(); now-last >= 5 && l.last.CompareAndSwap(last, now) {
		log.Printf("collector: "+format, args...)
	}
}
