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
	"touchpoint/internal/kafkabus"
	"touchpoint/internal/testenv"
)

// TestSIGTERMUnderLoadLosesNothing boots the collector binary, loads it with concurrent
// clients, sends SIGTERM mid-load and checks that every event answered 2xx is in Kafka.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 4)
	cmd, url := startCollector(t, kc, filepath.Join(t.TempDir(), "spool"))

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
	if lost := missingFrom(t, kc, acked); lost > 0 {
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

// missingFrom counts the events of acked that are not in kc's topic (read for at most 30 s).
func missingFrom(t *testing.T, kc *kafkabus.Config, acked map[string]bool) int {
	t.Helper()
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
	return len(acked) - found
}

// startCollector starts the collector binary on kc with a spool in dir and the extra
// flags, and waits until it answers; it returns the process and its base URL.
func startCollector(t *testing.T, kc *kafkabus.Config, dir string, flags ...string) (*testenv.Process, string) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	args := append([]string{"-http.listen", addr, "-metrics.listen", "", "-sites", "config/dev.json",
		"-kafka.brokers", kc.Brokers, "-kafka.topic", kc.Topic, "-kafka.dlq", kc.DLQ,
		"-spool.dir", dir, "-ratelimit.ip", "0", "-ratelimit.site", "0"}, flags...)
	cmd := testenv.Start(t, testenv.Binary(t, "./cmd/collector"), args...)
	url := "http://" + addr
	testenv.Eventually(t, 20*time.Second, "collector answering", func() (bool, error) {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})
	return cmd, url
}

// postEvents sends n requests of one pageview each and adds the acknowledged ids to acked.
func postEvents(t *testing.T, url string, n int, acked map[string]bool) {
	t.Helper()
	for range n {
		e := event.Event{ID: uuid.NewString(), Type: event.Pageview, VID: uuid.NewString(), URL: "https://example.com/"}
		body, _ := json.Marshal(event.Batch{Site: "demo", Events: []event.Event{e}})
		resp, err := http.Post(url+"/e", "text/plain", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNoContent {
			acked[e.ID] = true
		}
	}
}

// SIGTERM while the broker hangs (paused: connections open, nothing answered, the worst
// case for a producer) ends within the shutdown deadline with a clean exit; what Kafka did
// not take stays in the spool, and the next start sends it.
func TestSIGTERMWithKafkaHungEndsWithinDeadline(t *testing.T) {
	k := testenv.PrivateKafkaServer(t)
	kc := testenv.Topics(t, k.Brokers, 4)
	dir := filepath.Join(t.TempDir(), "spool")
	const deadline = 4 * time.Second
	cmd, url := startCollector(t, kc, dir, "-shutdown-timeout", deadline.String(), "-kafka.write-timeout", "500ms")
	acked := map[string]bool{}
	postEvents(t, url, 10, acked)
	k.Pause()
	defer k.Resume()
	postEvents(t, url, 20, acked)
	if len(acked) != 30 {
		t.Fatalf("%d of 30 events acknowledged with the broker hung; the spool should take them", len(acked))
	}
	time.Sleep(time.Second) // the replayer is now waiting on the hung broker

	start := time.Now()
	if err := cmd.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("exit %v after SIGTERM with Kafka hung, output:\n%s", err, cmd.Output())
	}
	if took > deadline+200*time.Millisecond { // the deadline, and the process's exit
		t.Fatalf("shutdown took %s, deadline %s:\n%s", took, deadline, cmd.Output())
	}
	if !strings.Contains(cmd.Output(), "stay in the spool") {
		t.Fatalf("the events Kafka did not take are not reported in the spool:\n%s", cmd.Output())
	}

	k.Resume()
	startCollector(t, kc, dir)
	if lost := missingFrom(t, kc, acked); lost > 0 {
		t.Fatalf("%d of %d acknowledged events are not in Kafka after the restart", lost, len(acked))
	}
	t.Logf("stopped in %s with Kafka hung; all %d acknowledged events in Kafka after the next start", took.Round(time.Millisecond), len(acked))
}
