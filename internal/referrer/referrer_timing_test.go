package referrer

import "testing"

func BenchmarkParse(b *testing.B) {
	refs := []string{
		"https://www.google.co.uk/search?q=blue+shoes&hl=en",
		"https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example",
		"https://news.example.com/article/1",
		"https://shop.example/cart",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		Parse(refs[i%len(refs)], "shop.example")
	}
}
