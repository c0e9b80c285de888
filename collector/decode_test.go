package collector

import (
	"bytes"
	"testing"

	"github.com/segmentio/encoding/json"

	"touchpoint/internal/event"
)

// realisticBody is the benchmark's request (scripts/bench/collector.lua): a pageview,
// a track and a form_submit, as the tracker sends them.
const realisticBody = `{"site":"demo","events":[` +
	`{"id":"3f2a9c1e-5b7d-4e8f-a1c2-9d0e6b4f7a13","type":"pageview","ts":1763800000000,"vid":"00000000-0000-4000-8000-000000004242","url":"https://shop.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=spring&gclid=Cj0KCQiA","ref":"https://www.google.com/","title":"Pricing - Example Shop","screen":"1920x1080","lang":"en-GB","tz":"Europe/London"},` +
	`{"id":"8c4e1f7a-2d9b-4c3e-b5a6-1e7f0d2c9b84","type":"track","ts":1763800000000,"vid":"00000000-0000-4000-8000-000000004242","name":"signup_click","url":"https://shop.example.com/pricing","props":{"plan":"pro","position":2}},` +
	`{"id":"b1d7e3a9-6f2c-4a8b-9e5d-3c0a7f1b2e65","type":"form_submit","ts":1763800000000,"vid":"00000000-0000-4000-8000-000000004242","url":"https://shop.example.com/contact","form":{"id":"contact","action":"/contact","fields":["name","email","message"]},"traits":{"email":"visitor4242@example.com"}}` +
	`]}`

// BenchmarkDecodeBatch decodes the benchmark's request, which takes the fast path.
func BenchmarkDecodeBatch(b *testing.B) {
	body := []byte(realisticBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := decodeBatch(body, 100); ref != nil {
			b.Fatal(ref)
		}
	}
}

// BenchmarkParseBatch is BenchmarkDecodeBatch's body read by the general path, to compare.
func BenchmarkParseBatch(b *testing.B) {
	body := []byte(realisticBody)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := parseBatch(body); ref != nil {
			b.Fatal(ref)
		}
	}
}

// sameBatch fails t unless splitBatch, fast path or not, answers body exactly as the
// general path (parseBatch) does: the same refusal reason and detail, or the same site and
// the same events, each the same bytes at the same place in body.
func sameBatch(t *testing.T, body []byte) {
	t.Helper()
	got, gotRef := splitBatch(body)
	want, wantRef := parseBatch(body)
	if (gotRef == nil) != (wantRef == nil) || (gotRef != nil && *gotRef != *wantRef) {
		t.Fatalf("body %q: refusal %+v, want %+v", body, gotRef, wantRef)
	}
	if (got == nil) != (want == nil) {
		t.Fatalf("body %q: batch %v, want %v", body, got, want)
	}
	if got == nil {
		return
	}
	if got.Site != want.Site || len(got.Events) != len(want.Events) {
		t.Fatalf("body %q: site %q with %d events, want %q with %d", body, got.Site, len(got.Events), want.Site, len(want.Events))
	}
	for i := range got.Events {
		g, w := got.Events[i], want.Events[i]
		if !bytes.Equal(g, w) || &g[0] != &w[0] || cap(g) != cap(w) {
			t.Fatalf("body %q: event %d is %q (cap %d), want %q (cap %d) at the same place in body", body, i, g, cap(g), w, cap(w))
		}
	}
}

// decodeBatchCases are bodies of every kind, for the tests below and as fuzzing seeds.
var decodeBatchCases = []string{
	realisticBody,
	`{"site":"demo","events":[{"id":"0b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10","type":"pageview","ts":1763800000000}]}`,
	// Whitespace, key order, empty values.
	" \t\r\n{ \"site\" :\t\"demo\" ,\r\n \"events\" : [ { \"id\" : \"a\" } ,\n{\"b\" : [ 1 , 2 ] , \"c\" : { } , \"d\" : [ ] } ] }\n\t ",
	`{"events":[{"id":"a"}],"site":"demo"}`,
	`{"site":"demo","events":[{}]}`,
	`{"site":"demo","events":[]}`,
	`{"site":"demo","events":[ ]}`,
	`{"site":"","events":[{}]}`,
	`{"events":[{}]}`,
	`{"site":"demo"}`,
	`{"site":"demo","events":[{},{},{},{}]}`,
	`{"site":"démo ✓ 😀","events":[{}]}`,
	// Nested props, forms and arrays; depth at and beyond MaxDepth (8); brackets in strings.
	`{"site":"demo","events":[{"props":{"a":{"b":{"c":{"d":{"e":1}}}}}}]}`,
	`{"site":"demo","events":[{"props":{"a":{"b":{"c":{"d":{"e":{"f":1}}}}}}}]}`,
	`{"site":"demo","events":[{"p":[[[[[1]]]]]}]}`,
	`{"site":"demo","events":[{"p":[[[[[[1]]]]]]}]}`,
	`{"site":"demo","events":[{"p":[[[[[[]]]]]]}]}`,
	`{"site":"demo","events":[{"p":"[[[[[[[[[[{{{{{{{","q":"\\\"[[[[[[[[[["}]}`,
	`{"site":"demo","events":[{"form":{"id":"f","fields":["a","b",[],{},[{"x":[null,true,false]}]]},"traits":{"email":"a@b.c"}}]}`,
	// Strings: escapes, unicode, control characters, invalid escapes.
	`{"site":"demo","events":[{"t":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00\uD800 é ✓ 😀 \u0000"}]}`,
	"{\"site\":\"demo\",\"events\":[{\"t\":\"\x7f\"}]}",
	"{\"site\":\"demo\",\"events\":[{\"t\":\"a\x01b\"}]}",
	"{\"site\":\"demo\",\"events\":[{\"t\":\"a\tb\"}]}",
	`{"site":"demo","events":[{"t":"\x"}]}`,
	`{"site":"demo","events":[{"t":"\u12"}]}`,
	`{"site":"demo","events":[{"t":"\u12G4"}]}`,
	`{"site":"demo","events":[{"t":"\U0041"}]}`,
	`{"site":"demo","events":[{"t\u0041":1}]}`,
	`{"site":"demo","events":[{"t":"abc`,
	// Invalid UTF-8: a stray byte, a truncated sequence, an overlong encoding, a surrogate.
	"{\"site\":\"demo\",\"events\":[{\"t\":\"\xff\"}]}",
	"{\"site\":\"demo\",\"events\":[{\"t\":\"\xc3\"}]}",
	"{\"site\":\"demo\",\"events\":[{\"t\":\"\xc0\xaf\"}]}",
	"{\"site\":\"demo\",\"events\":[{\"t\":\"\xed\xa0\x80\"}]}",
	"{\"site\":\"de\xffmo\",\"events\":[{}]}",
	"{\"site\":\"demo\",\"events\":[{}]}\xff",
	// Numbers, valid and not.
	`{"site":"demo","events":[{"a":-0.5e+10,"b":0,"c":-0,"d":1E5,"e":1e-7,"f":12.50,"g":0.0,"h":123456789012345678901234567890}]}`,
	`{"site":"demo","events":[{"a":01}]}`,
	`{"site":"demo","events":[{"a":-}]}`,
	`{"site":"demo","events":[{"a":1.}]}`,
	`{"site":"demo","events":[{"a":.5}]}`,
	`{"site":"demo","events":[{"a":1e}]}`,
	`{"site":"demo","events":[{"a":1e+}]}`,
	`{"site":"demo","events":[{"a":+1}]}`,
	`{"site":"demo","events":[{"a":0x10}]}`,
	`{"site":"demo","events":[{"a":NaN}]}`,
	`{"site":"demo","events":[{"a":-Infinity}]}`,
	`{"site":"demo","events":[{"a":tru}]}`,
	`{"site":"demo","events":[{"a":nul}]}`,
	`{"site":"demo","events":[{"a":True}]}`,
	// Other keys, repeated keys, escaped keys, other values for site and events.
	`{"site":"demo","events":[{}],"v":1}`,
	`{"v":{"site":"x"},"site":"demo","events":[{}]}`,
	`{"site":"a","site":"b","events":[{}]}`,
	`{"site":"a","events":[{"x":1},{"y":2}],"events":[{"z":3}]}`,
	`{"site":"a","events":[{"x":1},{"y":2}],"events":[]}`,
	`{"Site":"demo","EVENTS":[{}]}`,
	`{"s\u0069te":"demo","events":[{}]}`,
	`{"site":"de\u006do","events":[{}]}`,
	`{"site":"d\"emo","events":[{}]}`,
	`{"site":null,"events":[{}]}`,
	`{"site":5,"events":[{}]}`,
	`{"site":"demo","events":null}`,
	`{"site":"demo","events":{}}`,
	`{"site":"demo","events":"x"}`,
	`{"site":"demo","events":[1,"a",null,true,[],{}]}`,
	`{"site":"demo","events":[null]}`,
	`{"site":"demo","events":[{}, 1]}`,
	`{"site":"demo","events":[[{}]]}`,
	// Broken shapes: trailing commas, missing separators, truncation, trailing data.
	`{"site":"demo","events":[{},]}`,
	`{"site":"demo","events":[{"a":1,}]}`,
	`{"site":"demo","events":[{}],}`,
	`{"site":"demo" "events":[{}]}`,
	`{"site":"demo","events":[{} {}]}`,
	`{"site":"demo","events":[{"a" 1}]}`,
	`{"site":"demo","events":[{"a":1 "b":2}]}`,
	`{"site":"demo","events":[{1:2}]}`,
	`{"site":"demo","events":[{}]`,
	`{"site":"demo","events":[{}`,
	`{"site":"demo","events":[`,
	`{"site":"demo","events":`,
	`{"site":"demo",`,
	`{"site"`,
	`{`,
	``,
	` `,
	`null`,
	`{}`,
	`[]`,
	`"site"`,
	`{"site":"demo","events":[{}]}x`,
	`{"site":"demo","events":[{}]} {}`,
	`{"site":"demo","events":[{}]}}`,
	`{"site":"demo","events":[{}]}]`,
	"{\"site\":\"demo\",\"events\":[{}]}\f",
	"{\"site\":\"demo\",\"events\":[{}]}\v",
	"{\"site\":\"demo\",\"events\":[{}]}\u00a0",
	"{\"site\":\"demo\",\"events\":[{}]}\u3000\n",
	"{\"site\":\"demo\",\"events\":[{}]}\x00",
	"\f{\"site\":\"demo\",\"events\":[{}]}",
	"\ufeff{\"site\":\"demo\",\"events\":[{}]}",
}

// FuzzDecodeBatchSameAsParse checks that decodeBatch, fast path or not, answers every body
// exactly as the plain decoder (refDecodeBatch) does.
func FuzzDecodeBatchSameAsParse(f *testing.F) {
	for _, body := range decodeBatchCases {
		f.Add([]byte(body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		sameBatch(t, body)
	})
}

// TestDecodeBatchMutationsSameAsParse compares decodeBatch with refDecodeBatch on every
// body one byte away from a few valid ones: each byte replaced by, or preceded by, a byte
// that matters to JSON, and each byte deleted.
func TestDecodeBatchMutationsSameAsParse(t *testing.T) {
	bodies := []string{
		realisticBody,
		`{"events":[ {"t":"a\"\\\u00e9é","n":-0.5e+10,"l":[true,false,null,{}]} ],"site":"demo"}`,
		`{"site":"demo","events":[{"p":[[[[[1]]]]]}]}`,
	}
	specials := []byte("\"\\{}[],: \t\n0-+.eEu\x00\x1f\x7f\xc3\xa9\xff")
	for _, body := range bodies {
		for i := 0; i <= len(body); i++ {
			if i < len(body) {
				sameBatch(t, []byte(body[:i]+body[i+1:]))
			}
			for k := range specials {
				c := string(specials[k : k+1]) // one byte, which need not be UTF-8
				sameBatch(t, []byte(body[:i]+c+body[i:]))
				if i < len(body) {
					sameBatch(t, []byte(body[:i]+c+body[i+1:]))
				}
			}
		}
	}
}

// TestDecodeBatchFastPath checks that the tracker's bodies take the fast path, so that
// its speed cannot go unnoticed, and that it leaves the rest to the slow path.
func TestDecodeBatchFastPath(t *testing.T) {
	var indented bytes.Buffer
	if err := json.Indent(&indented, []byte(realisticBody), "\t", "  "); err != nil {
		t.Fatal(err)
	}
	fast := []string{
		realisticBody,
		indented.String(),
		" \t\r\n{ \"site\" :\t\"demo\" ,\r\n \"events\" : [ { \"id\" : \"a\" } ,\n{\"b\" : [ 1 , 2 ] , \"c\" : { } } ] }\n\t ",
		`{"events":[{"id":"a"}],"site":"demo"}`,
		`{"site":"demo","events":[{"t":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00 é ✓ 😀","n":-0.5e+10}]}`,
		`{"site":"demo","events":[{"p":[[[[[1]]]]]}]}`,
		`{"site":"demo","events":[{},{},{},{}]}`,
		`{"site":"de\u006do","events":[{}]}`,
	}
	for _, body := range fast {
		if _, _, ok := event.SplitBatch([]byte(body), MaxDepth); !ok {
			t.Errorf("slow path for %s", body)
		}
		sameBatch(t, []byte(body))
	}
	slow := []string{
		`{"Site":"demo","events":[{}]}`,
		`{"site":"demo","events":[{}],"v":1}`,
		`{"site":"demo","site":"demo","events":[{}]}`,
		`{"site":null,"events":[{}]}`,
		`{"site":"demo","events":[{"p":[[[[[[1]]]]]]}]}`, // one level deeper than MaxDepth
		`{"site":"demo","events":[1]}`,
		`{"site":"demo","events":null}`,
		`{"site":"demo","events":[{}]}x`,
		"{\"site\":\"d\xffo\",\"events\":[{}]}",
	}
	for _, body := range slow {
		if _, _, ok := event.SplitBatch([]byte(body), MaxDepth); ok {
			t.Errorf("fast path for %s", body)
		}
	}
}
