package event

import (
	stdjson "encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/segmentio/encoding/json"
)

// reference is what the stitcher did before DecodeEnriched: json.Unmarshal into a zero Enriched.
func reference(data []byte) (Enriched, error) {
	var e Enriched
	err := json.Unmarshal(data, &e)
	return e, err
}

// fast decodes data with DecodeEnriched and reports whether it needed json.Unmarshal.
func fast(data []byte) (Enriched, bool, error) {
	var e Enriched
	d := decoder{data: data, s: string(data)}
	viaFast := d.enriched(&e, topKey)
	err := DecodeEnriched(data, &e)
	return e, !viaFast, err
}

// checkEncode checks that DecodeEnriched reads back what AppendJSON writes.
func checkEncode(t *testing.T, e *Enriched) {
	t.Helper()
	data, err := AppendJSON([]byte("prefix"), e)
	if err != nil {
		t.Fatalf("AppendJSON(%#v): %v", e, err)
	}
	var got, want Enriched
	if err := DecodeEnriched(data[len("prefix"):], &got); err != nil {
		t.Fatalf("DecodeEnriched(%s): %v", data, err)
	}
	if err := json.Unmarshal(data[len("prefix"):], &want); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeEnriched(%s)\n got %#v\nwant %#v (%v)", data, got, want, err)
	}
}

// checkEvent compares DecodeEvent with json.Unmarshal into a zero Event, the collector's
// decoding of a client's event before DecodeEvent.
func checkEvent(t *testing.T, data []byte) {
	t.Helper()
	var want Event
	wantErr := json.Unmarshal(data, &want)
	got := Event{ID: "left over"}
	err := DecodeEvent(data, &got)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("DecodeEvent(%q): error %v, json.Unmarshal: %v", data, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeEvent(%q)\n got %#v\nwant %#v", data, got, want)
	}
}

func pageviewEvent() Enriched {
	return Enriched{
		Event: Event{
			ID: "9b2f3c1e-2a4d-4c8e-9f10-123456789abc", Type: Pageview, TS: 1718000000123,
			VID:    "4f1d2c3b-aaaa-4bbb-8ccc-0123456789ab",
			URL:    "https://www.example.com/pricing?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQiA",
			Ref:    "https://www.google.com/",
			Title:  "Pricing — Example",
			Props:  stdjson.RawMessage(`{"plan":"pro"}`),
			Screen: "1920x1080", Lang: "en-GB", TZ: "Europe/London",
		},
		Site: "example.com", ReceivedAt: 1718000000456, Origin: OriginWeb,
		Country: "GB", Region: "ENG", City: "London", Browser: "Chrome", OS: "Windows", Device: DeviceDesktop,
	}
}

func TestDecodeEnrichedEvents(t *testing.T) {
	pv := pageviewEvent()
	form := pv
	form.Type, form.Form = FormSubmit, &Form{ID: "contact", Name: "Contact us", Action: "/contact", Fields: []string{"name", "email", "message"}, Password: true}
	form.Traits = map[string]string{TraitEmailSHA256: strings.Repeat("ab", 32), TraitUserID: "u-42"}
	emptyFields := pv
	emptyFields.Form = &Form{ID: "f", Fields: []string{}}
	conv := pv
	conv.Type, conv.Conversion = Conversion, &ConversionInfo{ID: "o-1", Type: "sale", LeadType: "web", Value: 1234.56, Currency: "EUR"}
	negValue := conv
	negValue.Conversion = &ConversionInfo{Value: -0.001}
	bot := pv
	bot.Bot, bot.Device = true, DeviceBot
	escapes := pv
	escapes.Title = "Quote \" backslash \\ slash / tab \t newline \n <b>&amp;</b> \u2028 \x01"
	escapes.URL = "https://example.com/é?q=日本語&e=😀"
	escapes.Traits = map[string]string{"näme\"": "Zoë \"the\" 😀", "": ""}
	escapes.Form = &Form{Fields: []string{"a\"b", "é", "😀", ""}}
	emptyProps := pv
	emptyProps.Props = stdjson.RawMessage(`{}`)
	nestedProps := pv
	nestedProps.Props = stdjson.RawMessage(`{"a":[1,2.5e3,-0,true,false,null,{"b":"c\"\u00e9"}],"d":{}}`)
	minimal := Enriched{Event: Event{ID: "x", Type: Track}, Site: "s", Origin: OriginServer}
	negative := minimal
	negative.TS, negative.ReceivedAt = -1, -9223372036854775808
	big := minimal
	big.TS, big.ReceivedAt = 9223372036854775807, 1234567890123456789
	emptyTraits := minimal
	emptyTraits.Traits = map[string]string{}

	cases := []struct {
		name string
		e    Enriched
	}{
		{"pageview", pv}, {"form", form}, {"empty fields", emptyFields}, {"conversion", conv},
		{"negative value", negValue}, {"bot", bot}, {"escapes", escapes}, {"empty props", emptyProps},
		{"nested props", nestedProps}, {"minimal", minimal}, {"negative", negative}, {"big", big},
		{"empty traits", emptyTraits}, {"zero", Enriched{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data, err := stdjson.Marshal(&c.e)
			if err != nil {
				t.Fatal(err)
			}
			got, slow, err := fast(data)
			if err != nil {
				t.Fatalf("DecodeEnriched(%s): %v", data, err)
			}
			if slow {
				t.Errorf("DecodeEnriched(%s) needed json.Unmarshal", data)
			}
			want, err := reference(data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("DecodeEnriched(%s)\n got %#v\nwant %#v", data, got, want)
			}
			var std Enriched
			if err := stdjson.Unmarshal(data, &std); err != nil || !reflect.DeepEqual(got, std) {
				t.Errorf("DecodeEnriched(%s) differs from encoding/json: %#v (%v)", data, std, err)
			}
			checkEvent(t, data)
			checkEncode(t, &c.e)
			topic, _ := AppendJSON(nil, &c.e)
			if _, slow, err := fast(topic); err != nil || slow {
				t.Errorf("DecodeEnriched(%s) needed json.Unmarshal (%v)", topic, err)
			}
			client, _ := stdjson.Marshal(&c.e.Event)
			checkEvent(t, client)
		})
	}
}

// Valid inputs the collector does not write, each compared to json.Unmarshal. slow lists
// those DecodeEnriched is expected to leave to json.Unmarshal.
func TestDecodeEnrichedUnusual(t *testing.T) {
	cases := []struct {
		in   string
		slow bool
	}{
		{`{}`, false},
		{" \t\r\n{ \"id\" :\n\"a\" , \"ts\"\t:\r1 ,\"props\" : { \"x\" : [ 1 , {} ] } , \"bot\" : true } \n", false},
		{`{"id":null,"ts":null,"received_at":null,"bot":null,"traits":null,"form":null,"conversion":null}`, false},
		{`{"form":{"fields":null,"id":null},"conversion":{"value":null,"currency":null}}`, false},
		{`{"form":{"search":true,"password":false},"conversion":{"value":null,"currency":null}}`, false},
		{`{"form":{"search":null,"password":true}}`, false},
		{`{"extra":{"a":[{"b":[[],{}]},"\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\ud800"],"n":-1.5E+10},"id":"a"}`, false},
		{`{"Extra":1,"ID_X":2,"form":{"Other":[]},"conversion":{"Foo":null}}`, false},
		{`{"extra":"` + "\xff\xfe" + `","id":"a"}`, false},
		{`{"props":"just a string"}`, false},
		{`{"props":[1,2]}`, false},
		{`{"props":12.5e-3}`, false},
		{`{"bot":false,"ts":0,"received_at":-0}`, false},
		{`{"traits":{"a":"1","a":"2"}}`, false},
		{`{"conversion":{"value":1e308}}`, false},
		{`{"conversion":{"value":5e-324}}`, false},
		{`{"conversion":{"value":1e-400}}`, false},
		{`{"ts":12345678901234567890123}`, true}, // overflow: an error
		{`{"ID":"upper","Site":"s","RECEIVED_AT":5}`, true},
		{`{"form":{"ID":"x"},"conversion":{"Value":2}}`, true},
		{`{"s\u0069te":"escaped key"}`, true},
		{`{"id":"a","id":"b"}`, true},
		{`{"form":{"id":"a"},"form":{"name":"b"}}`, true},
		{`{"form":{"fields":["a",null]}}`, true},
		{`{"traits":{"a":null}}`, false},
		{`{"traits":{"user_id":42,"n":-1.50e+3,"z":-0,"ok":true,"no":false,"gone":null}}`, false},
		{`{"traits":{"a":"1","a":null,"b":null,"b":2}}`, false},
		{`{"traits":{"a":1e400}}`, false}, // kept as the text it is
		{`{"props":null}`, true},
		{`{"title":"` + "bad \xff utf-8" + `"}`, true},
		{`{"title":"lone \ud800 surrogate"}`, true},
		{`{"title":"lone \udc00\ud800 surrogates"}`, true},
		{`{"title":"escaped \u00e9 and bad ` + "\xc3" + `"}`, true},
		{`{"ſite":"long s"}`, true},
		{`{"title":"abcdefghijklmnop` + "\xff" + `"}`, true},
		{`{"title":"abcdefghijklmnop\u0026` + "\xe2\x82" + `"}`, true},
		{`{"title":"abcdefghijklmnop\"\\` + "\x7f" + `","url":"\u0041\u00e9\u20ac\uD83D\uDE00"}`, false},
		{`null`, true},
		{`{"extra":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}`, true},
	}
	for _, c := range cases {
		want, wantErr := reference([]byte(c.in))
		got, slow, err := fast([]byte(c.in))
		if (err != nil) != (wantErr != nil) {
			t.Errorf("DecodeEnriched(%q): error %v, json.Unmarshal: %v", c.in, err, wantErr)
			continue
		}
		if slow != c.slow {
			t.Errorf("DecodeEnriched(%q) needed json.Unmarshal: %v, want %v", c.in, slow, c.slow)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeEnriched(%q)\n got %#v\nwant %#v", c.in, got, want)
		}
		checkEvent(t, []byte(c.in))
		if err == nil {
			checkEncode(t, &got)
		}
	}
}

func TestDecodeEnrichedErrors(t *testing.T) {
	full, _ := stdjson.Marshal(pageviewEvent())
	for _, in := range []string{
		``, ` `, `{`, `[]`, `"x"`, `1`, `{"id":"a"`, `{"id":"a",}`, `{"id":"a"}x`, `{"id":"a"} {}`,
		`{"id" "a"}`, `{"id":"a" "ts":1}`, `{"id":'a'}`, `{id:"a"}`, `{"id":"a\x"}`, `{"id":"a\u12"}`,
		`{"id":"` + "\x01" + `"}`, `{"id":"abcdefghij` + "\x1f" + `klmnop"}`, `{"url":"abcdefgh\u0026` + "\x01" + `"}`,
		`{"url":"abcdefgh\u0026\`, `{"url":"abcdefgh\ud83d\u"}`, `{"url":"abcdefghijklmnop`, `{"ts":"x"}`, `{"ts":1.5}`, `{"ts":1e3}`, `{"ts":01}`, `{"ts":-}`,
		`{"ts":+1}`, `{"received_at":true}`, `{"bot":"true"}`, `{"bot":1}`, `{"id":1}`, `{"site":{}}`,
		`{"traits":[]}`, `{"traits":{"a":{}}}`, `{"traits":{"a":[1]}}`, `{"traits":{"a":01}}`, `{"traits":{"a":+1}}`,
		`{"traits":{"a":tru}}`, `{"traits":{"a":1.}}`, `{"form":[]}`, `{"form":{"fields":"a"}}`,
		`{"form":{"fields":[1]}}`, `{"form":{"search":1}}`, `{"form":{"password":"true"}}`, `{"form":{"fields":["a",]}}`, `{"conversion":{"value":"1"}}`,
		`{"conversion":{"value":1.}}`, `{"conversion":{"value":.5}}`, `{"conversion":{"value":1e400}}`,
		`{"props":{"a":}}`, `{"props":{"a":1,}}`, `{"props":[1,]}`, `{"props":tru}`, `{"props":nul}`,
		`{"extra":{"a" 1}}`, `{"extra":[1 2]}`, `{"extra":"` + "\n" + `"}`, `{"extra":-01}`,
		string(full[:len(full)-1]), string(full[:len(full)/2]), string(full) + ",",
	} {
		if _, err := reference([]byte(in)); err == nil {
			t.Errorf("json.Unmarshal(%q) accepts it: not an invalid input", in)
		}
		if _, _, err := fast([]byte(in)); err == nil {
			t.Errorf("DecodeEnriched(%q) = nil error", in)
		}
	}
}

// A client's event cannot set what the collector determines: those keys are skipped, also
// when their values would not fit the Enriched fields.
func TestDecodeEventSkipsEnrichedKeys(t *testing.T) {
	in := []byte(`{"id":"a","site":"other","received_at":true,"origin":{"x":1},"country":"GB","bot":true,"Site":"s","ts":5}`)
	var e Event
	if err := DecodeEvent(in, &e); err != nil {
		t.Fatal(err)
	}
	if want := (Event{ID: "a", TS: 5}); !reflect.DeepEqual(e, want) {
		t.Errorf("got %#v, want %#v", e, want)
	}
	checkEvent(t, in)
}

// DecodeEnriched overwrites what e held, unlike json.Unmarshal, which merges into it.
func TestDecodeEnrichedOverwrites(t *testing.T) {
	e := pageviewEvent()
	e.Traits = map[string]string{"a": "b"}
	if err := DecodeEnriched([]byte(`{"id":"x"}`), &e); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(e, Enriched{Event: Event{ID: "x"}}) {
		t.Errorf("got %#v", e)
	}
}

// Random messages built from pieces that are each valid or nearly so, compared to
// json.Unmarshal: unlike random bytes, most of them decode.
func TestDecodeEnrichedRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(s ...string) string { return s[rng.IntN(len(s))] }
	ws := func() string {
		if rng.IntN(4) > 0 {
			return ""
		}
		return pick(" ", "\n", "\t ", "\r\n  ")
	}
	str := func() string {
		var b strings.Builder
		b.WriteByte('"')
		for range rng.IntN(6) {
			b.WriteString(pick("a", "Hello, world", "0123456789abcdef", `\"`, `\\`, `\/`, `\n`, `\t`, `\b`,
				`\f`, `\r`, `\u00e9`, `\u0026`, `\u2028`, `\ud83d\ude00`, `\uD83D\uDE00`, `\u0000`, "é", "😀",
				"\x7f", "\xff", `\ud800`, `\udc00x`, "—", "\xe2\x80"))
			if rng.IntN(100) == 0 {
				b.WriteString(pick(`\u12`, `\x`, "\x01"))
			}
		}
		b.WriteByte('"')
		return b.String()
	}
	var value func(depth int) string
	value = func(depth int) string {
		switch rng.IntN(9) {
		case 0:
			return pick("null", "true", "false")
		case 1:
			if rng.IntN(20) == 0 {
				return pick("01", "1.", ".5", "-", "1e")
			}
			return pick("0", "-0", "12", "-7", "1.5", "1e3", "-2.5E-3", "9223372036854775807",
				"9223372036854775808", "-9223372036854775808", "1e400", "123456789012345678")
		case 2, 3:
			if depth < 3 {
				var b strings.Builder
				b.WriteString("{" + ws())
				for i := range rng.IntN(4) {
					if i > 0 {
						b.WriteString("," + ws())
					}
					b.WriteString(str() + ws() + ":" + ws() + value(depth+1) + ws())
				}
				return b.String() + "}"
			}
		case 4:
			if depth < 3 {
				var b strings.Builder
				b.WriteString("[" + ws())
				for i := range rng.IntN(4) {
					if i > 0 {
						b.WriteString("," + ws())
					}
					b.WriteString(value(depth+1) + ws())
				}
				return b.String() + "]"
			}
		}
		return str()
	}
	typed := map[string]func() string{
		"ts": func() string {
			if rng.IntN(20) == 0 {
				return pick("1.5", `"1"`, "99999999999999999999")
			}
			return pick("1718000000123", "-1", "0", "null", "-0")
		},
		"received_at": func() string { return pick("1718000000456", "null", "-0") },
		"bot":         func() string { return pick("true", "false", "null") },
		"search":      func() string { return pick("true", "false", "null") },
		"password":    func() string { return pick("true", "false", "null") },
		"props":       func() string { return value(0) },
		"traits": func() string {
			if rng.IntN(20) == 0 {
				return value(1)
			}
			var b strings.Builder
			b.WriteString("{")
			for i := range rng.IntN(4) {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(pick(`"email_sha256"`, `"user_id"`, `"a"`, str()) + ":" + pick(str(), str(), "null", "42", "-1.5e3", "true", "false"))
			}
			return b.String() + "}"
		},
		"fields": func() string {
			if rng.IntN(20) == 0 {
				return value(1)
			}
			var b strings.Builder
			b.WriteString("[")
			for i := range rng.IntN(4) {
				if i > 0 {
					b.WriteString(",")
				}
				b.WriteString(pick(str(), str(), str(), str(), str(), "null"))
			}
			return b.String() + "]"
		},
		"value": func() string { return pick("12.5", "-0.001", "1e308", "1e-400", "0", "null", "7", "1e400") },
	}
	var object func(keys []string, nested map[string][]string) string
	object = func(keys []string, nested map[string][]string) string {
		var b strings.Builder
		b.WriteString(ws() + "{" + ws())
		for i := range rng.IntN(len(keys) + 3) {
			if i > 0 {
				b.WriteString(ws() + "," + ws())
			}
			k := pick(keys...)
			switch rng.IntN(12) {
			case 0:
				k = strings.ToUpper(k)
			case 1:
				k = "x" + k
			case 2:
				k = strings.Replace(k, "i", `\u0069`, 1)
			}
			var v string
			switch {
			case nested[k] != nil && rng.IntN(50) > 0:
				v = object(nested[k], nil)
			case typed[k] != nil && rng.IntN(50) > 0:
				v = typed[k]()
			case k[0] == 'x' || rng.IntN(50) == 0:
				v = value(0)
			default:
				v = str()
			}
			b.WriteString(`"` + k + `"` + ws() + ":" + ws() + v)
		}
		return b.String() + ws() + "}" + ws()
	}
	top := []string{"id", "type", "ts", "vid", "url", "ref", "title", "name", "props", "traits", "form",
		"conversion", "screen", "lang", "tz", "ip", "ua", "site", "received_at", "origin", "country",
		"region", "city", "browser", "os", "device", "bot"}
	nested := map[string][]string{
		"form":       {"id", "name", "action", "fields", "search", "password"},
		"conversion": {"id", "type", "lead_type", "value", "currency"},
	}
	n := 50000
	if testing.Short() {
		n = 5000
	}
	var viaFast, decoded int
	for range n {
		in := []byte(object(top, nested))
		want, wantErr := reference(in)
		got, slow, err := fast(in)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("DecodeEnriched(%q): error %v, json.Unmarshal: %v", in, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("DecodeEnriched(%q)\n got %#v\nwant %#v", in, got, want)
		}
		checkEvent(t, in)
		if err == nil {
			checkEncode(t, &got)
			decoded++
			if !slow {
				viaFast++
			}
		}
	}
	t.Logf("%d of %d decoded, %d of them without json.Unmarshal", decoded, n, viaFast)
}

// special looks at eight bytes at a time: each byte value at each place must be found.
func TestSpecial(t *testing.T) {
	for n := 1; n <= 20; n++ {
		for at := 0; at < n; at++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[at] = byte(c)
				want := n
				if !plain[c] {
					want = at
				}
				// A second special byte after the first must not change the answer.
				if at+1 < n {
					b[at+1] = 0
					if want == n {
						want = at + 1
					}
				}
				if got := special(b, 0); got != want {
					t.Fatalf("special(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

func FuzzDecodeEnriched(f *testing.F) {
	pv := pageviewEvent()
	full := pv
	full.Traits = map[string]string{"email_sha256": "ab", "é": "\"x\""}
	full.Form = &Form{ID: "f", Fields: []string{"a", "b"}}
	full.Conversion = &ConversionInfo{ID: "c", Value: 12.5, Currency: "USD"}
	full.Bot = true
	for _, e := range []Enriched{pv, full, {}} {
		data, _ := stdjson.Marshal(&e)
		f.Add(data)
	}
	f.Add([]byte(`{"extra":{"a":[1,"\u00e9\ud83d\ude00"]},"props":[],"ts":-0,"form":{"fields":[]}}`))
	f.Add([]byte(`{"ID":"a","traits":{"a":"1","a":"2"},"conversion":{"value":1e-3}} `))
	f.Add([]byte(`{"url":"https://x.example/p?a=1\u0026b=\"q\"\\\/é\ud83d\ude00","title":"Zoë — long enough for eight"}`))
	f.Add([]byte(`[{"a":"b"},1.5,null]`))
	f.Add([]byte(`{"id":"a\u00e9","fields":["x"],"value":-1.25e2}`))
	// Random bytes are seldom valid JSON: data is also tried as a string's content, a key,
	// and a member's value, so that valid messages of every shape are compared too.
	wraps := [][2]string{
		{``, ``}, {`{"url":"`, `"}`}, {`{"traits":{"`, `":"v"}}`}, {`{"`, `":1,"id":"a"}`},
		{`{"props":`, `,"id":"a"}`}, {`{"extra":`, `}`}, {`{"traits":`, `}`}, {`{"form":`, `}`},
		{`{"form":{"fields":`, `}}`}, {`{"conversion":`, `}`}, {`{"conversion":{"value":`, `}}`},
		{`{"title":`, `}`}, {`{"ts":`, `}`}, {`{"bot":`, `}`},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, w := range wraps {
			in := []byte(w[0] + string(data) + w[1])
			want, wantErr := reference(in)
			got, _, err := fast(in)
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("DecodeEnriched(%q): error %v, json.Unmarshal: %v", in, err, wantErr)
			}
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Fatalf("DecodeEnriched(%q)\n got %#v\nwant %#v", in, got, want)
			}
			checkEvent(t, in)
			if err == nil {
				checkEncode(t, &got)
			}
		}
	})
}

func BenchmarkDecodeEnriched(b *testing.B) {
	e := pageviewEvent()
	data, err := AppendJSON(nil, &e) // as the collector writes it
	if err != nil {
		b.Fatal(err)
	}
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		var e Enriched
		for b.Loop() {
			if err := DecodeEnriched(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("json.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			var e Enriched
			if err := json.Unmarshal(data, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
