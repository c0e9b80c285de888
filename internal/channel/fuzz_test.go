package channel

import (
	"slices"
	"strings"
	"testing"

	"touchpoint/internal/referrer"
)

var channels = []string{
	Direct, CrossNetwork, PaidShopping, PaidSearch, PaidSocial, PaidVideo, Display, PaidOther, AIAssistant,
	OrganicShopping, OrganicSocial, OrganicVideo, OrganicSearch, Referral, Email, Affiliates, Audio, SMS,
	MobilePush, Unassigned,
}

func FuzzGroup(f *testing.F) {
	f.Add("google", "cpc", "shopping", "")
	f.Add("(direct)", "(none)", "", "https://www.google.com/search?q=x")
	f.Add("", "", "", "https://chatgpt.com/")
	f.Add("m.facebook.com", "Social Media", "cross-network", "android-app://com.google.android.gm")
	f.Fuzz(func(t *testing.T, source, medium, campaign, ref string) {
		ch := Group(source, medium, campaign)
		if !slices.Contains(channels, ch) {
			t.Fatalf("Group(%q, %q, %q) = %q: not a channel", source, medium, campaign, ch)
		}
		// Case must not matter (checked on ASCII input: some Unicode letters
		// do not survive a round trip through upper case).
		if isASCII(source + medium + campaign) {
			up := strings.ToUpper
			if up := Group(up(source), up(medium), up(campaign)); up != ch {
				t.Fatalf("Group(%q, %q, %q) = %q but %q upper-cased", source, medium, campaign, ch, up)
			}
		}
		s, m := SourceMedium(source, medium, "", referrer.Parse(ref, "shop.example"), referrer.Domain(ref))
		if strings.TrimSpace(s) == "" || strings.TrimSpace(m) == "" {
			t.Fatalf("SourceMedium(%q, %q, %q) = %q/%q: empty", source, medium, ref, s, m)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
