package site

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
)

// Secret is a setting that must be kept in clear because requests are signed or
// authorised with it (the webhook secret, the Meta access token). It prints as
// "[redacted]" with every fmt verb, so a logged Site never shows it; string(s) reads it.
type Secret string

// String hides the secret.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the secret from %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// Meta is a site's Meta Conversions API settings (docs/exports.md). Only PixelID tells the
// collector anything: it keeps the `_fbc` and `_fbp` cookies and the browser's user agent
// of sites that set it. The access token is only needed by the attribution service.
type Meta struct {
	PixelID string `json:"pixel_id"`
	// AccessToken is the Conversions API token of the pixel; best given as
	// TP_SITE_<ID>_META_ACCESS_TOKEN rather than in the file.
	AccessToken Secret `json:"access_token,omitempty"`
	// Endpoint replaces the service's Graph API base URL (-meta.url) for this site: a
	// Conversions API Gateway, or a test receiver. The pixel id and /events are appended.
	Endpoint string `json:"endpoint,omitempty"`
	// Events maps conversion types to the Meta event names sent for them; types not
	// listed are not sent. Default: lead -> Lead, sale -> Purchase.
	Events map[string]string `json:"events,omitempty"`
	// TestEventCode sends every event as a test event (Events Manager's Test events tab).
	TestEventCode string `json:"test_event_code,omitempty"`
}

// DefaultMetaEvents are the Meta event names of conversion types when a site lists none.
var DefaultMetaEvents = map[string]string{"lead": "Lead", "sale": "Purchase"}

var (
	pixelRe     = regexp.MustCompile(`^[0-9]{1,32}$`)
	metaEventRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_ ]{0,49}$`)
)

// SendsToMeta reports whether the site sends its conversions to the Meta Conversions API.
func (s *Site) SendsToMeta() bool { return s != nil && s.Meta != nil && s.Meta.PixelID != "" }

// MetaEvent is the Meta event name of a conversion type, or "" when it is not sent.
func (s *Site) MetaEvent(conversionType string) string {
	if !s.SendsToMeta() {
		return ""
	}
	if s.Meta.Events == nil {
		return DefaultMetaEvents[conversionType]
	}
	return s.Meta.Events[conversionType]
}

// KeepsEmail reports whether the collector keeps raw email addresses next to their hash:
// the site keeps PII, or sends the address to its CRM.
func (s *Site) KeepsEmail() bool { return s.KeepPII || s.WebhookIncludeEmail }

// checkOutbound validates the webhook and Meta settings.
func (s *Site) checkOutbound() error {
	if s.WebhookURL != "" {
		if err := checkHTTPURL(s.WebhookURL); err != nil {
			return fmt.Errorf("webhook_url: %w", err)
		}
	}
	m := s.Meta
	if m == nil {
		return nil
	}
	m.PixelID = strings.TrimSpace(m.PixelID)
	if m.PixelID == "" {
		if m.AccessToken != "" || m.Endpoint != "" || len(m.Events) > 0 {
			return fmt.Errorf("meta: pixel_id is required")
		}
		return nil
	}
	if !pixelRe.MatchString(m.PixelID) {
		return fmt.Errorf("meta: pixel_id %q is not a number (the dataset id of Events Manager)", m.PixelID)
	}
	if m.Endpoint != "" {
		if err := checkHTTPURL(m.Endpoint); err != nil {
			return fmt.Errorf("meta: endpoint: %w", err)
		}
	}
	for typ, name := range m.Events {
		if typ == "" || !metaEventRe.MatchString(name) {
			return fmt.Errorf("meta: events: %q -> %q: a conversion type and an event name of up to 50 letters, digits, '_' or spaces", typ, name)
		}
	}
	return nil
}

func checkHTTPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("not an http(s) URL")
	}
	return nil
}
