package event

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/segmentio/encoding/json"
)

// AppendJSON appends e to b as the collector writes it to the events topic: json.Marshal's
// encoding, except that '<', '>' and '&' are not escaped. The message is never part of an
// HTML page, and URLs keeping their '&' as they are is what DecodeEnriched reads fastest.
//
// The encoding is written out by hand because it is on the collector's hot path, where
// json.Append(b, e, json.SortMapKeys) took 7.5% of the CPU; TestAppendJSON and FuzzAppendJSON
// hold it to json.Append's output byte for byte. What json.Append refuses is left to it, so
// AppendJSON returns its error: Props that does not begin, after spaces, with a valid JSON
// value (what follows the value is ignored), and a Conversion.Value that is NaN or infinite.
// Props nested deeper than maxDepth, which skip does not read, is left to it as well.
func AppendJSON(b []byte, e *Enriched) ([]byte, error) {
	if out, ok := appendEnriched(b, e); ok {
		return out, nil
	}
	return json.Append(b, e, json.SortMapKeys)
}

// appendEnriched is AppendJSON without json.Append; ok is false for what it leaves to it.
// Fields are written in the order of the struct, Event's first; omitempty leaves out empty
// strings, false, nil pointers, Value 0 (-0 too), and Props, Traits and Fields of length 0,
// nil or not.
func appendEnriched(b []byte, e *Enriched) (_ []byte, ok bool) {
	if e == nil {
		return append(b, "null"...), true
	}
	props, ok := rawValue(e.Props)
	if !ok || e.Conversion != nil && (math.IsNaN(e.Conversion.Value) || math.IsInf(e.Conversion.Value, 0)) {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.TS, 10)
	b = optString(b, `,"vid":`, e.VID)
	b = optString(b, `,"url":`, e.URL)
	b = optString(b, `,"ref":`, e.Ref)
	b = optString(b, `,"title":`, e.Title)
	b = optString(b, `,"name":`, e.Name)
	if len(props) > 0 {
		b = append(b, `,"props":`...)
		b = append(b, props...)
	}
	if len(e.Traits) > 0 {
		b = append(b, `,"traits":`...)
		b = appendTraits(b, e.Traits)
	}
	if f := e.Form; f != nil {
		b = append(b, `,"form":`...)
		start := len(b)
		b = optString(b, `,"id":`, f.ID)
		b = optString(b, `,"name":`, f.Name)
		b = optString(b, `,"action":`, f.Action)
		if len(f.Fields) > 0 {
			b = append(b, `,"fields":`...)
			sep := byte('[')
			for _, s := range f.Fields {
				b = appendString(append(b, sep), s)
				sep = ','
			}
			b = append(b, ']')
		}
		if f.Search {
			b = append(b, `,"search":true`...)
		}
		if f.Password {
			b = append(b, `,"password":true`...)
		}
		b = closeObject(b, start)
	}
	if c := e.Conversion; c != nil {
		b = append(b, `,"conversion":`...)
		start := len(b)
		b = optString(b, `,"id":`, c.ID)
		b = optString(b, `,"type":`, c.Type)
		b = optString(b, `,"lead_type":`, c.LeadType)
		if c.Value != 0 {
			b = append(b, `,"value":`...)
			b = appendFloat(b, c.Value)
		}
		b = optString(b, `,"currency":`, c.Currency)
		b = closeObject(b, start)
	}
	b = optString(b, `,"screen":`, e.Screen)
	b = optString(b, `,"lang":`, e.Lang)
	b = optString(b, `,"tz":`, e.TZ)
	b = optString(b, `,"ip":`, e.IP)
	b = optString(b, `,"ua":`, e.UA)
	b = optString(b, `,"fbc":`, e.Fbc)
	b = optString(b, `,"fbp":`, e.Fbp)
	b = append(b, `,"site":`...)
	b = appendString(b, e.Site)
	b = append(b, `,"received_at":`...)
	b = strconv.AppendInt(b, e.ReceivedAt, 10)
	b = append(b, `,"origin":`...)
	b = appendString(b, e.Origin)
	b = optString(b, `,"country":`, e.Country)
	b = optString(b, `,"region":`, e.Region)
	b = optString(b, `,"city":`, e.City)
	b = optString(b, `,"browser":`, e.Browser)
	b = optString(b, `,"os":`, e.OS)
	b = optString(b, `,"device":`, e.Device)
	if e.Bot {
		b = append(b, `,"bot":true`...)
	}
	return append(b, '}'), true
}

// optString appends key (with its leading comma and its colon) and s, unless s is empty.
func optString(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, key...), s)
}

// closeObject ends an object whose members, each with a leading comma, are b[start:]: the
// first comma becomes the '{'.
func closeObject(b []byte, start int) []byte {
	if len(b) == start {
		return append(b, "{}"...)
	}
	b[start] = '{'
	return append(b, '}')
}

// appendTraits appends m with its keys sorted by their bytes, as json.SortMapKeys does.
func appendTraits(b []byte, m map[string]string) []byte {
	var buf [8]string
	keys := buf[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	sep := byte('{')
	for _, k := range keys {
		b = appendString(append(b, sep), k)
		b = appendString(append(b, ':'), m[k])
		sep = ','
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as json.Append does without json.EscapeHTML: '"', '\\' and
// control characters are escaped (\b \f \n \r \t, the others as \u00xx), each byte of
// invalid UTF-8 becomes \ufffd, and U+2028 and U+2029 are escaped for JavaScript's sake;
// everything else, DEL and '<', '>', '&' included, stays as it is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	raw := unsafe.Slice(unsafe.StringData(s), len(s)) // for special, which reads 8 bytes at a time
	start := 0
	for i := special(raw, 0); i < len(s); i = special(raw, i) {
		c := s[i]
		size := 1
		if c >= utf8.RuneSelf {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if size > 1 && r != '\u2028' && r != '\u2029' {
				i += size // valid UTF-8
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, `\b`...)
		case c == '\f':
			b = append(b, `\f`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '\r':
			b = append(b, `\r`...)
		case c == '\t':
			b = append(b, `\t`...)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		case size == 1:
			b = append(b, `\ufffd`...) // a byte of invalid UTF-8
		default:
			b = append(b, `\u202`...) // U+2028 or U+2029, E2 80 A8 or A9
			b = append(b, hexDigits[s[i+2]&0xf])
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFloat formats f, which is finite, as json.Append (and encoding/json) do, like
// JavaScript: with an exponent below 1e-6 and from 1e21 on, e-07 shortened to e-7.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if n := len(b); format == 'e' && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
		b[n-2] = b[n-1]
		b = b[:n-1]
	}
	return b
}

// rawValue returns the JSON value at the start of p, after spaces, as json.Append writes a
// json.RawMessage: as it is, with spaces inside it kept and anything after it left out (it
// is not compacted, and its strings are not checked for valid UTF-8). ok is false if skip
// does not accept it: it is not a valid value, which json.Append refuses, or is nested
// deeper than maxDepth.
func rawValue(p []byte) (v []byte, ok bool) {
	if len(p) == 0 {
		return nil, true
	}
	d := decoder{data: p, s: unsafe.String(unsafe.SliceData(p), len(p))}
	d.ws()
	start := d.i
	if !d.skip(0) {
		return nil, false
	}
	return p[start:d.i], true
}
