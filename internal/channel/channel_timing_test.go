package channel

import "testing"

func BenchmarkGroup(b *testing.B) {
	in := [][3]string{
		{"google", "cpc", "brand"},
		{"m.facebook.com", "referral", ""},
		{"www.google.de", "referral", ""},
		{"newsletter", "email", "spring"},
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		c := in[i%len(in)]
		Group(c[0], c[1], c[2])
	}
}
