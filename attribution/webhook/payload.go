package webhook

import (
	"time"

	"touchpoint/scoring/rules"
)

// Events of the CRM webhook.
const (
	// LeadCreated: a lead is credited for the first time.
	LeadCreated = "lead.created"
	// ConversionCreated: any other conversion (a lifecycle stage, a sale) is credited for
	// the first time.
	ConversionCreated = "conversion.created"
	// AttributionUpdated: a conversion's first or last touch changed, because persons
	// were merged or a session arrived late.
	AttributionUpdated = "attribution.updated"
)

// Payload is the JSON body of a CRM webhook.
type Payload struct {
	// ID names this delivery; a receiver that sees it twice (a retry whose answer was
	// lost, "send again") can ignore the second one.
	ID         string     `json:"id"`
	Event      string     `json:"event"`
	Site       string     `json:"site"`
	CreatedAt  time.Time  `json:"created_at"`
	Conversion Conversion `json:"conversion"`
	Person     Person     `json:"person"`
	// FirstTouch and LastTouch are the touches first-click and last-click credit; null
	// when the lookback window before the conversion holds no touchpoint.
	FirstTouch *Touch `json:"first_touch"`
	LastTouch  *Touch `json:"last_touch"`
	// TouchCount is the number of touchpoints in the lookback window.
	TouchCount int `json:"touch_count"`
	// DaysToConvert is the time from the first touch to the conversion, in days (two
	// decimals); null without a touchpoint.
	DaysToConvert *float64 `json:"days_to_convert"`
	// Previous holds the touches credited before (attribution.updated only).
	Previous *Previous `json:"previous,omitempty"`
	// Score is the person's lead score when the lead was credited (lead.created only);
	// null when the site does not score leads.
	Score *rules.Score `json:"score,omitempty"`
}

// Conversion is the conversion a webhook is about.
type Conversion struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	LeadType   string    `json:"lead_type,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
	Value      float64   `json:"value"`
	Currency   string    `json:"currency"`
}

// Person is who converted. Email is there only when the site sets
// webhook_include_email and the conversion carried an address.
type Person struct {
	ID          string `json:"id"`
	Email       string `json:"email,omitempty"`
	EmailSHA256 string `json:"email_sha256,omitempty"`
	UserID      string `json:"user_id,omitempty"`
}

// Touch is a touchpoint (session) as the CRM receives it.
type Touch struct {
	SessionID   string    `json:"session_id"`
	Channel     string    `json:"channel"`
	Source      string    `json:"source"`
	Medium      string    `json:"medium"`
	Campaign    string    `json:"campaign"`
	Term        string    `json:"term"`
	Content     string    `json:"content"`
	LandingURL  string    `json:"landing_url"`
	LandingPage string    `json:"landing_page"`
	Referrer    string    `json:"referrer"`
	ClickIDType string    `json:"click_id_type"` // gclid, gbraid, wbraid, dclid, msclkid, fbclid, ttclid, li_fat_id, twclid or ""
	ClickID     string    `json:"click_id"`
	Time        time.Time `json:"time"`
}

// Previous are the touches an attribution.updated replaces.
type Previous struct {
	FirstTouch *Touch `json:"first_touch"`
	LastTouch  *Touch `json:"last_touch"`
}
