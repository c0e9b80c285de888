// Package heappeak measures the most memory the Go heap held from the OS while a
// benchmark ran: heap spans in use or kept for reuse, not those returned to the OS.
package heappeak

import (
	"runtime/metrics"
	"sync"
	"time"
)

// Watch samples the heap every 10 ms until the returned function is called; that returns
// the peak in bytes.
func Watch() (stop func() uint64) {
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
