// Package lease lets one instance at a time run a job, among instances that share a
// ClickHouse database (table leases): attribution's crediting and rollups of a site run in
// one instance while any number serve reports.
//
// Every candidate writes a row of its own per job every TTL/8 — its start time, a growing
// beat and its state (waiting, claiming, running) — and reads everyone's. A candidate is
// alive to the others while its beat keeps changing; one not seen to change for half the
// TTL, by the reader's own clock, is dead, and one that stopped cleanly says so at once
// (released). Only durations measured on one machine are compared, never the clocks of two.
//
// A candidate claims a job when no live candidate runs or claims it and none that started
// earlier waits for it; it runs the job once its claim has been written for two beats
// without a rival appearing. Of rivals that see each other claiming, the one that started
// earlier wins; one running is never displaced by a claim; of two running (after a split),
// the later yields. A claim is written a beat before it is acted on, so rivals who claim at
// the same moment see each other before either runs.
//
// The holder stops (its context ends) when it could not renew for half the TTL. A dead
// holder is replaced no sooner than half the TTL after its last renewal, plus two beats of
// claiming, so the two do not overlap, and within about the TTL. Work done twice all the
// same (a holder stalled for longer than the TTL, say) is still correct where it is
// idempotent, as attribution's versioned rows are.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
)

// Leases are one instance's candidacy for jobs.
type Leases struct {
	conn    driver.Conn
	db      string
	names   func() []string
	ttl     time.Duration
	holder  string
	started uint64 // ms since the epoch: with holder, the candidate's rank
	beat    uint64

	mu   sync.Mutex
	jobs map[string]*job
}

// A candidate's state for one job, as written in its rows.
const (
	waiting  uint8 = 0
	claiming uint8 = 1
	running  uint8 = 2
)

// job is what a candidate knows of one lease.
type job struct {
	state  uint8
	claims int // rows written while claiming
	others map[string]*candidate
	held   context.Context // while running
	cancel context.CancelFunc
	fence  *time.Timer
}

// candidate is another instance as last read.
type candidate struct {
	started  uint64
	beat     uint64
	changed  time.Time // when its beat was last seen to change (or first seen)
	state    uint8
	released bool
}

// New returns a candidate for the jobs that names lists (read again at every beat), on
// database db. Run makes it take part.
func New(conn driver.Conn, db string, names func() []string, ttl time.Duration) *Leases {
	host, _ := os.Hostname()
	b := make([]byte, 4)
	rand.Read(b)
	return &Leases{conn: conn, db: db, names: names, ttl: ttl, holder: fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b)),
		started: uint64(time.Now().UnixMilli()), jobs: map[string]*job{}}
}

// Holder is this candidate's id, as written in the leases table.
func (l *Leases) Holder() string { return l.holder }

// Held returns a context that lasts while this instance holds job name, and whether it
// holds it now.
func (l *Leases) Held(name string) (context.Context, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j := l.jobs[name]; j != nil && j.state == running && j.held.Err() == nil {
		return j.held, true
	}
	return nil, false
}

// Run renews and reads the leases until ctx is done, then releases them.
func (l *Leases) Run(ctx context.Context) {
	every := l.ttl / 8
	tick := time.NewTicker(every)
	defer tick.Stop()
	var lastErr string
	for {
		err := l.round(ctx)
		if err != nil && ctx.Err() == nil && err.Error() != lastErr {
			log.Printf("lease: %v", err)
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		select {
		case <-ctx.Done():
			l.release()
			return
		case <-tick.C:
		}
	}
}

// round writes this candidate's rows, reads everyone's and decides which jobs it runs.
func (l *Leases) round(ctx context.Context) error {
	names := l.names()
	start := time.Now()
	if err := l.write(ctx, names, false); err != nil {
		return fmt.Errorf("cannot renew: %w", err)
	}
	l.mu.Lock()
	for _, n := range names {
		switch j := l.job(n); j.state {
		case running:
			// Renewed: the holder may go on for half the TTL from the renewal's start.
			j.fence.Reset(time.Until(start.Add(l.ttl / 2)))
		case claiming:
			j.claims++
		}
	}
	l.mu.Unlock()
	rows, err := l.read(ctx, names)
	if err != nil {
		return fmt.Errorf("cannot read: %w", err)
	}
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		j := l.job(n)
		for holder, c := range rows[n] {
			if holder == l.holder {
				continue
			}
			if o := j.others[holder]; o != nil && o.beat == c.beat {
				c.changed = o.changed
			} else {
				c.changed = now
			}
			j.others[holder] = c
		}
		switch {
		case !l.mayHave(j, now):
			if j.state == running {
				l.stop(n, j, "another instance runs it")
			}
			j.state, j.claims = waiting, 0
		case j.state == waiting:
			j.state, j.claims = claiming, 0
		case j.state == claiming && j.claims >= 2:
			j.state = running
			j.held, j.cancel = context.WithCancel(context.Background())
			j.fence = time.AfterFunc(time.Until(start.Add(l.ttl/2)), func() { l.drop(n, "not renewed in time") })
			log.Printf("lease: %s now runs %s", l.holder, n)
		}
	}
	return nil
}

// mayHave reports whether this candidate may go on towards running job j, or running it,
// given the live candidates it knows.
func (l *Leases) mayHave(j *job, now time.Time) bool {
	for holder, c := range j.others {
		if c.released || now.Sub(c.changed) >= l.ttl/2 {
			continue
		}
		before := c.started < l.started || c.started == l.started && holder < l.holder
		switch c.state {
		case running:
			if j.state != running || before {
				return false
			}
		case claiming:
			if j.state != running && before {
				return false
			}
		default:
			if j.state == waiting && before {
				return false
			}
		}
	}
	return true
}

func (l *Leases) job(name string) *job {
	j := l.jobs[name]
	if j == nil {
		j = &job{others: map[string]*candidate{}}
		l.jobs[name] = j
	}
	return j
}

// drop ends the holding of job name (the fence fired).
func (l *Leases) drop(name, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if j := l.jobs[name]; j != nil && j.state == running {
		l.stop(name, j, why)
	}
}

func (l *Leases) stop(name string, j *job, why string) {
	j.cancel()
	j.fence.Stop()
	j.held, j.cancel, j.fence = nil, nil, nil
	j.state, j.claims = waiting, 0
	log.Printf("lease: %s stops running %s: %s", l.holder, name, why)
}

// release tells the others at once that this candidate is gone.
func (l *Leases) release() {
	l.mu.Lock()
	for n, j := range l.jobs {
		if j.state == running {
			l.stop(n, j, "shutting down")
		}
	}
	names := make([]string, 0, len(l.jobs))
	for n := range l.jobs {
		names = append(names, n)
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.write(ctx, names, true); err != nil {
		log.Printf("lease: cannot release: %v", err)
	}
}

// write renews (or releases) this candidate's row of each job.
func (l *Leases) write(ctx context.Context, names []string, released bool) error {
	if len(names) == 0 {
		return nil
	}
	b, err := chstore.PrepareBatch(ctx, l.conn, "INSERT INTO "+l.db+".leases (name, holder, started_at, beat, state, released, updated_at)")
	if err != nil {
		return err
	}
	defer b.Abort()
	l.mu.Lock()
	l.beat++
	for _, n := range names {
		state := waiting
		if j := l.jobs[n]; j != nil && !released {
			state = j.state
		}
		if err := b.Append(n, l.holder, l.started, l.beat, state, boolByte(released), time.Now()); err != nil {
			l.mu.Unlock()
			return err
		}
	}
	l.mu.Unlock()
	return b.Send()
}

// read returns every candidate of the jobs names that wrote in the last ten TTLs.
func (l *Leases) read(ctx context.Context, names []string) (map[string]map[string]*candidate, error) {
	out := map[string]map[string]*candidate{}
	rows, err := l.conn.Query(ctx, fmt.Sprintf(`SELECT name, holder, started_at, beat, state, released FROM %s.leases FINAL
		WHERE `+chstore.InList("name")+` AND updated_at >= ?`, l.db), names, time.Now().Add(-10*l.ttl))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, holder string
		var c candidate
		var released uint8
		if err := rows.Scan(&name, &holder, &c.started, &c.beat, &c.state, &released); err != nil {
			return nil, err
		}
		c.released = released == 1
		if out[name] == nil {
			out[name] = map[string]*candidate{}
		}
		out[name][holder] = &c
	}
	return out, rows.Err()
}

func boolByte(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}
