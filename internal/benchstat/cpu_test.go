package benchstat

import (
	"os"
	"testing"
	"time"
)

// A process's CPU time read from /proc is the time the process itself counts, to the
// kernel's tick.
func TestProcessCPUReadsTheProcessTime(t *testing.T) {
	before, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	self := SelfUsage().CPU()
	x := 1
	for SelfUsage().CPU()-self < 300*time.Millisecond { // CPU, not wall time: the machine may be busy
		for range 100000 {
			x = x*31 + 7
		}
	}
	_ = x
	after, err := ProcessCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	used, selfUsed := after-before, SelfUsage().CPU()-self
	if used < 200*time.Millisecond || used > selfUsed+50*time.Millisecond || used < selfUsed-50*time.Millisecond {
		t.Fatalf("/proc says %v of CPU, the process counts %v; want the same, at least 200ms", used, selfUsed)
	}
	if _, err := ProcessCPU(1 << 30); err == nil {
		t.Fatal("no error for a process that does not exist")
	}
}

// A process that ended is no longer metered: its figure is left out rather than printed
// as a difference of nonsense.
func TestProcessStopsMeteringWhenTheProcessEnds(t *testing.T) {
	self := &Process{Name: "this test", PID: os.Getpid()}
	if self.CPU() <= 0 || !self.Metered() {
		t.Fatal("this process's CPU time not read")
	}
	gone := &Process{Name: "a process that ended", PID: 1 << 30}
	if got := gone.CPU(); got != 0 || gone.Metered() {
		t.Fatalf("a process that does not exist: %v, metered %v; want 0, not metered", got, gone.Metered())
	}
	if none := (&Process{}); none.CPU() != 0 || none.Metered() {
		t.Fatal("no process given, yet metered")
	}
}
