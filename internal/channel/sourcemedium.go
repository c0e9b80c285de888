package channel

import (
	"strings"

	"touchpoint/internal/referrer"
)

// Touch is one touchpoint as the channel rules see it.
type Touch struct {
	Source, Medium, Campaign, ClickIDType, ReferrerDomain string
	RefMedium                                             string // referrer.Result.Medium
}

// Channel returns the touchpoint's channel.
func (t Touch) Channel() string { return Group(t.Source, t.Medium, t.Campaign) }

// Source and medium values that are not taken from the visitor's URL.
const (
	NotSet       = "(not set)"
	DirectSource = "(direct)"
	NoneMedium   = "(none)"
)

// paidClickIDs are click ids that ad platforms add only to paid clicks.
var paidClickIDs = map[string][2]string{
	"gclid":   {"google", "cpc"},
	"gbraid":  {"google", "cpc"},
	"wbraid":  {"google", "cpc"},
	"dclid":   {"google", "cpc"},
	"msclkid": {"bing", "cpc"},
}

// SourceMedium derives a session's source and medium, in this order:
//
//  1. utm parameters, when either is present; a missing one is "(not set)";
//  2. a paid click id: gclid, gbraid, wbraid, dclid -> google/cpc, msclkid -> bing/cpc;
//  3. an external referrer: search -> engine/organic, social -> network/social
//     (network/video for video sites), webmail -> provider/email,
//     AI assistant -> domain/referral, ad server -> network/cpc,
//     any other site -> domain/referral;
//  4. fbclid without an external referrer -> facebook/social: Facebook adds
//     fbclid to organic links too, so it says "from Facebook" but not "paid",
//     and a referrer, when there is one, says more;
//  5. otherwise (direct)/(none).
//
// ref is referrer.Parse of the landing referrer and refDomain its
// referrer.Domain.
func SourceMedium(utmSource, utmMedium, clickIDType string, ref referrer.Result, refDomain string) (source, medium string) {
	utmSource, utmMedium = strings.TrimSpace(utmSource), strings.TrimSpace(utmMedium)
	if utmSource != "" || utmMedium != "" {
		return orNotSet(utmSource), orNotSet(utmMedium)
	}
	clickID := strings.ToLower(strings.TrimSpace(clickIDType))
	if sm, ok := paidClickIDs[clickID]; ok {
		return sm[0], sm[1]
	}
	key := referrer.Key(ref.Source)
	switch ref.Medium {
	case referrer.MediumSearch:
		return key, "organic"
	case referrer.MediumSocial:
		if categorize(key)&video != 0 {
			return key, "video"
		}
		return key, "social"
	case referrer.MediumEmail:
		return key, "email"
	case referrer.MediumPaid:
		return key, "cpc"
	case referrer.MediumChatbot:
		if refDomain == "" {
			return key, "referral"
		}
		return refDomain, "referral"
	case referrer.MediumInternal:
		refDomain = ""
	}
	if refDomain != "" {
		return refDomain, "referral"
	}
	if clickID == "fbclid" {
		return "facebook", "social"
	}
	return DirectSource, NoneMedium
}

func orNotSet(s string) string {
	if s == "" {
		return NotSet
	}
	return s
}
