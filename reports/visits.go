package reports

import (
	"context"
	"fmt"
	"strings"
	"time"

	"touchpoint/internal/chstore"
)

// The visitors of a source report grouped by a dimension, unfiltered or drilled down, and
// of a series come from report_visits (migration 0091) rather than from merging the
// days' visitor hashes (readTraffic chooses): over a
// range [from, to], a visitor counts once for a key, on the first day of the range it
// came with the key — a day whose previous visit with that key was before from. So the
// visitors of a key are the sum over the range's days of those whose previous visit came
// before from, which report_visits holds per day, key and day of the previous visit.

// visitsTotal is report_visits' dimension of every session of a day, for the report's
// total visitors (its key is empty).
const visitsTotal = ""

// visitsShare is how many visitor days one query of a build of the visitors' rollups
// groups at most (a variable for tests).
var visitsShare uint64 = 4_000_000

// totalsFrom is the dimension whose traffic rows give the visitors of a day for the
// totals: every session has one channel, so its rows together hold every visitor.
const totalsFrom = "channel"

// drillSegments are the runs of the drill-down's dimensions (channel, source, campaign,
// keyword) that a drill-down filters on and groups by, from the dimension it started at
// to the one it groups by: report_visits has a dimension of each (segmentDim), its key
// the run's values packed (chstore.Packed), so that a drill-down's visitors need no
// merging of hashes either.
var drillSegments = func() (out [][]GroupBy) {
	var chain []GroupBy
	for _, g := range groupBys {
		if drilled(g.Name) {
			chain = append(chain, g)
		}
	}
	for i := range chain {
		for j := i + 2; j <= len(chain); j++ {
			out = append(out, chain[i:j])
		}
	}
	return out
}()

// segmentDim is report_visits' dimension of a run of the drill-down's dimensions.
func segmentDim(seg []GroupBy) string {
	var names []string
	for _, g := range seg {
		names = append(names, g.Name)
	}
	return "drill:" + strings.Join(names, ",")
}

// visitPairs are the pairs of a dimension outside the drill-down (landing page, country,
// device) and a drilled one: report_visits has a dimension of each pair in both orders
// (pairDim), so that a report filtered on one and grouped by the other needs no merging
// of hashes (the outside dimension's rows carry the drill-down's values).
func visitPairs() (out [][2]GroupBy) {
	for _, o := range groupBys {
		for _, in := range groupBys {
			if !drilled(o.Name) && drilled(in.Name) {
				out = append(out, [2]GroupBy{o, in})
			}
		}
	}
	return out
}

// pairDim is report_visits' dimension of the visitors of a report filtered on f and
// grouped by g, for a pair of visitPairs: its key is both values, f's first, packed.
func pairDim(f, g GroupBy) string { return "pair:" + f.Name + "," + g.Name }

// visitSel says which report_visits rows give a report's visitors: those of dim whose
// key starts with prefix, each the value after it (packed as chstore.Packed packs a
// column when segment is set), and the total's row (totalDim, totalKey). When one is set,
// the report's one key is the filter's value, totalKey, and its visitors are the total's.
type visitSel struct {
	dim, prefix        string
	segment, one       bool
	totalDim, totalKey string
}

// visitsFor says which report_visits rows give the visitors of a report grouped by g
// under f whose rows are of: unfiltered, of g's dimension; filtered on g alone, the row
// of the filter's value; filtered on one dimension of a pair (visitPairs) and grouped by
// the other, the pair's; on the drill-down's rows, of the run of the filters' dimensions
// and g when they form one ending at g. ok is false when none do.
func visitsFor(of rowsOf, g GroupBy, f Filter) (sel visitSel, ok bool) {
	if !of.named || !of.total || of.parent != "" {
		return sel, false
	}
	if len(f.Dims) == 1 {
		by, v := f.Dims[0].By, f.Dims[0].Value
		if v == NoneKey {
			v = ""
		}
		switch {
		case by.Name == g.Name && of.dim == g.Name:
			return visitSel{one: true, totalDim: g.Name, totalKey: v}, true
		case drilled(by.Name) != drilled(g.Name): // a pair's
			return visitSel{dim: pairDim(by, g), prefix: chstore.Pack(v), segment: true, totalDim: by.Name, totalKey: v}, true
		}
	}
	if of.dim != drilldown {
		return visitSel{dim: of.dim}, len(f.Dims) == 0
	}
	for _, seg := range drillSegments {
		if seg[len(seg)-1].Name != g.Name || len(f.Dims) != len(seg)-1 {
			continue
		}
		var values []string
		for i, d := range f.Dims { // in the order of groupBys, as seg
			if d.By.Name != seg[i].Name {
				return sel, false
			}
			v := d.Value
			if v == NoneKey {
				v = ""
			}
			values = append(values, v)
		}
		sel = visitSel{dim: segmentDim(seg), prefix: chstore.Pack(values...), segment: true, totalDim: segmentDim(seg[:len(seg)-1]), totalKey: chstore.Pack(values...)}
		if len(values) == 1 {
			sel.totalDim, sel.totalKey = seg[0].Name, values[0]
		}
		return sel, true
	}
	return sel, false
}

// visitsFormat is the format of the report_visits rows this version builds, the start of
// every basis: rows built in an older format (without the pairs' dimensions) are not
// current, so every day is built again once.
const visitsFormat uint64 = 2

// builtDay is the current build of a day: its generation, the fingerprint of its
// visitors, and visitsFormat xor the fingerprints of every built day up to it (basis).
type builtDay struct {
	day       string
	gen, fp   uint64
	basis     uint64
	visitGen  uint64 // the current report_visits rows of the day, 0 for none…
	visitFrom uint64 // …and the basis they were built from
}

// builtDays reads the site's current builds of the days up to to (YYYY-MM-DD), in
// order, with their bases and, for days from from on, their visits' builds.
func (s *Store) builtDays(ctx context.Context, site, from, to string) ([]builtDay, error) {
	q := fmt.Sprintf(`SELECT toString(day), gen, fp, vgen, vbasis FROM
		(SELECT day, max(generation) AS gen, argMax(visitors_fp, generation) AS fp FROM %[1]s.report_builds
			WHERE site_id = ? AND day <= toDate(?) GROUP BY day) AS builds
		ANY LEFT JOIN
		(SELECT day, max(generation) AS vgen, argMax(basis, generation) AS vbasis FROM %[1]s.report_visit_builds
			WHERE site_id = ? AND day >= toDate(?) AND day <= toDate(?) GROUP BY day) AS visits
		USING day
		ORDER BY day`, s.DB)
	var out []builtDay
	basis := visitsFormat
	err := s.each(ctx, q, []any{site, to, site, from, to}, func(sc scanner) error {
		var b builtDay
		if err := sc.Scan(&b.day, &b.gen, &b.fp, &b.visitGen, &b.visitFrom); err != nil {
			return err
		}
		basis ^= b.fp
		b.basis = basis
		out = append(out, b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read the rollups' builds: %w", err)
	}
	return out, nil
}

// current reports whether the day's report_visits rows were built from the current
// builds of the days up to it.
func (b builtDay) current() bool { return b.visitGen > 0 && b.visitFrom == b.basis }

// buildVisits brings report_visits up to date: from the first built day whose rows are
// not current, it builds the rows of every later day again, from the traffic rollups of
// all days (a day's previous visits can be on any day before it).
func (s *Store) buildVisits(ctx context.Context, site string) error {
	days, err := s.builtDays(ctx, site, "1970-01-01", "2105-12-31") // every Date of ClickHouse 18.16
	if err != nil {
		return err
	}
	first := -1
	for i, d := range days {
		if !d.current() {
			first = i
			break
		}
	}
	if first < 0 {
		return nil
	}
	gen := uint64(time.Now().UnixNano())
	names, gens := make([]string, len(days)), make([]uint64, len(days))
	for i, d := range days {
		names[i], gens[i] = d.day, d.gen
	}
	// The traffic rows of dim of the builds read above, of the days from since on.
	rows := func(dim, since string) (string, []any) {
		gen, genArgs := ofGenerations(names, gens)
		return `site_id = ? AND dim = ? AND day >= toDate(?) AND day <= toDate(?) AND ` + gen,
			append([]any{site, dim, since, names[len(names)-1]}, genArgs...)
	}
	// pick selects the visitor hashes of dim's rows a query groups, as a condition on x:
	// one share of them (x % shares = share), and only the visitors of the days built again
	// (others cannot have rows there). Its arguments follow shares and share.
	pick := func(dim string) (string, []any) {
		if first == 0 {
			return "x % ? = ?", nil
		}
		cond, args := rows(dim, names[first])
		return fmt.Sprintf("x %% ? = ? AND x IN (SELECT arrayJoin(visitors) FROM %s.report_traffic WHERE %s)", s.DB, cond), args
	}
	// Grouping by visitor takes memory in proportion to the visitor days grouped: a query
	// per share of the visitor hashes bounds it (about 250 bytes per visitor day).
	all, allArgs := rows(totalsFrom, names[0])
	cond, condArgs := pick(totalsFrom)
	var grouped uint64
	if err := s.Conn.QueryRow(ctx, fmt.Sprintf(`SELECT sum(length(arrayFilter(x -> %s, visitors))) FROM %s.report_traffic WHERE %s`, cond, s.DB, all),
		append(append([]any{1, 0}, condArgs...), allArgs...)...).Scan(&grouped); err != nil {
		return fmt.Errorf("cannot size the visitors' rollups: %w", err)
	}
	shares := 1 + grouped/visitsShare
	// A source groups the visitor hashes of the traffic rows of from by their values of
	// cols (SQL expressions of the rows; gk is their tuple, or the one value), and writes
	// the rows of each of out: a dimension of report_visits and its key, an SQL
	// expression of gk.
	type output struct{ dim, key string }
	type source struct {
		from string
		cols []string
		out  []output
	}
	var sources []source
	for _, dim := range GroupByNames() {
		sources = append(sources, source{dim, []string{"key"}, []output{{dim, "gk"}}})
	}
	// The totals group by dim, the same on every row read: a constant would do, but over
	// Distributed tables ClickHouse 18.16 fails a query that selects only constants.
	sources = append(sources, source{totalsFrom, []string{"dim"}, []output{{visitsTotal, "''"}}})
	elems := func(order ...int) (out []string) { // gk's elements, by place from 1
		for _, i := range order {
			out = append(out, fmt.Sprintf("gk.%d", i))
		}
		return out
	}
	for _, seg := range drillSegments {
		var cols []string
		var order []int
		for i, g := range seg {
			cols = append(cols, g.session) // the drill-down rows' columns are named as in sessions
			order = append(order, i+1)
		}
		sources = append(sources, source{drilldown, cols, []output{{segmentDim(seg), chstore.Packed(elems(order...)...)}}})
	}
	// A pair's visitors are grouped once and written under both orders of its dimensions.
	for _, p := range visitPairs() {
		outside, in := p[0], p[1]
		sources = append(sources, source{outside.Name, []string{"key", in.session}, []output{
			{pairDim(outside, in), chstore.Packed(elems(1, 2)...)}, {pairDim(in, outside), chstore.Packed(elems(2, 1)...)}}})
	}
	for _, src := range sources {
		all, allArgs := rows(src.from, names[0])
		cond, condArgs := pick(src.from)
		var outs []string
		var outArgs []any
		for _, o := range src.out {
			outs = append(outs, fmt.Sprintf("(?, %s)", o.key))
			outArgs = append(outArgs, o.dim)
		}
		cols := strings.Join(src.cols, ", ")
		gk := cols
		if len(src.cols) > 1 {
			gk = "(" + cols + ")"
		}
		for share := range shares {
			// The visitors are grouped by a 64-bit hash of the key, joined to the key once
			// counted: a quarter faster than grouping by the strings. Two keys of a
			// dimension would have to share their hash for their visitors to count as one
			// key's, about 1 in 10^11 for 10,000 keys. The rows are written under each
			// output once grouped: packing the keys of every visitor day took a third of
			// the time of a pair's query.
			q := fmt.Sprintf(`INSERT INTO %[1]s.report_visits (site_id, day, dim, key, prev, share, visitors, generation)
				SELECT ?, day, tupleElement(arrayJoin([%[5]s]) AS o, 1), tupleElement(o, 2), prev, ?, n, ? FROM (
					SELECT day, kh, prev, count() AS n FROM (
						SELECT kh, h, arraySort(groupUniqArray(day)) AS days
						FROM (SELECT day, cityHash64(%[2]s) AS kh, visitors FROM %[1]s.report_traffic WHERE %[3]s)
						ARRAY JOIN arrayFilter(x -> %[4]s, visitors) AS h
						GROUP BY kh, h)
					ARRAY JOIN days AS day, arrayPushFront(arrayPopBack(days), toDate(0)) AS prev
					WHERE day >= toDate(?)
					GROUP BY day, kh, prev) AS counted
				ANY INNER JOIN (SELECT DISTINCT cityHash64(%[2]s) AS kh, %[6]s AS gk FROM %[1]s.report_traffic WHERE %[3]s) AS keys USING kh`,
				s.DB, cols, all, cond, strings.Join(outs, ", "), gk)
			args := append(append(append(append(append([]any{site}, outArgs...), share, gen), allArgs...), shares, share), condArgs...)
			args = append(append(args, names[first]), allArgs...)
			if err := s.Conn.Exec(ctx, q, args...); err != nil {
				return fmt.Errorf("cannot build the visitors' rollups: %w", err)
			}
		}
	}
	b, err := chstore.PrepareBatch(ctx, s.Conn, "INSERT INTO "+s.DB+".report_visit_builds (site_id, day, basis, generation)")
	if err != nil {
		return fmt.Errorf("cannot record the visitors' rollups: %w", err)
	}
	defer b.Abort()
	for _, d := range days[first:] {
		t, _ := time.Parse("2006-01-02", d.day)
		if err := b.Append(site, t, d.basis, gen); err != nil {
			return err
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("cannot record the visitors' rollups: %w", err)
	}
	return nil
}

// visitorsFingerprints reads the fingerprint of each day's visitors in the traffic
// rollups a build (gen) wrote of days (ordered): the xor of a hash of every (day,
// dimension, key or drill-down values, visitor hash), so it is the same for the same
// visitors, in any order, and differs when any of them differs.
func (s *Store) visitorsFingerprints(ctx context.Context, site string, days []string, gen uint64) (map[string]uint64, error) {
	q := fmt.Sprintf(`SELECT toString(day), groupBitXor(cityHash64(day, dim, key, %s, h)) FROM %s.report_traffic
		ARRAY JOIN visitors AS h
		WHERE site_id = ? AND day >= toDate(?) AND day <= toDate(?) AND generation = ?
		GROUP BY day`, drillColumns, s.DB)
	out := make(map[string]uint64, len(days))
	err := s.each(ctx, q, []any{site, days[0], days[len(days)-1], gen}, func(sc scanner) error {
		var d string
		var fp uint64
		if err := sc.Scan(&d, &fp); err != nil {
			return err
		}
		out[d] = fp
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("cannot fingerprint the rollups' visitors: %w", err)
	}
	return out, nil
}

// readsVisits says whether the visitors of a report can read report_visits: every built
// day of the range has current rows, and no day read from the tables comes before a
// built one (a day's rows count its visitors by their visits before it).
func (ds dayStates) readsVisits() bool {
	if len(ds.built) == 0 || (len(ds.stale) > 0 && ds.stale[0] < ds.built[len(ds.built)-1]) {
		return false
	}
	for _, g := range ds.visits {
		if g == 0 {
			return false
		}
	}
	return true
}

// currentVisits is the condition selecting the current report_visits rows of the built
// days, and its arguments.
func (ds dayStates) currentVisits() (string, []any) {
	gen, genArgs := ofGenerations(ds.built, ds.visits)
	return `day >= toDate(?) AND day <= toDate(?) AND ` + gen, append([]any{ds.built[0], ds.built[len(ds.built)-1]}, genArgs...)
}

// visitsQuery counts visitors and sessions per key of the rows (NoneKey for the empty
// value) and of all keys together (t = 1), under f, over the built days from
// report_visits (sel) and the traffic rollups, and over the days after them from
// sessions: a visitor of those days counts when no built day of the range has it under
// the key. Its rows are k, t, visitors and sessions (not counted for the total, t = 1:
// the report sums its keys').
func (s *Store) visitsQuery(site string, ds dayStates, of rowsOf, f Filter, sel visitSel) (string, []any) {
	named := func(k string) string { return fmt.Sprintf("if(%s = '', '%s', %[1]s)", k, NoneKey) }
	value := "rest" // the group's value in a row of sel.dim: what follows the prefix…
	if sel.segment {
		value = "substring(rest, position(rest, ':') + 1)" // …after its length
	}
	current, currentArgs := ds.current()
	visits, visitsArgs := ds.currentVisits()
	keyCond, keyArgs := of.rollupFilter(f)
	keyRows, keyRowArgs := "dim = ? AND startsWith(key, ?) OR ", []any{sel.dim, sel.prefix}
	if sel.one {
		keyRows, keyRowArgs = "", nil // the total's rows are the key's
	}
	parts := []string{
		fmt.Sprintf(`SELECT if(t, '', if(g = '', '%s', g)) AS k, t, v, n FROM (
				SELECT substring(key, length(?) + 1) AS rest, %s AS g, toUInt8(dim = ? AND key = ?) AS t, visitors AS v, toUInt64(0) AS n
				FROM %s.report_visits
				WHERE site_id = ? AND (%sdim = ? AND key = ?) AND prev < toDate(?) AND %s)`,
			NoneKey, value, s.DB, keyRows, visits),
		fmt.Sprintf(`SELECT %s AS k, toUInt8(0) AS t, toUInt64(0) AS v, sessions AS n FROM %s.report_traffic
			WHERE site_id = ? AND dim = ? AND sessions > 0 AND %s%s`, named(of.rollup.sql), s.DB, current, keyCond),
	}
	args := append(append([]any{sel.prefix, sel.totalDim, sel.totalKey, site}, keyRowArgs...), sel.totalDim, sel.totalKey, ds.built[0])
	args = append(args, visitsArgs...)
	args = append(append(append(append(args, of.rollup.args...), site, of.dim), currentArgs...), keyArgs...)
	if len(ds.stale) > 0 {
		// Per key and stale visitor (and per stale visitor for the total, t = 1): its
		// sessions there (sn), and whether a built day of the range has it (seen). The built
		// days' hashes are narrowed to those of any session of the stale days, a superset of
		// the live ones that is cheaper to read, and looked up in a set of one 64-bit hash of
		// (t, key, visitor) each: grouping them with the stale rows, or a set of the tuples
		// themselves, took a third longer. The stale rows are gathered per visitor, who then
		// gives a row per key and one for the total (whose sessions readVisits does not read):
		// grouping the (key, visitor) rows again for the total took a tenth more.
		live, liveArgs := liveSessions(s.DB, site, ds.stale)
		cond, condArgs := f.sessions()
		built, builtArgs := s.builtVisitorsOfStale(site, ds, of, f)
		parts = append(parts, fmt.Sprintf(`SELECT k, t, countIf(seen = 0) AS v, sum(sn) AS n FROM (
				SELECT kt.1 AS k, kt.2 AS t, kt.4 AS sn, cityHash64(t, kt.3, h) IN (
						SELECT arrayJoin([cityHash64(toUInt8(0), rk, h), cityHash64(toUInt8(1), '', h)]) FROM (%[5]s)) AS seen
				FROM (SELECT h, groupArray(sk) AS sks, groupArray(sn) AS sns FROM (
						SELECT %[1]s AS sk, cityHash64(visitor_id) AS h, uniqExact(session_id) AS sn
						FROM %[2]s.sessions WHERE %[3]s%[4]s GROUP BY sk, h)
					GROUP BY h)
				ARRAY JOIN arrayPushBack(arrayMap((x, y) -> (%[6]s, toUInt8(0), x, y), sks, sns), ('', toUInt8(1), '', toUInt64(0))) AS kt)
			GROUP BY k, t`, of.session.sql, s.DB, live, cond, built, named("x")))
		args = append(append(append(append(args, builtArgs...), of.session.args...), liveArgs...), condArgs...)
	}
	return fmt.Sprintf("SELECT k, t, sum(v), sum(n) FROM (%s) GROUP BY k, t", strings.Join(parts, "\n\t\tUNION ALL\n\t\t")), args
}

// readVisits adds each key's visitors and sessions to rows from visitsQuery and returns
// the visitors of all keys together.
func (s *Store) readVisits(ctx context.Context, site string, ds dayStates, of rowsOf, f Filter, sel visitSel, rows map[string]*tally) (uint64, error) {
	q, args := s.visitsQuery(site, ds, of, f, sel)
	var total uint64
	err := s.each(ctx, q, args, func(sc scanner) error {
		var k string
		var t uint8
		var v, n uint64
		if err := sc.Scan(&k, &t, &v, &n); err != nil {
			return err
		}
		if t == 1 {
			total = v
		} else {
			rows[k] = &tally{visitors: v, sessions: n}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read traffic: %w", err)
	}
	if r := rows[keyOf(sel.totalKey)]; sel.one && r != nil {
		r.visitors = total
	}
	return total, nil
}

// builtVisitorsOfStale selects, from the built days' traffic rollups of the rows under f,
// each row's day and key (of.rollup, as rk: an alias key would hide the column key from
// the filter) with each of its visitor hashes (h) that a session of the stale days has: a
// superset of the stale days' live visitors, cheaper to read.
func (s *Store) builtVisitorsOfStale(site string, ds dayStates, of rowsOf, f Filter) (string, []any) {
	inRange, rangeArgs := inDays("started_at", ds.stale)
	current, currentArgs := ds.current()
	keyCond, keyArgs := of.rollupFilter(f)
	q := fmt.Sprintf(`SELECT day, %[1]s AS rk, arrayJoin(arrayFilter(x -> x IN (
			SELECT cityHash64(visitor_id) FROM %[2]s.sessions WHERE site_id = ? AND %[3]s), visitors)) AS h
		FROM %[2]s.report_traffic PREWHERE site_id = ? AND dim = ? AND %[4]s%[5]s`, of.rollup.sql, s.DB, inRange, current, keyCond)
	args := append(append([]any{}, of.rollup.args...), site)
	args = append(append(append(append(args, rangeArgs...), site, of.dim), currentArgs...), keyArgs...)
	return q, args
}

// seriesOf are the buckets of a series' rows: each date of the current period (from on)
// is in the bucket of its day, week or month; each date of the previous period (the days
// days before it) in the bucket of the date moved days later. A row's key is the period
// ("c" or "p") and the first day of its bucket, as Series keys them.
type seriesOf struct {
	from     time.Time
	days     int
	interval string
	known    map[string][4]string // keys of the dates seen so far
}

// keys gives the bucket and period of date d (YYYY-MM-DD), and the first day of each
// within the series' range, as dates of d's period.
func (so *seriesOf) keys(d string) (bucket, period string, bucketFirst, periodFirst string) {
	if k, ok := so.known[d]; ok {
		return k[0], k[1], k[2], k[3]
	}
	defer func() {
		if so.known == nil {
			so.known = map[string][4]string{}
		}
		so.known[d] = [4]string{bucket, period, bucketFirst, periodFirst}
	}()
	t, _ := time.Parse("2006-01-02", d)
	period, shift, first := "c", 0, so.from
	if t.Before(so.from) {
		period, shift, first = "p", so.days, so.from.AddDate(0, 0, -so.days)
	}
	moved := t.AddDate(0, 0, shift)
	start := moved
	switch so.interval {
	case "week":
		start = moved.AddDate(0, 0, -((int(moved.Weekday()) + 6) % 7))
	case "month":
		start = time.Date(moved.Year(), moved.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	bf := start
	if bf.Before(so.from) {
		bf = so.from
	}
	return period + day(start), period, day(bf.AddDate(0, 0, -shift)), day(first)
}

// readSeriesVisits adds the visitors and sessions of each bucket and period of a series
// to rows, from report_visits for the built days, the built days' traffic rollups for
// their sessions, and sessions for the days read from the tables after them: a visitor of
// those counts in a bucket (a period) when no built day of it has the visitor. The series
// is of every session (of.dim's rows together) or, with a filter on of.dim, of its value.
func (s *Store) readSeriesVisits(ctx context.Context, p Params, ds dayStates, of rowsOf, rows map[string]*tally) error {
	visitsDim, keyCond, keyArgs := visitsTotal, "", []any(nil)
	if len(p.Filter.Dims) > 0 {
		visitsDim = of.dim
		keyCond, keyArgs = of.rollupFilter(p.Filter)
	}
	current, currentArgs := ds.current()
	visitRows, visitArgs := ds.currentVisits()
	type dayCount struct {
		day, prev string // prev: of visits rows only
		h, n      uint64 // h: of stale visitors only
	}
	var visits, sessions, stale []dayCount
	lastBuilt := map[uint64]string{}
	read := func(into *[]dayCount, q string, args []any, scan func(scanner, *dayCount) error) func() error {
		return func() error {
			return s.each(ctx, q, args, func(sc scanner) error {
				var c dayCount
				if err := scan(sc, &c); err != nil {
					return err
				}
				*into = append(*into, c)
				return nil
			})
		}
	}
	reads := []func() error{
		read(&visits, fmt.Sprintf(`SELECT toString(day), toString(prev), sum(visitors) FROM %s.report_visits
			WHERE site_id = ? AND dim = ? AND %s%s
			GROUP BY day, prev`, s.DB, visitRows, keyCond), append(append([]any{p.Site, visitsDim}, visitArgs...), keyArgs...),
			func(sc scanner, c *dayCount) error { return sc.Scan(&c.day, &c.prev, &c.n) }),
		read(&sessions, fmt.Sprintf(`SELECT toString(day), sum(sessions) FROM %s.report_traffic
			WHERE site_id = ? AND dim = ? AND sessions > 0 AND %s%s GROUP BY day`, s.DB, current, keyCond),
			append(append([]any{p.Site, of.dim}, currentArgs...), keyArgs...),
			func(sc scanner, c *dayCount) error { return sc.Scan(&c.day, &c.n) }),
	}
	if len(ds.stale) > 0 {
		// The last built day of each visitor of any session of the stale days. Every built
		// day comes before the stale ones, so a stale visitor was in the built days of its
		// bucket (its period) when its last built day is the bucket's (the period's) first
		// day or later.
		built, args := s.builtVisitorsOfStale(p.Site, ds, of, p.Filter)
		built = fmt.Sprintf("SELECT h, toString(max(day)) FROM (%s) GROUP BY h", built)
		live, liveArgs := liveSessions(s.DB, p.Site, ds.stale)
		cond, condArgs := p.Filter.sessions()
		reads = append(reads, func() error {
			return s.each(ctx, built, args, func(sc scanner) error {
				var h uint64
				var d string
				err := sc.Scan(&h, &d)
				lastBuilt[h] = d
				return err
			})
		}, read(&stale, fmt.Sprintf(`SELECT toString(toDate(started_at, 'UTC')) AS d, cityHash64(visitor_id) AS h, uniqExact(session_id)
			FROM %s.sessions WHERE %s%s GROUP BY d, h`, s.DB, live, cond), append(liveArgs, condArgs...),
			func(sc scanner, c *dayCount) error { return sc.Scan(&c.day, &c.h, &c.n) }))
	}
	if err := parallel(reads...); err != nil {
		return fmt.Errorf("cannot read traffic: %w", err)
	}

	so := of.series
	row := func(k string) *tally {
		if rows[k] == nil {
			rows[k] = &tally{}
		}
		return rows[k]
	}
	for _, c := range visits {
		b, pd, bf, pf := so.keys(c.day)
		if c.prev < bf {
			row(b).visitors += c.n
		}
		if c.prev < pf {
			row(pd).visitors += c.n
		}
	}
	for _, c := range sessions {
		b, pd, _, _ := so.keys(c.day)
		row(b).sessions += c.n
		row(pd).sessions += c.n
	}
	counted := map[string]map[uint64]bool{} // per bucket and period, the stale visitors counted
	for _, c := range stale {
		b, pd, bf, pf := so.keys(c.day)
		last, seen := lastBuilt[c.h]
		for _, k := range [][2]string{{b, bf}, {pd, pf}} {
			row(k[0]).sessions += c.n
			if seen && last >= k[1] || counted[k[0]][c.h] {
				continue
			}
			row(k[0]).visitors++
			if counted[k[0]] == nil {
				counted[k[0]] = map[uint64]bool{}
			}
			counted[k[0]][c.h] = true // once, also over several stale days
		}
	}
	return nil
}
