// Package benchstat holds the figures the benchmarks share: percentiles of latencies, the
// peak of the Go heap, and CPU time.
package benchstat

import (
	"runtime/metrics"
	"sync"
	"time"
)

// WatchHeap samples the memory the Go heap holds from the OS (spans in use or kept for
// reuse, not those returned) every 10 ms until the returned function is called; that
// returns the peak in bytes.
func WatchHeap() (stop func() uint64) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	var peak uint64
	read := func() {
		metrics.Read(samples)
		var n uint64
		for _, s := range samples {
			n += s.Value.Uint64()
		}
		peak = max(peak, n)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			read()
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		read()
		return peak
	}
}
