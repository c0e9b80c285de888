// Package site holds the per-site configuration shared by the services: who may send
// events (origins, server secret), privacy settings and attribution settings.
// Secrets and the admin token are stored as SHA-256 hex digests, never in clear.
package site

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync/atomic"

	"touchpoint/internal/referrer"
	"touchpoint/scoring/rules"
)

// Site is one tracked website.
type Site struct {
	ID           string   `json:"id"`
	Origins      []string `json:"origins"`       // allowed browser origins; "*" as a port or label wildcard
	SecretSHA256 string   `json:"secret_sha256"` // server API secret, hashed
	CookieDomain string   `json:"cookie_domain,omitempty"`
	KeepPII      bool     `json:"keep_pii,omitempty"` // keep raw emails instead of hashing them
	LookbackDays int      `json:"lookback_days,omitempty"`
	// RetentionDays is how long raw events and sessions are kept (0: forever); see
	// docs/privacy.md.
	RetentionDays int `json:"retention_days,omitempty"`
	// MaxBrowserValue bounds the value of a conversion sent by a browser (tracker or
	// pixel): anyone can post those. 0 means DefaultMaxBrowserValue.
	MaxBrowserValue float64 `json:"max_browser_value,omitempty"`
	// Currency is the ISO 4217 code the reports show money in (default EUR).
	Currency   string `json:"currency,omitempty"`
	WebhookURL string `json:"webhook_url,omitempty"`
	// WebhookSecret signs webhook bodies (HMAC-SHA256); it has to be kept in clear.
	WebhookSecret Secret `json:"webhook_secret,omitempty"`
	// WebhookIncludeEmail puts the address a conversion carried into the webhook's
	// person.email (the collector then keeps addresses, see KeepsEmail).
	WebhookIncludeEmail bool `json:"webhook_include_email,omitempty"`
	// Meta sends conversions to the Meta Conversions API; nil or no pixel id: off.
	Meta *Meta `json:"meta,omitempty"`
	// What the stitcher decides about incoming data (rules.go).
	Domains           []string   `json:"domains,omitempty"`
	ExcludedReferrers []string   `json:"excluded_referrers,omitempty"`
	LeadForms         []LeadRule `json:"lead_forms,omitempty"`
	// CallTracking holds the site's tracking numbers (calls.go).
	CallTracking CallTracking `json:"call_tracking,omitzero"`
	// Scoring are the lead scoring rules of the file; rules stored through
	// PUT /api/v1/scoring replace them (docs/scoring.md).
	Scoring *rules.Rules `json:"scoring,omitempty"`
	// Lifecycle are the lifecycle stages; empty for the default ones.
	Lifecycle Lifecycle `json:"lifecycle,omitzero"`

	secret   []byte          // SecretSHA256 decoded; nil when none is configured
	excluded *referrer.Hosts // ExcludedReferrers read
	origins  []originParts   // Origins read: every browser request is checked against them
}

// Config is the whole configuration file.
type Config struct {
	AdminTokenSHA256 string `json:"admin_token_sha256"`
	Sites            []Site `json:"sites"`
}

// Registry answers questions about the configured sites. Reload replaces the whole
// configuration at once: each call sees either the old or the new one, never a mix.
type Registry struct {
	cur  atomic.Pointer[snapshot]
	file string // where Load read it; "" for a Registry built by New
	// listen are the addresses CheckExposure accepted at start: a reload is checked
	// against them too.
	listen []string
}

// snapshot is one validated configuration.
type snapshot struct {
	cfg   Config
	byID  map[string]*Site
	admin []byte
}

var idRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// DefaultMaxBrowserValue is a site's MaxBrowserValue when none is configured.
const DefaultMaxBrowserValue = 100000

// DefaultCurrency is the reporting currency of a site that sets none.
const DefaultCurrency = "EUR"

// CurrencyRe is the shape of an ISO 4217 currency code, upper-cased.
var CurrencyRe = regexp.MustCompile(`^[A-Z]{3}$`)

// Load reads a configuration file, applies the environment overrides of ApplyEnv and
// validates the result. Every binary loads its sites with it, so that an override (a
// rotated secret or admin token, a lookback window) holds in all of them.
func Load(file string) (*Registry, error) {
	c, err := ReadConfig(file)
	if err != nil {
		return nil, err
	}
	if err := ApplyEnv(&c, os.LookupEnv); err != nil {
		return nil, err
	}
	r, err := New(c)
	if err != nil {
		return nil, err
	}
	r.file = file
	return r, nil
}

// ReadConfig reads a configuration file without validating it.
func ReadConfig(file string) (Config, error) {
	var c Config
	b, err := os.ReadFile(file)
	if err != nil {
		return c, fmt.Errorf("cannot read site config: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("cannot parse site config %s: %w", file, err)
	}
	return c, nil
}

// New validates c and builds a Registry.
func New(c Config) (*Registry, error) {
	snap, err := validate(c)
	if err != nil {
		return nil, err
	}
	r := &Registry{}
	r.cur.Store(snap)
	return r, nil
}

func validate(c Config) (*snapshot, error) {
	r := &snapshot{cfg: c, byID: map[string]*Site{}}
	for i := range c.Sites {
		s := &c.Sites[i]
		if !idRe.MatchString(s.ID) {
			return nil, fmt.Errorf("site %q: id must be 1-64 letters, digits, '_', '.', '-'", s.ID)
		}
		if r.byID[s.ID] != nil {
			return nil, fmt.Errorf("site %q configured twice", s.ID)
		}
		if s.LookbackDays == 0 {
			s.LookbackDays = 90
		}
		if s.LookbackDays < 0 {
			return nil, fmt.Errorf("site %q: lookback_days must be positive", s.ID)
		}
		if s.RetentionDays < 0 {
			return nil, fmt.Errorf("site %q: retention_days must be 0 (keep) or a positive number of days", s.ID)
		}
		if s.MaxBrowserValue == 0 {
			s.MaxBrowserValue = DefaultMaxBrowserValue
		}
		if !(s.MaxBrowserValue > 0) {
			return nil, fmt.Errorf("site %q: max_browser_value must be positive", s.ID)
		}
		if d, err := hex.DecodeString(s.SecretSHA256); err == nil && len(d) == sha256.Size {
			s.secret = d
		}
		s.origins = nil
		for _, o := range s.Origins {
			pat, ok := parseOrigin(o, true)
			if !ok {
				return nil, fmt.Errorf("site %q: origin %q is not scheme://host[:port] (\"*\" for one host label or the port)", s.ID, o)
			}
			s.origins = append(s.origins, pat)
		}
		if s.Currency = strings.ToUpper(strings.TrimSpace(s.Currency)); s.Currency == "" {
			s.Currency = DefaultCurrency
		}
		if !CurrencyRe.MatchString(s.Currency) {
			return nil, fmt.Errorf("site %q: currency %q is not an ISO 4217 code (three letters, like EUR)", s.ID, s.Currency)
		}
		if err := s.checkRules(); err != nil {
			return nil, fmt.Errorf("site %q: %w", s.ID, err)
		}
		if err := s.checkCalls(); err != nil {
			return nil, fmt.Errorf("site %q: %w", s.ID, err)
		}
		if err := s.checkLifecycle(); err != nil {
			return nil, fmt.Errorf("site %q: %w", s.ID, err)
		}
		if s.Scoring != nil {
			if err := s.Scoring.Validate(); err != nil {
				return nil, fmt.Errorf("site %q: %w", s.ID, err)
			}
		}
		if err := s.checkOutbound(); err != nil {
			return nil, fmt.Errorf("site %q: %w", s.ID, err)
		}
		r.byID[s.ID] = s
	}
	if c.AdminTokenSHA256 != "" {
		d, err := hex.DecodeString(c.AdminTokenSHA256)
		if err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("admin_token_sha256 must be 64 hex digits")
		}
		r.admin = d
	}
	return r, nil
}

// Get returns the site with id, or nil. The Site is never changed afterwards: a reload
// builds new ones.
func (r *Registry) Get(id string) *Site { return r.cur.Load().byID[id] }

// Sites returns every configured site.
func (r *Registry) Sites() []Site { return r.cur.Load().cfg.Sites }

// CheckAdmin reports whether token is the admin token.
func (r *Registry) CheckAdmin(token string) bool {
	admin := r.cur.Load().admin
	return admin != nil && hashEqual(admin, token)
}

// CheckSecret reports whether secret is the site's server secret.
func (s *Site) CheckSecret(secret string) bool {
	d, err := hex.DecodeString(s.SecretSHA256)
	return err == nil && len(d) == sha256.Size && hashEqual(d, secret)
}

// SitesWithSecret returns the sites whose server secret is secret. Every site is compared,
// each in constant time, so the time taken says nothing about which one matched.
func (r *Registry) SitesWithSecret(secret string) []*Site {
	h := sha256.Sum256([]byte(secret))
	var out []*Site
	sites := r.cur.Load().cfg.Sites
	for i := range sites {
		s := &sites[i]
		if s.secret != nil && subtle.ConstantTimeCompare(s.secret, h[:]) == 1 {
			out = append(out, s)
		}
	}
	return out
}

func hashEqual(digest []byte, clear string) bool {
	h := sha256.Sum256([]byte(clear))
	return subtle.ConstantTimeCompare(digest, h[:]) == 1
}

// AllowsOrigin reports whether a browser Origin header may send events for the site.
// Patterns are scheme://host[:port]: "*" as a host label matches exactly one label, and
// as the port any port number or none (the scheme's default port). A port is digits only,
// so "http://localhost:*" never matches "http://localhost:80.evil.example".
func (s *Site) AllowsOrigin(origin string) bool {
	o, ok := parseOrigin(origin, false)
	if !ok {
		return false
	}
	for _, pat := range s.origins {
		if pat.matches(o) {
			return true
		}
	}
	return false
}
