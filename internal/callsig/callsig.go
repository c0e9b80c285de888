// Package callsig computes the signatures call providers put on their webhooks, for the
// collector to check them and for the demo and benchmarks to sign as the providers do.
package callsig

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"slices"
	"sort"
)

// Twilio is the X-Twilio-Signature of a form POST to url: base64 HMAC-SHA1, keyed with the
// account's auth token, of the URL followed by each parameter's name and value, sorted by
// name (a repeated name's values sorted too).
func Twilio(token, url string, params map[string][]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	m := hmac.New(sha1.New, []byte(token))
	m.Write([]byte(url))
	for _, k := range keys {
		vs := slices.Clone(params[k])
		sort.Strings(vs)
		for _, v := range vs {
			m.Write([]byte(k))
			m.Write([]byte(v))
		}
	}
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// CallRail is the Signature header of a CallRail webhook: base64 HMAC-SHA1 of the body,
// keyed with the company's signing key.
func CallRail(key string, body []byte) string {
	m := hmac.New(sha1.New, []byte(key))
	m.Write(body)
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Equal compares two signatures in constant time.
func Equal(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }
