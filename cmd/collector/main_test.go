package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// TestSIGTERMUnderLoadLosesNothing boots the collector binary, loads it with concurrent
// clients, sends SIGTERM mid-load and checks that every event answered 2xx is in Kafka.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)

	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := testenv.Start(t, testenv.Binary(t, "./cmd/collector"), "-http.listen", addr, "-metrics.listen", "", "-sites", "config/dev.json",
		"-kafka.brokers", kc.Brokers, "-kafka.topic", kc.Topic, "-kafka.dlq", kc.DLQ,
		"-spool.dir", filepath.Join(t.TempDir(), "spool"), "-ratelimit.ip", "0", "-ratelimit.site", "0")
	url := "http://" + addr
	testenv.Eventually(t, 20*time.Second, "collector answering", func() (bool, error) {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &http.Client{Timeout: 30 * time.Second}
			for i := 0; ; i++ {
				evs := []event.Event{
					{ID: uuid.NewString(), Type: event.Pageview, VID: fmt.Sprintf("w%d-%d", w, i), URL: "https://example.com/"},
					{ID: uuid.NewString(), Type: event.Track, Name: "click", VID: fmt.Sprintf("w%d-%d", w, i)},
				}
				body, _ := json.Marshal(event.Batch{Site: "demo", Events: evs})
				resp, err := c.Post(url+"/e", "text/plain", bytes.NewReader(body))
				if err != nil {
					return // the collector stopped listening
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusNoContent {
					mu.Lock()
					acked[evs[0].ID], acked[evs[1].ID] = true, true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := cmd.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	wg.Wait()
	if err != nil {
		t.Fatalf("collector exited with %v:\n%s", err, cmd.Output())
	}
	if len(acked) == 0 {
		t.Fatal("no request was acknowledged before SIGTERM")
	}
	seen := map[string]bool{}
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	var rmu sync.Mutex
	found := 0
	var rwg sync.WaitGroup
	for p := range kc.Partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.BrokerList(), Topic: kc.Topic, Partition: p, MaxWait: 200 * time.Millisecond})
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			defer r.Close()
			for {
				m, err := r.ReadMessage(rctx)
				if err != nil {
					return
				}
				var e event.Enriched
				json.Unmarshal(m.Value, &e)
				rmu.Lock()
				if acked[e.ID] && !seen[e.ID] {
					seen[e.ID] = true
					found++
				}
				all := found == len(acked)
				rmu.Unlock()
				if all {
					rcancel()
				}
			}
		}()
	}
	rwg.Wait()
	var lost int
	for id := range acked {
		if !seen[id] {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d acknowledged events are not in Kafka after SIGTERM", lost, len(acked))
	}
	t.Logf("%d events acknowledged under load, all in Kafka", len(acked))
}

// The public port serves the API only: metrics have their own listener, the profiler is
// off; and with the development secrets the collector refuses to listen beyond loopback.
func TestListeners(t *testing.T) {
	kc := testenv.KafkaConfig(t)
	bin := testenv.Binary(t, "./cmd/collector")
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	metrics := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	testenv.Start(t, bin, "-http.listen", addr, "-metrics.listen", metrics, "-sites", "config/dev.json",
		"-kafka.brokers", kc.Brokers, "-spool.dir", filepath.Join(t.TempDir(), "spool"))
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	testenv.Eventually(t, 20*time.Second, "collector answering", func() (bool, error) {
		code, _ := get("http://" + addr + "/healthz")
		return code == 200, nil
	})
	if code, body := get("http://" + metrics + "/metrics"); code != 200 || !strings.Contains(body, "tp_collector_requests_total") {
		t.Fatalf("metrics listener: %d %.200s", code, body)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/cmdline"} {
		if code, body := get("http://" + addr + path); code != 404 || strings.Contains(body, "tp_collector") {
			t.Fatalf("GET %s on the public port: %d", path, code)
		}
	}

	public := fmt.Sprintf("0.0.0.0:%d", testenv.FreePort(t))
	p := testenv.Start(t, bin, "-http.listen", public, "-metrics.listen", "", "-sites", "config/dev.json",
		"-kafka.brokers", kc.Brokers, "-spool.dir", filepath.Join(t.TempDir(), "spool"))
	done := make(chan error, 1)
	go func() { done <- p.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(p.Output(), "demo-secret") {
			t.Fatalf("exit %v, output:\n%s", err, p.Output())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the collector started on 0.0.0.0 with the development secrets")
	}
}
