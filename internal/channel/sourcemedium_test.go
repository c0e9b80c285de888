package channel

import (
	"testing"

	"touchpoint/internal/referrer"
)

func TestSourceMedium(t *testing.T) {
	// f runs the whole derivation for a landing on shop.example: referrer
	// parsing, source/medium and the channel the session ends up in.
	f := func(utmSource, utmMedium, clickID, ref, wantSource, wantMedium, wantChannel string) {
		t.Helper()
		r := referrer.Parse(ref, "shop.example")
		source, medium := SourceMedium(utmSource, utmMedium, clickID, r, referrer.Domain(ref))
		if source != wantSource || medium != wantMedium {
			t.Errorf("SourceMedium(%q, %q, %q, %q) = %q/%q, want %q/%q",
				utmSource, utmMedium, clickID, ref, source, medium, wantSource, wantMedium)
		}
		if got := Group(source, medium, ""); got != wantChannel {
			t.Errorf("channel of %q/%q = %q, want %q", source, medium, got, wantChannel)
		}
	}
	const google = "https://www.google.co.uk/"

	// utm parameters win over click ids and referrers.
	f("newsletter", "email", "gclid", google, "newsletter", "email", Email)
	f("Google", "", "gclid", google, "Google", NotSet, OrganicSearch)
	f("", "cpc", "", google, NotSet, "cpc", PaidOther)
	f("chatgpt.com", "", "", "https://chatgpt.com/", "chatgpt.com", NotSet, AIAssistant)
	f("  ", " ", "", google, "google", "organic", OrganicSearch)

	// Paid click ids, whatever the referrer.
	f("", "", "gclid", "", "google", "cpc", PaidSearch)
	f("", "", "GBRAID", "", "google", "cpc", PaidSearch)
	f("", "", "wbraid", google, "google", "cpc", PaidSearch)
	f("", "", "dclid", "", "google", "cpc", PaidSearch)
	f("", "", "msclkid", "https://www.bing.com/", "bing", "cpc", PaidSearch)
	f("", "", "unknownclid", "", DirectSource, NoneMedium, Direct)

	// fbclid counts only when no external referrer says more.
	f("", "", "fbclid", "", "facebook", "social", OrganicSocial)
	f("", "", "fbclid", "https://shop.example/", "facebook", "social", OrganicSocial)
	f("", "", "fbclid", "https://l.instagram.com/", "instagram", "social", OrganicSocial)
	f("", "", "fbclid", "https://blog.example/", "blog.example", "referral", Referral)

	// Referrers.
	f("", "", "", google, "google", "organic", OrganicSearch)
	f("", "", "", "https://www.google.fr/imgres?q=x", "google", "organic", OrganicSearch)
	f("", "", "", "https://es.search.yahoo.com/search?p=x", "yahoo", "organic", OrganicSearch)
	f("", "", "", "https://duckduckgo.com/", "duckduckgo", "organic", OrganicSearch)
	f("", "", "", "https://t.co/x", "twitter", "social", OrganicSocial)
	f("", "", "", "https://lnkd.in/x", "linkedin", "social", OrganicSocial)
	f("", "", "", "https://m.youtube.com/watch?v=1", "youtube", "video", OrganicVideo)
	f("", "", "", "https://mail.google.com/", "gmail", "email", Email)
	f("", "", "", "https://outlook.live.com/", "outlook.com", "email", Email)
	f("", "", "", "https://chatgpt.com/", "chatgpt.com", "referral", AIAssistant)
	f("", "", "", "https://www.perplexity.ai/", "perplexity.ai", "referral", AIAssistant)
	f("", "", "", "https://gemini.google.com/", "gemini.google.com", "referral", AIAssistant)
	f("", "", "", "https://chat.qwen.ai/", "chat.qwen.ai", "referral", AIAssistant)
	f("", "", "", "https://tpc.googlesyndication.com/", "google", "cpc", PaidSearch)
	f("", "", "", "https://news.example.com/a", "news.example.com", "referral", Referral)
	f("", "", "", "https://docs.google.com/d/1", "docs.google.com", "referral", Referral)
	f("", "", "", "https://www.shop.example/cart", DirectSource, NoneMedium, Direct)
	f("", "", "", "", DirectSource, NoneMedium, Direct)
	f("", "", "", "about:blank", DirectSource, NoneMedium, Direct)
}

func TestSourceMediumWithoutDomain(t *testing.T) {
	// A caller that passes a classified referrer but no domain still gets a
	// usable source.
	source, medium := SourceMedium("", "", "", referrer.Result{Medium: referrer.MediumChatbot, Source: "ChatGPT"}, "")
	if source != "chatgpt" || medium != "referral" || Group(source, medium, "") != AIAssistant {
		t.Errorf("got %q/%q (%s), want chatgpt/referral (%s)", source, medium, Group(source, medium, ""), AIAssistant)
	}
}

func TestTouchChannel(t *testing.T) {
	f := func(tp Touch, want string) {
		t.Helper()
		if got := tp.Channel(); got != want {
			t.Errorf("%+v.Channel() = %q, want %q", tp, got, want)
		}
	}
	f(Touch{Source: "google", Medium: "cpc", Campaign: "shopping"}, PaidShopping)
	f(Touch{Source: "google", Medium: "cpc"}, PaidSearch)
	f(Touch{Source: DirectSource, Medium: NoneMedium}, Direct)
}

func TestSiteListsLoad(t *testing.T) {
	// Every list contributes and a listed domain matches its subdomains.
	f := func(source string, want category) {
		t.Helper()
		if got := categorize(source); got != want {
			t.Errorf("categorize(%q) = %b, want %b", source, got, want)
		}
	}
	f("google", search)
	f("facebook", social)
	f("youtube", video)
	f("amazon", shopping)
	f("chatgpt", ai)
	f("sub.sub.etsy.com", shopping)
	f("etsy.com.example", 0)
	f("x", social)
	f("foo.x", 0)
	f("", 0)
}
