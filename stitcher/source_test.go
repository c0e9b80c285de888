package stitcher

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint/internal/health"
	"touchpoint/internal/kafkabus"
)

// memSource is a partition held in memory: Fetch hands out its messages in order, then
// waits like a consumer at the end of its topic.
type memSource struct {
	mu        sync.Mutex
	msgs      []kafkabus.Message
	committed []kafkabus.Message
}

func newMemSource(n int) *memSource {
	s := &memSource{}
	for i := range n {
		s.msgs = append(s.msgs, kafkabus.Message{Topic: "tp.events", Partition: 0, Offset: int64(i), Value: fmt.Appendf(nil, "%d", i)})
	}
	return s
}

func (s *memSource) Fetch(ctx context.Context) (kafkabus.Message, error) {
	s.mu.Lock()
	if len(s.msgs) > 0 {
		m := s.msgs[0]
		s.msgs = s.msgs[1:]
		s.mu.Unlock()
		return m, nil
	}
	s.mu.Unlock()
	<-ctx.Done()
	return kafkabus.Message{}, ctx.Err()
}

func (s *memSource) Commit(_ context.Context, msgs []kafkabus.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.committed = append(s.committed, msgs...)
	return nil
}

func (s *memSource) Close() error { return nil }

// memDeadLetters keeps what is dead-lettered.
type memDeadLetters struct{ msgs []kafkabus.Message }

func (d *memDeadLetters) Produce(_ context.Context, msgs ...kafkabus.Message) error {
	d.msgs = append(d.msgs, msgs...)
	return nil
}

func (d *memDeadLetters) Close() error { return nil }

// The stream is cut into batches of at most BatchSize events, in order; a batch that is
// not full goes once FlushEvery has passed. Reading commits nothing.
func TestFetchCutsBatchesBySizeAndTime(t *testing.T) {
	src := newMemSource(2500)
	st := New(&Config{BatchSize: 1000, FlushEvery: 50 * time.Millisecond}, src, &memDeadLetters{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan []kafkabus.Message)
	done := make(chan struct{})
	go func() { st.fetch(ctx, out); close(done) }()
	var sizes []int
	next := int64(0)
	for range 3 {
		select {
		case b := <-out:
			sizes = append(sizes, len(b))
			for _, m := range b {
				if m.Offset != next {
					t.Fatalf("offset %d after %d", m.Offset, next-1)
				}
				next++
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("batches so far %v; the rest never came", sizes)
		}
	}
	cancel()
	<-done
	if fmt.Sprint(sizes) != "[1000 1000 500]" {
		t.Fatalf("batches of %v, want [1000 1000 500]", sizes)
	}
	if len(src.committed) != 0 {
		t.Fatalf("%d offsets committed before anything was written", len(src.committed))
	}
}

// failingSource is a memSource whose broker goes away: after `after` messages, Fetch fails
// `fails` times, as kafka-go's reader does when it cannot reach any broker.
type failingSource struct {
	*memSource
	after, fails int
	fetched      int
}

func (s *failingSource) Fetch(ctx context.Context) (kafkabus.Message, error) {
	if s.fetched == s.after && s.fails > 0 {
		s.fails--
		return kafkabus.Message{}, errors.New("failed to dial: connection refused")
	}
	s.fetched++
	return s.memSource.Fetch(ctx)
}

// Kafka going away does not stop the stitcher: the messages read before the failure go
// on in their batch, readiness says it waits for Kafka, and reading resumes in order once
// the broker answers again, however many times it failed.
func TestFetchWaitsOutKafkaFailures(t *testing.T) {
	src := &failingSource{memSource: newMemSource(300), after: 150, fails: 3}
	st := New(&Config{BatchSize: 1000, FlushEvery: 50 * time.Millisecond}, src, &memDeadLetters{}, nil)
	st.Ready = health.NewReadiness("stitcher", "kafka")
	st.Ready.Set("kafka", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := make(chan []kafkabus.Message)
	go st.fetch(ctx, out)
	next := int64(0)
	waited := false
	deadline := time.After(30 * time.Second)
	for next < 300 {
		select {
		case b := <-out:
			for _, m := range b {
				if m.Offset != next {
					t.Fatalf("offset %d after %d: messages lost around the failure", m.Offset, next-1)
				}
				next++
			}
			if next == 150 {
				w := st.Ready.Waiting()
				waited = len(w) == 1 && w[0].Dependency == "kafka" && strings.Contains(w[0].Error, "failed to dial")
			}
		case <-deadline:
			t.Fatalf("read %d of 300 messages; the rest never came after Kafka failed", next)
		}
	}
	if !waited {
		t.Fatal("readiness did not say the stitcher waits for Kafka while it failed")
	}
	if w := st.Ready.Waiting(); len(w) != 0 {
		t.Fatalf("still waiting for %v after reading on", w)
	}
}

// Messages that can never become rows go to the dead-letter topic as they came, with why
// and where they came from.
func TestPoisonIsDeadLetteredWithReasonAndSource(t *testing.T) {
	dlq := &memDeadLetters{}
	st := New(&Config{BatchSize: 10, FlushEvery: time.Second}, newMemSource(0), dlq, nil)
	msgs := []kafkabus.Message{
		{Topic: "tp.events", Partition: 2, Offset: 41, Key: []byte("demo/v1"), Value: []byte(`{"id":"not-a-uuid","type":"pageview","site":"demo"}`)},
		{Topic: "tp.events", Partition: 3, Offset: 7, Key: []byte("demo/v2"), Value: []byte(`{"id":`)},
	}
	ins, bad := decode(msgs, nil, nil)
	if len(ins) != 0 || len(bad) != 2 {
		t.Fatalf("%d events and %d poison from two broken messages", len(ins), len(bad))
	}
	if err := st.deadLetter(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	if len(dlq.msgs) != 2 {
		t.Fatalf("%d dead letters, want 2", len(dlq.msgs))
	}
	for i, want := range []struct{ reason, source string }{
		{"invalid event id", "tp.events/2@41"},
		{"undecodable message", "tp.events/3@7"},
	} {
		m := dlq.msgs[i]
		if string(m.Key) != string(msgs[i].Key) || string(m.Value) != string(msgs[i].Value) {
			t.Errorf("dead letter %d is %q %q, want the message as it came", i, m.Key, m.Value)
		}
		if reason := header(m, "reason"); len(reason) < len(want.reason) || reason[:len(want.reason)] != want.reason {
			t.Errorf("dead letter %d reason %q, want %q…", i, reason, want.reason)
		}
		if src := header(m, "source"); src != want.source {
			t.Errorf("dead letter %d source %q, want %q", i, src, want.source)
		}
	}
}
