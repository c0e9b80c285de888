package benchstat

import (
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is what this process has used so far.
type Usage struct {
	User, System time.Duration
	MinorFaults  int64
}

// CPU is the user and system time together.
func (u Usage) CPU() time.Duration { return u.User + u.System }

// SelfUsage is what this process has used so far (zero if the system does not say).
func SelfUsage() Usage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}
	}
	return Usage{User: time.Duration(ru.Utime.Nano()), System: time.Duration(ru.Stime.Nano()), MinorFaults: ru.Minflt}
}

// ProcessCPU is the CPU time (user and system) another process on this machine has
// used, from /proc: a local ClickHouse server's, to tell its share of a benchmark from
// the Go side's.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; the fields after it are plain.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("unexpected /proc/%d/stat: %w", pid, err)
		}
		ticks += n
	}
	const tick = 10 * time.Millisecond // USER_HZ, 100 on every Linux platform Go supports
	return time.Duration(ticks) * tick, nil
}

// Process meters another local process's CPU time beside a benchmark's own: a ClickHouse
// server's, a Kafka broker's. PID 0 meters nothing; after a failed read (the process
// ended) it meters nothing either, and says why once.
type Process struct {
	Name string
	PID  int
}

// CPU is the process's CPU time so far, 0 when it is not metered.
func (p *Process) CPU() time.Duration {
	if p.PID == 0 {
		return 0
	}
	t, err := ProcessCPU(p.PID)
	if err != nil {
		log.Printf("no CPU time of %s: %v", p.Name, err)
		p.PID = 0
	}
	return t
}

// Metered reports whether CPU reads the process's time.
func (p *Process) Metered() bool { return p.PID != 0 }
