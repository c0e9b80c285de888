package collector

import (
	"testing"
	"time"
)

func TestDeadlinesCloseAfterTheirTimeout(t *testing.T) {
	d := newDeadlines(10 * time.Millisecond)
	start := time.Now()
	short, long := d.after(30*time.Millisecond), d.after(200*time.Millisecond)
	if d.after(30*time.Millisecond) != short {
		t.Error("two waits of the same tick got different channels")
	}
	<-short
	if waited := time.Since(start); waited < 30*time.Millisecond {
		t.Fatalf("closed after %s, want at least 30ms", waited)
	}
	select {
	case <-long:
		t.Fatalf("200ms deadline closed after %s", time.Since(start))
	default:
	}
	<-long
	if waited := time.Since(start); waited < 200*time.Millisecond {
		t.Fatalf("closed after %s, want at least 200ms", waited)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.at) != 0 {
		t.Errorf("%d deadlines kept after they passed", len(d.at))
	}
}
