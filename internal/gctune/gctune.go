// Package gctune sets a service's garbage collector. A heap target well above the live
// data (GOGC) saves CPU on short-lived garbage such as batches and requests; a soft memory
// limit (GOMEMLIMIT) stops that target from growing the heap past what the service is
// given: near the limit the collector simply runs more often. The GOGC and GOMEMLIMIT
// environment variables, when set, win.
package gctune

import (
	"os"
	"runtime/debug"
)

// Settings are a service's defaults.
type Settings struct {
	Percent int   // GOGC
	Limit   int64 // GOMEMLIMIT in bytes; 0 for none
}

// The services' defaults. The stitcher holds a few batches of events at full speed, the
// attribution service a rebuild's conversions and row buffers: 900 MiB keeps either's
// heap under 1 GiB at a small cost in speed (see README, Performance).
var (
	Collector   = Settings{Percent: 400}
	Stitcher    = Settings{Percent: 200, Limit: 900 << 20}
	Attribution = Settings{Percent: 400, Limit: 900 << 20}
)

// Apply sets s where the environment does not say otherwise.
func (s Settings) Apply() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(s.Percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" && s.Limit > 0 {
		debug.SetMemoryLimit(s.Limit)
	}
}
