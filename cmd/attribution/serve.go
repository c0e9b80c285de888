package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/engine"
	"touchpoint/attribution/meta"
	"touchpoint/attribution/notify"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/apitoken"
	"touchpoint/internal/site"
	"touchpoint/privacy"
	"touchpoint/reports"
	"touchpoint/reports/api"
	"touchpoint/reports/dashboard"
)

// config holds the service's settings.
type config struct {
	Listen        string
	SitesFile     string
	Poll          time.Duration
	WebhookTries  int
	WebhookRefuse int
	WebhookRetry  time.Duration
	WebhookWait   time.Duration
	WebhookConc   int
	MetaURL       string
	ShutdownAfter time.Duration
	RollupEvery   time.Duration
	RollupMargin  time.Duration
	RetainEvery   time.Duration
	ErasureGrace  time.Duration
	TokensMaxAge  time.Duration
}

// registerFlags declares the service's flags.
func registerFlags(fs *flag.FlagSet) *config {
	c := &config{}
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8081", "address of the reports API and dashboard")
	fs.StringVar(&c.SitesFile, "sites", "config/dev.json", "site configuration file")
	fs.DurationVar(&c.Poll, "poll", time.Second, "how often new conversions are looked for")
	fs.IntVar(&c.WebhookTries, "webhook.attempts", 8, "most attempts of one webhook or Meta delivery")
	fs.IntVar(&c.WebhookRefuse, "webhook.attempts-refused", 3, "most attempts of a delivery the receiver refuses (4xx other than 408, 425, 429)")
	fs.DurationVar(&c.WebhookRetry, "webhook.backoff", 2*time.Second, "wait before the first retry of a delivery (doubles each time, up to 10 minutes)")
	fs.DurationVar(&c.WebhookWait, "webhook.timeout", 10*time.Second, "how long one webhook or Meta request may take")
	fs.IntVar(&c.WebhookConc, "webhook.workers", 4, "how many webhook and Meta requests run at once")
	fs.StringVar(&c.MetaURL, "meta.url", meta.DefaultURL, "Graph API base URL of the Meta Conversions API (with the version); a site's meta.endpoint replaces it")
	fs.DurationVar(&c.ShutdownAfter, "shutdown-timeout", 10*time.Second, "how long to drain on SIGTERM")
	fs.DurationVar(&c.RollupEvery, "rollup.interval", 10*time.Second, "how often the source report's daily rollups are brought up to date")
	fs.DurationVar(&c.RollupMargin, "rollup.margin", 30*time.Second,
		"how long a day must be unchanged before it is rolled up (longer than any insert takes)")
	fs.DurationVar(&c.RetainEvery, "retention.interval", time.Hour, "how often raw data older than a site's retention_days is deleted")
	fs.DurationVar(&c.ErasureGrace, "privacy.grace", 10*time.Second,
		"how long after an erasure began it looks again for rows written by work that started before it")
	fs.DurationVar(&c.TokensMaxAge, "tokens.refresh", 5*time.Second, "how old the copy of the API tokens may be (a revoked token works at most this long)")
	return c
}

// serve runs the service until ctx is done: the engine crediting conversions as they
// arrive, the CRM webhook sender, the rollups of the source report, and the reports API
// with the dashboard.
func serve(ctx context.Context, cfg *config, sites *site.Registry, conn driver.Conn, db string) error {
	eng := engine.New(conn, db, sites)
	queue := &webhook.Store{Conn: conn, DB: db}
	metaTarget := &meta.Target{Sites: sites, URL: cfg.MetaURL}
	sender := webhook.NewSender(queue, map[string]webhook.Target{webhook.TargetWebhook: &webhook.Hook{Sites: sites}, webhook.TargetMeta: metaTarget},
		cfg.WebhookWait)
	sender.MaxAttempts, sender.MaxRefused, sender.Workers = cfg.WebhookTries, cfg.WebhookRefuse, cfg.WebhookConc
	sender.Backoff = webhook.ExpBackoff(cfg.WebhookRetry, 10*time.Minute)
	eng.OnComputed = (&notify.Notifier{Conn: conn, DB: db, Queue: queue, Sender: sender, Meta: metaTarget}).Computed
	store := &reports.Store{Conn: conn, DB: db}
	priv := &privacy.Service{Conn: conn, DB: db, Grace: cfg.ErasureGrace, Ctx: ctx}
	sender.Erased = priv.ConversionErased
	tokens := &apitoken.Store{Conn: conn, DB: db, Sites: sites, MaxAge: cfg.TokensMaxAge}
	srv := &http.Server{
		Addr: cfg.Listen,
		Handler: (&api.Server{Sites: sites, Reports: store, Tokens: tokens, Privacy: priv, Deliveries: queue, Resent: sender.Enqueue,
			Dashboard: dashboard.Handler()}).Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 3)
	go func() {
		if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
			errc <- fmt.Errorf("cannot serve on %s: %w", cfg.Listen, err)
		}
	}()
	go sender.Run(ctx)
	go func() { errc <- eng.Watch(ctx, cfg.Poll) }()
	go rollUp(ctx, store, sites, cfg.RollupEvery, cfg.RollupMargin)
	go priv.RetainEvery(ctx, sites, cfg.RetainEvery)
	go sites.ReloadOn(ctx, sighup, "attribution")
	log.Printf("attribution: serving on %s", cfg.Listen)

	select {
	case <-ctx.Done():
	case err := <-errc:
		if err != nil {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownAfter)
	defer cancel()
	return srv.Shutdown(sctx)
}

// rollUp keeps the source report's daily rollups current until ctx is done.
func rollUp(ctx context.Context, store *reports.Store, sites *site.Registry, every, margin time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for _, st := range sites.Sites() {
			start := time.Now()
			n, err := store.BuildRollups(ctx, st.ID, margin)
			if err != nil && ctx.Err() == nil {
				log.Printf("attribution: %s: %v", st.ID, err)
			}
			if n > 0 {
				log.Printf("attribution: %s: rolled up %d days for the source report in %s", st.ID, n, time.Since(start).Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
