package event

import (
	"bytes"
	stdjson "encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// checkAppendJSON compares AppendJSON, and appendEnriched (the encoding without json.Append),
// with json.Append, the collector's encoding before AppendJSON. appendEnriched must handle
// everything but what json.Append refuses and Props nested deeper than maxDepth.
func checkAppendJSON(t *testing.T, e *Enriched) {
	t.Helper()
	prefix := []byte("prefix")
	want, wantErr := json.Append(bytes.Clone(prefix), e, json.SortMapKeys)
	got, err := AppendJSON(bytes.Clone(prefix), e)
	if (err != nil) != (wantErr != nil) || err == nil && !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON(%#v)\n got %q (%v)\nwant %q (%v)", e, got, err, want, wantErr)
	}
	fast, ok := appendEnriched(bytes.Clone(prefix), e)
	if ok && (wantErr != nil || !bytes.Equal(fast, want)) {
		t.Fatalf("appendEnriched(%#v)\n got %q\nwant %q (%v)", e, fast, want, wantErr)
	}
	if !ok && wantErr == nil && !deepProps(e.Props) {
		t.Fatalf("appendEnriched(%#v) left it to json.Append", e)
	}
}

// deepProps reports whether p nests arrays or objects deeper than maxDepth, which
// appendEnriched leaves to json.Append. Brackets in strings count too: that can only
// excuse a refusal, never make the test fail.
func deepProps(p []byte) bool {
	n := 0
	for _, c := range p {
		switch c {
		case '[', '{':
			if n++; n > maxDepth {
				return true
			}
		case ']', '}':
			n--
		}
	}
	return false
}

// realisticEvent is a pageview as the collector writes most of them.
func realisticEvent() Enriched {
	e := pageviewEvent()
	e.Traits = map[string]string{TraitEmailSHA256: EmailSHA256("jane@example.com")}
	e.Props = stdjson.RawMessage(`{"plan":"pro","position":2}`)
	return e
}

// fullEvent has every field set.
func fullEvent() Enriched {
	e := realisticEvent()
	e.Type, e.Name = Conversion, "signup"
	e.Traits[TraitUserID] = "u-42"
	e.Traits["Plan"] = "pro"
	e.Form = &Form{ID: "contact", Name: "Contact us", Action: "/contact?a=1&b=2", Fields: []string{"name", "email", "message"}}
	e.Conversion = &ConversionInfo{ID: "o-1", Type: "sale", LeadType: "web", Value: 1234.56, Currency: "EUR"}
	e.IP, e.UA = "203.0.113.0", "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
	e.Bot = true
	return e
}

// awkward are strings that need escaping, or look as if they did, in short strings and
// in ones of eight bytes or more, which json.Append checks eight bytes at a time.
var awkward = func() []string {
	s := []string{
		"", "a", `"`, `\`, "/", "\x7f", "<>&", "<script>&amp;</script>", "\u2028", "\u2029",
		"\u2027\u202a", "\ufffd", "é", "日本語", "😀", "\xff", "\xe2\x82", "\xe2\x80", "\xed\xa0\x80",
		"\xc0\xaf", "\xf4\x90\x80\x80", "\x80abc", "abc\xe2", "\xf0\x9f\x98",
		"https://www.example.com/p?utm_source=a&utm_medium=b#x",
	}
	for c := range 0x20 {
		s = append(s, string(rune(c)))
	}
	var all strings.Builder
	for _, v := range s {
		all.WriteString(v)
	}
	for _, v := range s {
		s = append(s, "abcdefgh"+v, v+"abcdefghijklmnop", "Zoë "+v+" \"q\" "+v)
	}
	return append(s, all.String())
}()

// withString sets every string of e, map keys and form fields included, to s.
func withString(s string) Enriched {
	return Enriched{
		Event: Event{
			ID: s, Type: s, VID: s, URL: s, Ref: s, Title: s, Name: s,
			Traits:     map[string]string{s: s, s + "x": s, "x" + s: ""},
			Form:       &Form{ID: s, Name: s, Action: s, Fields: []string{s, "", s}},
			Conversion: &ConversionInfo{ID: s, Type: s, LeadType: s, Value: 1, Currency: s},
			Screen:     s, Lang: s, TZ: s, IP: s, UA: s,
		},
		Site: s, Origin: s, Country: s, Region: s, City: s, Browser: s, OS: s, Device: s,
	}
}

func TestAppendJSON(t *testing.T) {
	pv := pageviewEvent()
	with := func(change func(e *Enriched)) Enriched {
		e := pv
		change(&e)
		return e
	}
	props := func(p string) Enriched {
		return with(func(e *Enriched) { e.Props = stdjson.RawMessage(p) })
	}
	value := func(v float64) Enriched {
		return with(func(e *Enriched) { e.Conversion = &ConversionInfo{Value: v} })
	}
	cases := map[string]Enriched{
		"zero":         {},
		"pageview":     pv,
		"realistic":    realisticEvent(),
		"full":         fullEvent(),
		"ints":         {Event: Event{TS: math.MinInt64}, ReceivedAt: math.MaxInt64},
		"negative ts":  {Event: Event{TS: -1}, ReceivedAt: 1},
		"nil traits":   with(func(e *Enriched) { e.Traits = nil }),
		"empty traits": with(func(e *Enriched) { e.Traits = map[string]string{} }),
		"empty trait":  with(func(e *Enriched) { e.Traits = map[string]string{"": ""} }),
		"many traits": with(func(e *Enriched) {
			e.Traits = map[string]string{"b": "1", "a": "2", "B": "3", "é": "4", "aa": "5", "a\x00": "6", "~": "", "0": "", "_": "", "z": ""}
		}),
		"empty form":    with(func(e *Enriched) { e.Form = &Form{} }),
		"nil fields":    with(func(e *Enriched) { e.Form = &Form{ID: "f", Fields: nil} }),
		"empty fields":  with(func(e *Enriched) { e.Form = &Form{ID: "f", Fields: []string{}} }),
		"empty field":   with(func(e *Enriched) { e.Form = &Form{Fields: []string{""}} }),
		"only fields":   with(func(e *Enriched) { e.Form = &Form{Fields: []string{"a", "b"}} }),
		"only action":   with(func(e *Enriched) { e.Form = &Form{Action: "/x"} }),
		"empty conv":    with(func(e *Enriched) { e.Conversion = &ConversionInfo{} }),
		"conv currency": with(func(e *Enriched) { e.Conversion = &ConversionInfo{Currency: "EUR"} }),
		"bot":           with(func(e *Enriched) { e.Bot = true }),
		"nil props":     props(""),
		"empty props":   with(func(e *Enriched) { e.Props = stdjson.RawMessage{} }),
		// Props as json.Append writes them: spaces inside kept, before and after the value
		// left out, and so is anything after it.
		"props {}":          props("{}"),
		"props null":        props("null"),
		"props spaces":      props(" \t\r\n{ \"plan\" : \"pro\" ,\n\t\"position\" : [ 1 , 2.5e-3 , -0 ] }\n "),
		"props nested":      props(`{"a":[1,2.5e3,-0,true,false,null,{"b":"c\"\u00e9\ud83d\ude00"}],"d":{}}`),
		"props trailing":    props(`{"a":1}]`),
		"props two":         props(`{} {}`),
		"props 01":          props("01"),
		"props -01":         props("-01"),
		"props nullx":       props("nullx"),
		"props truefalse":   props("truefalse"),
		"props 1.5e+3x":     props("1.5e+3x"),
		"props string":      props(`"just a string"`),
		"props array":       props(`[1,"2",[]]`),
		"props bad utf-8":   props("{\"a\":\"\xff\xed\xa0\x80\x7f\"}"),
		"props <>&":         props(`{"a":"<b>&amp;</b> ` + "\u2028" + `"}`),
		"props deep":        props(strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth)),
		"props deeper":      props(strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1)),
		"props deeper obj":  props(strings.Repeat(`{"a":`, 300) + "1" + strings.Repeat("}", 300)),
		"props only spaces": props(" \n"),
		"props bad":         props("{"),
		"props 1.":          props("1."),
		"props .5":          props(".5"),
		"props +1":          props("+1"),
		"props 1e":          props("1e"),
		"props 1e+":         props("1e+"),
		"props -":           props("-"),
		"props tru":         props("tru"),
		"props nul":         props("nul"),
		"props trailing ,":  props(`[1,]`),
		"props trailing ,}": props(`{"a":1,}`),
		"props no colon":    props(`{"a" 1}`),
		"props key":         props(`{a:1}`),
		"props control":     props("\"a\x01\""),
		"props escape":      props(`"\x"`),
		"props \\u":         props(`"\u12"`),
		"props unclosed":    props(`"abc`),
		"props 01 inside":   props(`[01]`),
		"props deep bad":    props(strings.Repeat("[", 300)),
		"props quote":       props(`'a'`),
	}
	for _, v := range []float64{
		0, math.Copysign(0, -1), 1, -1, 0.1, 1234.56, -0.001, 1e20, 1e21, -1e21, 999999999999999999999,
		123456789012345678, 1e-6, 0.000001, 9.99999e-7, 1e-7, -1e-7, 1.5e-10, 5e-324,
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e100, 3.0000000000000004,
		math.NaN(), math.Inf(1), math.Inf(-1),
	} {
		cases[fmt.Sprintf("value %v", v)] = value(v)
	}
	for i, s := range awkward {
		cases[fmt.Sprintf("string %d %+q", i, s)] = withString(s)
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) { checkAppendJSON(t, &e) })
	}
	checkAppendJSON(t, nil)
}

// FuzzAppendJSON compares AppendJSON with json.Append on events made of fuzzed strings and
// numbers; mask chooses which of the fields that may be nil or empty are.
func FuzzAppendJSON(f *testing.F) {
	f.Add("9b2f3c1e", "https://www.example.com/pricing?utm_source=google&utm_medium=cpc", "Pricing — Example",
		[]byte(`{"plan":"pro","position":2}`), int64(1718000000123), 1234.56, uint8(0xff))
	f.Add("", "", "", []byte(nil), int64(0), 0.0, uint8(0))
	f.Add("\"\\\x00\x1f\x7f", "<>&\u2028\u2029", "\xff\xed\xa0\x80\xe2\x82", []byte(" { \"a\" : [1, 2] } x"), int64(-1), 1e21, uint8(0x55))
	f.Add("abcdefgh\t", "😀é日本語\ufffd", "x", []byte("01"), int64(math.MinInt64), 1e-7, uint8(0xaa))
	f.Add("a", "b", "c", []byte(`{"a":"\u00e9\ud83d\ude00","b":[true,false,null,-0.5e-3]}`), int64(math.MaxInt64), -0.000001, uint8(0x0f))
	f.Add("a", "b", "c", []byte(`[1,]`), int64(1), math.Inf(1), uint8(0xf0))
	f.Fuzz(func(t *testing.T, s1, s2, s3 string, props []byte, ts int64, value float64, mask uint8) {
		e := Enriched{
			Event: Event{
				ID: s1, Type: s2, TS: ts, VID: s3, URL: s2, Ref: s3, Title: s1, Name: s2,
				Screen: s3, Lang: s1, TZ: s2, IP: s3, UA: s1,
			},
			Site: s2, ReceivedAt: -ts, Origin: s3, Country: s1, Region: s2, City: s3, Browser: s1,
			OS: s2, Device: s3, Bot: mask&1 != 0,
		}
		if mask&2 != 0 {
			e.Props = props
		}
		if mask&4 != 0 {
			e.Traits = map[string]string{}
			if mask&8 != 0 {
				e.Traits[s1], e.Traits[s2], e.Traits[s3] = s2, s3, s1
			}
		}
		if mask&16 != 0 {
			e.Form = &Form{ID: s2, Name: s3, Action: s1, Search: mask&1 != 0, Password: mask&32 != 0}
			if mask&8 != 0 {
				e.Form.Fields = []string{s1, s2, s3}
			} else if mask&32 != 0 {
				e.Form.Fields = []string{}
			}
		}
		if mask&64 != 0 {
			e.Conversion = &ConversionInfo{ID: s3, Type: s1, LeadType: s2, Value: value, Currency: s3}
		}
		if mask&128 != 0 { // Event's strings empty, which omitempty leaves out
			e.Event = Event{TS: e.TS, Props: e.Props, Traits: e.Traits, Form: e.Form, Conversion: e.Conversion}
		}
		checkAppendJSON(t, &e)
	})
}

// DecodeEnriched reads back what AppendJSON writes.
func TestAppendJSONRoundTrip(t *testing.T) {
	want := fullEvent()
	want.Title = "Quote \" backslash \\ <b>&amp;</b> \u2028 \x01 \x7f Zoë 😀"
	data, err := AppendJSON(nil, &want)
	if err != nil {
		t.Fatal(err)
	}
	var got Enriched
	if err := DecodeEnriched(data, &got); err != nil {
		t.Fatalf("DecodeEnriched(%s): %v", data, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DecodeEnriched(%s)\n got %#v\nwant %#v", data, got, want)
	}
}

// BenchmarkAppendJSON measures the encoding of a typical pageview, into a reused buffer.
func BenchmarkAppendJSON(b *testing.B) {
	e := realisticEvent()
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		var err error
		if buf, err = AppendJSON(buf[:0], &e); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(int64(len(buf)))
}
