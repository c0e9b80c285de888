package collector

import (
	"sync"
	"time"
)

// deadlines hands out channels that close once a timeout has passed, rounded up to a
// tick. Every write to Kafka waits with one, and the writes of a tick share a timer: a
// timer per write (context.WithTimeout) was 4% of the collector's CPU under load.
type deadlines struct {
	tick time.Duration
	mu   sync.Mutex
	at   map[int64]chan struct{} // by deadline, in ticks since 1970
}

func newDeadlines(tick time.Duration) *deadlines {
	return &deadlines{tick: tick, at: map[int64]chan struct{}{}}
}

// after returns a channel that is closed when at least timeout has passed, and at most
// timeout and a tick.
func (d *deadlines) after(timeout time.Duration) <-chan struct{} {
	tick := int64(d.tick)
	n := (time.Now().Add(timeout).UnixNano() + tick - 1) / tick
	d.mu.Lock()
	defer d.mu.Unlock()
	ch, ok := d.at[n]
	if !ok {
		ch = make(chan struct{})
		d.at[n] = ch
		time.AfterFunc(time.Until(time.Unix(0, n*tick)), func() {
			d.mu.Lock()
			delete(d.at, n)
			d.mu.Unlock()
			close(ch)
		})
	}
	return ch
}
