package session

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/uuid"

	"touchpoint/internal/referrer"
)

// ev is a pageview at minute min on url with referrer ref; ids follow the order of creation.
func ev(n int, min int64, url, ref string) Event {
	id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(n)))
	return NewEvent(id, 1_763_800_000+min*60, true, false, url, ref, nil)
}

// shape renders sessions as "first-last" event numbers joined by spaces, e.g. "0-2 3-3".
func shape(evs []Event, ss []Session, order map[uuid.UUID]int) string {
	var parts []string
	for _, s := range ss {
		parts = append(parts, fmt.Sprintf("%d-%d", order[evs[s.First].ID], order[evs[s.Last].ID]))
	}
	return strings.Join(parts, " ")
}

func TestSplit(t *testing.T) {
	const site, vid = "demo", "v1"
	type pv struct {
		min      int64
		url, ref string
	}
	f := func(in []pv, want string) {
		t.Helper()
		var evs []Event
		order := map[uuid.UUID]int{}
		for i, p := range in {
			e := ev(i, p.min, p.url, p.ref)
			order[e.ID] = i
			evs = append(evs, e)
		}
		got, ss := Split(site, vid, evs)
		if s := shape(got, ss, order); s != want {
			t.Fatalf("sessions = %q, want %q", s, want)
		}
	}
	home, pricing := "https://shop.example.com/", "https://shop.example.com/pricing"
	ads := "https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=spring"
	f([]pv{{0, home, ""}, {10, pricing, home}, {39, home, pricing}}, "0-2")
	// 30 minutes exactly still continues; one second more does not.
	f([]pv{{0, home, ""}, {30, pricing, home}}, "0-1")
	f([]pv{{0, home, ""}, {31, pricing, home}}, "0-0 1-1")
	// A new campaign, click id or external referrer starts a new session.
	f([]pv{{0, home, ""}, {5, ads, ""}, {6, pricing, ads}}, "0-0 1-2")
	f([]pv{{0, ads, ""}, {5, ads, ""}}, "0-1")
	f([]pv{{0, home + "?gclid=a", ""}, {5, home + "?gclid=b", ""}}, "0-0 1-1")
	f([]pv{{0, home + "?gclid=a", "https://www.google.com/"}, {5, home + "?gclid=a", ""}}, "0-1")
	f([]pv{{0, ads, ""}, {5, home, "https://www.google.com/"}}, "0-0 1-1")
	f([]pv{{0, home, "https://www.google.com/"}, {2, pricing, home}, {3, home, "https://www.bing.com/"}}, "0-1 2-2")
	f([]pv{{0, home, "https://www.google.com/"}, {3, home, "https://www.google.com/"}}, "0-1")
	// Internal referrers (also from a subdomain) and reloads do not.
	f([]pv{{0, ads, ""}, {1, pricing, "https://blog.shop.example.com/post"}}, "0-1")
	// A page refreshing every 20 minutes for two days is one session a day.
	var refresh []pv
	for m := int64(0); m < 48*60; m += 20 {
		refresh = append(refresh, pv{m, home, ""})
	}
	f(refresh, "0-71 72-143")
	// Events arriving out of order give the same sessions.
	f([]pv{{39, home, pricing}, {0, home, ""}, {10, pricing, home}}, "1-0")
}

func TestSplitIsOrderIndependent(t *testing.T) {
	urls := []string{"https://a.example/", "https://a.example/x?utm_source=news&utm_medium=email", "https://a.example/?gclid=z"}
	var evs []Event
	for i := range 200 {
		evs = append(evs, ev(i, int64(i*7%500), urls[i%len(urls)], ""))
	}
	_, want := Split("s", "v", append([]Event(nil), evs...))
	for range 5 {
		shuffled := append([]Event(nil), evs...)
		rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		shuffled = append(shuffled, shuffled[:20]...) // replayed duplicates
		_, got := Split("s", "v", shuffled)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("shuffled and replayed events give other sessions:\n got %v\nwant %v", got, want)
		}
	}
}

func TestSessionCounts(t *testing.T) {
	a := ev(1, 0, "https://a.example/", "")
	b := ev(2, 1, "https://a.example/b", "https://a.example/")
	track := NewEvent(uuid.New(), a.TS+5, false, true, a.URL, "", nil)
	_, ss := Split("s", "v", []Event{b, track, a})
	if len(ss) != 1 {
		t.Fatalf("got %d sessions, want 1", len(ss))
	}
	s := ss[0]
	if s.Pageviews != 2 || s.Events != 3 || !s.Bot || s.Start != a.TS || s.End != b.TS || s.ID != ID("s", "v", a.ID) {
		t.Fatalf("session = %+v", s)
	}
}

func TestAttribute(t *testing.T) {
	f := func(url, ref, want string) {
		t.Helper()
		e := NewEvent(uuid.New(), 0, true, false, url, ref, nil)
		a := Attribute(&e)
		got := strings.Join([]string{a.Source, a.Medium, a.Campaign, a.Term, a.Content, a.Channel, a.ReferrerDomain}, "|")
		if got != want {
			t.Fatalf("Attribute(%q, %q) = %q, want %q", url, ref, got, want)
		}
	}
	f("https://shop.example.com/", "", "(direct)|(none)||||Direct|")
	f("https://shop.example.com/?utm_source=google&utm_medium=cpc&utm_campaign=spring&utm_term=shoes&utm_content=ad1",
		"https://www.google.com/", "google|cpc|spring|shoes|ad1|Paid Search|google.com")
	f("https://shop.example.com/?gclid=abc", "", "google|cpc||||Paid Search|")
	f("https://shop.example.com/?msclkid=abc", "", "bing|cpc||||Paid Search|")
	f("https://shop.example.com/", "https://www.facebook.com/", "facebook|social||||Organic Social|facebook.com")
	f("https://shop.example.com/", "https://chatgpt.com/", "chatgpt.com|referral||||AI Assistant|chatgpt.com")
	f("https://shop.example.com/", "https://blog.other.org/post", "blog.other.org|referral||||Referral|blog.other.org")
	f("https://shop.example.com/?utm_source=newsletter&utm_medium=email", "", "newsletter|email||||Email|")
	// The referrer's search term fills an empty utm_term.
	f("https://shop.example.com/", "https://www.bing.com/search?q=red+shoes", "bing|organic||red shoes||Organic Search|bing.com")
	f("https://shop.example.com/?utm_source=bing&utm_medium=cpc&utm_term=kw", "https://www.bing.com/search?q=red+shoes", "bing|cpc||kw||Paid Search|bing.com")
}

// Session ids are stored: they must stay what they always were, the UUID v5 of
// "site\x00vid\x00first event id".
func TestIDIsStable(t *testing.T) {
	for _, c := range []struct{ site, vid string }{
		{"demo", "v1"}, {"", ""}, {"shop.example.com", strings.Repeat("x", 64)}, {"ünïcode", "a\x00b"},
	} {
		first := uuid.New()
		want := uuid.NewSHA1(namespace, []byte(c.site+"\x00"+c.vid+"\x00"+first.String()))
		if got := ID(c.site, c.vid, first); got != want {
			t.Errorf("ID(%q, %q, %s) = %s, want %s", c.site, c.vid, first, got, want)
		}
	}
	// One pinned, in case uuid.NewSHA1 itself ever changed.
	if got, want := ID("demo", "v1", uuid.MustParse("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff")), uuid.MustParse("d83247a7-6a38-5161-9209-4c2ad5d58003"); got != want {
		t.Errorf("ID = %s, want %s", got, want)
	}
}

// Repeated ids are dropped however many events a visitor has (few are compared, many go
// through a map).
func TestSortDropsRepeatedIDs(t *testing.T) {
	for _, n := range []int{3, 16, 17, 40} {
		var evs []Event
		for i := range n {
			e := ev(i, int64(i), "https://shop.example.com/", "")
			evs = append(evs, e, e)
			if i%3 == 0 { // the same id at another time: kept once, whichever
				e.TS += 3600
				evs = append(evs, e)
			}
		}
		rand.Shuffle(len(evs), func(i, j int) { evs[i], evs[j] = evs[j], evs[i] })
		got := Sort(evs)
		if len(got) != n {
			t.Fatalf("%d events: Sort kept %d", n, len(got))
		}
		for i := 1; i < len(got); i++ {
			if !Before(&got[i-1], &got[i]) {
				t.Fatalf("%d events: not in order at %d", n, i)
			}
		}
	}
}

// Referrers that are no arrival continue the visit: payment and sign-in pages, the site's
// other domains, a cross-domain hop and the site's excluded referrers.
func TestSplitReferralExclusions(t *testing.T) {
	r := NewReferrals([]string{"shop.example.com", ".example.com", "*.checkout-example.net"}, mustHosts(t, "partner-pay.example", "auth-*.example.org"))
	type pv struct {
		min      int64
		url, ref string
	}
	split := func(in []pv) ([]Event, []Session, map[uuid.UUID]int) {
		var evs []Event
		order := map[uuid.UUID]int{}
		for i, p := range in {
			id := uuid.NewSHA1(uuid.NameSpaceOID, []byte(fmt.Sprint(i)))
			e := NewEvent(id, 1_763_800_000+p.min*60, true, false, p.url, p.ref, r)
			order[e.ID] = i
			evs = append(evs, e)
		}
		got, ss := Split("demo", "v", evs)
		return got, ss, order
	}
	f := func(in []pv, want string) {
		t.Helper()
		got, ss, order := split(in)
		if s := shape(got, ss, order); s != want {
			t.Fatalf("sessions = %q, want %q", s, want)
		}
	}
	ads := "https://shop.example.com/?gclid=abc"
	checkout, thanks := "https://shop.example.com/checkout", "https://shop.example.com/thanks?order=7"
	// A PayPal return 20 minutes into a paid session continues it.
	f([]pv{{0, ads, "https://www.google.com/"}, {5, checkout, ads}, {20, thanks, "https://www.paypal.com/checkoutnow?token=EC-1"}}, "0-2")
	for _, ref := range []string{
		"https://www.sandbox.paypal.com/", "https://checkout.stripe.com/c/pay/cs_1", "https://hooks.stripe.com/3d_secure",
		"https://pay.klarna.com/eu/", "https://checkoutshopper-live.adyen.com/", "https://acs.somebank.co.uk/challenge",
		"https://accounts.google.com/o/oauth2", "https://login.microsoftonline.com/common", "https://appleid.apple.com/auth",
		"https://partner-pay.example/return", "https://auth-eu.example.org/", // the site's own excluded referrers
		"https://blog.example.com/post", "https://eu.checkout-example.net/pay", // the site's other domains
	} {
		f([]pv{{0, ads, ""}, {20, thanks, ref}}, "0-1")
	}
	// A hop from another of the site's domains, carrying the visitor id, whatever its referrer.
	f([]pv{{0, ads, ""}, {10, "https://other-shop.example/?_tp_vid=4f1d2c3b-aaaa-4bbb-8ccc-0123456789ab", "https://shop.example.com/"}}, "0-1")
	// The 30-minute timeout still applies, and a new campaign or click id still starts a session.
	f([]pv{{0, ads, ""}, {31, thanks, "https://www.paypal.com/"}}, "0-0 1-1")
	f([]pv{{0, ads, ""}, {5, thanks, "https://www.paypal.com/"}, {6, "https://shop.example.com/?utm_source=news&utm_medium=email", ""}}, "0-1 2-2")
	// Other sites still do; so does stripe.com's blog, which is no payment page.
	f([]pv{{0, ads, ""}, {5, thanks, "https://stripe.com/blog"}}, "0-0 1-1")
	f([]pv{{0, ads, ""}, {5, thanks, "https://news.ycombinator.com/"}}, "0-0 1-1")

	// A session that starts on a payment return (after the timeout) is direct, never
	// paypal.com / referral.
	evs, ss, _ := split([]pv{{0, ads, ""}, {45, thanks, "https://www.paypal.com/checkoutnow"}})
	if len(ss) != 2 {
		t.Fatalf("%d sessions, want 2", len(ss))
	}
	if a := Attribute(&evs[ss[1].First]); a.Source != "(direct)" || a.Medium != "(none)" || a.Channel != "Direct" || a.ReferrerDomain != "" {
		t.Fatalf("session after a PayPal return: %+v, want (direct) / (none)", a)
	}
	// Without the site's rules its other domains are referrals; payment pages never are.
	e := NewEvent(uuid.New(), 0, true, false, thanks, "https://blog.example.com/post", nil)
	if a := Attribute(&e); a.Source != "blog.example.com" || a.Medium != "referral" {
		t.Fatalf("no rules, own blog: %+v", a)
	}
	e = NewEvent(uuid.New(), 0, true, false, thanks, "https://www.paypal.com/", nil)
	if a := Attribute(&e); a.Source != "(direct)" || e.RefDomain != "" {
		t.Fatalf("no rules, PayPal: %+v %q", a, e.RefDomain)
	}
	// A hop's campaign parameters still count.
	e = NewEvent(uuid.New(), 0, true, false, "https://other-shop.example/?utm_source=partner&utm_medium=referral&_tp_vid=x", "https://shop.example.com/", r)
	if a := Attribute(&e); a.Source != "partner" || a.Medium != "referral" || !e.Page.Hop {
		t.Fatalf("hop with utm: %+v", a)
	}
}

func mustHosts(t *testing.T, patterns ...string) *referrer.Hosts {
	t.Helper()
	h, err := referrer.NewHosts(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// An event or touchpoint kept between batches holds none of the message it was decoded
// from (its strings point into it until detached), and reads the same after.
func TestDetachCopiesEveryString(t *testing.T) {
	msg := []byte("https://www.example.com/pricing?utm_source=news&utm_medium=email&utm_campaign=spring&utm_term=crm&utm_content=a&gclid=abc" +
		" https://www.google.com/search?q=crm DE desktop")
	s := unsafe.String(unsafe.SliceData(msg), len(msg))
	url, rest, _ := strings.Cut(s, " ")
	ref, rest, _ := strings.Cut(rest, " ")
	country, device, _ := strings.Cut(rest, " ")
	e := NewEvent(uuid.New(), 1, true, false, url, ref, nil)
	e.Country, e.Device = country, device
	a := Attribute(&e)
	want, wantAttr := e, a
	e.Detach()
	a.Detach()
	if e != want || a != wantAttr {
		t.Fatalf("detached %+v %+v, want %+v %+v", e, a, want, wantAttr)
	}
	strs := []string{e.URL, e.Ref, e.RefDomain, e.Page.Host, e.Page.Path, e.Page.ClickType, e.Page.ClickID, e.Country, e.Device,
		a.Source, a.Medium, a.Campaign, a.Term, a.Content, a.Channel, a.ReferrerDomain}
	strs = append(strs, e.Page.UTM[:]...)
	start := uintptr(unsafe.Pointer(unsafe.SliceData(msg)))
	for _, x := range strs {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(x))); x != "" && p >= start && p < start+uintptr(len(msg)) {
			t.Errorf("%q still points into the message", x)
		}
	}
}
