package session

import (
	"testing"

	"github.com/google/uuid"
)

// benchEvents are one visitor's day: a paid landing, internal pages, a payment provider's
// return, a search visit, and reloads.
func benchEvents() [][2]string {
	return [][2]string{
		{"https://www.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=brand&gclid=Cj0KCQiA", "https://www.google.com/"},
		{"https://www.example.com/pricing", "https://www.example.com/"},
		{"https://www.example.com/checkout", "https://www.example.com/pricing"},
		{"https://www.example.com/thanks?order=42", "https://www.paypal.com/checkoutnow?token=EC-1"},
		{"https://www.example.com/thanks?order=42", ""},
		{"https://www.example.com/blog/post", "https://www.bing.com/search?q=example"},
		{"https://www.example.com/blog/other", "https://www.example.com/blog/post"},
		{"https://shop.example.org/cart", "https://www.example.com/blog/other"},
	}
}

func BenchmarkNewEventAndSplit(b *testing.B) {
	pages := benchEvents()
	ids := make([]uuid.UUID, 64)
	for i := range ids {
		ids[i] = uuid.New()
	}
	evs := make([]Event, 0, len(ids))
	referrals := NewReferrals([]string{"example.com", "example.org"}, nil)
	b.ReportAllocs()
	for b.Loop() {
		evs = evs[:0]
		for i, id := range ids {
			p := pages[i%len(pages)]
			evs = append(evs, NewEvent(id, 1_763_800_000+int64(i)*300, true, false, p[0], p[1], referrals))
		}
		Split("demo", "v", evs)
	}
}
