package enrich

import (
	"bytes"
	"encoding/hex"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/segmentio/encoding/json"

	"touchpoint/internal/event"
)

// Field length limits, in bytes.
const (
	maxURL       = 4096
	maxTitle     = 1024
	maxName      = 128
	maxShort     = 64 // screen, lang, tz, ids
	maxUA        = 1024
	maxProps     = 8 << 10
	maxKeys      = 64
	maxKey       = 128
	maxTrait     = 1024
	maxFormField = 100
)

// minTS and maxTS bound any timestamp we accept: 2000-01-01 to 3000-01-01.
const (
	minTS = 946684800000
	maxTS = 32503680000000
)

func validate(r *Request, it *Item) *Refusal {
	e := &it.E
	if it.Raw != nil {
		if err := event.DecodeEvent(it.Raw, &e.Event); err != nil {
			return refuse(ReasonMalformed, "cannot decode event: %v", err)
		}
	}
	if len(e.ID) != 36 || uuid.Validate(e.ID) != nil {
		return refuse(ReasonBadID, "id must be a UUID")
	}
	e.ID = strings.ToLower(e.ID)
	if !event.Types[e.Type] {
		return refuse(ReasonUnknownType, "unknown type %.64q", e.Type)
	}
	if event.CollectorTypes[e.Type] && r.Origin != event.OriginServer {
		return refuse(ReasonUnknownType, "%s events are recorded by the collector itself", e.Type)
	}
	if e.Type == event.Track && e.Name == "" {
		return refuse(ReasonBadField, "a track event needs a name")
	}
	if e.VID != "" && !validID(e.VID) {
		return refuse(ReasonBadVisitor, "vid must be 1-64 letters, digits, '-' or '_'")
	}
	if r.Origin != event.OriginImport {
		// The client's address and user agent come from the connection, never from the body.
		e.IP, e.UA = "", ""
	}
	// Meta's cookies are kept for sites that send to Meta, and only in Meta's shape: a
	// mangled cookie loses nothing but itself.
	if !r.Site.SendsToMeta() || !validFBID(e.Fbc) {
		e.Fbc = ""
	}
	if !r.Site.SendsToMeta() || !validFBID(e.Fbp) {
		e.Fbp = ""
	}
	for _, f := range [...]struct {
		name, v string
		max     int
	}{
		{"url", e.URL, maxURL}, {"ref", e.Ref, maxURL}, {"title", e.Title, maxTitle}, {"name", e.Name, maxName},
		{"screen", e.Screen, maxShort}, {"lang", e.Lang, maxShort}, {"tz", e.TZ, maxShort},
		{"ip", e.IP, maxShort}, {"ua", e.UA, maxUA},
	} {
		if len(f.v) > f.max {
			return refuse(ReasonTooLong, "%s is longer than %d bytes", f.name, f.max)
		}
	}
	if ref := validateProps(e.Props); ref != nil {
		return ref
	}
	if len(e.Traits) > maxKeys {
		return refuse(ReasonTooLong, "more than %d traits", maxKeys)
	}
	for k, v := range e.Traits {
		if k == "" || len(k) > maxKey || len(v) > maxTrait {
			return refuse(ReasonTooLong, "trait %.32q: keys 1-%d bytes, values up to %d", k, maxKey, maxTrait)
		}
	}
	if f := e.Form; f != nil {
		if len(f.ID) > maxTitle || len(f.Name) > maxTitle || len(f.Action) > maxURL || len(f.Fields) > maxFormField {
			return refuse(ReasonTooLong, "form id/name/action too long or more than %d fields", maxFormField)
		}
		for _, n := range f.Fields {
			if len(n) > maxKey {
				return refuse(ReasonTooLong, "form field name longer than %d bytes", maxKey)
			}
		}
	}
	if c := e.Conversion; c != nil {
		if len(c.ID) > maxName || len(c.Type) > maxShort || len(c.LeadType) > maxShort {
			return refuse(ReasonTooLong, "conversion id, type or lead_type too long")
		}
		if c.Currency != "" && !validCurrency(c.Currency) {
			return refuse(ReasonBadField, "currency must be a 3-letter ISO 4217 code")
		}
		if math.IsNaN(c.Value) || math.IsInf(c.Value, 0) || math.Abs(c.Value) > 1e15 {
			return refuse(ReasonBadField, "conversion value out of range")
		}
	}
	return nil
}

// validateProps checks that props is a flat JSON object with bounded keys. The event
// decoded already, so p is valid JSON: a scan suffices, no map is built.
func validateProps(p json.RawMessage) *Refusal {
	p = bytes.TrimSpace(p)
	if len(p) == 0 || bytes.Equal(p, []byte("null")) {
		return nil
	}
	if len(p) > maxProps {
		return refuse(ReasonTooLong, "props larger than %d bytes", maxProps)
	}
	if p[0] != '{' {
		return refuse(ReasonBadField, "props must be a JSON object")
	}
	depth, keys, keyStart := 0, 0, -1
	expectKey := true
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '"':
			start := i
			for i++; i < len(p) && p[i] != '"'; i++ {
				if p[i] == '\\' {
					i++
				}
			}
			if depth == 1 && expectKey {
				keyStart = start
				if n := i - start - 1; n == 0 || n > maxKey {
					return refuse(ReasonTooLong, "prop names are 1-%d bytes", maxKey)
				}
			}
		case ':':
			if depth == 1 {
				expectKey = false
				keys++
			}
		case ',':
			if depth == 1 {
				expectKey = true
			}
		case '{', '[':
			depth++
			if depth > 1 {
				return refuse(ReasonBadField, "prop %.32s: props are flat (strings, numbers, booleans)", p[max(keyStart, 0):i])
			}
		case '}', ']':
			depth--
		}
	}
	if keys > maxKeys {
		return refuse(ReasonTooLong, "more than %d props", maxKeys)
	}
	return nil
}

// ValidID reports whether s is a valid visitor id: 1-64 letters, digits, '-' and '_'.
func ValidID(s string) bool { return validID(s) }

// validID accepts visitor and user ids: 1-64 letters, digits, '-' and '_'.
func validID(s string) bool {
	return len(s) > 0 && len(s) <= maxShort && validIDChars(s)
}

// validFBID accepts Meta's _fbc and _fbp cookie values: fb.<subdomain index>.<creation
// time in ms>.<click id or random number>, possibly with more dot-separated parts, of
// letters, digits, '-' and '_', at most 512 bytes.
func validFBID(s string) bool {
	if len(s) > 512 || !strings.HasPrefix(s, "fb.") {
		return false
	}
	parts := strings.Split(s[3:], ".")
	if len(parts) < 3 || !digits(parts[0]) || !digits(parts[1]) {
		return false
	}
	for _, p := range parts[2:] {
		if p == "" || !validIDChars(p) {
			return false
		}
	}
	return true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func validIDChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func validCurrency(s string) bool {
	return len(s) == 3 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z' && s[2] >= 'A' && s[2] <= 'Z'
}

// assignSite sets what the server owns: the site, the origin, the client address and agent.
func assignSite(r *Request, it *Item) *Refusal {
	e := &it.E
	e.Site = r.Site.ID
	e.Origin = r.Origin
	it.ip, it.ua = r.IP, r.UA
	if r.Origin == event.OriginImport {
		it.ip, it.ua = netip.Addr{}, e.UA
		if e.IP != "" {
			a, err := netip.ParseAddr(e.IP)
			if err != nil {
				return refuse(ReasonBadField, "ip is not an IP address")
			}
			it.ip = a
		}
	}
	return nil
}

// clock sets the receive time and bounds the client time: live events are clamped into
// [now-maxAge, now+skew]; imported and server events keep their time but may not be in
// the future.
func clock(skew, maxAge time.Duration) func(*Request, *Item) *Refusal {
	return func(r *Request, it *Item) *Refusal {
		e := &it.E
		now := r.Now.UnixMilli()
		e.ReceivedAt = now
		switch r.Origin {
		case event.OriginImport, event.OriginServer:
			if e.TS < minTS || e.TS > now+skew.Milliseconds() {
				return refuse(ReasonBadTimestamp, "ts must be epoch milliseconds between 2000 and now")
			}
		default:
			if e.TS == 0 {
				e.TS = now
				return nil
			}
			if e.TS < 0 || e.TS > maxTS {
				return refuse(ReasonBadTimestamp, "ts must be epoch milliseconds")
			}
			e.TS = min(max(e.TS, now-maxAge.Milliseconds()), now+skew.Milliseconds())
		}
		return nil
	}
}

// anonymise keeps only the network of the client address: IPv4 /24, IPv6 /48.
func anonymise(_ *Request, it *Item) *Refusal {
	it.E.IP = AnonymiseIP(it.ip)
	return nil
}

// AnonymiseIP returns the /24 (IPv4) or /48 (IPv6) network address of a, or "".
func AnonymiseIP(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.Addr().String()
}

// hashPII normalises an email trait and replaces it, and every other trait holding an email
// address, by its SHA-256 unless the site keeps addresses (keep_pii or
// webhook_include_email; HashTraits).
func hashPII(r *Request, it *Item) *Refusal {
	t := it.E.Traits
	if t == nil {
		return nil
	}
	if h, ok := t[event.TraitEmailSHA256]; ok {
		h = strings.ToLower(strings.TrimSpace(h))
		if _, err := hex.DecodeString(h); err != nil || len(h) != 64 {
			return refuse(ReasonBadField, "email_sha256 must be 64 hex digits")
		}
		t[event.TraitEmailSHA256] = h
	}
	HashTraits(t, r.Site.KeepsEmail())
	return nil
}
