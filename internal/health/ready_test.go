package health

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

type report struct {
	Ready   bool   `json:"ready"`
	Waiting []Wait `json:"waiting_for"`
}

func readyz(t *testing.T, r *Readiness) (int, report) {
	t.Helper()
	rec := httptest.NewRecorder()
	Handler(r).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	var rep report
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
		t.Fatalf("/readyz body %q: %v", rec.Body, err)
	}
	return rec.Code, rep
}

// /readyz waits for every dependency until it was reached, names what it waits for with
// since when and the last error, and keeps the start of an outage while errors repeat.
func TestReadinessSaysWhatItWaitsFor(t *testing.T) {
	r := NewReadiness("test", "kafka", "clickhouse")
	code, rep := readyz(t, r)
	if code != http.StatusServiceUnavailable || rep.Ready || len(rep.Waiting) != 2 || rep.Waiting[0].Dependency != "kafka" ||
		rep.Waiting[0].Error != "not reached yet" {
		t.Fatalf("at start: %d %+v", code, rep)
	}
	r.Set("kafka", nil)
	r.Set("clickhouse", nil)
	if code, rep := readyz(t, r); code != http.StatusOK || !rep.Ready || len(rep.Waiting) != 0 {
		t.Fatalf("both reached: %d %+v", code, rep)
	}
	if up := testutil.ToFloat64(dependencyUp.WithLabelValues("kafka")); up != 1 {
		t.Fatalf("tp_dependency_up{kafka} = %v with Kafka reached", up)
	}

	before := time.Now()
	r.Set("kafka", errors.New("dial tcp: connection refused"))
	time.Sleep(10 * time.Millisecond)
	r.Set("kafka", errors.New("dial tcp: i/o timeout"))
	code, rep = readyz(t, r)
	if code != http.StatusServiceUnavailable || len(rep.Waiting) != 1 {
		t.Fatalf("Kafka away: %d %+v", code, rep)
	}
	w := rep.Waiting[0]
	if w.Dependency != "kafka" || w.Error != "dial tcp: i/o timeout" || w.Since.Before(before.Add(-time.Second)) ||
		w.Since.After(before.Add(5*time.Millisecond)) || w.Seconds <= 0 {
		t.Fatalf("waiting for %+v; want kafka since the first failure with the last error", w)
	}
	if err := r.Err(); err == nil || !strings.Contains(err.Error(), "waiting for kafka since") {
		t.Fatalf("Err() = %v", err)
	}
	if up := testutil.ToFloat64(dependencyUp.WithLabelValues("kafka")); up != 0 {
		t.Fatalf("tp_dependency_up{kafka} = %v while waiting", up)
	}
	r.Set("kafka", nil)
	if r.Err() != nil {
		t.Fatalf("Err() = %v once Kafka is back", r.Err())
	}

	var none *Readiness
	none.Set("kafka", errors.New("ignored"))
	if none.Err() != nil || none.Waiting() != nil {
		t.Fatal("a nil Readiness reports something")
	}
}

// An address still held by another process (an instance stopping) is served once it is
// free: the service does not give up its health and metrics.
func TestServeWaitsForItsAddress(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := held.Addr().String()
	Serve(addr, NewReadiness("test"))
	time.Sleep(100 * time.Millisecond)
	held.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("/readyz with nothing to wait for: %d", resp.StatusCode)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not serving %s 10 s after it was freed: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
