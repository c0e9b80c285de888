package referrer

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	f := func(referrer, pageHost, medium, source, term string) {
		t.Helper()
		want := Result{Medium: medium, Source: source, Term: term}
		if got := Parse(referrer, pageHost); got != want {
			t.Errorf("Parse(%q, %q)\n got  %+v\n want %+v", referrer, pageHost, got, want)
		}
	}
	const page = "shop.example"

	// Search engines, with and without a term.
	f("https://www.google.com/", page, "search", "Google", "")
	f("https://www.google.co.uk/search?q=blue+shoes&hl=en", page, "search", "Google", "blue shoes")
	f("https://www.google.de/url?sa=t&q=&esrc=s", page, "search", "Google", "")
	f("https://www.google.com/#q=fragment+query", page, "search", "Google", "fragment query")
	f("https://www.bing.com/search?q=caf%C3%A9&form=QBLH", page, "search", "Bing", "café")
	f("https://duckduckgo.com/", page, "search", "DuckDuckGo", "")
	f("https://www.baidu.com/s?ie=utf-8&wd=%E9%9E%8B", page, "search", "Baidu", "鞋")
	f("https://www.ecosia.org/search?q=tea", page, "search", "Ecosia", "tea")
	f("https://yandex.ru/search/?text=%D1%87%D0%B0%D0%B9", page, "search", "Yandex", "чай")
	f("https://search.naver.com/search.naver?query=kimchi", page, "search", "Naver", "kimchi")
	f("https://search.seznam.cz/?q=pivo", page, "search", "Seznam", "pivo")
	f("https://search.yahoo.co.jp/search?p=sushi", page, "search", "Yahoo!", "sushi")
	f("https://search.brave.com/search?q=brave", page, "search", "Brave", "brave")
	// Path-aware: images on the same hosts are their own sources.
	f("https://www.google.com.br/imgres?q=gato", page, "search", "Google Images", "gato")
	f("https://www.google.com.br/imgresults?q=gato", page, "search", "Google", "gato")
	f("https://images.google.de/", page, "search", "Google Images", "")
	f("https://www.bing.com/images/search?q=cat", page, "search", "Bing Images", "cat")
	f("https://www.bing.com/imagesearch?q=cat", page, "search", "Bing", "cat")
	// A malformed escape elsewhere in the query does not hide the term.
	f("https://www.google.com/search?x=%zz&q=red%20tea", page, "search", "Google", "red tea")
	// Invalid UTF-8 in the term is replaced, never passed on.
	f("https://www.google.com/search?q=%ff", page, "search", "Google", "\uFFFD")
	// Hosts under a search domain that are not search.
	f("https://mail.google.com/mail/u/0/", page, "email", "Gmail", "")
	f("https://gemini.google.com/app", page, "chatbot", "Google Gemini", "")
	f("https://docs.google.com/document/d/1", page, "unknown", "", "")
	f("https://news.yahoo.com/article", page, "unknown", "", "")
	// Suffix matching is on dot boundaries only.
	f("https://notgoogle.com/search?q=x", page, "unknown", "", "")
	f("https://google.com.evil.example/search?q=x", page, "unknown", "", "")
	f("https://thet.co/abc", page, "unknown", "", "")

	// Social networks, including link shorteners and apps.
	f("https://t.co/abc", page, "social", "Twitter", "")
	f("https://x.com/someone/status/1", page, "social", "Twitter", "")
	f("https://lnkd.in/xyz", page, "social", "LinkedIn", "")
	f("https://www.linkedin.com/feed/", page, "social", "LinkedIn", "")
	f("https://l.facebook.com/l.php?u=x", page, "social", "Facebook", "")
	f("https://l.instagram.com/?u=x", page, "social", "Instagram", "")
	f("https://old.reddit.com/r/golang", page, "social", "Reddit", "")
	f("https://www.youtube.com/watch?v=1", page, "social", "YouTube", "")
	f("https://bsky.app/profile/x", page, "social", "Bluesky", "")
	f("https://www.tiktok.com/@x", page, "social", "TikTok", "")
	f("https://pin.it/abc", page, "social", "Pinterest", "")
	f("android-app://com.linkedin.android/", page, "social", "LinkedIn", "")

	// Webmail.
	f("https://outlook.live.com/mail/0/inbox", page, "email", "Outlook.com", "")
	f("https://mail.yahoo.com/d/folders/1", page, "email", "Yahoo! Mail", "")
	f("https://www.icloud.com/mail/", page, "email", "iCloud Mail", "")
	f("https://www.icloud.com/photos/", page, "unknown", "", "")
	f("android-app://com.google.android.gm", page, "email", "Gmail", "")

	// AI assistants.
	f("https://chatgpt.com/", page, "chatbot", "ChatGPT", "")
	f("https://chat.openai.com/c/1", page, "chatbot", "ChatGPT", "")
	f("https://www.perplexity.ai/search/abc", page, "chatbot", "Perplexity.ai", "")
	f("https://copilot.microsoft.com/", page, "chatbot", "Microsoft Copilot", "")
	f("https://claude.ai/chat/1", page, "chatbot", "Claude.ai", "")
	f("https://huggingface.co/chat/", page, "chatbot", "HuggingChat", "")
	f("https://huggingface.co/models", page, "unknown", "", "")

	// Ad servers.
	f("https://googleads.g.doubleclick.net/pagead/ads", page, "paid", "Google", "")
	f("https://www.googleadservices.com/pagead/aclk", page, "paid", "Google", "")
	f("https://tpc.googlesyndication.com/", page, "paid", "Google", "")

	// Internal: same host, www, port and case do not matter; subdomains either way.
	f("https://shop.example/cart", page, "internal", "", "")
	f("https://WWW.Shop.Example:8443/", "shop.example", "internal", "", "")
	f("https://shop.example/", "www.shop.example:8080", "internal", "", "")
	f("https://blog.shop.example/post", page, "internal", "", "")
	f("https://example/", "shop.example", "unknown", "", "")
	f("https://www.google.com/search?q=x", "google.com", "internal", "", "")
	f("https://other.example/", page, "unknown", "", "")
	f("https://evilshop.example/", page, "unknown", "", "")

	// Junk and edge cases.
	f("", page, "unknown", "", "")
	f("   ", page, "unknown", "", "")
	f("not a url", page, "unknown", "", "")
	f("http://[::1", page, "unknown", "", "")
	f("about:blank", page, "unknown", "", "")
	f("file:///etc/passwd", page, "unknown", "", "")
	f("chrome-extension://abcdef/page.html", page, "unknown", "", "")
	f("www.google.com/search?q=no+scheme", page, "search", "Google", "no scheme")
	f("HTTPS://WWW.GOOGLE.COM/SEARCH?q=Case", page, "search", "Google", "Case")
	f("https://google.com./search?q=dot", page, "search", "Google", "dot")
}

func TestParseBoundsTerm(t *testing.T) {
	long := strings.Repeat("é", maxTermLen)
	r := Parse("https://www.google.com/search?q="+long, "")
	if len(r.Term) > maxTermLen || !strings.HasPrefix(long, r.Term) || r.Term == "" {
		t.Fatalf("term not cut at a character boundary within %d bytes: %d bytes", maxTermLen, len(r.Term))
	}
}

func TestDomain(t *testing.T) {
	f := func(in, want string) {
		t.Helper()
		if got := Domain(in); got != want {
			t.Errorf("Domain(%q) = %q, want %q", in, got, want)
		}
	}
	f("https://www.Example.COM:8080/path?q=1", "example.com")
	f("https://m.facebook.com/", "m.facebook.com")
	f("https://wwwexample.com/", "wwwexample.com")
	f("https://www2.example.com/", "www2.example.com")
	f("example.org/page", "example.org")
	f("android-app://com.google.android.gm/", "com.google.android.gm")
	f("https://[2001:db8::1]:443/", "2001:db8::1")
	f("", "")
	f("about:blank", "")
	f("::::", "")
	// SplitURL's shape and its edges, each also read through url.Parse.
	for _, in := range []string{
		"https://WWW.Example.com./a?b#c", " https://www.example.com ", "http://a.example:/x", "http://a.example:8x/",
		"https://a.b:c:80/", "https://ex ample.com/", "https://exa%41mple.com/", "https://münchen.example/",
		"https://a.example/%zz", "https://a.example/#%zz", "https://a.example/?%zz", "https://u@a.example/",
		"https://a.example/\x7f", "HTTPS://A.EXAMPLE/", "https://", "https:///p", "https://www./", "https://a_b.example/",
	} {
		f(in, hostOf(parseURL(in)))
	}
}

func TestKey(t *testing.T) {
	f := func(source, want string) {
		t.Helper()
		if got := Key(source); got != want {
			t.Errorf("Key(%q) = %q, want %q", source, got, want)
		}
	}
	f("Google", "google")
	f("Google Images", "google")
	f("Yahoo!", "yahoo")
	f("Yahoo! Mail", "yahoo mail")
	f("Bing Images", "bing")
	f("DuckDuckGo", "duckduckgo")
	f("LinkedIn", "linkedin")
	f("Not Listed", "not listed")
}

func TestLoadRejectsAmbiguousData(t *testing.T) {
	f := func(referrers, otherSites string) {
		t.Helper()
		if _, err := load([]byte(referrers), []byte(otherSites)); err == nil {
			t.Errorf("load accepted %s / %q", referrers, otherSites)
		}
	}
	f(`{"search":{"A":{"domains":["a.com"]},"B":{"domains":["A.com"]}}}`, "")
	f(`{"search":{"A":{"domains":["a.com/x"]}},"social":{"B":{"domains":["a.com/x/"]}}}`, "")
	f(`{"search":{"A":{"domains":["a.com"]}}}`, "a.com")
	f(`{"video":{"A":{"domains":["a.com"]}}}`, "")
	f(`{"search":{"A":{"domains":[]}}}`, "")
	f(`{"search":{"A":{"domains":[".a.com"]}}}`, "")
	f(`{"search":{"A":{"key":"a","domains":["a.com"]}},"email":{"A":{"key":"b","domains":["b.com"]}}}`, "")
	f(`{"search":`, "")

	if _, err := load([]byte(`{"search":{"A":{"domains":["a.com","a.com/x"]}}}`), []byte("# c\n\nb.a.com\n")); err != nil {
		t.Errorf("load refused valid data: %s", err)
	}
}

func TestLookup(t *testing.T) {
	f := func(domain, medium, source, listed string) {
		t.Helper()
		r, l := Lookup(domain)
		if r != (Result{Medium: medium, Source: source}) || l != listed {
			t.Errorf("Lookup(%q) = %+v, %q; want %s/%s, %q", domain, r, l, medium, source, listed)
		}
	}
	f("m.facebook.com", "social", "Facebook", "facebook.com")
	f("WWW.Google.DE", "search", "Google", "google.de")
	f("mail.google.com", "email", "Gmail", "mail.google.com")
	f("docs.google.com", "unknown", "", "docs.google.com")
	f("example.com", "unknown", "", "")
	f("google.com/imgres", "unknown", "", "")
}
