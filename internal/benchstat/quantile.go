package benchstat

import "time"

// Quantile is the p-quantile (0 to 1) of sorted latencies, rounded like the benchmarks
// print them: to the microsecond under 10 ms, to the millisecond above.
func Quantile(sorted []time.Duration, p float64) time.Duration {
	d := sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
	if d < 10*time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
