package meta_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"touchpoint/attribution/meta"
	"touchpoint/attribution/meta/metatest"
	"touchpoint/attribution/webhook"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

func TestNewEvent(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	email := event.EmailSHA256("ann@example.com")
	ts := strconv.FormatInt(at.Unix(), 10)
	f := func(c meta.Conversion, b meta.Browser, want string) {
		t.Helper()
		got, err := json.Marshal(meta.NewEvent(c, b, "EUR"))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != want {
			t.Fatalf("event\n got %s\nwant %s", got, want)
		}
	}
	// A web lead: website event with the browser's ids, the email hash, no value.
	f(meta.Conversion{ID: "lead-1", EventName: "Lead", OccurredAt: at, EmailSHA256: []string{email, " " + strings.ToUpper(email), "nothex"}},
		meta.Browser{Fbc: "fb.1.1764500000000.IwAR1", Fbp: "fb.1.1764500000000.42", IP: "86.128.5.0", UA: "Mozilla/5.0", URL: "https://shop.example/demo"},
		`{"event_name":"Lead","event_time":`+ts+`,"event_id":"lead-1","action_source":"website","event_source_url":"https://shop.example/demo",`+
			`"user_data":{"em":["`+email+`"],"client_ip_address":"86.128.5.0","client_user_agent":"Mozilla/5.0",`+
			`"fbc":"fb.1.1764500000000.IwAR1","fbp":"fb.1.1764500000000.42"}}`)
	// A CRM sale in dollars of a person seen only through an fbclid landing: fbc made from
	// it, value in its own currency, the user id hashed, no user agent: system generated.
	f(meta.Conversion{ID: "sale-1", EventName: "Purchase", OccurredAt: at, Value: 99.5, Currency: "usd", UserID: " u-42 "},
		meta.Browser{Fbclid: "IwAR_Zz-9", FbclidAt: time.UnixMilli(1764500000123)},
		`{"event_name":"Purchase","event_time":`+ts+`,"event_id":"sale-1","action_source":"system_generated",`+
			`"user_data":{"external_id":["`+meta.Hash("u-42")+`"],"fbc":"fb.1.1764500000123.IwAR_Zz-9"},"custom_data":{"value":99.5,"currency":"USD"}}`)
	// A Purchase of no value still says its value and currency (the site's); a cookie wins
	// over the fbclid it came from.
	f(meta.Conversion{ID: "sale-2", EventName: "Purchase", OccurredAt: at},
		meta.Browser{Fbc: "fb.1.1764500000000.IwAR1", Fbclid: "IwAR1", FbclidAt: at, UA: "UA"},
		`{"event_name":"Purchase","event_time":`+ts+`,"event_id":"sale-2","action_source":"system_generated",`+
			`"user_data":{"fbc":"fb.1.1764500000000.IwAR1"},"custom_data":{"value":0,"currency":"EUR"}}`)
}

// queue is a webhook.Queue in memory.
type queue struct {
	mu   sync.Mutex
	rows map[string]webhook.Delivery
	log  []webhook.Attempt
	v    uint64
}

func (q *queue) Save(_ context.Context, ds ...webhook.Delivery) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range ds {
		q.v++
		ds[i].Version = q.v
		q.rows[ds[i].ID] = ds[i]
	}
	return nil
}
func (q *queue) Pending(context.Context) ([]webhook.Delivery, error)       { return nil, nil }
func (q *queue) Since(context.Context, uint64) ([]webhook.Delivery, error) { return nil, nil }
func (q *queue) Record(_ context.Context, a webhook.Attempt) error {
	q.mu.Lock()
	q.log = append(q.log, a)
	q.mu.Unlock()
	return nil
}
func (q *queue) get(id string) webhook.Delivery { q.mu.Lock(); defer q.mu.Unlock(); return q.rows[id] }

// send runs a sender with the Meta target against the receiver until the delivery of ev
// is no longer pending, and returns it.
func send(t *testing.T, rcv *metatest.Receiver, m *site.Meta, ev meta.Event) webhook.Delivery {
	t.Helper()
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "shop", Meta: m}}})
	if err != nil {
		t.Fatal(err)
	}
	target := &meta.Target{Sites: sites, URL: "http://127.0.0.1:1/unused"}
	q := &queue{rows: map[string]webhook.Delivery{}}
	s := webhook.NewSender(q, map[string]webhook.Target{webhook.TargetMeta: target}, 2*time.Second)
	s.Backoff = webhook.ExpBackoff(10*time.Millisecond, 20*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	body, err := meta.Payload(ev)
	if err != nil {
		t.Fatal(err)
	}
	d := webhook.Delivery{Site: "shop", ID: "dlv_" + ev.EventID, Target: webhook.TargetMeta, Event: ev.EventName, ConversionID: ev.EventID,
		Payload: body, State: webhook.Pending}
	q.Save(ctx, d)
	s.Enqueue(q.get(d.ID))
	deadline := time.Now().Add(5 * time.Second)
	for q.get(d.ID).State == webhook.Pending {
		if time.Now().After(deadline) {
			t.Fatalf("still pending: %+v", q.get(d.ID))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return q.get(d.ID)
}

func lead(id string) meta.Event {
	return meta.NewEvent(meta.Conversion{ID: id, EventName: "Lead", OccurredAt: time.Now().Add(-time.Hour),
		EmailSHA256: []string{event.EmailSHA256("ann@example.com")}}, meta.Browser{Fbp: "fb.1.1764500000000.42", IP: "2a00:23c0::",
		UA: "Mozilla/5.0", URL: "https://shop.example/demo"}, "EUR")
}

// An event reaches the pixel's /events with the token, every field as Meta requires;
// the site's test_event_code goes with it.
func TestSenderDeliversToTheConversionsAPI(t *testing.T) {
	rcv := metatest.New("123456", "EAAB-token")
	defer rcv.Close()
	d := send(t, rcv, &site.Meta{PixelID: "123456", AccessToken: "EAAB-token", Endpoint: rcv.URL, TestEventCode: "TEST123"}, lead("lead-1"))
	if d.State != webhook.Delivered || d.Attempts != 1 || d.URL != rcv.URL+"/123456/events" {
		t.Fatalf("delivery %+v, refusals %v", d, rcv.Refusals())
	}
	evs := rcv.Events()
	if len(evs) != 1 || evs[0].EventID != "lead-1" || evs[0].UserData.ClientIP != "2a00:23c0::" || rcv.TestEventCodes()[0] != "TEST123" {
		t.Fatalf("received %+v, codes %v", evs, rcv.TestEventCodes())
	}
	// What the receiver refuses, it refuses: an event older than seven days.
	old := lead("old")
	old.EventTime = time.Now().Add(-8 * 24 * time.Hour).Unix()
	if d := send(t, rcv, &site.Meta{PixelID: "123456", AccessToken: "EAAB-token", Endpoint: rcv.URL}, old); d.State != webhook.Failed ||
		!strings.Contains(d.Error, "more than 7 days ago") || d.Attempts != 1 {
		t.Fatalf("an old event: %+v", d)
	}
}

// Meta's answers decide: transient errors and rate limits are tried again; a bad token
// fails the delivery at once, and the token never shows in the error, even when Meta's
// message repeats it.
func TestMetaAnswers(t *testing.T) {
	rcv := metatest.New("123456", "right-token")
	defer rcv.Close()
	m := &site.Meta{PixelID: "123456", AccessToken: "right-token", Endpoint: rcv.URL}
	rcv.Then(metatest.Answer{Status: 500, Body: `{"error":{"message":"An unknown error occurred","code":1,"is_transient":true}}`},
		metatest.Answer{Status: 400, Body: `{"error":{"message":"User request limit reached","code":17,"error_subcode":2446079}}`},
		metatest.Answer{Status: 503, Body: `upstream down`})
	if d := send(t, rcv, m, lead("lead-r")); d.State != webhook.Delivered || d.Attempts != 4 {
		t.Fatalf("after passing errors: %+v", d)
	}
	wrong := &site.Meta{PixelID: "123456", AccessToken: "wrong-token-xyz", Endpoint: rcv.URL}
	d := send(t, rcv, wrong, lead("lead-t"))
	if d.State != webhook.Failed || d.Attempts != 1 || !strings.Contains(d.Error, "code 190") || !strings.Contains(d.Error, "fbtrace_id AbCdEf123") ||
		strings.Contains(d.Error, "wrong-token-xyz") || !strings.Contains(d.Error, "[redacted]") {
		t.Fatalf("with a bad token: %+v", d)
	}
	if d := send(t, rcv, &site.Meta{PixelID: "123456", Endpoint: rcv.URL}, lead("lead-n")); d.State != webhook.Failed ||
		!strings.Contains(d.Error, "META_ACCESS_TOKEN") || d.Attempts != 0 {
		t.Fatalf("without a token: %+v", d)
	}
}
