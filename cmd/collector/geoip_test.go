package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/testenv"
)

// writeCityDB writes a GeoLite2-City database placing 81.2.69.0/24 in country and moves
// it to file by rename, as geoipupdate does.
func writeCityDB(t *testing.T, file, country, city string) {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-City", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	_, n, _ := net.ParseCIDR("81.2.69.0/24")
	if err := tree.Insert(n, mmdbtype.Map{
		"country": mmdbtype.Map{"iso_code": mmdbtype.String(country)},
		"city":    mmdbtype.Map{"names": mmdbtype.Map{"en": mmdbtype.String(city)}},
	}); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if _, err := tree.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file+".tmp", b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(file+".tmp", file); err != nil {
		t.Fatal(err)
	}
}

// The collector locates browsers with the configured MaxMind file first and the DB-IP
// database installed by scripts/deps.sh after it, and picks up a replaced MaxMind file on
// SIGHUP without a restart.
func TestCollectorGeoIPAndReloadOnSIGHUP(t *testing.T) {
	dbip := testenv.GeoIPFiles(t)
	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 1)
	mm := filepath.Join(t.TempDir(), "GeoLite2-City.mmdb")
	writeCityDB(t, mm, "GB", "London")

	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := testenv.Start(t, testenv.Binary(t, "./cmd/collector"), "-http.listen", addr, "-sites", "config/dev.json",
		"-kafka.brokers", kc.Brokers, "-kafka.topic", kc.Topic, "-kafka.dlq", kc.DLQ,
		"-spool.dir", filepath.Join(t.TempDir(), "spool"), "-geoip", strings.Join(append([]string{mm}, dbip...), ","),
		"-geoip.check-interval", "1h")
	url := "http://" + addr
	testenv.Eventually(t, 20*time.Second, "collector ready", func() (bool, error) {
		resp, err := http.Get(url + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == 200, nil
	})

	// send posts one pageview from a browser at ip (behind the trusted local proxy).
	send := func(ip string) string {
		t.Helper()
		id := uuid.NewString()
		body, _ := json.Marshal(event.Batch{Site: "demo", Events: []event.Event{{ID: id, Type: event.Pageview, VID: "geo-" + id[:8], URL: "https://example.com/"}}})
		req, _ := http.NewRequest(http.MethodPost, url+"/e", bytes.NewReader(body))
		req.Header.Set("Content-Type", "text/plain")
		req.Header.Set("X-Forwarded-For", ip)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("POST /e from %s: status %d", ip, resp.StatusCode)
		}
		return id
	}
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.BrokerList(), Topic: kc.Topic, Partition: 0, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	// located reads the topic up to event id.
	located := func(id string) event.Enriched {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatalf("event %s not in Kafka: %v", id, err)
			}
			var e event.Enriched
			if err := json.Unmarshal(m.Value, &e); err != nil {
				t.Fatal(err)
			}
			if e.ID == id {
				return e
			}
		}
	}
	f := func(ip, country, city, anonymised string) {
		t.Helper()
		e := located(send(ip))
		if e.Country != country || !strings.HasPrefix(e.City, city) || e.IP != anonymised {
			t.Fatalf("%s: country %q, city %q, ip %q; want %q, %q…, %q", ip, e.Country, e.City, e.IP, country, city, anonymised)
		}
	}
	f("81.2.69.160", "GB", "London", "81.2.69.0")       // the MaxMind file
	f("193.99.144.80", "DE", "Hanover", "193.99.144.0") // DB-IP Lite, IPv4
	f("2001:620:0:1::1", "CH", "Zurich", "2001:620::")  // DB-IP Lite, IPv6
	f("10.1.2.3", "", "", "10.1.2.0")                   // a private address: nowhere

	writeCityDB(t, mm, "IE", "Dublin")
	f("81.2.69.160", "GB", "London", "81.2.69.0") // no check for an hour, no signal yet
	if err := cmd.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, "the replaced database in use", func() (bool, error) {
		return located(send("81.2.69.160")).Country == "IE", nil
	})
	if !strings.Contains(cmd.Output(), "GeoIP databases reloaded") {
		t.Fatalf("no reload logged:\n%s", cmd.Output())
	}
}

// A GeoIP database that cannot be used stops the collector at start with a message
// naming the file, instead of leaving the country column empty.
func TestCollectorRefusesUnusableGeoIPDatabase(t *testing.T) {
	bin := testenv.Binary(t, "./cmd/collector")
	dir := t.TempDir()
	corrupt := filepath.Join(dir, "GeoLite2-City.mmdb")
	if err := os.WriteFile(corrupt, []byte("<html>404 Not Found</html>"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.mmdb")
	writeCityDB(t, good, "GB", "London")
	f := func(geoip, want string) {
		t.Helper()
		cmd := testenv.Start(t, bin, "-http.listen", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "-sites", "config/dev.json",
			"-spool.dir", filepath.Join(t.TempDir(), "spool"), "-geoip", geoip)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("-geoip %s: the collector exited successfully", geoip)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("-geoip %s: the collector is still running:\n%s", geoip, cmd.Output())
		}
		if out := cmd.Output(); !strings.Contains(out, want) {
			t.Fatalf("-geoip %s: output does not say %q:\n%s", geoip, want, out)
		}
	}
	f(filepath.Join(dir, "missing.mmdb"), "cannot open GeoIP database: stat "+filepath.Join(dir, "missing.mmdb")+": no such file")
	f(good+","+corrupt, "cannot open GeoIP database "+corrupt+": error opening database: invalid MaxMind DB file")
}
