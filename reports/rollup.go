package reports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
)

// The source report reads daily rollups (report_traffic, report_credit; migrations 0014,
// 0023, 0081 to 0083) for days that have not changed since they were built, and sessions
// and touch_credits for the other days: its figures are the same either way, and fast on
// settled data.
// Materialized views record in report_changes each day that an insert into sessions or
// touch_credits touched.

// A build covers at most this many days per query, bounding ClickHouse's memory.
const buildChunk = 31

// rollupFormat is the format of the rollup rows this version builds, recorded in
// report_builds.format: 1 with drill-down rows, 2 with the drill-down's values beside the
// dimensions outside it. A day built in an older format (an older attribution service may
// still run beside this one) is stale: read from the tables and built again.
const rollupFormat = 2

// drilldown is the rollups' dimension of the dashboard's drill-down (channel, source,
// campaign, keyword): a row per combination of the four, in columns named as in sessions
// and touch_credits (drillColumns), so that a report grouped by one of them and filtered
// on others reads rollups.
const drilldown = "drilldown"

// drillColumns are the drill-down columns of the rollup tables: the drilled dimensions'
// session columns (channel, source, campaign, term).
var drillColumns = drillList(func(g GroupBy) string { return g.session })

// drilled reports whether the drill-down rows hold the dimension's values.
func drilled(dim string) bool {
	return dim == "channel" || dim == "source" || dim == "campaign" || dim == "keyword"
}

// drillList joins f of each drilled dimension, in the order of groupBys (and of
// drillColumns).
func drillList(f func(GroupBy) string) string {
	var out []string
	for _, g := range groupBys {
		if drilled(g.Name) {
			out = append(out, f(g))
		}
	}
	return strings.Join(out, ", ")
}

// dayStates says which days of a range have current rollups.
type dayStates struct {
	built       []string // days (YYYY-MM-DD) read from the rollups…
	generations []uint64 // …with the generation of their current rows…
	visits      []uint64 // …and of their current report_visits rows (0: none current)
	stale       []string // days read from sessions and touch_credits, in order
}

// current is the condition selecting the current rollup rows of the built days, and
// its arguments.
func (ds dayStates) current() (string, []any) {
	gen, genArgs := ofGenerations(ds.built, ds.generations)
	return `day >= toDate(?) AND day <= toDate(?) AND ` + gen, append([]any{ds.built[0], ds.built[len(ds.built)-1]}, genArgs...)
}

// ofGenerations is the condition that a rollup row is of the generation gens gives its
// day (days: YYYY-MM-DD, in the order of gens), and its arguments. transform looks the
// day up in a hash table (indexOf over the days took three times as long), by its
// number: making a string of every row's day took a third of a visitors' read.
func ofGenerations(days []string, gens []uint64) (string, []any) {
	nums := make([]uint16, len(days))
	for i, d := range days {
		t, _ := time.Parse(time.DateOnly, d) // as ClickHouse wrote it
		nums[i] = uint16(t.Unix() / 86400)
	}
	return "generation = transform(toUInt16(day), ?, ?, toUInt64(0))", []any{nums, gens}
}

// days reads the state of each day of [from, to] (YYYY-MM-DD) that has data, and of its
// visitors' rollups (builtDays, read at the same time).
func (s *Store) days(ctx context.Context, site, from, to string) (dayStates, error) {
	var out dayStates
	var builds []builtDay
	q := fmt.Sprintf(`SELECT toString(day), changed, built, gen, format FROM %s ORDER BY day`,
		s.dayJoin("day >= toDate(?) AND day <= toDate(?)"))
	read := func() error {
		return s.each(ctx, q, []any{site, from, to, site, from, to}, func(sc scanner) error {
			var d string
			var changed, builtFrom time.Time
			var gen uint64
			var format uint8
			if err := sc.Scan(&d, &changed, &builtFrom, &gen, &format); err != nil {
				return err
			}
			if gen > 0 && builtFrom.After(changed) && format >= rollupFormat {
				out.built = append(out.built, d)
				out.generations = append(out.generations, gen)
			} else {
				out.stale = append(out.stale, d)
			}
			return nil
		})
	}
	readBuilds := func() (err error) {
		builds, err = s.builtDays(ctx, site, from, to)
		return err
	}
	if err := parallel(read, readBuilds); err != nil {
		return out, fmt.Errorf("cannot read the state of the report rollups: %w", err)
	}
	byDay := make(map[string]builtDay, len(builds))
	for _, b := range builds {
		byDay[b.day] = b
	}
	out.visits = make([]uint64, len(out.built))
	for i, d := range out.built {
		if b := byDay[d]; b.gen == out.generations[i] && b.current() {
			out.visits[i] = b.visitGen
		}
	}
	return out, nil
}

// dayJoin selects per day of the site (cond on day) its last change (changed) and its
// current build (built: built_from, gen: generation, format; 0 for none). Its arguments
// are the site and cond's, twice.
func (s *Store) dayJoin(cond string) string {
	return fmt.Sprintf(`(SELECT day, max(changed_at) AS changed FROM %[1]s.report_changes
			WHERE site_id = ? AND %[2]s GROUP BY day) AS changes
		ANY LEFT JOIN
		(SELECT day, argMax(built_from, generation) AS built, max(generation) AS gen,
				argMax(format, generation) AS format FROM %[1]s.report_builds
			WHERE site_id = ? AND %[2]s GROUP BY day) AS builds
		USING day`, s.DB, cond)
}

// BuildRollups rebuilds the site's rollups of every day changed since its last build,
// leaving out days changed in the last margin (inserts may still be running). It returns
// how many days it built. Running it at any time, also from several processes, is safe.
func (s *Store) BuildRollups(ctx context.Context, site string, margin time.Duration) (int, error) {
	var now time.Time
	if err := s.Conn.QueryRow(ctx, "SELECT now()").Scan(&now); err != nil {
		return 0, fmt.Errorf("cannot read ClickHouse's clock: %w", err)
	}
	builtFrom := now.Add(-margin)
	q := fmt.Sprintf(`SELECT toString(day) FROM %s WHERE changed < ? AND (gen = 0 OR built <= changed OR format < ?) ORDER BY day`,
		s.dayJoin("1"))
	todo, err := s.readStrings(ctx, q, []any{site, site, builtFrom, rollupFormat})
	if err != nil {
		return 0, fmt.Errorf("cannot find days to roll up: %w", err)
	}
	for i := 0; i < len(todo); i += buildChunk {
		if err := s.build(ctx, site, todo[i:min(i+buildChunk, len(todo))], builtFrom); err != nil {
			return i, err
		}
	}
	return len(todo), s.buildVisits(ctx, site)
}

// build writes the rollups of days (ordered) with a new generation, then records them.
// An interrupted build leaves rows of a generation nothing refers to.
func (s *Store) build(ctx context.Context, site string, days []string, builtFrom time.Time) error {
	gen := uint64(time.Now().UnixNano())
	live, liveArgs := liveSessions(s.DB, site, days)
	for _, sh := range rollupShapes(func(g GroupBy) string { return g.session }) {
		traffic := fmt.Sprintf(`INSERT INTO %[1]s.report_traffic (site_id, day, dim, key, %[2]s, visitors, sessions, generation)
			SELECT site_id, day, %[3]s, groupUniqArray(cityHash64(visitor_id)), uniqExact(session_id), ?
			FROM (SELECT site_id, toDate(started_at, 'UTC') AS day, visitor_id, session_id, %[4]s
				FROM %[1]s.sessions WHERE %[5]s)
			%[6]s
			GROUP BY site_id, day, %[7]s`, s.DB, drillColumns, sh.columns, sh.inner, live, sh.join, sh.group)
		if err := s.Conn.Exec(ctx, traffic, append([]any{gen}, liveArgs...)...); err != nil {
			return fmt.Errorf("cannot roll up traffic: %w", err)
		}
	}
	// A row of an older build that this one did not write again (a value only a visitor
	// since erased or flagged had that day) would keep its visitor hashes for good: an
	// empty row of this generation replaces it when ClickHouse merges. Readers skip
	// rows without sessions.
	key := "site_id, day, dim, key, " + drillColumns
	ofDays := "site_id = ? AND day >= toDate(?) AND day <= toDate(?) AND has(?, toString(day))"
	tombstones := fmt.Sprintf(`INSERT INTO %[1]s.report_traffic (%[2]s, visitors, sessions, generation)
		SELECT %[2]s, [], 0, ? FROM %[1]s.report_traffic
		WHERE %[3]s AND generation < ? AND sessions > 0 AND (%[2]s) NOT IN (
			SELECT %[2]s FROM %[1]s.report_traffic WHERE %[3]s AND generation = ?)
		GROUP BY %[2]s`, s.DB, key, ofDays)
	daysArgs := []any{site, days[0], days[len(days)-1], days}
	if err := s.Conn.Exec(ctx, tombstones, append(append(append(append([]any{gen}, daysArgs...), gen), daysArgs...), gen)...); err != nil {
		return fmt.Errorf("cannot roll up traffic: %w", err)
	}
	// Each row's sums under every model at once (everyModel), then a row per model that
	// credits any of its touches: a row per touch and model before grouping (an ARRAY JOIN
	// of the models) took more than twice as long.
	latest, latestArgs := latestCredit(s.DB, site, "", days, "")
	for _, sh := range rollupShapes(func(g GroupBy) string { return g.attribution }) {
		credit := fmt.Sprintf(`INSERT INTO %[1]s.report_credit
				(site_id, day, model, dim, key, %[2]s, currency, leads, leads_form, leads_call, leads_chat, leads_other, sales, revenue, generation)
			SELECT site_id, day, m.1, %[3]s, cur, m.3, m.4, m.5, m.6, m.7, m.8, m.9, ?
			FROM (SELECT site_id, day, %[4]s, cur, [%[5]s] AS models
				FROM (SELECT site_id, toDate(occurred_at, 'UTC') AS day, conversion_type, lead_type, value, %[6]s,
						%[7]s AS cur, %[8]s
					FROM (SELECT site_id, occurred_at, conversion_type, lead_type, value, currency, %[6]s, %[9]s
						FROM %[1]s.touch_credits
						WHERE %[10]s))
				%[11]s
				GROUP BY site_id, day, %[12]s, cur)
			ARRAY JOIN models AS m
			WHERE m.2 > 0`, s.DB, drillColumns, rowColumns, sh.columns, everyModel, creditColumns,
			revenueCurrency, sh.inner, attributionKeyColumns, latest, sh.join, sh.group)
		if err := s.Conn.Exec(ctx, credit, append([]any{gen}, latestArgs...)...); err != nil {
			return fmt.Errorf("cannot roll up credit: %w", err)
		}
	}
	fps, err := s.visitorsFingerprints(ctx, site, days, gen)
	if err != nil {
		return err
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".report_builds (site_id, day, built_from, generation, format, visitors_fp)")
	if err != nil {
		return fmt.Errorf("cannot record rollups: %w", err)
	}
	defer b.Abort()
	for _, d := range days {
		t, _ := time.Parse("2006-01-02", d)
		if err := b.Append(site, t, builtFrom, gen, uint8(rollupFormat), fps[d]); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot record rollups: %w", err)
	}
	return nil
}

// liveSessions is the condition selecting the rows of the site's sessions started on
// days (ordered YYYY-MM-DD) that count as traffic, and its arguments: no bots, and no
// session that a late event folded into another (chstore.LiveSessions), so the sessions
// counted are exactly those docs/sql.md counts with FINAL. A session's day and
// touchpoint fields never change between its versions, so uniqExact(session_id) counts
// it once.
func liveSessions(db, site string, days []string) (string, []any) {
	inRange, args := inDays("started_at", days)
	return chstore.LiveSessions(db, site, inRange, args)
}

// creditSums are the credit columns of the report, named as in the rollup's query, for
// credit and revenue (SQL expressions of a row's credit under the model and its revenue).
func creditSums(credit, revenue string) string {
	sums := creditSumList(credit, revenue)
	for i, name := range []string{"c_leads", "c_form", "c_call", "c_chat", "c_other", "c_sales", "c_revenue"} {
		sums[i] += " AS " + name
	}
	return strings.Join(sums, ",\n\t")
}

// creditSumList are the sums of creditSums, unnamed, in its order.
func creditSumList(credit, revenue string) []string {
	return []string{
		fmt.Sprintf("sumIf(%s, conversion_type = 'lead')", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'lead' AND lead_type = 'form')", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'lead' AND lead_type = 'call')", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'lead' AND lead_type = 'chat')", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'lead' AND lead_type NOT IN ('form', 'call', 'chat'))", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'sale')", credit),
		fmt.Sprintf("sumIf(%s, conversion_type = 'sale')", revenue),
	}
}

// creditColumns are the credit columns of touch_credits, in the order of model.Models.
var creditColumns = strings.Join(model.CreditColumns, ", ")

// everyModel is, per model, a tuple of its name, how many touches it credits and its
// creditSums, as aggregates over touch_credits rows.
var everyModel = func() string {
	var models []string
	for i, m := range model.Models {
		c := model.CreditColumns[i]
		models = append(models, fmt.Sprintf("('%s', countIf(%s > 0), %s)", m, c, strings.Join(creditSumList(c, "value * "+c), ", ")))
	}
	return strings.Join(models, ", ")
}()

// revenueCurrency is the currency of a credited touch's revenue: a sale's, upper-cased
// (empty: the site's currency); empty for leads and stages, which carry no revenue.
const revenueCurrency = `if(conversion_type = 'sale', upper(currency), '')`

// rollupShape is one kind of rollup rows, as parts of the query over sessions or
// touch_credits that builds them: what its inner query selects besides the row's own
// columns, how the outer one joins them, the columns it selects for dim, key and
// drillColumns (named as rowColumns), and what it groups by besides the day.
type rollupShape struct{ inner, join, columns, group string }

// rollupShapes are the rows per dimension value, for several dimensions at once (an ARRAY
// JOIN of (dimension, value) pairs), and the drill-down rows, grouped by the four values.
// The rows of the dimensions outside the drill-down (landing page, country, device) are
// per value and drill-down values, so that a report filtered on one such dimension, or
// grouped by it and filtered within the drill-down, reads rollups too. They are a query
// of their own: grouping every dimension's rows by the four values took a fifth longer.
func rollupShapes(expr func(GroupBy) string) []rollupShape {
	var within, outside []string
	for _, g := range groupBys {
		pair := fmt.Sprintf("('%s', %s)", g.Name, expr(g))
		if drilled(g.Name) {
			within = append(within, pair)
		} else {
			outside = append(outside, pair)
		}
	}
	alias := func(g GroupBy) string { return "d_" + g.Name }
	values := drillList(func(g GroupBy) string { return expr(g) + " AS " + alias(g) })
	as := func(f func(GroupBy) string) string { // the drill-down columns of the row
		return drillList(func(g GroupBy) string { return f(g) + " AS r_" + g.Name })
	}
	return []rollupShape{
		{inner: "[" + strings.Join(within, ", ") + "] AS dims", join: "ARRAY JOIN dims AS dk",
			columns: "dk.1 AS dim, dk.2 AS key, " + as(func(GroupBy) string { return "''" }), group: "dim, key"},
		{inner: "[" + strings.Join(outside, ", ") + "] AS dims, " + values, join: "ARRAY JOIN dims AS dk",
			columns: "dk.1 AS dim, dk.2 AS key, " + as(alias), group: "dim, key, " + drillList(alias)},
		{inner: values, columns: "'" + drilldown + "' AS dim, '' AS key, " + as(alias), group: drillList(alias)},
	}
}

// rowColumns are the columns a rollupShape's columns name: dim, key and the drill-down's.
var rowColumns = "dim, key, " + drillList(func(g GroupBy) string { return "r_" + g.Name })

// latestCredit is the condition selecting the current touch_credits rows of conversions
// that occurred on days (ordered YYYY-MM-DD) whose touch model m credits (any model when
// m is "") and, when only is not "", that meet only (an SQL condition on a conversion's
// rows, such as its lead type), and its arguments. Every row of one computation of a
// conversion carries the same version, touches that lost their credit included
// (removed = 1), so the current credit is the rows of the conversion's highest version:
// cheaper to find than FINAL on large tables, and cheaper still in touch_credit_versions,
// a row per computation rather than per touch. A row is matched by one 64-bit hash of its
// conversion id and version, which took half the time of matching the pair, or the id's
// hash and the version; a stale row would need the hash of its id and version to equal
// that of another conversion's latest computation. With only, the highest versions are
// looked for among the conversions with any row that meets it, and the current rows must
// meet it: a conversion that met it once and no longer does is left out. A caller reads
// faster with only in PREWHERE as well when few rows meet it.
func latestCredit(db, site, m string, days []string, only string) (string, []any) {
	inRange, rangeArgs := inDays("occurred_at", days)
	sel := "site_id = ? AND " + inRange
	args := append([]any{site}, rangeArgs...)
	credited := "removed = 0"
	if m != "" {
		credited += " AND " + model.CreditColumn(m) + " > 0"
	}
	narrow, all := "", append(args, args...)
	if only != "" {
		credited += " AND " + only
		narrow = fmt.Sprintf(" AND conversion_id IN (SELECT conversion_id FROM %s.touch_credits PREWHERE %s WHERE %s)", db, only, sel)
		all = append(all, args...)
	}
	return fmt.Sprintf("%s AND %s AND %s", sel, credited, latestRows(db, sel+narrow)), all
}

// latestRows is the condition that keeps the touch_credits rows of the latest computation
// of each conversion that has a row in touch_credit_versions meeting where (see
// latestCredit); where's arguments come after those of the rows' own condition.
func latestRows(db, where string) string {
	return fmt.Sprintf(`cityHash64(conversion_id, version) IN (
		SELECT cityHash64(any(conversion_id), max(version)) FROM %s.touch_credit_versions WHERE %s GROUP BY cityHash64(conversion_id))`,
		db, where)
}

// inDays is the condition that column (a DateTime) falls on one of days (YYYY-MM-DD,
// ordered, as ClickHouse's toString(Date) writes them), as ranges of consecutive days:
// much cheaper than looking each row's day up in a list, and it uses the table's index.
func inDays(column string, days []string) (string, []any) {
	var conds []string
	var args []any
	for i := 0; i < len(days); {
		from, _ := time.Parse("2006-01-02", days[i])
		end := from.AddDate(0, 0, 1)
		for i++; i < len(days) && days[i] == end.Format("2006-01-02"); i++ {
			end = end.AddDate(0, 0, 1)
		}
		conds = append(conds, fmt.Sprintf("(%[1]s >= ? AND %[1]s < ?)", column))
		args = append(args, from, end)
	}
	return "(" + strings.Join(conds, " OR ") + ")", args
}
