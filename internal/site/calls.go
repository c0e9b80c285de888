package site

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	"touchpoint/internal/channel"
	"touchpoint/internal/phone"
)

// CallTracking is a site's call_tracking: the phone numbers the snippet shows visitors in
// place of the site's own, and how call providers authenticate their webhooks.
type CallTracking struct {
	Pools []NumberPool `json:"pools"`
	// CountryCode is the country calling code of numbers written nationally on the site
	// and by providers ("44" for "(020) 7123 4567"); empty: the country of the first
	// pool's default number is not guessed, and national numbers match by their last digits.
	CountryCode string `json:"country_code,omitempty"`
	// TwilioAuthToken checks X-Twilio-Signature; CallRailSigningKey checks CallRail's
	// Signature header. Both are HMAC keys and so kept in clear.
	TwilioAuthToken    string `json:"twilio_auth_token,omitempty"`
	CallRailSigningKey string `json:"callrail_signing_key,omitempty"`
}

// NumberPool is a set of tracking numbers handed to visitors' sessions, one number per
// session at a time, in place of the site's Default number; or, with Source set, a static
// number of its own (a print ad, a directory listing) whose calls go to that source.
type NumberPool struct {
	ID      string   `json:"id"`
	Numbers []string `json:"numbers"` // E.164
	// Default is the site's own number as the pages show it: what the snippet swaps, and
	// what a visitor sees when every number of the pool is held.
	Default string `json:"default,omitempty"`
	// Swap lists further numbers on the pages to replace (the default number is always
	// replaced): in text and in tel: links, written in any format.
	Swap []string `json:"swap,omitempty"`
	// Channels are the channels whose sessions get a pool number; empty: every session.
	Channels []string `json:"channels,omitempty"`
	// HoldMinutes is how long a number stays with a session after its last activity
	// (default 30).
	HoldMinutes int `json:"hold_minutes,omitempty"`
	// ForwardTo is the number a Twilio voice webhook is answered with (TwiML <Dial>): where
	// calls to the pool ring. Empty: the webhook answers no instructions.
	ForwardTo string `json:"forward_to,omitempty"`
	// Source, Medium and Campaign make a static number: every call to it is credited to
	// them, and it is never shown by the snippet.
	Source   string `json:"source,omitempty"`
	Medium   string `json:"medium,omitempty"`
	Campaign string `json:"campaign,omitempty"`
}

// DefaultHoldMinutes is a pool's HoldMinutes when none is configured.
const DefaultHoldMinutes = 30

// Static reports whether the pool is a static number.
func (p *NumberPool) Static() bool { return p.Source != "" }

// Hold is how long a number stays with a session after its last activity.
func (p *NumberPool) Hold() time.Duration { return time.Duration(p.HoldMinutes) * time.Minute }

// StaticChannel is the channel a static number's calls are credited to.
func (p *NumberPool) StaticChannel() string { return channel.Group(p.Source, p.Medium, p.Campaign) }

// AllowsChannel reports whether sessions of channel ch get a number of the pool.
func (p *NumberPool) AllowsChannel(ch string) bool {
	if len(p.Channels) == 0 {
		return true
	}
	for _, c := range p.Channels {
		if strings.EqualFold(c, ch) {
			return true
		}
	}
	return false
}

// HasPools reports whether the site hands out pool numbers (the snippet's call-tracking
// part is served to it).
func (s *Site) HasPools() bool {
	for i := range s.CallTracking.Pools {
		if !s.CallTracking.Pools[i].Static() {
			return true
		}
	}
	return false
}

// PoolOf returns the pool that has number (in any format), and the number as configured;
// nil when no pool of the site has it.
func (s *Site) PoolOf(number string) (*NumberPool, string) {
	for i := range s.CallTracking.Pools {
		p := &s.CallTracking.Pools[i]
		for _, n := range p.Numbers {
			if phone.Same(n, number) {
				return p, n
			}
		}
	}
	return nil, ""
}

// Pool returns the pool with id, or nil.
func (s *Site) Pool(id string) *NumberPool {
	for i := range s.CallTracking.Pools {
		if s.CallTracking.Pools[i].ID == id {
			return &s.CallTracking.Pools[i]
		}
	}
	return nil
}

// SitesWithNumber returns the sites one of whose pools has number.
func (r *Registry) SitesWithNumber(number string) []*Site {
	var out []*Site
	sites := r.cur.Load().cfg.Sites
	for i := range sites {
		if p, _ := sites[i].PoolOf(number); p != nil {
			out = append(out, &sites[i])
		}
	}
	return out
}

var (
	poolIDRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)
	e164Re   = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)
	ccRe     = regexp.MustCompile(`^[1-9][0-9]{0,2}$`)
)

// checkCalls validates call_tracking and fills in defaults.
func (s *Site) checkCalls() error {
	ct := &s.CallTracking
	if ct.CountryCode != "" && !ccRe.MatchString(ct.CountryCode) {
		return fmt.Errorf("call_tracking.country_code %q is not a country calling code (digits, like 44)", ct.CountryCode)
	}
	seen := map[string]string{}
	for i := range ct.Pools {
		p := &ct.Pools[i]
		where := fmt.Sprintf("call_tracking.pools[%d]", i)
		if p.ID == "" {
			p.ID = fmt.Sprintf("pool%d", i+1)
		}
		if !poolIDRe.MatchString(p.ID) {
			return fmt.Errorf("%s: id %q must be 1-32 of a-z, 0-9, '_', '-'", where, p.ID)
		}
		if other := s.Pool(p.ID); other != p {
			return fmt.Errorf("%s: id %q used twice", where, p.ID)
		}
		if len(p.Numbers) == 0 {
			return fmt.Errorf("%s: numbers is empty", where)
		}
		for _, n := range p.Numbers {
			if !e164Re.MatchString(n) {
				return fmt.Errorf("%s: number %q is not E.164 (like +442071234567)", where, n)
			}
			if o, ok := seen[n]; ok {
				return fmt.Errorf("%s: number %s is also in pool %s", where, n, o)
			}
			seen[n] = p.ID
		}
		if p.HoldMinutes == 0 {
			p.HoldMinutes = DefaultHoldMinutes
		}
		if p.HoldMinutes < 0 {
			return fmt.Errorf("%s: hold_minutes must be positive", where)
		}
		if p.ForwardTo != "" && !e164Re.MatchString(p.ForwardTo) {
			return fmt.Errorf("%s: forward_to %q is not E.164", where, p.ForwardTo)
		}
		if p.Static() {
			if len(p.Numbers) != 1 {
				return fmt.Errorf("%s: a static number (source set) is a pool of one number", where)
			}
			continue
		}
		if p.Medium != "" || p.Campaign != "" {
			return fmt.Errorf("%s: medium and campaign need a source (a static number)", where)
		}
		if phone.Digits(p.Default) == "" {
			return fmt.Errorf("%s: default (the site's own number, which the pool's numbers replace) is required", where)
		}
	}
	return nil
}
