// Package demo generates the realistic demo data set of `make demo`: several thousand
// visitors in six countries over ten weeks arriving from paid and organic search, paid
// and organic social, a newsletter, referrals, AI assistants and direct; multi-visit and
// multi-device journeys; form and call leads; CRM stages; sales, some in US dollars; ad
// costs as the ad platforms export them, down to keywords; exchange rates; and what real
// sites have besides: payments through PayPal that return to the thank-you page, site
// searches and newsletter sign-ups (form submits that are no leads).
// The same seed and day give the same data (ids included), so a second run on the same
// day adds nothing.
package demo

import (
	"crypto/sha1"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"time"

	"github.com/google/uuid"

	"touchpoint/internal/event"
)

// Conversion is one call of POST /v1/conversions.
type Conversion struct {
	Site         string         `json:"site"`
	ConversionID string         `json:"conversion_id"`
	Type         string         `json:"type"`
	LeadType     string         `json:"lead_type,omitempty"`
	OccurredAt   string         `json:"occurred_at"`
	Email        string         `json:"email,omitempty"`
	VisitorID    string         `json:"visitor_id,omitempty"`
	Value        float64        `json:"value,omitempty"`
	Currency     string         `json:"currency,omitempty"`
	Properties   map[string]any `json:"properties,omitempty"`
}

// Cost is one day of spend of one paid campaign (POST /api/v1/costs, JSON).
type Cost struct {
	Date        string  `json:"date"`
	Source      string  `json:"source"`
	Medium      string  `json:"medium"`
	Campaign    string  `json:"campaign"`
	Cost        float64 `json:"cost"`
	Currency    string  `json:"currency"`
	Clicks      uint64  `json:"clicks"`
	Impressions uint64  `json:"impressions"`
}

// Dataset is everything the demo sends.
type Dataset struct {
	Events      []event.Event // for /v1/import, in time order per visitor
	Conversions []Conversion  // for /v1/conversions, in time order
	Costs       []Cost        // for /api/v1/costs as JSON
	CostExports []CostExport  // for /api/v1/costs as the platforms' CSV
	Rates       []byte        // for /api/v1/fx-rates: the ECB's history of the period
	// EventConversions are the conversion ids that events make: form leads and sales
	// recorded on the thank-you page.
	EventConversions []string
	Visitors         int
	Persons          int
}

// Span is the time of the data set's first and last event.
func (ds *Dataset) Span() (first, last time.Time) {
	for i, e := range ds.Events {
		t := time.UnixMilli(e.TS)
		if i == 0 || t.Before(first) {
			first = t
		}
		if i == 0 || t.After(last) {
			last = t
		}
	}
	return first, last
}

// Options shape the data set.
type Options struct {
	Site     string
	Visitors int
	Weeks    int
	End      time.Time // the data ends the day before
	Seed     uint64
}

// arrival is one way a visit can start.
type arrival struct {
	weight           float64
	query            string // utm parameters and click ids added to the landing URL
	referrers        []string
	landings         []string
	paid             bool
	source, campaign string // for costs
	medium           string
	dailyCost        float64
	leadRate         float64 // lead probability boost for this arrival
}

const host = "https://www.example.com"

var arrivals = []arrival{
	{weight: 14, query: "utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=acme+crm&gclid=", referrers: []string{"https://www.google.com/"},
		landings: []string{"/"}, paid: true, source: "google", medium: "cpc", campaign: "brand", dailyCost: 45, leadRate: 1.6},
	{weight: 12, query: "utm_source=google&utm_medium=cpc&utm_campaign=generic-crm&utm_term=best+crm+for+agencies&gclid=", referrers: []string{"https://www.google.com/"},
		landings: []string{"/features", "/pricing"}, paid: true, source: "google", medium: "cpc", campaign: "generic-crm", dailyCost: 130, leadRate: 1.1},
	{weight: 20, referrers: []string{"https://www.google.com/", "https://www.google.co.uk/", "https://www.bing.com/", "https://duckduckgo.com/"},
		landings: []string{"/blog/marketing-attribution-guide", "/blog/first-click-vs-last-click", "/", "/features"}, leadRate: 0.8},
	{weight: 9, query: "utm_source=facebook&utm_medium=paid_social&utm_campaign=retargeting-q4&fbclid=", referrers: []string{"https://m.facebook.com/"},
		landings: []string{"/pricing", "/demo"}, paid: true, source: "facebook", medium: "paid_social", campaign: "retargeting-q4", dailyCost: 60, leadRate: 0.9},
	{weight: 5, referrers: []string{"https://www.facebook.com/", "https://l.facebook.com/"}, landings: []string{"/blog/first-click-vs-last-click", "/"}, leadRate: 0.4},
	{weight: 6, query: "utm_source=linkedin&utm_medium=paid_social&utm_campaign=abm-agencies&li_fat_id=", referrers: []string{"https://www.linkedin.com/"},
		landings: []string{"/demo", "/features"}, paid: true, source: "linkedin", medium: "paid_social", campaign: "abm-agencies", dailyCost: 95, leadRate: 1.4},
	{weight: 5, referrers: []string{"https://www.linkedin.com/feed/", "https://lnkd.in/"}, landings: []string{"/blog/marketing-attribution-guide"}, leadRate: 0.6},
	{weight: 7, query: "utm_source=newsletter&utm_medium=email&utm_campaign=", landings: []string{"/blog/first-click-vs-last-click", "/pricing"}, leadRate: 1.2},
	{weight: 5, referrers: []string{"https://www.g2.com/products/acme-crm/reviews", "https://www.capterra.com/p/acme-crm/", "https://martech-weekly.example.org/tools"},
		landings: []string{"/", "/pricing"}, leadRate: 1.3},
	{weight: 4, referrers: []string{"https://chatgpt.com/", "https://www.perplexity.ai/", "https://claude.ai/", "https://gemini.google.com/"},
		landings: []string{"/", "/features", "/pricing"}, leadRate: 1.5},
	{weight: 13, landings: []string{"/", "/pricing", "/login"}, leadRate: 0.9},
}

var pages = []string{"/", "/features", "/pricing", "/customers", "/blog/marketing-attribution-guide", "/demo", "/about"}

var agents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
}

// market is where a share of the visitors live: their language and time zone, and the
// consumer broadband networks their addresses come from. Every network lies wholly in
// the market's country in the GeoIP database the collector ships (a test checks this),
// so the demo's events get countries, regions and cities.
type market struct {
	weight   float64
	lang, tz string
	networks []string
}

var markets = []market{
	{34, "en-GB", "Europe/London", []string{"86.128.0.0/16", "86.0.0.0/16", "2a00:23c0::/32", "2a02:c7c::/32"}},
	{22, "en-US", "America/New_York", []string{"73.0.0.0/16", "71.170.0.0/16", "98.0.0.0/16", "2601::/24"}},
	{18, "de-DE", "Europe/Berlin", []string{"79.192.0.0/16", "91.0.0.0/16", "88.64.0.0/16", "2003:e1::/32"}},
	{12, "fr-FR", "Europe/Paris", []string{"90.1.0.0/16", "82.64.0.0/16", "2a01:e0a::/32", "2a01:cb00::/32"}},
	{8, "nl-NL", "Europe/Amsterdam", []string{"77.160.0.0/16", "84.24.0.0/16", "2001:1c00::/32"}},
	{6, "en-IE", "Europe/Dublin", []string{"86.40.0.0/16", "2001:bb6::/32"}},
}

// place is where one device is: its public address and its market.
type place struct {
	ip string
	m  *market
}

// Generate builds the data set.
func Generate(o Options) *Dataset {
	g := &gen{o: o, r: rand.New(rand.NewPCG(o.Seed, 0x70c4)), ds: &Dataset{}}
	end := o.End.UTC().Truncate(24 * time.Hour)
	g.start = end.AddDate(0, 0, -7*o.Weeks)
	g.end = end
	total := 0.0
	for _, a := range arrivals {
		total += a.weight
	}
	g.total = total
	g.vids = map[string]bool{}
	g.places = map[string]place{}
	persons := 0
	for len(g.vids) < o.Visitors {
		persons++
		g.person(persons)
	}
	g.ds.Persons = persons
	g.ds.Visitors = len(g.vids)
	g.costs()
	return g.ds
}

type gen struct {
	o          Options
	r          *rand.Rand
	ds         *Dataset
	start, end time.Time
	total      float64
	seq        int
	vids       map[string]bool  // visitor ids that have events
	places     map[string]place // by visitor id
}

// id is a deterministic UUID: the same seed, day and sequence give the same id.
func (g *gen) id(kind string) string {
	g.seq++
	h := sha1.Sum([]byte(fmt.Sprintf("%s/%d/%s/%s/%d", g.o.Site, g.o.Seed, g.end.Format("20060102"), kind, g.seq)))
	u, _ := uuid.FromBytes(h[:16])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return u.String()
}

func (g *gen) pick() *arrival {
	x := g.r.Float64() * g.total
	for i := range arrivals {
		if x -= arrivals[i].weight; x < 0 {
			return &arrivals[i]
		}
	}
	return &arrivals[len(arrivals)-1]
}

func (g *gen) choice(xs []string) string { return xs[g.r.IntN(len(xs))] }

func (g *gen) market() *market {
	x := g.r.Float64() * 100
	for i := range markets {
		if x -= markets[i].weight; x < 0 {
			return &markets[i]
		}
	}
	return &markets[0]
}

// settle gives a device an address in one of its market's networks.
func (g *gen) settle(vid string, m *market) {
	p := netip.MustParsePrefix(g.choice(m.networks))
	a := p.Addr().As16()
	from := p.Bits()
	if p.Addr().Is4() {
		from += 96
	}
	for i := from; i < 128; i++ {
		if g.r.IntN(2) == 1 {
			a[i/8] |= 0x80 >> (i % 8)
		}
	}
	addr := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		addr = addr.Unmap()
	}
	g.places[vid] = place{ip: addr.String(), m: m}
}

// person generates one person's devices, visits and conversions.
func (g *gen) person(n int) {
	// Visits start at least an hour before the end so a whole visit fits.
	last := g.end.Add(-time.Hour)
	span := last.Sub(g.start)
	first := g.start.Add(time.Duration(g.r.Float64() * float64(span)))
	visits := 1 + int(math.Floor(-math.Log(1-g.r.Float64())*1.1)) // mostly 1-3, sometimes more
	visits = min(visits, 8)
	devices := []string{g.id("visitor")}
	if visits > 1 && g.r.Float64() < 0.15 {
		devices = append(devices, g.id("visitor")) // phone and laptop
	}
	home := g.market()
	for _, vid := range devices {
		g.settle(vid, home)
	}
	email := fmt.Sprintf("lead%05d@%s", n, g.choice([]string{"agency.example", "acme-shop.example", "mail.example", "studio.example"}))

	at := first
	leadBoost := 0.0
	var lastVID string
	var leadAt time.Time
	for v := 0; v < visits && at.Before(last); v++ {
		vid := devices[0]
		if len(devices) > 1 && v%2 == 1 {
			vid = devices[1]
		}
		a := g.pick()
		leadBoost = math.Max(leadBoost, a.leadRate)
		ua := agents[g.r.IntN(len(agents))]
		if vid != devices[0] {
			ua = agents[2+g.r.IntN(2)] // the second device is a phone
		}
		visitEnd := g.visit(vid, a, at, ua)
		visitEnd = g.extras(vid, email, a, visitEnd, ua)
		lastVID = vid
		// A lead is more likely on later visits of an engaged person.
		if leadAt.IsZero() && v == visits-1 && g.r.Float64() < 0.09*leadBoost*(1+0.35*float64(v)) {
			leadAt = g.formLead(vid, email, visitEnd, ua)
		}
		at = at.Add(time.Duration(float64(time.Hour) * (2 + g.r.ExpFloat64()*60)))
	}
	// The other device identifies too, joining the journeys into one person.
	if len(devices) > 1 && !leadAt.IsZero() {
		g.identify(devices[1], email, leadAt.Add(time.Duration(g.r.IntN(48))*time.Hour), agents[2])
	}
	if leadAt.IsZero() && g.r.Float64() < 0.025*leadBoost && lastVID != "" {
		// A call after the last visit, logged by the CRM with the caller's email.
		leadAt = at.Add(-time.Duration(g.r.IntN(50)+5) * time.Minute)
		if leadAt.Before(g.end) {
			// Call tracking tells the CRM which visitor called.
			g.conversion(Conversion{Type: "lead", LeadType: "call", Email: email, VisitorID: lastVID, OccurredAt: leadAt.Format(time.RFC3339)}, "call")
		} else {
			leadAt = time.Time{}
		}
	}
	if !leadAt.IsZero() {
		g.stages(email, leadAt)
	}
}

// extras may add to a visit, after its pages, a site search, a newsletter sign-up, or a
// purchase paid with PayPal: the visitor leaves for PayPal from the checkout and comes
// back to the thank-you page 20 minutes later, which records the sale. It returns the
// time of the visit's last event.
func (g *gen) extras(vid, email string, a *arrival, at time.Time, ua string) time.Time {
	pl := g.places[vid]
	add := func(e event.Event) {
		e.ID, e.VID, e.UA, e.IP, e.Lang, e.TZ, e.Screen = g.id("event"), vid, ua, pl.ip, pl.m.lang, pl.m.tz, "1440x900"
		if e.Title == "" {
			e.Title = title(e.URL)
		}
		g.ds.Events = append(g.ds.Events, e)
	}
	if at.Add(time.Hour).After(g.end) {
		return at
	}
	if g.r.Float64() < 0.08 {
		at = at.Add(time.Duration(5+g.r.IntN(30)) * time.Second)
		add(event.Event{Type: event.FormSubmit, TS: at.UnixMilli(), URL: host + "/", Form: &event.Form{ID: "site-search",
			Action: host + "/search", Fields: []string{"q"}, Search: true}})
		at = at.Add(time.Second)
		add(event.Event{Type: event.Pageview, TS: at.UnixMilli(), URL: host + "/search?q=attribution", Ref: host + "/", Title: "Search — Acme CRM"})
	}
	if g.r.Float64() < 0.05 {
		at = at.Add(time.Duration(5+g.r.IntN(30)) * time.Second)
		u := host + "/blog/marketing-attribution-guide"
		add(event.Event{Type: event.FormSubmit, TS: at.UnixMilli(), URL: u, Form: &event.Form{ID: "newsletter", Action: host + "/newsletter",
			Fields: []string{"email"}}, Traits: event.Traits{"email": email}})
		add(event.Event{Type: event.Identify, TS: at.UnixMilli() + 1, URL: u, Traits: event.Traits{"email": email}})
	}
	if a.paid && g.r.Float64() < 0.06 {
		at = at.Add(time.Duration(20+g.r.IntN(60)) * time.Second)
		checkout := host + "/checkout?plan=starter"
		add(event.Event{Type: event.Pageview, TS: at.UnixMilli(), URL: checkout, Ref: host + "/pricing", Title: "Checkout — Acme CRM"})
		at = at.Add(time.Duration(18+g.r.IntN(5)) * time.Minute)
		thanks := host + "/thanks?order=" + g.id("order")[:8]
		paypal := "https://www.paypal.com/checkoutnow?token=EC-" + g.id("token")[:12]
		add(event.Event{Type: event.Pageview, TS: at.UnixMilli(), URL: thanks, Ref: paypal, Title: "Thank you — Acme CRM"})
		id := "web-sale-" + g.id("conversion")[:13]
		add(event.Event{Type: event.Conversion, TS: at.UnixMilli() + 1, URL: thanks, Ref: paypal,
			Conversion: &event.ConversionInfo{ID: id, Type: "sale", Value: 29, Currency: "EUR"}})
		g.ds.EventConversions = append(g.ds.EventConversions, id)
	}
	return at
}

// visit emits one session's events and returns the time of its last event.
func (g *gen) visit(vid string, a *arrival, at time.Time, ua string) time.Time {
	land := g.choice(a.landings)
	u := host + land
	if a.query != "" {
		q := a.query
		if q[len(q)-1] == '=' { // a click id or newsletter issue to complete
			if a.source == "" {
				q += at.Format("2006-w") + fmt.Sprint(int(at.YearDay()/7)+1)
			} else {
				q += g.id("click")[:18]
			}
		}
		u += "?" + q
	}
	ref := ""
	if len(a.referrers) > 0 {
		ref = g.choice(a.referrers)
	}
	pl := g.places[vid]
	g.vids[vid] = true
	n := 1 + g.r.IntN(5)
	t := at
	for p := 0; p < n; p++ {
		if p > 0 {
			u, ref = host+g.choice(pages), u
			t = t.Add(time.Duration(10+g.r.IntN(170)) * time.Second)
		}
		g.ds.Events = append(g.ds.Events, event.Event{ID: g.id("event"), Type: event.Pageview, TS: t.UnixMilli(), VID: vid,
			URL: u, Ref: ref, Title: title(u), Lang: pl.m.lang, Screen: "1440x900", TZ: pl.m.tz, UA: ua, IP: pl.ip})
	}
	return t
}

func title(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Path == "/" {
		return "Acme CRM — the CRM for agencies"
	}
	return "Acme CRM — " + p.Path[1:]
}

func (g *gen) formLead(vid, email string, at time.Time, ua string) time.Time {
	at = at.Add(time.Duration(20+g.r.IntN(120)) * time.Second)
	u := host + "/demo"
	g.ds.Events = append(g.ds.Events,
		event.Event{ID: g.id("event"), Type: event.FormSubmit, TS: at.UnixMilli(), VID: vid, URL: u, Title: "Book a demo", UA: ua,
			IP: g.places[vid].ip, Form: &event.Form{ID: "demo-request", Name: "demo", Action: "/demo", Fields: []string{"name", "email", "company", "team_size"}}},
		event.Event{ID: g.id("event"), Type: event.Identify, TS: at.UnixMilli() + 1, VID: vid, URL: u, UA: ua, IP: g.places[vid].ip,
			Traits: formTraits(email)})
	g.ds.EventConversions = append(g.ds.EventConversions, g.ds.Events[len(g.ds.Events)-2].ID)
	return at
}

// formTraits are what the demo form says about a person: their email, team size and role,
// drawn from the email so that the rest of the data set stays as it was.
func formTraits(email string) map[string]string {
	h := fnv.New32a()
	h.Write([]byte(email))
	x := h.Sum32()
	sizes := []string{"1-9", "10-49", "50-199", "200+", "5"}
	roles := []string{"Head of Marketing", "Founder", "Marketing Manager", "Student", "Sales", "VP Marketing", "Developer"}
	return map[string]string{"email": email, "team_size": sizes[x%uint32(len(sizes))], "role": roles[(x/7)%uint32(len(roles))]}
}

func (g *gen) identify(vid, email string, at time.Time, ua string) {
	if !at.Before(g.end) {
		return
	}
	g.ds.Events = append(g.ds.Events, event.Event{ID: g.id("event"), Type: event.Identify, TS: at.UnixMilli(), VID: vid,
		URL: host + "/login", UA: ua, IP: g.places[vid].ip, Traits: map[string]string{"email": email}})
}

// stages walks a lead through the CRM stages, each with a delay, up to a sale.
func (g *gen) stages(email string, leadAt time.Time) {
	at := leadAt
	steps := []struct {
		stage string
		p     float64
		days  float64
	}{{"mql", 0.65, 2}, {"sal", 0.75, 3}, {"sql", 0.75, 5}, {"opportunity", 0.65, 7}, {"customer", 0.55, 14}}
	for _, s := range steps {
		if g.r.Float64() > s.p {
			return
		}
		at = at.Add(time.Duration((0.2 + g.r.ExpFloat64()) * s.days * float64(24*time.Hour)))
		if !at.Before(g.end) {
			return
		}
		g.conversion(Conversion{Type: s.stage, Email: email, OccurredAt: at.Format(time.RFC3339)}, s.stage)
	}
	value, currency := g.price(float64(500+100*g.r.IntN(190)), at.Add(time.Hour))
	g.conversion(Conversion{Type: "sale", Email: email, OccurredAt: at.Add(time.Hour).Format(time.RFC3339), Value: value, Currency: currency,
		Properties: map[string]any{"plan": g.choice([]string{"team", "business", "enterprise"})}}, "sale")
}

func (g *gen) conversion(c Conversion, kind string) {
	c.Site = g.o.Site
	c.ConversionID = "crm-" + kind + "-" + g.id("conversion")[:13]
	g.ds.Conversions = append(g.ds.Conversions, c)
}
