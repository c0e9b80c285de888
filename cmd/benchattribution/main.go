// Command benchattribution measures the attribution performance targets (README, Performance) on this machine:
// it fills a scratch database with N conversions of people with ~5 sessions each (plus
// as many sessions of people who never convert), and an alias per person with a
// conversion, as identified people have (docs/identity.md), times a full rebuild of every model, and
// times the source report and every report view of the dashboard over all sessions, and
// the erasure of one person. It prints
// figures; it never fails on time.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"log"
	"math/rand/v2"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"sort"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"

	"touchpoint/attribution/engine"
	"touchpoint/attribution/model"
	"touchpoint/internal/benchstat"
	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/event"
	"touchpoint/internal/gctune"
	"touchpoint/internal/site"
	"touchpoint/privacy"
	"touchpoint/reports"
	"touchpoint/stitcher/identity"
)

var channels = []struct{ channel, source, medium string }{
	{"Paid Search", "google", "cpc"}, {"Organic Search", "google", "organic"}, {"Paid Social", "facebook", "paid_social"},
	{"Organic Social", "linkedin", "social"}, {"Email", "newsletter", "email"}, {"Referral", "g2.com", "referral"},
	{"AI Assistant", "chatgpt.com", "referral"}, {"Direct", "(direct)", "(none)"},
}

// The sessions' other dimensions, so that every grouping of the report has several keys:
// landing pages, paid search keywords, countries (the first ones more often) and devices.
var (
	pages     = []string{"/", "/pricing", "/demo", "/blog/attribution", "/blog/utm", "/features", "/integrations", "/contact"}
	keywords  = []string{"attribution software", "marketing attribution", "utm tracking", "lead source tracking", "call tracking"}
	countries = []string{"US", "US", "US", "DE", "DE", "GB", "FR", "NL", "CA", "AU"}
	devices   = []string{"desktop", "desktop", "mobile", "mobile", "tablet"}
)

func main() {
	addr := flag.String("clickhouse.addr", "127.0.0.1:9000", "ClickHouse native address")
	db := flag.String("database", "tp_bench_attribution", "scratch database (dropped and recreated)")
	convs := flag.Int("conversions", 1000000, "conversions, one person each")
	touches := flag.Int("touches", 5, "average sessions per converting person")
	extra := flag.Int("extra-sessions", 5000000, "sessions of people who never convert (for the report timing)")
	keep := flag.Bool("keep", false, "keep the scratch database")
	reuse := flag.Bool("reuse", false, "only time the source report, on the database a run with -keep left")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the rebuild to this file")
	chPID := flag.Int("clickhouse.pid", 0, "process id of a ClickHouse server on this machine, to report its CPU time in the rebuild beside Go's (0: Go's only)")
	envflag.Parse()
	gctune.Attribution.Apply() // as cmd/attribution does

	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.Config{Addr: *addr, Database: *db, User: "default"})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()
	end := time.Now().UTC().Truncate(24 * time.Hour)
	store := &reports.Store{Conn: conn, DB: *db}
	p, err := reports.ParseParams(map[string][]string{"site": {"bench"}, "from": {end.AddDate(0, 0, -200).Format("2006-01-02")},
		"to": {end.Format("2006-01-02")}, "model": {"linear"}, "by": {"channel"}}, time.Now())
	if err != nil {
		log.Fatal(err)
	}
	p.Currency = "EUR"
	if !*reuse {
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+*db); err != nil {
			log.Fatal(err)
		}
		if _, err := chstore.Migrate(ctx, conn, *db); err != nil {
			log.Fatal(err)
		}
		if !*keep {
			defer conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+*db)
		}
		loadAndRebuild(ctx, conn, *db, *convs, *touches, *extra, end, *cpuProfile, *chPID)
		timeReport(ctx, store, p, "right after the rebuild, from sessions and touch credits, their parts still merging")
	}
	// Reports usually run on settled tables: time them (again) once ClickHouse has merged.
	waitForMerges(ctx, conn, *db, 3*time.Minute)
	timeReport(ctx, store, p, "after the merges, from sessions and touch credits")
	// Then on the daily rollups the attribution service keeps. Every insert is done, so
	// no margin is needed beyond ClickHouse's one-second clock.
	time.Sleep(1100 * time.Millisecond)
	start := time.Now()
	days, err := store.BuildRollups(ctx, "bench", 0)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("attribution bench: daily rollups of %d days built in %.1f s\n", days, time.Since(start).Seconds())
	timeReport(ctx, store, p, "from the daily rollups")
	timeViews(ctx, store, p, *convs, "settled site")
	// On a live site today keeps changing, so the report reads it from sessions.
	if err := addToday(ctx, conn, *db, end); err != nil {
		log.Fatal(err)
	}
	timeReport(ctx, store, p, "from the daily rollups and today's sessions (a live site)")
	month := p
	month.From = end.AddDate(0, 0, -29)
	timeReport(ctx, store, month, "of the last 30 days, from the daily rollups and today's sessions")
	timeViews(ctx, store, p, *convs, "live site, today read from sessions")
	timeViews(ctx, store, month, *convs, "live site, last 30 days (the dashboard's default range)")
	timeErasure(ctx, conn, *db)
}

// lookbackDays is the bench site's attribution window.
const lookbackDays = 90

// addToday writes sessions of today, as a live site has while the report is read: one of
// every 200 stored sessions again, so most of today's visitors came before.
func addToday(ctx context.Context, conn driver.Conn, db string, today time.Time) error {
	const columns = `site_id, session_id, visitor_id, person_id, started_at, ended_at, landing_url, landing_path, referrer,
		referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel, pageviews, events, is_bot,
		first_event_id, deleted, version, country, device`
	err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s.sessions (%[2]s)
		SELECT site_id, generateUUIDv4(), visitor_id, person_id, toDateTime(?) + cityHash64(visitor_id) %% 80000, ended_at, landing_url,
			landing_path, referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id, channel,
			pageviews, events, is_bot, first_event_id, deleted, version, country, device
		FROM %[1]s.sessions WHERE cityHash64(visitor_id, started_at) %% 200 = 7 AND deleted = 0`, db, columns), today)
	if err != nil {
		return fmt.Errorf("cannot write today's sessions: %w", err)
	}
	return nil
}

// timeErasure erases one converting person, as POST /api/v1/privacy/erase does, with the
// service's default grace period, and prints how long it took.
func timeErasure(ctx context.Context, conn driver.Conn, db string) {
	var sessions uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM "+db+".sessions").Scan(&sessions); err != nil {
		log.Fatal(err)
	}
	svc := &privacy.Service{Conn: conn, DB: db}
	start := time.Now()
	rows, err := svc.Erase(ctx, "bench", privacy.Identifier{VisitorID: benchVisitor(42)})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("attribution bench: erasure of one person over %d sessions: rows removed %v in %.1f s (target <= 60 s)\n",
		sessions, rows, time.Since(start).Seconds())
}

// loadAndRebuild fills db with the data set and times a rebuild of every model. With the
// process id of a local ClickHouse server, it also tells its CPU time from Go's: both
// share the machine's cores.
func loadAndRebuild(ctx context.Context, conn driver.Conn, db string, convs, touches, extra int, end time.Time, cpuProfile string, chPID int) {
	start := time.Now()
	sessions, err := fill(ctx, conn, db, convs, touches, extra, end)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("attribution bench: loaded %d conversions, %d sessions, %d aliases and %d lead scores in %s\n", convs, sessions, convs, convs, time.Since(start).Round(time.Millisecond))

	sites, _ := site.New(site.Config{Sites: []site.Site{{ID: "bench", LookbackDays: lookbackDays}}})
	eng := engine.New(conn, db, sites)
	if cpuProfile != "" {
		f, err := os.Create(cpuProfile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(f)
	}
	clickhouse := &benchstat.Process{Name: "ClickHouse", PID: chPID}
	start, goCPU, ch := time.Now(), benchstat.SelfUsage().CPU(), clickhouse.CPU()
	heap := benchstat.WatchHeap()
	n, rows, err := eng.Rebuild(ctx, "bench", end.AddDate(0, 0, -120), end)
	if err != nil {
		log.Fatal(err)
	}
	took, peak, goCPU, ch := time.Since(start), heap(), benchstat.SelfUsage().CPU()-goCPU, clickhouse.CPU()-ch
	pprof.StopCPUProfile()
	fmt.Printf("attribution bench: rebuild of %d conversions x %d models: %d rows (a row per touch) in %.1f s (%.0f conversions/s, %.0f rows/s; target <= 30 s), Go heap peak %d MiB (target <= 1024)\n",
		n, len(model.Models), rows, took.Seconds(), float64(n)/took.Seconds(), float64(rows)/took.Seconds(), peak>>20)
	if clickhouse.Metered() {
		fmt.Printf("attribution bench: CPU time in the rebuild: Go %.1f s, ClickHouse %.1f s (its queries, inserts and merges), against %.1f s of wall time\n",
			goCPU.Seconds(), ch.Seconds(), took.Seconds())
	} else {
		fmt.Printf("attribution bench: CPU time in the rebuild: Go %.1f s, against %.1f s of wall time\n", goCPU.Seconds(), took.Seconds())
	}
}

// timeReport runs the source report three times and prints the best and median times.
func timeReport(ctx context.Context, store *reports.Store, p reports.Params, when string) {
	var times []time.Duration
	for i := 0; i < 3; i++ {
		start := time.Now()
		out, err := store.Sources(ctx, p)
		if err != nil {
			log.Fatal(err)
		}
		times = append(times, time.Since(start))
		if i == 0 {
			fmt.Printf("attribution bench: source report over %d sessions: %d rows, %.0f leads\n", out.Totals.Sessions, len(out.Rows), out.Totals.Leads)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	fmt.Printf("attribution bench: source report time %s: best %s, median %s (target <= 150 ms)\n", when, times[0].Round(time.Millisecond), times[1].Round(time.Millisecond))
}

// timeViews asks for every report the dashboard shows, as its views ask for them: the
// source report by each grouping under several models (the Compare view is two of them),
// filtered (on drilled dimensions and on others) and drilled down, over time against the
// previous period, the lifecycle and the calls report, the lead list (newest first,
// filtered, best scored first). Each is asked twice; it prints the percentiles over all
// of them and the slowest views. convs is how many conversions the bench wrote; state
// says what state the site is in.
func timeViews(ctx context.Context, store *reports.Store, base reports.Params, convs int, state string) {
	from, to := base.From.Format("2006-01-02"), base.To.Format("2006-01-02")
	var views []url.Values
	view := func(kv ...string) {
		q := url.Values{"site": {base.Site}, "from": {from}, "to": {to}}
		for i := 0; i < len(kv); i += 2 {
			q.Set(kv[i], kv[i+1])
		}
		views = append(views, q)
	}
	for _, by := range reports.GroupByNames() {
		for _, m := range []string{model.FirstClick, model.LastClick, model.Linear, model.DataDriven} {
			view("report", "sources", "by", by, "model", m)
		}
	}
	view("report", "sources", "by", "source", "model", model.Linear, "channel", "Paid Search")
	view("report", "sources", "by", "campaign", "model", model.Linear, "channel", "Paid Search", "source", "google")
	view("report", "sources", "by", "keyword", "model", model.Linear, "channel", "Paid Search", "campaign", "campaign-a")
	view("report", "sources", "by", "channel", "model", model.Linear, "lead_type", "form")
	view("report", "sources", "by", "landing_page", "model", model.Linear, "channel", "Email")
	view("report", "sources", "by", "source", "model", model.Linear, "device", "mobile")
	for _, interval := range []string{"day", "week", "month"} {
		view("report", "series", "interval", interval, "model", model.Linear)
	}
	view("report", "series", "interval", "week", "model", model.Linear, "channel", "Email")
	view("report", "lifecycle", "by", "source")
	view("report", "lifecycle", "by", "channel", "channel", "Paid Search")
	view("report", "lifecycle", "by", "source", "model", model.Linear) // about four credited touches a lead
	view("report", "calls", "by", "channel", "model", model.LastClick)
	view("report", "leads") // the lead list, newest first
	view("report", "leads", "model", model.Linear, "channel", "Paid Search")
	view("report", "leads", "order", "score")
	// A person's journey, from the conversions of the report (two of the bench's).
	view("report", "journey", "conversion_id", fmt.Sprintf("c%08d", convs/2))
	view("report", "journey", "conversion_id", fmt.Sprintf("c%08d", convs-1))

	var times []time.Duration
	var slowest time.Duration
	var slowestView string
	best := make([]time.Duration, len(views)) // each view's faster ask
	for round := 0; round < 2; round++ {
		for i, q := range views {
			p, err := reports.ParseParams(q, time.Now())
			if err != nil {
				log.Fatal(err)
			}
			p.Currency = base.Currency
			start := time.Now()
			switch q.Get("report") {
			case "sources":
				_, err = store.Sources(ctx, p)
			case "series":
				_, err = store.Series(ctx, p, q.Get("interval"))
			case "lifecycle":
				_, err = store.Lifecycle(ctx, p, site.Lifecycle{}, time.Now())
			case "calls":
				_, err = store.Calls(ctx, p)
			case "leads":
				var lq reports.LeadQuery
				if lq, err = reports.ParseLeadQuery(q, time.Now()); err == nil {
					lq.Params, lq.Scored = p, true
					_, err = store.Leads(ctx, lq)
				}
			case "journey":
				_, err = store.Journey(ctx, &site.Site{ID: p.Site, LookbackDays: lookbackDays}, q.Get("conversion_id"), "")
			}
			if err != nil {
				log.Fatalf("report view %s: %v", q.Encode(), err)
			}
			took := time.Since(start)
			if took > slowest {
				slowest, slowestView = took, q.Encode()
			}
			times = append(times, took)
			if round == 0 || took < best[i] {
				best[i] = took
			}
		}
	}
	slices.Sort(times)
	fmt.Printf("attribution bench: %d report views of the dashboard, %s (%d asks): p50 %s, p95 %s, max %s (target p95 <= 150 ms); slowest: %s\n",
		len(views), state, len(times), benchstat.Quantile(times, 0.5), benchstat.Quantile(times, 0.95), benchstat.Quantile(times, 1), slowestView)
	// The views over the target, slowest first: where to look next.
	order := make([]int, len(views))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(best[b], best[a]) })
	over := 0
	for _, i := range order {
		if best[i] > 150*time.Millisecond {
			over++
			if over <= 10 {
				fmt.Printf("attribution bench:   over 150 ms: %s (faster ask) %s\n", best[i].Round(time.Millisecond), views[i].Encode())
			}
		}
	}
	if over > 10 {
		fmt.Printf("attribution bench:   and %d more views over 150 ms\n", over-10)
	}
}

// waitForMerges waits until ClickHouse runs no merge in db, or for at most limit.
func waitForMerges(ctx context.Context, conn driver.Conn, db string, limit time.Duration) {
	start := time.Now()
	for time.Since(start) < limit {
		var n uint64
		if err := conn.QueryRow(ctx, "SELECT count() FROM system.merges WHERE database = ?", db).Scan(&n); err != nil {
			log.Fatal(err)
		}
		if n == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	fmt.Printf("attribution bench: waited %s for ClickHouse's merges\n", time.Since(start).Round(time.Second))
}

// benchVisitor is the visitor id of the bench's i-th person: a UUID, as the tracker's are.
// Their person id is the visitor's own id, as the stitcher gives it, so ids have the
// length they have on a real site and an erasure by visitor id finds them.
func benchVisitor(i int) string {
	return uuid.NewSHA1(uuid.NameSpaceOID, fmt.Appendf(nil, "bench visitor %d", i)).String()
}

// fill writes persons with sessions, one conversion and a lead score each, and people
// without conversions.
// A person with a conversion has left an email address, so they have an alias: the own id
// of their email, merged into their person id. The aliases match no row, but every read of
// current persons looks rows up among them.
func fill(ctx context.Context, conn driver.Conn, db string, convs, touches, extra int, end time.Time) (int, error) {
	r := rand.New(rand.NewPCG(1, 2))
	const batchSize = 200000
	var sb, cb, ab driver.Batch
	var err error
	ns, nc := 0, 0
	newS := func() error {
		sb, err = chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+`.sessions (site_id, session_id, visitor_id, person_id, started_at, ended_at,
			landing_url, landing_path, referrer, referrer_domain, source, medium, campaign, term, content, click_id_type, click_id,
			channel, pageviews, events, is_bot, first_event_id, deleted, version, country, device)`)
		return err
	}
	newC := func() error {
		cb, err = chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+`.conversions (site_id, conversion_id, type, lead_type, occurred_at,
			received_at, visitor_id, person_id, email_sha256, user_id, session_id, value, currency, props, event_id, origin, version)`)
		return err
	}
	newA := func() error {
		ab, err = chstore.PrepareBatch(ctx, conn, "INSERT INTO "+db+".person_aliases (site_id, person_id, current_person_id, updated_at, version)")
		return err
	}
	for _, f := range []func() error{newS, newC, newA} {
		if err := f(); err != nil {
			return 0, err
		}
	}
	version := uint64(time.Now().UnixNano())
	// A conversion's version is its receive time in milliseconds and its rank, as the
	// stitcher writes it (a server's, imported now): the attribution service's watermark
	// is a receive time.
	received := event.ServerRank + uint64(time.Now().UnixMilli())
	session := func(visitor, person string, at time.Time) error {
		ch := channels[r.IntN(len(channels))]
		page, term := pages[r.IntN(len(pages))], ""
		if ch.channel == "Paid Search" {
			term = keywords[r.IntN(len(keywords))]
		}
		if err := sb.Append("bench", uuid.New(), visitor, person, at, at.Add(3*time.Minute), "https://www.example.com"+page, page, "", "",
			ch.source, ch.medium, "campaign-"+string(rune('a'+r.IntN(8))), term, "", "", "", ch.channel, uint32(3), uint32(3), uint8(0),
			uuid.Nil, uint8(0), version, countries[r.IntN(len(countries))], devices[r.IntN(len(devices))]); err != nil {
			return err
		}
		ns++
		if ns%batchSize == 0 {
			if err := sb.Send(); err != nil {
				return err
			}
			return newS()
		}
		return nil
	}
	span := 100 * 24 * time.Hour
	for i := 0; i < convs+extra/max(touches, 1); i++ {
		visitor := benchVisitor(i)
		person := identity.OwnID("bench", identity.Key{Kind: identity.Visitor, Value: visitor})
		convAt := end.Add(-time.Duration(r.Int64N(int64(span))))
		k := 1 + r.IntN(2*touches-1) // 1..2t-1, mean t
		for j := 0; j < k; j++ {
			if err := session(visitor, person, convAt.Add(-time.Duration(r.Int64N(int64(60*24*time.Hour))))); err != nil {
				return 0, err
			}
		}
		if i >= convs {
			continue
		}
		typ, value := "lead", 0.0
		if r.IntN(5) == 0 {
			typ, value = "sale", float64(100+r.IntN(5000))
		}
		email := event.EmailSHA256(fmt.Sprintf("person%d@example.com", i))
		if err := cb.Append("bench", fmt.Sprintf("c%08d", i), typ, "form", convAt, convAt, visitor, person, email, "", "", value, "EUR", "{}",
			uuid.Nil, "server", received); err != nil {
			return 0, err
		}
		emailID := identity.OwnID("bench", identity.Key{Kind: identity.Email, Value: email})
		if err := ab.Append("bench", emailID, person, convAt, version); err != nil {
			return 0, err
		}
		nc++
		if nc%batchSize == 0 {
			if err := cb.Send(); err != nil {
				return 0, err
			}
			if err := ab.Send(); err != nil {
				return 0, err
			}
			if err := newC(); err != nil {
				return 0, err
			}
			if err := newA(); err != nil {
				return 0, err
			}
		}
	}
	if err := sb.Send(); err != nil {
		return 0, err
	}
	if err := ab.Send(); err != nil {
		return 0, err
	}
	if err := cb.Send(); err != nil {
		return 0, err
	}
	// Every person with a conversion has a lead score, as on a site that scores leads:
	// engagement points for pricing page views and fit points for a role.
	return ns, conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s.lead_scores (site_id, person_id, engagement, fit, score, reasons, updated_at, version)
		SELECT 'bench', person_id, toFloat64(10 * n), toFloat64(f), toFloat64(10 * n + f),
			concat('[{"kind":"engagement","rule":"Pricing page","points":', toString(10 * n), ',"times":', toString(n), '}',
				if(f > 0, ',{"kind":"fit","rule":"Marketing leader","points":15,"value":"Head of Marketing"}', ''), ']'),
			now(), toUInt64(1)
		FROM (SELECT DISTINCT person_id, 1 + cityHash64(person_id) %% 6 AS n, 15 * (cityHash64(person_id) %% 2) AS f FROM %[1]s.conversions)`, db))
}
