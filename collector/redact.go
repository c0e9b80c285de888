package collector

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"regexp"
	"strings"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
)

// redact returns a refused event as the dead-letter topic keeps it for a site that does not
// keep PII: what the main path would hash or anonymise is hashed or anonymised here too,
// so a refusal never keeps what an accepted event would not. An event that is a JSON
// object has its traits hashed (enrich.HashTraits) and its ip cut to the network
// (enrich.AnonymiseIP); anything else has every email address in it replaced by its hash.
// Events with nothing to redact are kept byte for byte.
func redact(raw []byte) []byte {
	var ev map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&ev); err != nil || ev == nil || dec.More() {
		return redactText(raw)
	}
	changed := false
	if t, ok := ev["traits"]; ok {
		if out, ok := redactTraits(t); ok {
			ev["traits"], changed = out, true
		}
	}
	if ipRaw, ok := ev["ip"]; ok {
		var ip string
		if json.Unmarshal(ipRaw, &ip) != nil || ip != "" {
			a, err := netip.ParseAddr(strings.TrimSpace(ip))
			anon := ""
			if err == nil {
				anon = enrich.AnonymiseIP(a)
			}
			ev["ip"], _ = json.Marshal(anon)
			changed = true
		}
	}
	for k, v := range ev {
		if k != "traits" && k != "ip" && emailRe.Match(v) { // an address elsewhere (props, form, a misplaced field)
			ev[k], changed = redactText(v), true
		}
	}
	if !changed {
		return raw
	}
	out, err := json.Marshal(ev)
	if err != nil {
		return redactText(raw)
	}
	return out
}

// redactTraits hashes a traits object; values that are not strings are kept as text.
func redactTraits(raw json.RawMessage) (json.RawMessage, bool) {
	var t map[string]any
	if err := json.Unmarshal(raw, &t); err != nil || t == nil {
		if emailRe.Match(raw) {
			return redactText(raw), true
		}
		return nil, false
	}
	s := make(map[string]string, len(t))
	for k, v := range t {
		if str, ok := v.(string); ok {
			s[k] = str
		} else {
			b, _ := json.Marshal(v)
			s[k] = string(b)
		}
	}
	if !enrich.HashTraits(s, false) {
		return nil, false
	}
	out, err := json.Marshal(s)
	return out, err == nil
}

// emailRe finds email addresses in text that is not JSON, or not the JSON of an event.
var emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)+`)

func redactText(b []byte) []byte {
	return emailRe.ReplaceAllFunc(b, func(m []byte) []byte {
		return []byte("sha256:" + event.EmailSHA256(string(m)))
	})
}
