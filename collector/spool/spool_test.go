package spool

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func msgs(from, n int) []Message {
	var out []Message
	for i := from; i < from+n; i++ {
		out = append(out, Message{Topic: "t", Key: []byte("k"), Value: fmt.Appendf(nil, "m%d", i), Headers: []Header{{Key: "h", Value: []byte("v")}}})
	}
	return out
}

// drain replays everything and returns the values in order.
func drain(t *testing.T, s *Spool) []string {
	t.Helper()
	var out []string
	for {
		m, err := s.Peek(3)
		if err != nil {
			t.Fatal(err)
		}
		if m == nil {
			return out
		}
		for _, x := range m {
			out = append(out, string(x.Value))
		}
		if err := s.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

func want(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("m%d", i))
	}
	return out
}

func TestOrderAcrossSegmentsAndRestarts(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentBytes: 300, NoSync: true}
	s, err := Open(dir, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i += 2 {
		if err := s.Append(msgs(i, 2)); err != nil {
			t.Fatal(err)
		}
	}
	// Replay half, restart, replay the rest: nothing lost, nothing repeated.
	var got []string
	for range 5 {
		m, _ := s.Peek(1) // one record of two messages
		if len(m) != 2 {
			t.Fatalf("Peek(1) returned %d messages, want one whole record of 2", len(m))
		}
		got = append(got, string(m[0].Value), string(m[1].Value))
		s.Commit()
	}
	s.Close()
	if s, err = Open(dir, o); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(msgs(20, 2)); err != nil {
		t.Fatal(err)
	}
	got = append(got, drain(t, s)...)
	if fmt.Sprint(got) != fmt.Sprint(want(22)) {
		t.Fatalf("replayed %v", got)
	}
	if !s.Empty() || s.Bytes() != 0 {
		t.Fatalf("drained spool: empty %v, %d bytes", s.Empty(), s.Bytes())
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	if len(segs) != 1 {
		t.Fatalf("%d segment files left after draining, want 1 (empty)", len(segs))
	}
	s.Close()
}

func TestFull(t *testing.T) {
	s, err := Open(t.TempDir(), Options{MaxBytes: 200, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	for ; n < 100; n++ {
		if err := s.Append(msgs(n, 1)); err != nil {
			if !errors.Is(err, ErrFull) {
				t.Fatal(err)
			}
			break
		}
	}
	if n == 0 || n == 100 {
		t.Fatalf("%d appends fit in 200 bytes", n)
	}
	drain(t, s)
	if err := s.Append(msgs(0, 1)); err != nil {
		t.Fatalf("append after draining: %v", err)
	}
}

func TestTornRecordIsCut(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, Options{NoSync: true})
	s.Append(msgs(0, 1))
	s.Append(msgs(1, 1))
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
	fi, _ := os.Stat(segs[0])
	os.Truncate(segs[0], fi.Size()-3) // a crash in the middle of the second record
	s, err := Open(dir, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	s.Append(msgs(2, 1))
	if got := drain(t, s); fmt.Sprint(got) != "[m0 m2]" {
		t.Fatalf("after a torn record: %v, want [m0 m2]", got)
	}
}

func TestConcurrentAppendsAllKept(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{SegmentBytes: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				if err := s.Append(msgs(w*100+i, 1)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	s.Close()
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got := map[string]bool{}
	for _, v := range drain(t, s) {
		got[v] = true
	}
	if len(got) != 200 {
		t.Fatalf("%d distinct messages after reopening, want 200", len(got))
	}
}

func BenchmarkAppendParallel(b *testing.B) {
	s, err := Open(b.TempDir(), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	m := msgs(0, 3)
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := s.Append(m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
