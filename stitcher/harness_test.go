package stitcher

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/google/uuid"
	"github.com/segmentio/kafka-go"

	"touchpoint/internal/event"
	"touchpoint/internal/kafkabus"
	siteconf "touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// harness is one integration test's own topic, consumer group and database.
type harness struct {
	t     *testing.T
	kc    *kafkabus.Config
	group string
	conn  driver.Conn
	db    string
	w     *kafka.Writer
	batch int           // events per stitcher batch
	flush time.Duration // longest wait for a batch
	sites *siteconf.Registry
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	kc := testenv.KafkaConfig(t)
	conn, db := testenv.FreshDatabase(t)
	c := testenv.Topics(t, kc.Brokers, 2)
	w := &kafka.Writer{Addr: kafka.TCP(c.BrokerList()...), Topic: c.Topic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 5 * time.Millisecond, BatchSize: 1000}
	t.Cleanup(func() { w.Close() })
	return &harness{t: t, kc: c, group: c.Topic, conn: conn, db: db, w: w, batch: 500, flush: 100 * time.Millisecond}
}

// send produces events keyed like the collector does.
func (h *harness) send(evs ...event.Enriched) {
	h.t.Helper()
	msgs := make([]kafka.Message, len(evs))
	for i := range evs {
		b, err := json.Marshal(&evs[i])
		if err != nil {
			h.t.Fatal(err)
		}
		msgs[i] = kafka.Message{Key: evs[i].Key(), Value: b}
	}
	h.write(msgs...)
}

// write produces messages, retrying while a new topic's metadata is still spreading.
func (h *harness) write(msgs ...kafka.Message) {
	h.t.Helper()
	var err error
	for range 50 {
		if err = h.w.WriteMessages(context.Background(), msgs...); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("cannot produce: %v", err)
}

// run starts a stitcher in this process writing to conn/db; the returned function stops it.
func (h *harness) run(conn driver.Conn, db string) func() {
	h.t.Helper()
	cfg := &Config{Group: h.group, BatchSize: h.batch, FlushEvery: h.flush, MaxVisitors: 100000, Sites: h.sites}
	src, dlq, err := OpenKafka(h.kc, h.group)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		New(cfg, src, dlq, NewClickHouseStore(conn, db)).Run(ctx)
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	h.t.Cleanup(stop)
	return stop
}

func (h *harness) count(q string, args ...any) uint64 {
	h.t.Helper()
	var n uint64
	if err := h.conn.QueryRow(context.Background(), fmt.Sprintf(q, h.db), args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", q, err)
	}
	return n
}

// waitCount waits until the count query returns want. A batch's tables are written by
// inserts running side by side, so a check of one table after waiting on another waits too.
func (h *harness) waitCount(timeout time.Duration, q string, want uint64, args ...any) {
	h.t.Helper()
	var got uint64
	testenv.Eventually(h.t, timeout, fmt.Sprintf("%s = %d", q, want), func() (bool, error) {
		got = h.count(q, args...)
		if got != want {
			return false, fmt.Errorf("count is %d (events: %d)", got, h.count("SELECT count() FROM %s.events"))
		}
		return true, nil
	})
}

// written waits until the batches holding the events whose rows the test saw are written
// in full. Seeing one table's row of an event only says its batch's inserts began. Batches
// are inserted one after another, and an event sent now goes into a later batch than those:
// once its row is in, their inserts are done.
func (h *harness) written() {
	h.t.Helper()
	marker := pageview(uuid.NewString(), 0, "https://shop.example.com/", "")
	h.send(marker)
	h.waitCount(20*time.Second, `SELECT count() FROM %s.events WHERE event_id = ?`, 1, marker.ID)
}

const site = "demo"

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// browser builds a browser event of visitor vid at t0+at.
func browser(typ, vid string, at time.Duration, url, ref string) event.Enriched {
	ts := t0.Add(at).UnixMilli()
	return event.Enriched{Event: event.Event{ID: uuid.NewString(), Type: typ, TS: ts, VID: vid, URL: url, Ref: ref},
		Site: site, ReceivedAt: ts + 50, Origin: event.OriginWeb, Browser: "Firefox", Country: "GB"}
}

func pageview(vid string, at time.Duration, url, ref string) event.Enriched {
	return browser(event.Pageview, vid, at, url, ref)
}

// contactForm is the submit of a contact form with an email field: a lead.
func contactForm(vid string, at time.Duration, url string) event.Enriched {
	e := browser(event.FormSubmit, vid, at, url, "")
	e.Form = &event.Form{ID: "contact", Fields: []string{"name", "email", "message"}}
	return e
}

func identify(vid string, at time.Duration, emailHash string) event.Enriched {
	e := browser(event.Identify, vid, at, "https://shop.example.com/thanks", "")
	e.Traits = map[string]string{"email_sha256": emailHash}
	return e
}

// serverConversion is a /v1/conversions call as the collector puts it on Kafka.
func serverConversion(id, typ string, at time.Duration, vid, emailHash string, value float64) event.Enriched {
	ts := t0.Add(at).UnixMilli()
	e := event.Enriched{Event: event.Event{ID: uuid.NewString(), Type: event.Conversion, TS: ts, VID: vid,
		Conversion: &event.ConversionInfo{ID: id, Type: typ, Value: value, Currency: "EUR"}},
		Site: site, ReceivedAt: ts, Origin: event.OriginServer}
	if emailHash != "" {
		e.Traits = map[string]string{"email_sha256": emailHash}
	}
	return e
}
