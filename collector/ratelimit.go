package collector

import (
	"hash/maphash"
	"sync"
	"time"
)

// limiter is a set of token buckets keyed by site or client address.
type limiter struct {
	rate, burst float64
	seed        maphash.Seed
	shards      [64]limiterShard
}

type limiterShard struct {
	mu sync.Mutex
	m  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxBuckets per shard before idle (full) buckets are dropped.
const maxBuckets = 4096

func newLimiter(rate float64, burst int) *limiter {
	l := &limiter{rate: rate, burst: float64(max(burst, 1)), seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].m = map[string]*bucket{}
	}
	return l
}

// allow takes one token for key; when none is left it says how long until one is.
func (l *limiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
		return true, 0
	}
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		if len(sh.m) >= maxBuckets {
			l.sweep(sh, now)
		}
		b = &bucket{tokens: l.burst, last: now}
		sh.m[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
}

// sweep forgets buckets that have refilled: they behave like new ones.
func (l *limiter) sweep(sh *limiterShard, now time.Time) {
	for k, b := range sh.m {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(sh.m, k)
		}
	}
}
