package reports

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"touchpoint/attribution/model"
	"touchpoint/internal/chstore"
	"touchpoint/internal/site"
)

// MaxStalledPeople is how many stalled people the lifecycle report lists, longest stalled
// first.
const MaxStalledPeople = 200

// LifecycleRow is one key of the lifecycle report; Totals has no key. Counts are the
// model's credit for the people who entered the funnel, whole numbers for single-touch
// models.
type LifecycleRow struct {
	Key        string              `json:"key,omitempty"`
	Counts     map[string]float64  `json:"counts"`      // by stage, exit stages included
	Rates      map[string]*float64 `json:"rates"`       // "lead_mql": share of leads that reached mql
	MedianDays map[string]*float64 `json:"median_days"` // "lead_mql": median days from lead to mql
	Stalled    map[string]float64  `json:"stalled"`     // people whose furthest stage is over its stall threshold
	// Velocity is the days from lead to the last stage (customer by default).
	Velocity Velocity `json:"velocity_days"`
	// Visitors are the source report's visitors of the key; VisitorLeadRate is leads per
	// visitor (null without visitors).
	Visitors        uint64   `json:"visitors"`
	VisitorLeadRate *float64 `json:"visitor_lead_rate"`
	// PipelineValue is the model's credit for the values of the pipeline stage's
	// conversions (opportunity by default) that occurred in the range, in the report's
	// currency.
	PipelineValue float64 `json:"pipeline_value"`

	pipeline money
}

// Velocity is the median and 75th percentile of a number of days (null without any).
type Velocity struct {
	Median *float64 `json:"median"`
	P75    *float64 `json:"p75"`
}

// StalledPerson is a person whose furthest stage is older than its stall threshold.
type StalledPerson struct {
	PersonID string    `json:"person_id"`
	Stage    string    `json:"stage"`
	Since    time.Time `json:"since"`
	Days     float64   `json:"days"`
	// ConversionID is the conversion the person entered the funnel with: their journey.
	ConversionID string `json:"conversion_id"`

	conv uint64 // convHash of ConversionID, and its time: the id is found once listed
	at   int64
}

// Lifecycle is the lifecycle report.
type Lifecycle struct {
	Site           string            `json:"site"`
	Model          string            `json:"model"`
	By             string            `json:"by"`
	From           string            `json:"from"`
	To             string            `json:"to"`
	Currency       string            `json:"currency"`
	Filters        map[string]string `json:"filters"`
	Stages         []string          `json:"stages"`
	ExitStages     []string          `json:"exit_stages"`
	StallAfterDays map[string]int    `json:"stall_after_days"` // by stage, all but the last
	PipelineStage  string            `json:"pipeline_stage"`
	Rows           []LifecycleRow    `json:"rows"`
	Totals         LifecycleRow      `json:"totals"`
	Unconverted    []Unconverted     `json:"unconverted"` // pipeline values without an exchange rate
	// StalledPeople lists stalled people (at most MaxStalledPeople), longest stalled first;
	// StalledTotal is how many there are.
	StalledPeople []StalledPerson `json:"stalled_people"`
	StalledTotal  int             `json:"stalled_total"`
}

// entry is one credited touch of a conversion of a stage, under one key.
type entry struct {
	hash   uint64 // personHash of the person
	conv   uint64 // convHash of the conversion
	key    string
	lead   bool // a lead, not a later stage
	credit float64
	at     int64 // Unix seconds
}

// personTimes is when a person first reached each stage (see stageTimes), in Unix seconds,
// 0 for a stage not reached. Seconds rather than time.Time hold a million people's stages
// in a third of the memory, which the garbage collector need not scan.
type personTimes struct {
	person string
	t      []int64
}

// stageTimes holds the people's stage times, and where each person's are by personHash.
type stageTimes struct {
	people []personTimes
	index  personIndex
	stages int
	room   []int64 // the people's times are cut from it, a thousand people at a time
	// Rows waiting to be added, their people's hashes and places: found a batch at a time
	// (personIndex.getAll).
	pending []timeRow
	hashes  []uint64
	places  []int32
}

// timeRow is a time a person reached a stage (1 for the first): a row of stageTimes'
// query.
type timeRow struct {
	hash, stage uint64
	person      string
	at          int64
}

// add adds a row, once flushed: the person's time of the stage is the earliest of theirs.
func (x *stageTimes) add(r timeRow) {
	x.pending, x.hashes = append(x.pending, r), append(x.hashes, r.hash)
	if len(x.pending) == rowBatch {
		x.flush()
	}
}

// flush adds the pending rows.
func (x *stageTimes) flush() {
	x.places = x.index.getAll(x.hashes, x.places[:0])
	for j, r := range x.pending {
		i, ok := x.places[j], x.places[j] >= 0
		if !ok {
			i, ok = x.index.get(r.hash) // added by an earlier row of the batch
		}
		if !ok {
			if len(x.room) < x.stages {
				x.room = make([]int64, 1000*x.stages)
			}
			i = int32(len(x.people))
			x.index.put(r.hash, i)
			x.people = append(x.people, personTimes{r.person, x.room[:x.stages:x.stages]})
			x.room = x.room[x.stages:]
		}
		if t := x.people[i].t; !reached(t[r.stage-1]) || r.at < t[r.stage-1] {
			t[r.stage-1] = r.at
		}
	}
	x.pending, x.hashes = x.pending[:0], x.hashes[:0]
}

// rowBatch is how many rows of entries or stage times are read before they are counted
// together (a variable for tests).
var rowBatch = 4096

// personHash is the ClickHouse expression of the 64-bit hash by which the lifecycle's
// entries are matched with the stage times: both read the person of touch_credits, or of
// touch_credit_versions, which hold the same. The entries, a row per credited touch, then
// carry no person id: over a million leads under the linear model that is four million
// strings fewer to decode. Two people would be counted as one only if their ids shared a
// hash: about one chance in 40 million among a million people.
const personHash = "cityHash64(person_id)"

// convHash is the expression of the 64-bit hash by which the entries name their
// conversion, for the same reason: only the listed stalled people need the id, which
// conversionIDs finds. Two conversions of one person would be summed as one only if their
// ids shared a hash.
const convHash = "cityHash64(conversion_id)"

// Lifecycle follows the people who entered the funnel in the range through the site's
// stages, each under the keys of the touches the model credits for their entry, with that
// credit: the same leads, under the same keys, as the source report of the model counts
// ("(no touchpoint)" included). A person enters with their leads; a person without any
// lead (the CRM recorded a later stage first) enters with their first stage, which then
// also counts as their lead. A person with several leads in the range counts once per
// lead in the lead stage; the later stages count people, each once, under the keys of
// their first entry in the range. A stage counts when the person reached it at any time
// (stages may be skipped: a customer without an sql record still counts as customer).
// A person is stalled when the furthest stage they reached (not the last) is older than
// its threshold and they left the funnel (an exit stage) neither since. Filters keep the
// credited touches that match them and the leads of the lead type.
func (s *Store) Lifecycle(ctx context.Context, p Params, l site.Lifecycle, now time.Time) (*Lifecycle, error) {
	if len(l.Stages) == 0 {
		l.Stages, l.ExitStages = site.DefaultStages, site.DefaultExitStages
		if l.PipelineStage == "" {
			l.PipelineStage = "opportunity"
		}
	}
	n := len(l.Stages)
	stall := make([]time.Duration, n)
	stallDays := map[string]int{}
	for i, st := range l.Stages[:n-1] {
		stallDays[st] = l.StallDays(st)
		stall[i] = time.Duration(stallDays[st]) * 24 * time.Hour
	}
	agg := map[string]*stageAgg{}
	get := func(k string) *stageAgg {
		if agg[k] == nil {
			agg[k] = newStageAgg(n, len(l.ExitStages))
		}
		return agg[k]
	}
	total := newStageAgg(n, len(l.ExitStages))
	var stalled stalledPeople
	var in *entrants
	times := make(chan *entrants, 1) // nil when the stage times could not be read
	var visitors map[string]uint64   // the source report's, by key
	var allVisitors uint64
	var pipeline map[string]*money
	var unconv []Unconverted
	err := parallel(func() (err error) {
		in, err = s.countEntries(ctx, p, l.Stages, times)
		return err
	}, func() error {
		st, err := s.stageTimes(ctx, p, l.Stages, append(slices.Clone(l.Stages), l.ExitStages...))
		var x *entrants
		if err == nil {
			x = newEntrants(st, n)
		}
		times <- x
		return err
	}, func() (err error) {
		visitors, allVisitors, err = s.visitors(ctx, p)
		return err
	}, func() (err error) {
		pipeline, unconv, err = s.pipelineValue(ctx, p, l.PipelineStage)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("cannot read lifecycle: %w", err)
	}
	// Each person counts under the keys of their first entry; their other entries count as
	// leads only.
	t := make([]int64, n)
	for i, f := range in.first {
		if f.head < 0 {
			continue
		}
		tm := in.times.people[i].t
		copy(t, tm[:n])
		if !reached(t[0]) {
			t[0] = f.at // entered with a later stage: that is their lead
		}
		var carried exactSum
		for c := f.head; c >= 0; c = in.credits[c].next {
			kc := in.credits[c]
			get(in.keys[kc.key]).add(t, tm[n:], now, stall, kc.credit)
			carried.plus(kc.credit)
		}
		if st, since := total.add(t, tm[n:], now, stall, carried); st >= 0 {
			stalled.add(StalledPerson{PersonID: in.times.people[i].person, Stage: l.Stages[st], Since: since,
				Days: credit6(now.Sub(since).Hours() / 24), conv: f.conv, at: f.at})
		}
	}
	for k, c := range in.others {
		get(in.keys[k]).counts[0].plus(c)
		total.counts[0].plus(c)
	}
	out := &Lifecycle{Site: p.Site, Model: p.Model, By: p.By.Name, From: day(p.From), To: day(p.To), Currency: p.Currency,
		Filters: p.Filter.Values(), Stages: l.Stages, ExitStages: l.ExitStages, StallAfterDays: stallDays,
		PipelineStage: l.PipelineStage, Rows: []LifecycleRow{}, Unconverted: unconv, StalledTotal: stalled.total}
	if out.ExitStages == nil {
		out.ExitStages = []string{}
	}
	if out.Unconverted == nil {
		out.Unconverted = []Unconverted{}
	}
	for k := range pipeline {
		get(k)
	}
	for k, a := range agg {
		r := a.row(k, l)
		if m := pipeline[k]; m != nil {
			r.PipelineValue = cents(m.sum)
			out.Totals.pipeline.plus(*m)
		}
		r.setVisitors(visitors[k])
		out.Rows = append(out.Rows, r)
	}
	sort.Slice(out.Rows, func(i, j int) bool {
		a, b := out.Rows[i], out.Rows[j]
		if a.Counts["lead"] != b.Counts["lead"] {
			return a.Counts["lead"] > b.Counts["lead"]
		}
		return a.Key < b.Key
	})
	pipe := out.Totals.pipeline
	out.Totals = total.row("", l)
	out.Totals.PipelineValue = cents(pipe.sum)
	out.Totals.setVisitors(allVisitors)
	out.StalledPeople = stalled.longest()
	if err := s.conversionIDs(ctx, p.Site, out.StalledPeople); err != nil {
		return nil, fmt.Errorf("cannot read lifecycle: %w", err)
	}
	return out, nil
}

func (r *LifecycleRow) setVisitors(v uint64) {
	r.Visitors = v
	if v > 0 {
		x := credit6(r.Counts["lead"] / float64(v))
		r.VisitorLeadRate = &x
	}
}

// entrants follows the entries of the people with stage times, read in any order: each
// person's first entry in the range (the earliest, then by conversion hash) with its
// credit by key, and the credit of their other entries, which count as leads only.
// Sorting the entries by person took ClickHouse half its time on them.
type entrants struct {
	times   *stageTimes
	stages  int
	first   []firstEntry // by person, as in times
	credits []keyCredit  // the first entries' credit by key, a list per entry
	keys    []string
	keyIdx  map[string]int32
	others  []exactSum // by key
	// A batch's people's hashes and places (personIndex.getAll).
	hashes []uint64
	places []int32
}

// firstEntry is a person's first entry so far: its time, its conversion, and the start of
// its list in credits (-1: none yet).
type firstEntry struct {
	at   int64
	conv uint64
	head int32
}

// keyCredit is an entry's credit under one key, and the next of its list (-1: the last).
type keyCredit struct {
	key, next int32
	credit    exactSum
}

func newEntrants(times *stageTimes, stages int) *entrants {
	x := &entrants{times: times, stages: stages, first: make([]firstEntry, len(times.people)), keyIdx: map[string]int32{}}
	for i := range x.first {
		x.first[i].head = -1
	}
	return x
}

// add counts a batch of credited touches.
func (x *entrants) add(batch []entry) {
	x.hashes = x.hashes[:0]
	for i := range batch {
		x.hashes = append(x.hashes, batch[i].hash)
	}
	x.places = x.times.index.getAll(x.hashes, x.places[:0])
	for j := range batch {
		x.count(&batch[j], x.places[j])
	}
}

// count counts one credited touch of the person at place i (-1: none).
func (x *entrants) count(e *entry, i int32) {
	if i < 0 || !enters(e, x.times.people[i].t[:x.stages]) {
		return // without any stage, no conversion enters them
	}
	k, ok := x.keyIdx[e.key]
	if !ok {
		k = int32(len(x.keys))
		x.keys, x.keyIdx[e.key] = append(x.keys, e.key), k
		x.others = append(x.others, exactSum{})
	}
	f := &x.first[i]
	switch {
	case f.head >= 0 && e.conv == f.conv: // another touch of the first entry
	case f.head < 0 || e.at < f.at || e.at == f.at && e.conv < f.conv:
		// A new first entry: the one it replaces counts as leads only.
		for c := f.head; c >= 0; c = x.credits[c].next {
			x.others[x.credits[c].key].plus(x.credits[c].credit)
		}
		*f = firstEntry{at: e.at, conv: e.conv, head: -1}
	default: // a later entry
		x.others[k].add(e.credit)
		return
	}
	for c := f.head; c >= 0; c = x.credits[c].next {
		if x.credits[c].key == k {
			x.credits[c].credit.add(e.credit)
			return
		}
	}
	x.credits = append(x.credits, keyCredit{key: k, next: f.head})
	x.credits[len(x.credits)-1].credit.add(e.credit)
	f.head = int32(len(x.credits) - 1)
}

// enters reports whether a person enters the funnel with the entry's conversion, given when
// they first reached each stage (t, lead first): with each of their leads, or without any
// lead ever, with the first stage they reached.
func enters(e *entry, t []int64) bool {
	if reached(t[0]) {
		return e.lead
	}
	if e.lead {
		return false // a lead the stage times lack (a bot's, for one) enters no one
	}
	var first int64
	for _, at := range t[1:] {
		if reached(at) && (first == 0 || at < first) {
			first = at
		}
	}
	return e.at == first
}

// errNoTimes stops reading entries when the stage times could not be read.
var errNoTimes = errors.New("no stage times")

// countEntries reads the lifecycle's entries in batches and counts them in a goroutine of
// their own, into the entrants that times gives once the stage times are read (nil, and no
// error, when they could not be: their own error says why). Reading and counting in one
// goroutine made the report a twelfth slower on two cores, over 200 days under the linear
// model (four million touches). Batches read before the times wait in backlog: waiting for
// the times while reading would hold a connection the times may need.
func (s *Store) countEntries(ctx context.Context, p Params, stages []string, times <-chan *entrants) (*entrants, error) {
	var in *entrants
	received := false
	batches := make(chan []entry, 4)
	free := make(chan []entry, 8) // counted batches, to fill again
	var backlog [][]entry
	batch := make([]entry, 0, rowBatch)
	// send passes the batch on to be counted, the backlog first; before the times, unless
	// wait is set, it keeps it in the backlog.
	send := func(wait bool) error {
		if !received {
			if wait {
				in = <-times
			} else {
				select {
				case in = <-times:
				default:
					backlog = append(backlog, batch)
					return nil
				}
			}
			received = true
		}
		if in == nil {
			return errNoTimes
		}
		for _, b := range backlog {
			batches <- b
		}
		backlog = nil
		batches <- batch
		return nil
	}
	err := parallel(func() error {
		defer close(batches)
		err := s.lifecycleEntries(ctx, p, stages, func(e entry) error {
			if batch = append(batch, e); len(batch) < rowBatch {
				return nil
			}
			err := send(false)
			select {
			case batch = <-free:
				batch = batch[:0]
			default:
				batch = make([]entry, 0, rowBatch)
			}
			return err
		})
		if err == nil {
			err = send(true)
		}
		return err
	}, func() error {
		for b := range batches {
			in.add(b)
			select {
			case free <- b:
			default:
			}
		}
		return nil
	})
	if errors.Is(err, errNoTimes) {
		return nil, nil
	}
	return in, err
}

// lifecycleEntries reads the conversions of the stages that occurred in the range with the
// model's credit for them by key, and gives f each row, a credited touch, in no order.
// Each touch carries its conversion's person as credited, already resolved through merges
// (see stageTimes).
func (s *Store) lifecycleEntries(ctx context.Context, p Params, stages []string, f func(entry) error) error {
	latest, latestArgs := p.credited(s.DB, "")
	// Touches are summed per conversion and key in Go (entrants): grouping by conversion in
	// ClickHouse took twice as long as reading them.
	// Filtered, the rows that match are picked first (PREWHERE), as the lead list's.
	filtered, filterArgs := entryFilter(p)
	if filtered != "" {
		filtered = " PREWHERE " + filtered
	}
	q := fmt.Sprintf(`SELECT %[1]s, %[2]s, conversion_type = 'lead', %[3]s, %[4]s, occurred_at
		FROM %[5]s.touch_credits%[6]s WHERE %[7]s AND has(?, conversion_type)`, personHash, convHash, p.By.attribution,
		model.CreditColumn(p.Model), s.DB, filtered, latest)
	args := append(append(filterArgs, latestArgs...), stages)
	// The row is scanned into the same variables each time, through the same list of
	// them: declared in the function, they escaped to the heap at each row, a fifth of the
	// report's Go time under linear; a list made at each row was another twentieth.
	var e entry
	var lead uint8
	var at time.Time
	dest := []any{&e.hash, &e.conv, &lead, &e.key, &e.credit, &at}
	return s.each(ctx, q, args, func(sc scanner) error {
		if err := sc.Scan(dest...); err != nil {
			return err
		}
		e.lead, e.key, e.at = lead == 1, keyOf(e.key), at.Unix()
		return f(e)
	})
}

// entryFilter is the condition the report's filters put on the touch_credits rows of its
// entries ("" for none), and its arguments.
func entryFilter(p Params) (string, []any) {
	cond, condArgs := p.Filter.attributions()
	typeCond, typeArgs := p.Filter.leadType()
	return strings.TrimPrefix(cond+typeCond, " AND "), append(condArgs, typeArgs...)
}

// conversionIDs sets the ConversionID of the stalled people from their conversions' hash
// and time, in one read of the credit versions at those times.
func (s *Store) conversionIDs(ctx context.Context, siteID string, people []StalledPerson) error {
	if len(people) == 0 {
		return nil
	}
	var times []time.Time
	for _, p := range people {
		times = append(times, time.Unix(p.at, 0).UTC())
	}
	ids := map[uint64]string{}
	q := fmt.Sprintf(`SELECT DISTINCT %s, conversion_id FROM %s.touch_credit_versions WHERE site_id = ? AND `+chstore.InList("occurred_at"), convHash, s.DB)
	err := s.each(ctx, q, []any{siteID, times}, func(sc scanner) error {
		var h uint64
		var id string
		if err := sc.Scan(&h, &id); err != nil {
			return err
		}
		ids[h] = id
		return nil
	})
	for i := range people {
		people[i].ConversionID = ids[people[i].conv]
	}
	return err
}

// stageTimes reads when each person first reached each of the stages: a time per stage,
// in the order of stages, 0 for one not reached. It reads the conversions as they were
// last credited (touch_credit_versions, a row per computation, the latest of each
// conversion): with their person already resolved through merges, as the attribution
// service computes a person's conversions again when persons merge, and without bots'
// conversions, which earn no credit. Reading conversions and resolving their persons
// through person_aliases took three times as long over the last 30 days of the bench,
// with a million aliases (1.2 s of ClickHouse's time against 0.4 s); over 200 days, when
// almost everyone is read, as long (1.2–1.5 s against 1.25 s).
//
// It reads only the people who could enter the funnel in the range: those with a
// conversion of its stages (entering) in it, replaced rows included, as a wider set does
// no harm; filtered, those with a credited touch in it that matches. Their conversions
// are picked first, with every version of each: picking only their rows would count for
// them a conversion whose latest version is someone else's.
// Over 30 days that is 240,000 people of 800,000, and the report waits for their times:
// taking the latest version of every conversion first took 0.7 s, and the report half a
// second longer.
func (s *Store) stageTimes(ctx context.Context, p Params, entering, stages []string) (*stageTimes, error) {
	inRange := fmt.Sprintf(`SELECT %s FROM %s.touch_credit_versions
		WHERE site_id = ? AND occurred_at >= ? AND occurred_at < ? AND has(?, conversion_type)`, personHash, s.DB)
	inRangeArgs := []any{p.Site, p.From, p.end(), entering}
	if where, args := entryFilter(p); where != "" {
		// Filtered, only people with a touch that matches and that the model credits can
		// enter (in any version of the credit: a wider set does no harm), found in
		// touch_credits as the entries are.
		inRange = fmt.Sprintf(`SELECT %s FROM %s.touch_credits PREWHERE %s AND %s > 0
			WHERE site_id = ? AND occurred_at >= ? AND occurred_at < ? AND has(?, conversion_type) AND removed = 0`,
			personHash, s.DB, where, model.CreditColumn(p.Model))
		inRangeArgs = append(args, inRangeArgs...)
	}
	// The earliest of each stage is taken in Go, over each person's rows: grouping by person
	// and stage in ClickHouse took five times as long as reading the rows.
	// Unsorted, the times are ready sooner: sorting them kept more entries waiting for them
	// than it saved.
	// A conversion now someone else's (persons merged) gives that person a time too. Such a
	// person without an entry of their own counts nowhere, and one with an entry is among
	// the people read: keeping only the people read took a second pass over their set, a
	// tenth of the query, a third filtered (on a channel over 200 days).
	q := fmt.Sprintf(`SELECT cityHash64(person) AS h, person, stage, at FROM (
			SELECT argMax(person_id, version) AS person, indexOf(?, argMax(conversion_type, version)) AS stage,
				argMax(occurred_at, version) AS at
			FROM %[1]s.touch_credit_versions
			WHERE site_id = ? AND %[2]s IN (SELECT %[2]s FROM %[1]s.touch_credit_versions WHERE site_id = ? AND %[3]s IN (%[4]s))
			GROUP BY %[2]s HAVING stage > 0)`, s.DB, convHash, personHash, inRange)
	args := append([]any{stages, p.Site, p.Site}, inRangeArgs...)
	out := &stageTimes{stages: len(stages)}
	var r timeRow // scanned into the same variables each time, as in lifecycleEntries
	var at time.Time
	dest := []any{&r.hash, &r.person, &r.stage, &at}
	err := s.each(ctx, q, args, func(sc scanner) error {
		if err := sc.Scan(dest...); err != nil {
			return err
		}
		r.at = at.Unix()
		out.add(r)
		return nil
	})
	out.flush()
	return out, err
}

// pipelineValue sums the model's credit for the values of the stage's conversions that
// occurred in the range, by key, converted into the report's currency with the rate of
// their day.
func (s *Store) pipelineValue(ctx context.Context, p Params, stage string) (map[string]*money, []Unconverted, error) {
	out := map[string]*money{}
	if stage == "" {
		return out, []Unconverted{}, nil
	}
	// Most sites have no conversions of the stage (the default stages apply to sites
	// without a CRM too); a count over conversions is a fraction of reading touch_credits
	// FINAL to find none.
	var found uint64
	err := s.Conn.QueryRow(ctx, fmt.Sprintf(`SELECT count() FROM %s.conversions WHERE site_id = ? AND type = ? AND occurred_at >= ? AND occurred_at < ?`, s.DB),
		p.Site, stage, p.From, p.end()).Scan(&found)
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read pipeline value: %w", err)
	}
	if found == 0 {
		return out, []Unconverted{}, nil
	}
	latest, latestArgs := p.credited(s.DB, "")
	cond, condArgs := p.Filter.attributions()
	q := fmt.Sprintf(`SELECT %[1]s AS k, upper(currency) AS c, toDate(occurred_at, 'UTC') AS d, sum(value * %[2]s)
		FROM %[3]s.touch_credits WHERE %[4]s AND conversion_type = ?%[5]s GROUP BY k, c, d`, p.By.attribution, model.CreditColumn(p.Model),
		s.DB, latest, cond)
	var rates []Rate
	type part struct {
		key, cur string
		day      time.Time
		v        float64
	}
	var parts []part
	err = parallel(func() error {
		return s.each(ctx, q, append(append(latestArgs, stage), condArgs...), func(sc scanner) error {
			var x part
			if err := sc.Scan(&x.key, &x.cur, &x.day, &x.v); err != nil {
				return err
			}
			parts = append(parts, x)
			return nil
		})
	}, func() (err error) {
		from, to := rateRange(p.From, p.To)
		rates, err = s.Rates(ctx, p.Site, p.Currency, from, to)
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("cannot read pipeline value: %w", err)
	}
	book := newRateBook(p.Currency, rates)
	var total money
	for _, x := range parts {
		k := keyOf(x.key)
		if out[k] == nil {
			out[k] = &money{}
		}
		var m money
		m.add(x.v, x.cur, x.day, book)
		out[k].plus(m)
		total.plus(m)
	}
	return out, unconverted(total, money{}), nil
}

// stalledPeople counts stalled people and keeps the MaxStalledPeople stalled longest: a
// max-heap by stalledFirst, whose root is the kept person stalled most recently. Sorting
// every stalled person (most leads, on a site that has no CRM) took a tenth of the report.
type stalledPeople struct {
	total int
	heap  []StalledPerson
}

// stalledFirst orders stalled people longest stalled first, then by person.
func stalledFirst(a, b StalledPerson) int {
	return cmp.Or(a.Since.Compare(b.Since), strings.Compare(a.PersonID, b.PersonID))
}

func (s *stalledPeople) Len() int           { return len(s.heap) }
func (s *stalledPeople) Less(i, j int) bool { return stalledFirst(s.heap[i], s.heap[j]) > 0 }
func (s *stalledPeople) Swap(i, j int)      { s.heap[i], s.heap[j] = s.heap[j], s.heap[i] }
func (s *stalledPeople) Push(x any)         { s.heap = append(s.heap, x.(StalledPerson)) }
func (s *stalledPeople) Pop() any {
	x := s.heap[len(s.heap)-1]
	s.heap = s.heap[:len(s.heap)-1]
	return x
}

func (s *stalledPeople) add(p StalledPerson) {
	s.total++
	switch {
	case len(s.heap) < MaxStalledPeople:
		heap.Push(s, p)
	case stalledFirst(p, s.heap[0]) < 0:
		s.heap[0] = p
		heap.Fix(s, 0)
	}
}

// longest returns the people kept, longest stalled first ([] for none).
func (s *stalledPeople) longest() []StalledPerson {
	out := append([]StalledPerson{}, s.heap...)
	slices.SortFunc(out, stalledFirst)
	return out
}

type stageAgg struct {
	counts, stalled []exactSum
	exits           []exactSum
	days            [][]float64 // between stage i and i+1, once per person
	velocity        []float64   // from lead to the last stage
}

func newStageAgg(stages, exits int) *stageAgg {
	return &stageAgg{counts: make([]exactSum, stages), stalled: make([]exactSum, stages), exits: make([]exactSum, exits),
		days: make([][]float64, stages-1)}
}

// reached is false for a stage not reached (0) and for the zero DateTime ClickHouse
// returns for none.
func reached(t int64) bool { return t > 0 }

// add counts a person's stages t and exits (Unix seconds) with the weight w, the credit of
// their entry; it returns the stage the person is stalled in and since when (-1: not
// stalled).
func (a *stageAgg) add(t, exits []int64, now time.Time, stall []time.Duration, w exactSum) (int, time.Time) {
	furthest := -1
	for i := range t {
		if reached(t[i]) {
			a.counts[i].plus(w)
			furthest = i
		}
	}
	left := false
	for i, at := range exits {
		if reached(at) {
			a.exits[i].plus(w)
			if furthest >= 0 && at >= t[furthest] {
				left = true
			}
		}
	}
	for i := 0; i+1 < len(t); i++ {
		if reached(t[i]) && reached(t[i+1]) && t[i+1] >= t[i] {
			a.days[i] = append(a.days[i], float64(t[i+1]-t[i])/86400)
		}
	}
	last := len(t) - 1
	if reached(t[0]) && reached(t[last]) && t[last] >= t[0] {
		a.velocity = append(a.velocity, float64(t[last]-t[0])/86400)
	}
	if furthest >= 0 && furthest < last && !left {
		if since := time.Unix(t[furthest], 0).UTC(); now.Sub(since) > stall[furthest] {
			a.stalled[furthest].plus(w)
			return furthest, since
		}
	}
	return -1, time.Time{}
}

func (a *stageAgg) row(key string, l site.Lifecycle) LifecycleRow {
	r := LifecycleRow{Key: key, Counts: map[string]float64{}, Rates: map[string]*float64{}, MedianDays: map[string]*float64{}, Stalled: map[string]float64{}}
	stages := l.Stages
	for i, st := range stages {
		r.Counts[st] = credit6(a.counts[i].float())
		r.Stalled[st] = credit6(a.stalled[i].float()) // 0 for the last stage: nowhere further to go
		if i+1 < len(stages) {
			name := st + "_" + stages[i+1]
			if from := a.counts[i].float(); credit6(from) > 0 {
				v := credit6(a.counts[i+1].float() / from)
				r.Rates[name] = &v
			} else {
				r.Rates[name] = nil
			}
			r.MedianDays[name] = quantile(a.days[i], 0.5)
		}
	}
	for i, st := range l.ExitStages {
		r.Counts[st] = credit6(a.exits[i].float())
	}
	r.Velocity = Velocity{Median: quantile(a.velocity, 0.5), P75: quantile(a.velocity, 0.75)}
	return r
}

// quantile is the q-quantile of xs, interpolated between the closest ranks (the median of
// an even count is the mean of the middle two); nil without values.
func quantile(xs []float64, q float64) *float64 {
	if len(xs) == 0 {
		return nil
	}
	s := slices.Clone(xs)
	sort.Float64s(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	v := s[lo]
	if lo+1 < len(s) {
		v += (pos - float64(lo)) * (s[lo+1] - s[lo])
	}
	v = credit6(v)
	return &v
}
