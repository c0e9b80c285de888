package enrich

import (
	"regexp"
	"strings"

	lru "github.com/hashicorp/golang-lru"
	"github.com/ua-parser/uap-go/uaparser"

	"touchpoint/internal/event"
)

// Agent is what a user agent string tells about the client.
type Agent struct {
	Browser, OS, Device string
	Bot                 bool
}

// Device types (the values of event.Enriched.Device).
const (
	DeviceDesktop = event.DeviceDesktop
	DeviceMobile  = event.DeviceMobile
	DeviceTablet  = event.DeviceTablet
	DeviceBot     = event.DeviceBot
)

// UAParser parses user agents with uap-core's regexes (embedded in uap-go, no network),
// caching results: a page's events share one agent and parsing costs tens of microseconds.
type UAParser struct {
	p     *uaparser.Parser
	cache *lru.Cache
}

// NewUAParser builds a parser caching up to size agents.
func NewUAParser(size int) *UAParser {
	p, err := uaparser.New(uaparser.WithCacheSize(1)) // our cache holds the combined result
	if err != nil {
		panic("uap-go's embedded regexes do not load: " + err.Error())
	}
	c, _ := lru.New(size)
	return &UAParser{p: p, cache: c}
}

// Parse returns the agent of ua.
func (u *UAParser) Parse(ua string) Agent {
	if v, ok := u.cache.Get(ua); ok {
		return v.(Agent)
	}
	a := u.parse(ua)
	u.cache.Add(ua, a)
	return a
}

// crawlerRe matches crawlers, monitors, HTTP libraries and headless or automated browsers.
// Words are bounded so that phone brands such as "Cubot" are not taken for bots.
var crawlerRe = regexp.MustCompile(`(?i)(\b|_)(bot|crawler|crawl|spider|slurp|headlesschrome|headless|phantomjs|selenium|webdriver|puppeteer|playwright|lighthouse|pingdom|uptimerobot|facebookexternalhit|python-requests|python-urllib|go-http-client|okhttp|curl|wget|httpclient|axios|node-fetch|scrapy)(\b|_|/)|bot/|bot;|spider/`)

func (u *UAParser) parse(ua string) Agent {
	if ua == "" {
		return Agent{}
	}
	c := u.p.Parse(ua)
	a := Agent{Browser: c.UserAgent.Family, OS: c.Os.Family}
	if a.Browser == "Other" {
		a.Browser = ""
	}
	if a.OS == "Other" {
		a.OS = ""
	}
	a.Bot = c.Device.Family == "Spider" || crawlerRe.MatchString(ua)
	switch {
	case a.Bot:
		a.Device = DeviceBot
	case strings.Contains(ua, "iPad") || strings.Contains(ua, "Tablet") ||
		(a.OS == "Android" && !strings.Contains(ua, "Mobile")):
		a.Device = DeviceTablet
	case a.OS == "iOS" || a.OS == "Android" || strings.Contains(ua, "Mobile") || strings.Contains(ua, "Windows Phone"):
		a.Device = DeviceMobile
	default:
		a.Device = DeviceDesktop
	}
	return a
}

func (u *UAParser) step(r *Request, it *Item) *Refusal {
	it.E.UA = ""
	if it.ua == "" {
		return nil
	}
	a := u.Parse(it.ua)
	it.E.Browser, it.E.OS, it.E.Device, it.E.Bot = a.Browser, a.OS, a.Device, a.Bot
	// The parsed fields are kept, not the fingerprintable string, unless the site sends
	// to the Meta Conversions API, which requires the user agent of website events.
	if r.Site.SendsToMeta() && len(it.ua) <= maxUA {
		it.E.UA = it.ua
	}
	return nil
}

// detectBot flags browser events that arrive without any user agent: real browsers always send one.
func detectBot(_ *Request, it *Item) *Refusal {
	if it.ua == "" && (it.E.Origin == event.OriginWeb || it.E.Origin == event.OriginPixel) {
		it.E.Bot = true
	}
	return nil
}
