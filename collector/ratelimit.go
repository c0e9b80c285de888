package collector

import (
	"hash/maphash"
	"net/netip"
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

// blocked reports whether key has no token left, without taking one, and how long until
// it has one.
func (l *limiter) blocked(key string, now time.Time) (bool, time.Duration) {
	if l.rate <= 0 {
		return false, 0
	}
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	b := sh.m[key]
	if b == nil {
		return false, 0
	}
	tokens := min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	if tokens >= 1 {
		return false, 0
	}
	return true, time.Duration((1 - tokens) / l.rate * float64(time.Second))
}

// addrKey is a client address as the per-address limits count it: an IPv4 address, or the
// /64 network of an IPv6 one. One IPv6 subscriber commonly holds a whole /64 and can
// send from any of its 2^64 addresses.
func addrKey(a netip.Addr) string {
	if a.Is6() && !a.Is4In6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.Unmap().String()
}

// sweep forgets buckets that have refilled: they behave like new ones.
func (l *limiter) sweep(sh *limiterShard, now time.Time) {
	for k, b := range sh.m {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(sh.m, k)
		}
	}
}
