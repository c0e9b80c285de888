// Package lease lets one instance at a time run a job, among instances that share a
// ClickHouse database (table leases): attribution's crediting and rollups of a site run in
// one instance while any number serve reports.
//
// Every candidate writes a row of its own per job every TTL/6 — its start time and a
// growing beat — and reads everyone's. A candidate is alive to the others while its beat
// keeps changing; one not seen to change for 2/3 of the TTL, by the reader's own clock, is
// dead, and one that stopped cleanly says so at once (released). The running candidate
// marks its rows leading. A candidate starts running a job when no live candidate leads it
// and none that started earlier is alive; it waits two beats after its start first, so
// that candidates starting together see each other. Only durations measured on one
// machine are compared, never the clocks of two.
//
// So a dead holder's job is taken over within about the TTL of its last renewal, and not
// before 2/3 of it; the holder itself stops (its context ends) when it could not renew for
// half the TTL, so the two do not overlap. Work done twice in an overlap all the same (a
// holder stalled for longer than the TTL, say) is still correct where it is idempotent, as
// attribution's versioned rows are.
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

// job is what a candidate knows of one lease.
type job struct {
	since  time.Time // first renewal that was written
	others map[string]*candidate
	held   context.Context
	cancel context.CancelFunc
	fence  *time.Timer
}

// candidate is another instance as last read.
type candidate struct {
	started  uint64
	beat     uint64
	changed  time.Time // when its beat was last seen to change (or first seen)
	leading  bool
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
	if j := l.jobs[name]; j != nil && j.held != nil && j.held.Err() == nil {
		return j.held, true
	}
	return nil, false
}

// Run renews and reads the leases until ctx is done, then releases them.
func (l *Leases) Run(ctx context.Context) {
	every := l.ttl / 6
	tick := time.NewTicker(every)
	defer tick.Stop()
	var lastErr string
	for {
		err := l.round(ctx, every)
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
func (l *Leases) round(ctx context.Context, every time.Duration) error {
	names := l.names()
	start := time.Now()
	if err := l.write(ctx, names, false); err != nil {
		return fmt.Errorf("cannot renew: %w", err)
	}
	l.mu.Lock()
	for _, n := range names {
		j := l.job(n)
		if j.since.IsZero() {
			j.since = start
		}
		if j.held != nil {
			// Renewed: the holder may go on for TTL/2 from the renewal's start.
			j.fence.Reset(time.Until(start.Add(l.ttl / 2)))
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
		if l.mayRun(j, now, every) {
			if j.held == nil {
				j.held, j.cancel = context.WithCancel(context.Background())
				j.fence = time.AfterFunc(time.Until(start.Add(l.ttl/2)), func() { l.drop(n, "not renewed in time") })
				log.Printf("lease: %s now runs %s", l.holder, n)
			}
		} else if j.held != nil {
			l.stop(n, j, "another instance runs it")
		}
	}
	return nil
}

// mayRun reports whether this candidate should run job j: no other live candidate leads
// it or ranks before this one, and this one has been a candidate long enough to know.
func (l *Leases) mayRun(j *job, now time.Time, every time.Duration) bool {
	if now.Sub(j.since) < 2*every {
		return false
	}
	for holder, c := range j.others {
		if c.released || now.Sub(c.changed) >= l.ttl*2/3 {
			continue
		}
		before := c.started < l.started || c.started == l.started && holder < l.holder
		// Two leaders only while they learn of each other: the later one yields.
		if c.leading && (j.held == nil || before) || !c.leading && before && j.held == nil {
			return false
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
	if j := l.jobs[name]; j != nil && j.held != nil {
		l.stop(name, j, why)
	}
}

func (l *Leases) stop(name string, j *job, why string) {
	j.cancel()
	j.fence.Stop()
	j.held, j.cancel, j.fence = nil, nil, nil
	log.Printf("lease: %s stops running %s: %s", l.holder, name, why)
}

// release tells the others at once that this candidate is gone.
func (l *Leases) release() {
	l.mu.Lock()
	for n, j := range l.jobs {
		if j.held != nil {
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
	b, err := chstore.PrepareBatch(ctx, l.conn, "INSERT INTO "+l.db+".leases (name, holder, started_at, beat, leading, released, updated_at)")
	if err != nil {
		return err
	}
	defer b.Abort()
	l.mu.Lock()
	l.beat++
	for _, n := range names {
		leading := !released && l.jobs[n] != nil && l.jobs[n].held != nil
		if err := b.Append(n, l.holder, l.started, l.beat, boolByte(leading), boolByte(released), time.Now()); err != nil {
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
	rows, err := l.conn.Query(ctx, fmt.Sprintf(`SELECT name, holder, started_at, beat, leading, released FROM %s.leases FINAL
		WHERE name IN (SELECT arrayJoin(?)) AND updated_at >= ?`, l.db), names, time.Now().Add(-10*l.ttl))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var name, holder string
		var c candidate
		var leading, released uint8
		if err := rows.Scan(&name, &holder, &c.started, &c.beat, &leading, &released); err != nil {
			return nil, err
		}
		c.leading, c.released = leading == 1, released == 1
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
