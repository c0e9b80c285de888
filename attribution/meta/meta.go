// Package meta sends conversions to the Meta Conversions API: server events deduplicated
// with the pixel by event_id (the conversion id), with the browser ids Meta matches on
// (fbc, fbp, IP address, user agent) and the email hash. Deliveries go through the
// webhook package's durable queue; Target makes their requests and reads Meta's answers.
package meta

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is the Graph API base of the Conversions API, with the version in use.
const DefaultURL = "https://graph.facebook.com/v25.0"

// MaxAge is how old an event may be when Meta receives it: older ones refuse the whole
// request, so they are not sent at all.
const MaxAge = 7 * 24 * time.Hour

// Body is what is POSTed to /<pixel id>/events (the access token goes in the query).
type Body struct {
	Data          []Event `json:"data"`
	TestEventCode string  `json:"test_event_code,omitempty"`
}

// Event is one server event.
type Event struct {
	EventName      string      `json:"event_name"`
	EventTime      int64       `json:"event_time"`
	EventID        string      `json:"event_id"`
	ActionSource   string      `json:"action_source"`
	EventSourceURL string      `json:"event_source_url,omitempty"`
	UserData       UserData    `json:"user_data"`
	CustomData     *CustomData `json:"custom_data,omitempty"`
}

// UserData are the customer information parameters. Em and ExternalID are SHA-256 hex
// digests; the others are sent as they are, as Meta requires.
type UserData struct {
	Em         []string `json:"em,omitempty"`
	ExternalID []string `json:"external_id,omitempty"`
	ClientIP   string   `json:"client_ip_address,omitempty"`
	ClientUA   string   `json:"client_user_agent,omitempty"`
	Fbc        string   `json:"fbc,omitempty"`
	Fbp        string   `json:"fbp,omitempty"`
}

// CustomData carries the conversion's value in its own currency.
type CustomData struct {
	Value    float64 `json:"value"`
	Currency string  `json:"currency"`
}

// Conversion is what an event is made of.
type Conversion struct {
	ID         string
	EventName  string
	OccurredAt time.Time
	Value      float64
	Currency   string // "" is the site's currency, given as SiteCurrency
	// EmailSHA256 are the hashes of the person's addresses (the conversion's first).
	EmailSHA256 []string
	UserID      string
}

// Browser is what the person's browser told before the conversion; zero fields are unknown.
type Browser struct {
	Fbc, Fbp string
	IP, UA   string
	URL      string // the page of the conversion, or the last one before it
	// Fbclid and FbclidAt are the last fbclid a landing URL carried and when: an fbc is
	// made of them when no _fbc cookie was read.
	Fbclid   string
	FbclidAt time.Time
}

// NewEvent builds the event of c. It is a website event when the browser's user agent
// and page are known (Meta requires both for those), else a system-generated one.
func NewEvent(c Conversion, b Browser, siteCurrency string) Event {
	e := Event{EventName: c.EventName, EventTime: c.OccurredAt.Unix(), EventID: c.ID, ActionSource: "system_generated"}
	if b.UA != "" && b.URL != "" {
		e.ActionSource, e.EventSourceURL = "website", b.URL
		e.UserData.ClientUA = b.UA
	}
	for _, h := range c.EmailSHA256 {
		if h = strings.ToLower(strings.TrimSpace(h)); isSHA256(h) && len(e.UserData.Em) < 5 && !slices.Contains(e.UserData.Em, h) {
			e.UserData.Em = append(e.UserData.Em, h)
		}
	}
	if id := strings.TrimSpace(c.UserID); id != "" {
		e.UserData.ExternalID = []string{Hash(id)}
	}
	e.UserData.ClientIP = b.IP
	e.UserData.Fbp = b.Fbp
	e.UserData.Fbc = b.Fbc
	if e.UserData.Fbc == "" && b.Fbclid != "" {
		e.UserData.Fbc = FBC(b.FbclidAt, b.Fbclid)
	}
	if c.Value != 0 || c.EventName == "Purchase" { // Meta requires value and currency of a Purchase
		cur := strings.ToUpper(c.Currency)
		if cur == "" {
			cur = siteCurrency
		}
		e.CustomData = &CustomData{Value: c.Value, Currency: cur}
	}
	return e
}

// FBC is the fbc of a click: Meta's format for a click id read at a time,
// fb.1.<creation time in ms>.<fbclid>, the click id as it came (it is case-sensitive).
func FBC(at time.Time, fbclid string) string {
	return "fb.1." + strconv.FormatInt(at.UnixMilli(), 10) + "." + fbclid
}

// Hash is the lower-case hex SHA-256 of s, as Meta requires for hashed parameters.
func Hash(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func isSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// Payload is the stored body of one event.
func Payload(e Event) ([]byte, error) { return json.Marshal(Body{Data: []Event{e}}) }
