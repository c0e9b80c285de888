package event

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"
)

// AppendJSON appends e as JSON to b, byte for byte as json.Marshal writes it except that
// '<', '>' and '&' are not escaped: the message is never part of an HTML page, and URLs keep
// their '&' as they are, which the stitcher's decoder reads fastest. It exists because
// reflection-based encoding was a noticeable share of the collector's work per event; tests
// hold it to json.Append with json.SortMapKeys.
func AppendJSON(b []byte, e *Enriched) ([]byte, error) {
	b = append(b, `{"id":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"type":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"ts":`...)
	b = strconv.AppendInt(b, e.TS, 10)
	b = appendField(b, "vid", e.VID)
	b = appendField(b, "url", e.URL)
	b = appendField(b, "ref", e.Ref)
	b = appendField(b, "title", e.Title)
	b = appendField(b, "name", e.Name)
	if len(e.Props) > 0 {
		b = append(b, `,"props":`...)
		var err error
		if b, err = appendRaw(b, e.Props); err != nil {
			return nil, err
		}
	}
	if len(e.Traits) > 0 {
		b = append(b, `,"traits":{`...)
		keys := make([]string, 0, len(e.Traits))
		for k := range e.Traits {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, e.Traits[k])
		}
		b = append(b, '}')
	}
	if f := e.Form; f != nil {
		b = append(b, `,"form":{`...)
		n := len(b)
		b = appendField(b, "id", f.ID)
		b = appendField(b, "name", f.Name)
		b = appendField(b, "action", f.Action)
		if len(f.Fields) > 0 {
			b = append(b, `,"fields":[`...)
			for i, v := range f.Fields {
				if i > 0 {
					b = append(b, ',')
				}
				b = appendString(b, v)
			}
			b = append(b, ']')
		}
		b = closeObject(b, n)
	}
	if c := e.Conversion; c != nil {
		b = append(b, `,"conversion":{`...)
		n := len(b)
		b = appendField(b, "id", c.ID)
		b = appendField(b, "type", c.Type)
		b = appendField(b, "lead_type", c.LeadType)
		if c.Value != 0 {
			b = append(b, `,"value":`...)
			b = appendFloat(b, c.Value)
		}
		b = appendField(b, "currency", c.Currency)
		b = closeObject(b, n)
	}
	b = appendField(b, "screen", e.Screen)
	b = appendField(b, "lang", e.Lang)
	b = appendField(b, "tz", e.TZ)
	b = appendField(b, "ip", e.IP)
	b = appendField(b, "ua", e.UA)
	b = append(b, `,"site":`...)
	b = appendString(b, e.Site)
	b = append(b, `,"received_at":`...)
	b = strconv.AppendInt(b, e.ReceivedAt, 10)
	b = append(b, `,"origin":`...)
	b = appendString(b, e.Origin)
	b = appendField(b, "country", e.Country)
	b = appendField(b, "region", e.Region)
	b = appendField(b, "city", e.City)
	b = appendField(b, "browser", e.Browser)
	b = appendField(b, "os", e.OS)
	b = appendField(b, "device", e.Device)
	if e.Bot {
		b = append(b, `,"bot":true`...)
	}
	return append(b, '}'), nil
}

// appendField appends ,"key":"v" unless v is empty (omitempty).
func appendField(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	b = append(b, ',', '"')
	b = append(b, key...)
	b = append(b, '"', ':')
	return appendString(b, v)
}

// closeObject ends an object whose members, from b[n:] on, each begin with a comma.
func closeObject(b []byte, n int) []byte {
	if len(b) > n {
		copy(b[n:], b[n+1:])
		b = b[:len(b)-1]
	}
	return append(b, '}')
}

// appendRaw appends a JSON value as AppendJSON writes a json.RawMessage: values that are
// already compact and need no escaping as they are, others through json.Append.
func appendRaw(b, raw []byte) ([]byte, error) {
	if bytes.IndexFunc(raw, func(r rune) bool {
		return r <= ' ' || r == '\u2028' || r == '\u2029' || r == utf8.RuneError
	}) < 0 && json.Valid(raw) {
		return append(b, raw...), nil
	}
	return json.Append(b, json.RawMessage(raw), json.SortMapKeys)
}

// appendFloat formats f as encoding/json does.
func appendFloat(b []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9, as encoding/json writes it.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString appends s quoted as json.Append does without json.EscapeHTML: U+2028 and
// U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
