// Package leases keeps which visitor holds which tracking number, in a Redis-compatible
// server that every collector shares, and what became of each call: its start, the
// visitor it was matched to and whether it was the caller's first. Every change is one
// server-side script, so collectors racing for the last free number never both get it.
// See docs/decisions/call-tracking-leases.md.
package leases

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Config says where the store is.
type Config struct {
	Addr     string
	Password string
	DB       int
	Timeout  time.Duration // of each command: /v1/number answers the default number past it
}

// Store is the shared lease state.
type Store struct {
	rdb *redis.Client
}

func init() {
	// While the store is away every command would log its dial errors: one line in 10 s.
	redis.SetLogger(&quietLogger{})
}

type quietLogger struct{ last atomic.Int64 }

func (l *quietLogger) Printf(_ context.Context, format string, v ...any) {
	now := time.Now().Unix()
	if last := l.last.Load(); now-last >= 10 && l.last.CompareAndSwap(last, now) {
		log.Printf("leases: "+format, v...)
	}
}

// Open returns a Store; it connects on first use and reconnects by itself.
func Open(c Config) *Store {
	t := c.Timeout
	if t <= 0 {
		t = 200 * time.Millisecond
	}
	return &Store{rdb: redis.NewClient(&redis.Options{
		Addr: c.Addr, Password: c.Password, DB: c.DB,
		DialTimeout: t, ReadTimeout: t, WriteTimeout: t,
		PoolSize: 64, MinIdleConns: 4, MaxRetries: 1,
		ContextTimeoutEnabled: true,
	})}
}

// Close closes the connections.
func (s *Store) Close() error { return s.rdb.Close() }

// Ping reports whether the store answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.rdb.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("lease store unreachable: %w", err)
	}
	return nil
}

// Lease is one visitor's hold on a number.
type Lease struct {
	Number   string
	ID       string // a random UUID, the lease's id in number_leases
	Visitor  string
	From, To time.Time
	New      bool      // granted by this call, not renewed
	Emitted  time.Time // when the lease was last written to Kafka (zero: never)
}

func keyPool(site, pool string) string         { return "tp:pool:{" + site + "}:" + pool }
func keyNumber(site string) string             { return "tp:num:{" + site + "}:" }
func keyVisitor(site, pool, vid string) string { return "tp:vis:{" + site + "}:" + pool + ":" + vid }

// acquire renews the visitor's lease on a number of the pool, or grants a free one (held
// for less than now: its holder's time ran out). Pool numbers are a sorted set scored by
// the end of their current lease. It returns nothing when every number is held, and
// "resync" when the pool is not in the store (a new pool, or a store that lost its data).
var acquire = redis.NewScript(`
local pool, vkey, prefix = KEYS[1], KEYS[2], ARGV[5]
local now, hold, vid, newid = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3], ARGV[4]
local num = redis.call('GET', vkey)
if num then
  local lkey = prefix .. num
  local score = redis.call('ZSCORE', pool, num)
  if score and tonumber(score) >= now and redis.call('HGET', lkey, 'vid') == vid then
    local to = now + hold
    redis.call('ZADD', pool, to, num)
    redis.call('HSET', lkey, 'to', to)
    redis.call('PEXPIRE', vkey, hold)
    local l = redis.call('HMGET', lkey, 'id', 'from', 'emitted')
    return {num, l[1], l[2], tostring(to), '0', l[3] or '0'}
  end
end
local free = redis.call('ZRANGEBYSCORE', pool, '-inf', now - 1, 'LIMIT', 0, 1)
if #free == 0 then
  if redis.call('EXISTS', pool) == 0 then return 'resync' end
  return false
end
num = free[1]
local lkey = prefix .. num
local old = redis.call('HMGET', lkey, 'id', 'vid', 'from', 'to')
if old[1] then
  redis.call('LPUSH', lkey .. ':h', old[1] .. '|' .. old[2] .. '|' .. old[3] .. '|' .. old[4])
  redis.call('LTRIM', lkey .. ':h', 0, 199)
end
local to = now + hold
redis.call('ZADD', pool, to, num)
redis.call('DEL', lkey)
redis.call('HSET', lkey, 'id', newid, 'vid', vid, 'from', now, 'to', to)
redis.call('SET', vkey, num, 'PX', hold)
return {num, newid, tostring(now), tostring(to), '1', '0'}
`)

// ErrExhausted is Acquire's answer when every number of the pool is held.
var ErrExhausted = errors.New("every number of the pool is held")

// Acquire renews vid's lease on a number of pool, or grants one free for hold.
func (s *Store) Acquire(ctx context.Context, site, pool string, numbers []string, vid string, hold time.Duration, now time.Time) (*Lease, error) {
	keys := []string{keyPool(site, pool), keyVisitor(site, pool, vid)}
	args := []any{now.UnixMilli(), hold.Milliseconds(), vid, uuid.NewString(), keyNumber(site)}
	for attempt := 0; ; attempt++ {
		res, err := acquire.Run(ctx, s.rdb, keys, args...).Result()
		if errors.Is(err, redis.Nil) {
			return nil, ErrExhausted
		}
		if err != nil {
			return nil, fmt.Errorf("cannot lease a number: %w", err)
		}
		if res == "resync" {
			if attempt > 0 {
				return nil, ErrExhausted
			}
			if err := s.SyncPool(ctx, site, pool, numbers); err != nil {
				return nil, err
			}
			continue
		}
		v, ok := res.([]any)
		if !ok || len(v) != 6 {
			return nil, fmt.Errorf("cannot lease a number: unexpected answer %v", res)
		}
		str := func(i int) string { x, _ := v[i].(string); return x }
		ms := func(i int) time.Time { n, _ := strconv.ParseInt(str(i), 10, 64); return time.UnixMilli(n) }
		l := &Lease{Number: str(0), ID: str(1), Visitor: vid, From: ms(2), To: ms(3), New: str(4) == "1"}
		if e := ms(5); e.UnixMilli() > 0 {
			l.Emitted = e
		}
		return l, nil
	}
}

// MarkEmitted records that the lease was written to Kafka at t.
func (s *Store) MarkEmitted(ctx context.Context, site, number, leaseID string, t time.Time) error {
	key := keyNumber(site) + number
	return s.rdb.Eval(ctx, `if redis.call('HGET', KEYS[1], 'id') == ARGV[1] then redis.call('HSET', KEYS[1], 'emitted', ARGV[2]) end return 1`,
		[]string{key}, leaseID, t.UnixMilli()).Err()
}

// SyncPool makes the store's pool hold exactly numbers: new ones free, removed ones gone
// (their current lease runs out; calls to them are no longer matched).
func (s *Store) SyncPool(ctx context.Context, site, pool string, numbers []string) error {
	key := keyPool(site, pool)
	have, err := s.rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		return fmt.Errorf("cannot read pool %s: %w", pool, err)
	}
	want := map[string]bool{}
	p := s.rdb.TxPipeline()
	for _, n := range numbers {
		want[n] = true
		p.ZAddNX(ctx, key, redis.Z{Score: 0, Member: n})
	}
	for _, n := range have {
		if !want[n] {
			p.ZRem(ctx, key, n)
		}
	}
	if _, err := p.Exec(ctx); err != nil {
		return fmt.Errorf("cannot update pool %s: %w", pool, err)
	}
	return nil
}

// Holder returns the lease that held number at t, or nil: the current lease or one of the
// last 200 before it. When none held it at t, a lease that began at most Slack after t
// counts: providers give a call's start to the second, their clocks are not ours, and a
// Twilio status callback's start is reckoned from whole seconds.
func (s *Store) Holder(ctx context.Context, site, number string, t time.Time) (*Lease, error) {
	key := keyNumber(site) + number
	cur, err := s.rdb.HMGet(ctx, key, "id", "vid", "from", "to").Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read the lease of %s: %w", number, err)
	}
	at := t.UnixMilli()
	if l := parseLease(number, cur); l != nil && l.From.UnixMilli() <= at && at <= l.To.UnixMilli() {
		return l, nil
	}
	hist, err := s.rdb.LRange(ctx, key+":h", 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("cannot read the leases of %s: %w", number, err)
	}
	all := []*Lease{parseLease(number, cur)}
	for _, h := range hist {
		if f := strings.Split(h, "|"); len(f) == 4 {
			all = append(all, parseLease(number, []any{f[0], f[1], f[2], f[3]}))
		}
	}
	var soon *Lease // the first lease that began within Slack after t
	for _, l := range all {
		switch {
		case l == nil:
		case l.From.UnixMilli() <= at && at <= l.To.UnixMilli():
			return l, nil
		case l.From.UnixMilli() > at && l.From.UnixMilli() <= at+Slack.Milliseconds() && (soon == nil || l.From.Before(soon.From)):
			soon = l
		}
	}
	return soon, nil
}

// Slack is how much later than a call's reported start a lease may begin and still get
// the call, when no lease held the number at that start.
const Slack = 5 * time.Second

func parseLease(number string, f []any) *Lease {
	str := func(i int) string { x, _ := f[i].(string); return x }
	from, err1 := strconv.ParseInt(str(2), 10, 64)
	to, err2 := strconv.ParseInt(str(3), 10, 64)
	if str(0) == "" || err1 != nil || err2 != nil {
		return nil
	}
	return &Lease{Number: number, ID: str(0), Visitor: str(1), From: time.UnixMilli(from), To: time.UnixMilli(to)}
}

// Call is what the store remembers of a call, so that every webhook about it (a voice
// request, status callbacks, a replay) tells the same story: its start, its match and
// whether it was the caller's first. Final fields come from the webhook that ended it.
type Call struct {
	Start    int64  `json:"s"` // ms
	Visitor  string `json:"v,omitempty"`
	LeaseID  string `json:"l,omitempty"`
	First    bool   `json:"f,omitempty"`
	Status   string `json:"st,omitempty"`
	Duration int    `json:"d,omitempty"`
	Answered bool   `json:"a,omitempty"`
	Final    bool   `json:"fin,omitempty"`
}

// callTTL is how long a call's record is kept: webhooks about it come within hours.
const callTTL = 30 * 24 * time.Hour

// callerTTL is how long a caller is remembered as having called before.
const callerTTL = 400 * 24 * time.Hour

// RecordCall returns the call's record: the stored one, with the final status, duration
// and answer of in when in ended the call; or, for a call never seen, a new one from in,
// with the visitor and lease that match returns and whether no earlier call came from
// caller (a hash of the caller's number; "" when withheld, which is always a first call).
// isNew is true only for the request that created the record.
func (s *Store) RecordCall(ctx context.Context, site, call, caller string, in Call, match func(context.Context) (*Lease, error)) (c Call, isNew bool, err error) {
	key := "tp:call:{" + site + "}:" + call
	for range 2 {
		stored, err := s.rdb.Get(ctx, key).Result()
		switch {
		case err == nil:
			if err := json.Unmarshal([]byte(stored), &c); err != nil {
				return c, false, fmt.Errorf("cannot read call %s: %w", call, err)
			}
			if in.Final && (!c.Final || in.Duration > c.Duration || in.Answered && !c.Answered) {
				c.Status, c.Duration, c.Answered, c.Final = in.Status, in.Duration, in.Answered || c.Answered, true
				b, _ := json.Marshal(c)
				if err := s.rdb.Set(ctx, key, b, redis.KeepTTL).Err(); err != nil {
					return c, false, fmt.Errorf("cannot record call %s: %w", call, err)
				}
			}
			return c, false, nil
		case !errors.Is(err, redis.Nil):
			return c, false, fmt.Errorf("cannot read call %s: %w", call, err)
		}
		c = in
		l, err := match(ctx)
		if err != nil {
			return c, false, err
		}
		if l != nil {
			c.Visitor, c.LeaseID = l.Visitor, l.ID
		}
		c.First = true
		if caller != "" {
			ck := "tp:caller:{" + site + "}:" + caller
			ok, err := s.rdb.SetNX(ctx, ck, call, callerTTL).Result()
			if err != nil {
				return c, false, fmt.Errorf("cannot record caller: %w", err)
			}
			if !ok {
				firstCall, err := s.rdb.Get(ctx, ck).Result()
				if err != nil && !errors.Is(err, redis.Nil) {
					return c, false, fmt.Errorf("cannot read caller: %w", err)
				}
				c.First = firstCall == call
			}
		}
		b, _ := json.Marshal(c)
		created, err := s.rdb.SetNX(ctx, key, b, callTTL).Result()
		if err != nil {
			return c, false, fmt.Errorf("cannot record call %s: %w", call, err)
		}
		if created {
			return c, true, nil
		}
		// Another collector recorded it meanwhile: take its record.
	}
	return c, false, fmt.Errorf("cannot record call %s: it keeps changing", call)
}
