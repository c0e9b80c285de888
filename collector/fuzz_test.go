package collector

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
	"unicode/utf8"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

// FuzzDecode feeds arbitrary bodies to the request decoder and the enrichment pipeline:
// nothing may panic, and whatever is accepted must be valid, bounded JSON that encodes
// back to a valid Kafka message. Seeds are in testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"site":"demo","events":[{"id":"a","title":"\\\"{[[[[[[[[","props":{"a":[[[[[[1]]]]]]}}]}`))
	f.Add([]byte(`{"site":"demo","events":[{"id":"0b6c4d2e-7a7e-4a43-9d55-1f1c9a9a2f10","type":"pageview","ts":1763800000000}]}`))
	pipe := enrich.New(enrich.Options{})
	st := &site.Site{ID: "demo"}
	f.Fuzz(func(t *testing.T, body []byte) {
		b, ref := decodeBatch(body, 100)
		valid := utf8.Valid(body) && json.Valid(body)
		if ref != nil {
			if ref.Reason == "" {
				t.Fatal("refusal without a reason")
			}
			if valid && (ref.Reason == reasonTooDeep) != (depth(body) > MaxDepth) {
				t.Fatalf("refused %q as %s; its depth is %d", body, ref.Reason, depth(body))
			}
			return
		}
		if !valid || depth(body) > MaxDepth {
			t.Fatalf("accepted an invalid body %q", body)
		}
		if len(b.Events) == 0 || len(b.Events) > 100 || b.Site == "" {
			t.Fatalf("accepted %d events for site %q", len(b.Events), b.Site)
		}
		for _, origin := range []string{event.OriginWeb, event.OriginImport} {
			for _, raw := range b.Events {
				it := enrich.Item{Raw: raw}
				r := &enrich.Request{Site: st, Origin: origin, Now: time.Now(), IP: netip.MustParseAddr("203.0.113.5"), UA: "Mozilla/5.0"}
				if ref := pipe.Run(r, &it); ref != nil {
					if ref.Reason == "" {
						t.Fatal("event refusal without a reason")
					}
					continue
				}
				out, err := event.AppendJSON(nil, &it.E)
				if err != nil || !json.Valid(out) {
					t.Fatalf("accepted event does not encode: %v", err)
				}
				if it.E.Site != "demo" || it.E.ReceivedAt == 0 {
					t.Fatalf("server fields not set: %+v", it.E)
				}
			}
		}
	})
}

// depth is the deepest nesting of arrays and objects in valid JSON.
func depth(body []byte) int {
	d := json.NewDecoder(bytes.NewReader(body))
	n, deepest := 0, 0
	for {
		tok, err := d.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			n++
			deepest = max(deepest, n)
		case json.Delim('}'), json.Delim(']'):
			n--
		}
	}
}
