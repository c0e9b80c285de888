package channel

import (
	"fmt"
	"testing"
)

// groupChecker returns the closure each rule's table uses.
func groupChecker(t *testing.T) func(source, medium, campaign, want string) {
	return func(source, medium, campaign, want string) {
		t.Helper()
		if got := Group(source, medium, campaign); got != want {
			t.Errorf("Group(%q, %q, %q) = %q, want %q", source, medium, campaign, got, want)
		}
	}
}

func TestGroupDirect(t *testing.T) {
	f := groupChecker(t)
	f("(direct)", "(none)", "", Direct)
	f("(Direct)", "(not set)", "", Direct)
	f("(direct)", "(none)", "cross-network", Direct)
	f("(direct)", "referral", "", Referral)
	f("direct", "(none)", "", Unassigned)
}

func TestGroupCrossNetwork(t *testing.T) {
	f := groupChecker(t)
	f("google", "cpc", "PMax_Cross-Network_Q3", CrossNetwork)
	f("newsletter", "email", "cross-network", CrossNetwork)
	f("google", "cpc", "crossnetwork", PaidSearch)
}

func TestGroupPaidShopping(t *testing.T) {
	f := groupChecker(t)
	f("amazon", "cpc", "", PaidShopping)
	f("www.amazon.de", "ppc", "", PaidShopping)
	f("google", "cpc", "Shopping_DE", PaidShopping)
	f("partner", "paid", "e-shop", PaidShopping)
	f("partner", "paid", "eshop", PaidShopping)
	f("partner", "retargeting", "shop", PaidShopping)
	f("google", "cpc", "workshop", PaidSearch)
	f("amazon", "referral", "", OrganicShopping)
}

func TestGroupPaidSearch(t *testing.T) {
	f := groupChecker(t)
	f("google", "cpc", "", PaidSearch)
	f("Bing", "PPC", "", PaidSearch)
	f("www.google.de", "cpc", "brand", PaidSearch)
	f("search.brave.com", "paid", "", PaidSearch)
	f("google", "organic", "", OrganicSearch)
	f("googlemail", "cpc", "", PaidOther)
}

func TestGroupPaidSocial(t *testing.T) {
	f := groupChecker(t)
	f("facebook", "paid_social", "", PaidSocial)
	f("m.facebook.com", "cpc", "", PaidSocial)
	f("ig", "retargeting", "", PaidSocial)
	f("linkedin", "cpm", "", PaidSocial)
	f("facebook", "social", "", OrganicSocial)
	f("facebook-group", "cpc", "", PaidOther)
}

func TestGroupPaidVideo(t *testing.T) {
	f := groupChecker(t)
	f("youtube", "cpc", "", PaidVideo)
	f("m.youtube.com", "cpv", "", PaidVideo)
	f("youtube", "display", "", Display)
	f("youtube", "referral", "", OrganicVideo)
}

func TestGroupDisplay(t *testing.T) {
	f := groupChecker(t)
	f("dv360", "display", "", Display)
	f("partner", "Banner", "", Display)
	f("partner", "expandable", "", Display)
	f("partner", "interstitial", "", Display)
	f("partner", "cpm", "", Display)
	f("partner", "displays", "", Unassigned)
}

func TestGroupPaidOther(t *testing.T) {
	f := groupChecker(t)
	f("newsletter", "cpc", "", PaidOther)
	f("partner", "paid-email", "", PaidOther)
	f("chatgpt.com", "cpc", "", PaidOther)
	f("partner", "pay", "", Unassigned)
	f("partner", "retarget", "", Unassigned)
}

func TestGroupAIAssistant(t *testing.T) {
	f := groupChecker(t)
	f("chatgpt.com", "(not set)", "", AIAssistant)
	f("ChatGPT", "", "", AIAssistant)
	f("perplexity.ai", "referral", "", AIAssistant)
	f("www.perplexity.ai", "referral", "", AIAssistant)
	f("gemini.google.com", "referral", "", AIAssistant)
	f("beta.character.ai", "referral", "", AIAssistant)
	f("https://claude.ai/chat/1", "referral", "", AIAssistant)
	f("chat.deepseek.com", "referral", "", AIAssistant)
	f("newsletter", "chatbot", "", AIAssistant)
	f("newsletter", "AI", "", AIAssistant)
	f("chatgpt.example.com", "referral", "", Referral)
	f("newsletter", "ai-generated", "", Unassigned)
}

func TestGroupOrganicShopping(t *testing.T) {
	f := groupChecker(t)
	f("amazon.de", "referral", "", OrganicShopping)
	f("shopping.google.com", "referral", "", OrganicShopping)
	f("newsletter", "email", "Shopping-Week", OrganicShopping)
	f("pricerunner", "organic", "", OrganicShopping)
	f("google", "organic", "workshop", OrganicSearch)
	f("amazonas-reisen.example", "referral", "", Referral)
}

func TestGroupOrganicSocial(t *testing.T) {
	f := groupChecker(t)
	f("l.facebook.com", "referral", "", OrganicSocial)
	f("lnkd.in", "(not set)", "", OrganicSocial)
	f("newsletter", "Social Media", "", OrganicSocial)
	f("partner", "social-network", "", OrganicSocial)
	f("partner", "sm", "", OrganicSocial)
	f("partner", "social-ads", "", Unassigned)
	f("notfacebook.com", "referral", "", Referral)
}

func TestGroupOrganicVideo(t *testing.T) {
	f := groupChecker(t)
	f("youtube.com", "referral", "", OrganicVideo)
	f("youtu.be", "", "", OrganicVideo)
	f("partner", "video-review", "", OrganicVideo)
	f("partner", "vid", "", Unassigned)
}

func TestGroupOrganicSearch(t *testing.T) {
	f := groupChecker(t)
	f("google", "organic", "", OrganicSearch)
	f("duckduckgo.com", "referral", "", OrganicSearch)
	f("www.google.com.br", "referral", "", OrganicSearch)
	f("yandex.com.tr", "referral", "", OrganicSearch)
	f("newsletter", "Organic", "", OrganicSearch)
	f("mail.google.com", "referral", "", Referral)
	f("google.com.evil.example", "referral", "", Referral)
	f("newsletter", "organic-ish", "", Unassigned)
}

func TestGroupReferral(t *testing.T) {
	f := groupChecker(t)
	f("example.com", "referral", "", Referral)
	f("partner", "app", "", Referral)
	f("partner", "LINK", "", Referral)
	f("partner", "referrals", "", Unassigned)
}

func TestGroupEmail(t *testing.T) {
	f := groupChecker(t)
	f("newsletter", "email", "", Email)
	f("e-mail", "(not set)", "", Email)
	f("crm", "e mail", "", Email)
	f("crm", "E_Mail", "", Email)
	f("crm", "emails", "", Unassigned)
}

func TestGroupAffiliates(t *testing.T) {
	f := groupChecker(t)
	f("awin", "affiliate", "", Affiliates)
	f("awin", "Affiliate", "", Affiliates)
	f("awin", "affiliates", "", Unassigned)
}

func TestGroupAudio(t *testing.T) {
	f := groupChecker(t)
	f("spotify", "audio", "", Audio)
	f("podcast", "AUDIO", "", Audio)
	f("spotify", "audiobook", "", Unassigned)
}

func TestGroupSMS(t *testing.T) {
	f := groupChecker(t)
	f("sms", "(not set)", "", SMS)
	f("twilio", "SMS", "", SMS)
	f("twilio", "mms", "", Unassigned)
	f("smsbump", "text", "", Unassigned)
}

func TestGroupMobilePush(t *testing.T) {
	f := groupChecker(t)
	f("onesignal", "web-push", "", MobilePush)
	f("app", "mobile-alert", "", MobilePush)
	f("app", "Notification", "", MobilePush)
	f("firebase", "(not set)", "", MobilePush)
	f("app", "pushed", "", Unassigned)
	f("firebase-hosting", "(not set)", "", Unassigned)
}

func TestGroupUnassigned(t *testing.T) {
	f := groupChecker(t)
	f("", "", "", Unassigned)
	f("newsletter", "(not set)", "", Unassigned)
	f("(direct)", "organic", "", OrganicSearch)
}

// Group answers from its memory what the rules answer, also once the memory has filled
// and started again.
func TestGroupRemembersTheRulesAnswers(t *testing.T) {
	sources := []string{"google", "facebook.com", "newsletter", "chatgpt.com", "(direct)", "partner"}
	mediums := []string{"cpc", "social", "email", "(none)", "referral", "paid-x", "organic"}
	for i := range 3 * maxGroups {
		source, medium, campaign := sources[i%len(sources)], mediums[i%len(mediums)], fmt.Sprintf("shop-%d", i%(2*maxGroups))
		if got, want := Group(source, medium, campaign), group(source, medium, campaign); got != want {
			t.Fatalf("Group(%q, %q, %q) = %q, the rules say %q", source, medium, campaign, got, want)
		}
	}
	if len(groups.m) > maxGroups {
		t.Fatalf("%d answers remembered, at most %d", len(groups.m), maxGroups)
	}
}
