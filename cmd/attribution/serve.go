package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/attribution/engine"
	"touchpoint/attribution/meta"
	"touchpoint/attribution/notify"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/apitoken"
	"touchpoint/internal/chstore"
	"touchpoint/internal/health"
	"touchpoint/internal/lease"
	"touchpoint/internal/site"
	"touchpoint/privacy"
	"touchpoint/reports"
	"touchpoint/reports/api"
	"touchpoint/reports/dashboard"
	"touchpoint/scoring"
)

// config holds the service's settings.
type config struct {
	Listen        string
	MetricsListen string
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
	ScoreEvery    time.Duration
	RetainEvery   time.Duration
	ErasureGrace  time.Duration
	TokensMaxAge  time.Duration
	Jobs          bool
	Lease         time.Duration
}

// registerFlags declares the service's flags.
func registerFlags(fs *flag.FlagSet) *config {
	c := &config{}
	fs.StringVar(&c.Listen, "http.listen", "127.0.0.1:8081", "address of the reports API and dashboard")
	fs.StringVar(&c.MetricsListen, "metrics.listen", "127.0.0.1:8084", "address serving /metrics (Prometheus), /healthz and /readyz apart from the reports API (empty: off)")
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
	fs.DurationVar(&c.ScoreEvery, "scoring.interval", 5*time.Second, "how often lead scores are brought up to date with new activity")
	fs.DurationVar(&c.RetainEvery, "retention.interval", time.Hour, "how often raw data older than a site's retention_days is deleted")
	fs.DurationVar(&c.ErasureGrace, "privacy.grace", 10*time.Second,
		"how long after an erasure began it looks again for rows written by work that started before it")
	fs.DurationVar(&c.TokensMaxAge, "tokens.refresh", 5*time.Second, "how old the copy of the API tokens may be (a revoked token works at most this long)")
	fs.BoolVar(&c.Jobs, "jobs", true,
		"credit conversions, send webhooks and build rollups, one instance at a time per site (false: serve reports only)")
	fs.DurationVar(&c.Lease, "lease", 10*time.Second,
		"how long after a job-running instance stopped renewing its lease (died, lost ClickHouse) another one takes its sites over")
	return c
}

// leaseName is the lease of a site's jobs.
func leaseName(site string) string { return "attribution/" + site }

// pools are the service's two pools of ClickHouse connections. The reports API has its
// own: a lifecycle report holds four or five connections for seconds, and the engine
// must not queue behind a few of them for its own. (On ClickHouse's CPU, new conversions
// go first too: see Engine.Watch.)
type pools struct {
	jobs    driver.Conn // the engine, the CRM webhooks and every other job
	reports driver.Conn // the reports API
}

// serve runs the service until ctx is done: the reports API with the dashboard and, unless
// it serves reports only, the jobs — the engine crediting conversions as they arrive, the
// sender of CRM webhooks and Meta events and the rollups of the source report — for the
// sites whose lease it holds: of all instances on one database, one runs a site's jobs at
// a time.
// While ClickHouse is away everything waits for it, /readyz says so and report queries
// are answered 503.
func serve(ctx context.Context, cfg *config, sites *site.Registry, pool pools, ch chstore.Config) error {
	db, conn := ch.Database, pool.jobs
	ready := health.NewReadiness("attribution", "clickhouse")
	if cfg.MetricsListen != "" {
		health.Serve(cfg.MetricsListen, ready)
	}
	go ready.Probe(ctx, "clickhouse", 2*time.Second, func(ctx context.Context) error { return chstore.Check(ctx, conn, db) })
	eng := engine.New(conn, db, sites)
	scorer := &scoring.Scorer{Conn: conn, DB: db}
	queue := &webhook.Store{Conn: conn, DB: db}
	metaTarget := &meta.Target{Sites: sites, URL: cfg.MetaURL}
	sender := webhook.NewSender(queue, map[string]webhook.Target{webhook.TargetWebhook: &webhook.Hook{Sites: sites}, webhook.TargetMeta: metaTarget},
		cfg.WebhookWait)
	sender.MaxAttempts, sender.MaxRefused, sender.Workers = cfg.WebhookTries, cfg.WebhookRefuse, cfg.WebhookConc
	sender.Backoff = webhook.ExpBackoff(cfg.WebhookRetry, 10*time.Minute)
	eng.OnComputed = (&notify.Notifier{Conn: conn, DB: db, Queue: queue, Sender: sender, Meta: metaTarget, Score: scorer.Person}).Computed
	store := &reports.Store{Conn: pool.reports, DB: db}
	priv := &privacy.Service{Conn: conn, DB: db, Auth: ch, Grace: cfg.ErasureGrace, Ctx: ctx}
	sender.Erased = priv.ConversionErased
	tokens := &apitoken.Store{Conn: conn, DB: db, Sites: sites, MaxAge: cfg.TokensMaxAge}
	mux := http.NewServeMux()
	mux.Handle("GET /readyz", ready.Public())
	apiHandler := (&api.Server{Sites: sites, Reports: store, Tokens: tokens, Privacy: priv, Scoring: &scoring.Store{Conn: pool.reports, DB: db},
		Deliveries: queue, Resent: sender.Enqueue, Dashboard: dashboard.Handler(), Unavailable: ready.Err}).Handler()
	// The API's queries give way to the crediting of new conversions (chstore.PriorityReports).
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		apiHandler.ServeHTTP(w, r.WithContext(chstore.WithPriority(r.Context(), chstore.PriorityReports)))
	}))
	srv := &http.Server{
		Addr:              cfg.Listen,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot serve on %s: %w", cfg.Listen, err)
	}
	go srv.Serve(ln)
	go sites.ReloadOn(ctx, sighup, "attribution")
	if cfg.Jobs {
		leases := lease.New(conn, db, func() []string {
			var names []string
			for _, st := range sites.Sites() {
				names = append(names, leaseName(st.ID))
			}
			return names
		}, cfg.Lease)
		runs := func(site string) (context.Context, bool) { return leases.Held(leaseName(site)) }
		eng.Runs = runs
		sender.Runs = func(site string) bool { _, ok := runs(site); return ok }
		lctx, release := context.WithCancel(ctx)
		leasesDone := make(chan struct{})
		go func() { leases.Run(lctx); close(leasesDone) }()
		defer func() { release(); <-leasesDone }() // released before the service exits
		go sender.Run(ctx)
		go eng.Watch(ctx, cfg.Poll)
		go rollUp(ctx, &reports.Store{Conn: conn, DB: db}, sites, runs, cfg.RollupEvery, cfg.RollupMargin, ready.Err)
		go score(ctx, scorer, sites, runs, cfg.ScoreEvery, ready.Err)
		go retain(ctx, priv, sites, runs, cfg.RetainEvery, ready.Err)
		log.Printf("attribution: serving on %s, running the jobs of the sites it holds the lease of as %s", cfg.Listen, leases.Holder())
	} else {
		log.Printf("attribution: serving reports on %s", cfg.Listen)
	}

	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownAfter)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		// Requests still running are cut; nothing they did is lost.
		log.Printf("attribution: shutdown: %v", err)
	}
	return nil
}

// everyHeld calls job for each site whose jobs this instance runs, every interval until
// ctx is done, skipping its turns while unavailable says ClickHouse is away. A job's
// context ends when ctx does or the site's lease is lost.
func everyHeld(ctx context.Context, sites *site.Registry, runs func(string) (context.Context, bool), every time.Duration,
	unavailable func() error, job func(ctx context.Context, st *site.Site)) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		for _, s := range sites.Sites() {
			if unavailable() != nil {
				break
			}
			st := sites.Get(s.ID)
			if st == nil {
				continue // removed by a reload meanwhile
			}
			held, ok := runs(st.ID)
			if !ok {
				continue
			}
			sctx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(held, cancel)
			job(sctx, st)
			stop()
			cancel()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// rollUp keeps the source report's daily rollups of the sites this instance runs current
// until ctx is done.
func rollUp(ctx context.Context, store *reports.Store, sites *site.Registry, runs func(string) (context.Context, bool),
	every, margin time.Duration, unavailable func() error) {
	everyHeld(ctx, sites, runs, every, unavailable, func(sctx context.Context, st *site.Site) {
		start := time.Now()
		n, err := store.BuildRollups(sctx, st.ID, margin)
		if err != nil && ctx.Err() == nil {
			log.Printf("attribution: %s: %v", st.ID, err)
		}
		if n > 0 {
			log.Printf("attribution: %s: rolled up %d days for the source report in %s", st.ID, n, time.Since(start).Round(time.Millisecond))
		}
	})
}

// retain deletes the raw data past each retention period of the sites this instance runs,
// until ctx is done: one instance per site, as each deletion is a mutation of every table.
func retain(ctx context.Context, priv *privacy.Service, sites *site.Registry, runs func(string) (context.Context, bool),
	every time.Duration, unavailable func() error) {
	everyHeld(ctx, sites, runs, every, unavailable, func(sctx context.Context, st *site.Site) {
		if st.RetentionDays <= 0 {
			return
		}
		start := time.Now()
		n, err := priv.Retain(sctx, st, start)
		if err != nil && ctx.Err() == nil {
			log.Printf("privacy: %s: retention: %v", st.ID, err)
		}
		if len(n) > 0 {
			log.Printf("privacy: %s: removed rows older than %d days in %s: %v", st.ID, st.RetentionDays, time.Since(start).Round(time.Millisecond), n)
		}
	})
}

// score keeps the lead scores of the sites this instance runs current until ctx is done.
func score(ctx context.Context, scorer *scoring.Scorer, sites *site.Registry, runs func(string) (context.Context, bool),
	every time.Duration, unavailable func() error) {
	failing := map[string]bool{}
	everyHeld(ctx, sites, runs, every, unavailable, func(sctx context.Context, st *site.Site) {
		start := time.Now()
		res, err := scorer.Pass(sctx, st)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing[st.ID] { // once until it works again
				log.Printf("attribution: %s: lead scoring: %v (retrying every %s)", st.ID, err, every)
			}
			failing[st.ID] = true
		case err == nil:
			delete(failing, st.ID)
			if res.Changed > 0 || res.MQLs > 0 {
				log.Printf("attribution: %s: scored %d people, %d scores changed, %d MQLs in %s", st.ID, res.Scored, res.Changed,
					res.MQLs, time.Since(start).Round(time.Millisecond))
			}
		}
	})
}
