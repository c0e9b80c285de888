package collector

import (
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// TestSchemaAgreesWithDecoder checks, on a table of events, that schemas/event.schema.json
// and the collector's decoder accept and refuse the same events, so the published
// contract cannot drift from what the collector does.
func TestSchemaAgreesWithDecoder(t *testing.T) {
	file := filepath.Join(testenv.RepoRoot(t), "schemas", "event.schema.json")
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatalf("schema is not JSON: %v", err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("event.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	batchSchema, err := c.Compile("event.schema.json")
	if err != nil {
		t.Fatalf("schema does not compile: %v", err)
	}
	eventSchema, err := c.Compile("event.schema.json#/$defs/event")
	if err != nil {
		t.Fatal(err)
	}
	pipe := enrich.New(enrich.Options{})
	st := &site.Site{ID: "demo"}
	valid := func(s *jsonschema.Schema, body string) bool {
		v, err := jsonschema.UnmarshalJSON(strings.NewReader(body))
		return err == nil && s.Validate(v) == nil
	}
	id := `"id":"0b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10"`
	fe := func(ev string, want bool) {
		t.Helper()
		if got := valid(eventSchema, ev); got != want {
			t.Fatalf("schema says %v for %s, want %v", got, ev, want)
		}
		it := enrich.Item{Raw: []byte(ev)}
		r := &enrich.Request{Site: st, Origin: event.OriginWeb, Now: time.Now(), IP: netip.MustParseAddr("192.0.2.1"), UA: browserUA}
		if ref := pipe.Run(r, &it); (ref == nil) != want {
			t.Fatalf("decoder says %v (%v) for %s, want %v", ref == nil, ref, ev, want)
		}
	}
	fe(`{`+id+`,"type":"pageview","ts":1763800000000,"vid":"v-1","url":"https://a.example/","ref":"","title":"T","screen":"1x1","lang":"en","tz":"UTC"}`, true)
	fe(`{`+id+`,"type":"track","name":"signup","props":{"plan":"pro","n":3,"ok":true,"x":null}}`, true)
	fe(`{`+id+`,"type":"identify","traits":{"email":"a@b.c","user_id":"42"}}`, true)
	fe(`{`+id+`,"type":"form_submit","form":{"id":"f","name":"n","action":"/go","fields":["email"]}}`, true)
	fe(`{`+id+`,"type":"conversion","conversion":{"id":"o1","type":"sale","lead_type":"web","value":10.5,"currency":"EUR"}}`, true)
	fe(`{`+id+`,"type":"call_click","future_field":1}`, true)
	fe(`{"type":"pageview"}`, false)
	fe(`{`+id+`}`, false)
	fe(`{"id":"0b6c4d2e7a7e4a439d551f1c9a9a2f10","type":"pageview"}`, false)
	fe(`{`+id+`,"type":"purchase"}`, false)
	fe(`{`+id+`,"type":"track"}`, false)
	fe(`{`+id+`,"type":"track","name":""}`, false)
	fe(`{`+id+`,"type":"pageview","ts":-1}`, false)
	fe(`{`+id+`,"type":"pageview","ts":"1763800000000"}`, false)
	fe(`{`+id+`,"type":"pageview","vid":"has space"}`, false)
	fe(`{`+id+`,"type":"pageview","title":"`+strings.Repeat("x", 1025)+`"}`, false)
	fe(`{`+id+`,"type":"pageview","url":"`+strings.Repeat("x", 4097)+`"}`, false)
	fe(`{`+id+`,"type":"track","name":"x","props":{"a":{"b":1}}}`, false)
	fe(`{`+id+`,"type":"track","name":"x","props":[1]}`, false)
	fe(`{`+id+`,"type":"identify","traits":{"user_id":42,"vip":true,"score":-1.5e3,"gone":null}}`, true)
	fe(`{`+id+`,"type":"identify","traits":{"n":{"a":1}}}`, false)
	fe(`{`+id+`,"type":"identify","traits":{"n":[1]}}`, false)
	fe(`{`+id+`,"type":"identify","traits":{"email_sha256":"abc"}}`, false)
	fe(`{`+id+`,"type":"conversion","conversion":{"currency":"eur"}}`, false)
	fe(`{`+id+`,"type":"form_submit","form":{"fields":"email"}}`, false)

	fb := func(body string, want bool) {
		t.Helper()
		if got := valid(batchSchema, body); got != want {
			t.Fatalf("schema says %v for %s, want %v", got, body, want)
		}
		_, ref := decodeBatch([]byte(body), 1000)
		if (ref == nil) != want {
			t.Fatalf("decoder says %v (%v) for %s, want %v", ref == nil, ref, body, want)
		}
	}
	fb(`{"site":"demo","events":[{`+id+`,"type":"pageview"}]}`, true)
	fb(`{"site":"demo","events":[]}`, false)
	fb(`{"events":[{`+id+`,"type":"pageview"}]}`, false)
	fb(`{"site":"demo"}`, false)
	fb(`[]`, false)
}
