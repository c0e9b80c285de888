// Package metatest is a local stand-in for the Meta Conversions API: it checks every
// request field by field as Meta documents them (the path and token, hashing, the fbc and
// fbp formats, what website events require, the seven-day limit) and answers as Meta does,
// with the Graph API's error object for what it refuses.
package metatest

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"touchpoint/attribution/meta"
)

// Answer is a scripted answer given instead of checking a request.
type Answer struct {
	Status int
	Body   string
}

// Receiver records the events it accepted and why it refused others.
type Receiver struct {
	PixelID, Token string
	URL            string // the base to configure (meta.endpoint), with a version

	mu       sync.Mutex
	srv      *httptest.Server
	script   []Answer
	events   []meta.Event
	refusals []string
	requests int
	codes    []string // test_event_code of each accepted request
}

// New starts a receiver for one pixel and access token.
func New(pixelID, token string) *Receiver {
	r := &Receiver{PixelID: pixelID, Token: token}
	r.srv = httptest.NewServer(r)
	r.URL = r.srv.URL + "/v25.0"
	return r
}

// Close stops the receiver.
func (r *Receiver) Close() { r.srv.Close() }

// Then scripts the answers to the next requests, before any check.
func (r *Receiver) Then(as ...Answer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.script = append(r.script, as...)
}

// Events returns the accepted events.
func (r *Receiver) Events() []meta.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]meta.Event(nil), r.events...)
}

// Refusals returns why requests were refused.
func (r *Receiver) Refusals() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.refusals...)
}

// Requests is how many requests arrived.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// TestEventCodes returns the test_event_code of each accepted request.
func (r *Receiver) TestEventCodes() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.codes...)
}

var (
	hexRe       = regexp.MustCompile(`^[0-9a-f]{64}$`)
	fbcRe       = regexp.MustCompile(`^fb\.[0-9]\.[0-9]{13}\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)?$`)
	fbpRe       = regexp.MustCompile(`^fb\.[0-9]\.[0-9]{13}\.[0-9]+(\.[A-Za-z0-9_-]+)?$`)
	currencyRe  = regexp.MustCompile(`^[A-Za-z]{3}$`)
	actionTypes = map[string]bool{"email": true, "website": true, "app": true, "phone_call": true, "chat": true,
		"physical_store": true, "system_generated": true, "business_messaging": true, "other": true}
)

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.mu.Lock()
	r.requests++
	if len(r.script) > 0 {
		a := r.script[0]
		r.script = r.script[1:]
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.Status)
		fmt.Fprint(w, a.Body)
		return
	}
	r.mu.Unlock()
	status, code, subcode, msg := r.check(req)
	if msg != "" {
		r.mu.Lock()
		r.refusals = append(r.refusals, msg)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"message": msg, "type": "OAuthException", "code": code,
			"error_subcode": subcode, "is_transient": false, "fbtrace_id": "AbCdEf123"}})
		return
	}
}

// check validates a request and records its events; msg is empty when it is accepted.
func (r *Receiver) check(req *http.Request) (status, code, subcode int, msg string) {
	if req.Method != http.MethodPost {
		return 400, 100, 0, "method " + req.Method
	}
	if want := "/v25.0/" + r.PixelID + "/events"; req.URL.Path != want {
		return 400, 100, 33, fmt.Sprintf("Unsupported post request: path %s, want %s", req.URL.Path, want)
	}
	if tok := req.URL.Query().Get("access_token"); tok != r.Token {
		return 400, 190, 0, "Invalid OAuth access token - Cannot parse access token " + tok
	}
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return 400, 100, 0, "content type " + ct
	}
	var body struct {
		Data          []json.RawMessage `json:"data"`
		TestEventCode string            `json:"test_event_code"`
	}
	dec := json.NewDecoder(req.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		return 400, 100, 0, "Invalid parameter: " + err.Error()
	}
	if len(body.Data) == 0 || len(body.Data) > 1000 {
		return 400, 100, 0, fmt.Sprintf("data holds %d events", len(body.Data))
	}
	var events []meta.Event
	for i, raw := range body.Data {
		var e meta.Event
		d := json.NewDecoder(strings.NewReader(string(raw)))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return 400, 100, 0, fmt.Sprintf("data[%d]: %v", i, err)
		}
		if m := checkEvent(&e, time.Now()); m != "" {
			return 400, 100, 2804003, fmt.Sprintf("Invalid parameter: data[%d]: %s", i, m)
		}
		events = append(events, e)
	}
	r.mu.Lock()
	r.events = append(r.events, events...)
	r.codes = append(r.codes, body.TestEventCode)
	r.mu.Unlock()
	return 200, 0, 0, ""
}

// checkEvent says what Meta would refuse in e, or "".
func checkEvent(e *meta.Event, now time.Time) string {
	switch {
	case e.EventName == "" || len(e.EventName) > 50:
		return "event_name"
	case e.EventID == "":
		return "event_id is needed to deduplicate with the pixel"
	case !actionTypes[e.ActionSource]:
		return "action_source " + e.ActionSource
	case e.EventTime > now.Add(time.Minute).Unix():
		return "event_time in the future"
	case e.EventTime < now.Add(-meta.MaxAge).Unix():
		return "event_time more than 7 days ago"
	}
	if e.ActionSource == "website" {
		u, err := url.Parse(e.EventSourceURL)
		if e.UserData.ClientUA == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			return "website events need client_user_agent and event_source_url"
		}
	}
	ud := e.UserData
	for _, h := range append(append([]string(nil), ud.Em...), ud.ExternalID...) {
		if !hexRe.MatchString(h) {
			return "em and external_id must be SHA-256 hashes in lower-case hex: " + h
		}
	}
	if ud.ClientIP != "" && net.ParseIP(ud.ClientIP) == nil {
		return "client_ip_address " + ud.ClientIP
	}
	if ud.Fbc != "" && !fbcRe.MatchString(ud.Fbc) {
		return "fbc " + ud.Fbc
	}
	if ud.Fbp != "" && !fbpRe.MatchString(ud.Fbp) {
		return "fbp " + ud.Fbp
	}
	if len(ud.Em) == 0 && len(ud.ExternalID) == 0 && ud.Fbc == "" && ud.Fbp == "" && (ud.ClientIP == "" || ud.ClientUA == "") {
		return "user_data holds no customer information parameter"
	}
	if c := e.CustomData; c != nil && (!currencyRe.MatchString(c.Currency) || c.Value < 0) {
		return "custom_data value and currency"
	}
	if e.EventName == "Purchase" && e.CustomData == nil {
		return "a Purchase needs custom_data.value and currency"
	}
	return ""
}
