// Package event defines the event contract (schemas/event.schema.json, docs/collector.md): what browsers and servers send to the
// collector (Event) and what the collector writes to Kafka after enrichment (Enriched).
package event

import "encoding/json"

// Event types accepted from clients.
const (
	Pageview   = "pageview"
	FormSubmit = "form_submit"
	Identify   = "identify"
	Track      = "track"
	Conversion = "conversion"
	CallClick  = "call_click"
	EmailClick = "email_click"
	// Call is a phone call the collector recorded from a provider's webhook (or
	// /v1/calls); NumberLease is a tracking number handed to a visitor. The collector
	// makes both: clients cannot send them.
	Call        = "call"
	NumberLease = "number_lease"
)

// Types is the set of valid event types.
var Types = map[string]bool{
	Pageview: true, FormSubmit: true, Identify: true, Track: true,
	Conversion: true, CallClick: true, EmailClick: true, Call: true, NumberLease: true,
}

// CollectorTypes are the event types only the collector makes.
var CollectorTypes = map[string]bool{Call: true, NumberLease: true}

// Batch is the body of POST /e and POST /v1/import.
type Batch struct {
	Site   string  `json:"site"`
	Events []Event `json:"events"`
}

// Event is one event as a client sends it. Fields the server owns (site, receive time,
// enrichment) are not here, so a client can never set them.
type Event struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	TS         int64           `json:"ts"` // client time, epoch milliseconds
	VID        string          `json:"vid,omitempty"`
	URL        string          `json:"url,omitempty"`
	Ref        string          `json:"ref,omitempty"`
	Title      string          `json:"title,omitempty"`
	Name       string          `json:"name,omitempty"`
	Props      json.RawMessage `json:"props,omitempty"` // flat JSON object
	Traits     Traits          `json:"traits,omitempty"`
	Form       *Form           `json:"form,omitempty"`
	Conversion *ConversionInfo `json:"conversion,omitempty"`
	Screen     string          `json:"screen,omitempty"`
	Lang       string          `json:"lang,omitempty"`
	TZ         string          `json:"tz,omitempty"`
	// IP and UA are accepted from /v1/import only, so history is enriched like live data.
	// The collector keeps UA on the events of sites that send to the Meta Conversions API.
	IP string `json:"ip,omitempty"`
	UA string `json:"ua,omitempty"`
	// Fbc and Fbp are Meta's `_fbc` (click) and `_fbp` (browser) cookies as the tracker
	// read them; the collector keeps them only for sites that send to Meta.
	Fbc string `json:"fbc,omitempty"`
	Fbp string `json:"fbp,omitempty"`
}

// Form describes a submitted form; sensitive fields are never listed by the tracker, but
// it says whether the form has a password field and whether it is a search form (role or
// input type "search"), which are never leads.
type Form struct {
	ID       string   `json:"id,omitempty"`
	Name     string   `json:"name,omitempty"`
	Action   string   `json:"action,omitempty"`
	Fields   []string `json:"fields,omitempty"`
	Search   bool     `json:"search,omitempty"`
	Password bool     `json:"password,omitempty"`
}

// ConversionInfo is a lead, sale or lifecycle stage attached to a conversion event.
type ConversionInfo struct {
	ID       string  `json:"id,omitempty"`
	Type     string  `json:"type,omitempty"`
	LeadType string  `json:"lead_type,omitempty"`
	Value    float64 `json:"value,omitempty"`
	Currency string  `json:"currency,omitempty"`
}

// Enriched is the message on the tp.events topic: the client's event plus what the
// collector determined. IP is anonymised; Traits carry email_sha256 instead of the email
// unless the site keeps PII.
type Enriched struct {
	Event
	Site       string `json:"site"`
	ReceivedAt int64  `json:"received_at"` // server time, epoch milliseconds
	Origin     string `json:"origin"`      // how it arrived: web, pixel, import, server
	Country    string `json:"country,omitempty"`
	Region     string `json:"region,omitempty"`
	City       string `json:"city,omitempty"`
	Browser    string `json:"browser,omitempty"`
	OS         string `json:"os,omitempty"`
	Device     string `json:"device,omitempty"`
	Bot        bool   `json:"bot,omitempty"`
}

// Trait keys with a meaning to Touchpoint. The collector replaces TraitEmail by
// TraitEmailSHA256 (hex SHA-256 of the trimmed, lower-cased address) and keeps the email
// itself only for sites configured with keep_pii.
const (
	TraitEmail       = "email"
	TraitEmailSHA256 = "email_sha256"
	TraitUserID      = "user_id"
)

// Device types in Enriched.Device.
const (
	DeviceDesktop = "desktop"
	DeviceMobile  = "mobile"
	DeviceTablet  = "tablet"
	DeviceBot     = "bot"
)

// Origins of an enriched event.
const (
	OriginWeb    = "web"
	OriginPixel  = "pixel"
	OriginImport = "import"
	OriginServer = "server"
)

// Trusted reports whether the event came with the site's secret (a server call or an
// import), rather than from a browser, where anyone can send anything.
func (e *Enriched) Trusted() bool { return e.Origin == OriginServer || e.Origin == OriginImport }

// ServerRank is added to the version of a touchpoint.conversions row written from a trusted
// event, whose version is otherwise its receive time in milliseconds: a server's row always
// replaces a browser's row of the same conversion id, and a browser's never replaces a
// server's, whatever order they arrive in. Versions stay below 2^63.
const ServerRank = 1 << 62

// CallEndedRank is added to the version of an ended call's row: a call's webhooks can
// arrive within one millisecond, and its ended state (status, duration) always replaces
// the ringing one.
const CallEndedRank = 1 << 61

// ReceivedMask keeps the receive time in milliseconds of a touchpoint.conversions row's
// version: the bits below the ranks above.
const ReceivedMask = CallEndedRank - 1

// ReceivedMs is the receive time in milliseconds of a touchpoint.conversions row.
func ReceivedMs(version uint64) uint64 { return version & ReceivedMask }

// Key is the Kafka message key: one visitor's events stay on one partition, in order.
// Events without a visitor id (consent pending, server calls by email) key by event id.
func (e *Enriched) Key() []byte {
	id := e.VID
	if id == "" {
		id = e.ID
	}
	return []byte(e.Site + "/" + id)
}
