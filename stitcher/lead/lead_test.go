package lead

import (
	"testing"

	"touchpoint/internal/event"
	"touchpoint/internal/site"
)

func TestDefaultRule(t *testing.T) {
	f := func(form *event.Form, hasEmail, want bool) {
		t.Helper()
		if got, lt := (Rules{}).Decide(Submit{Form: form, Path: "/", HasEmail: hasEmail}); got != want || lt != "form" {
			t.Fatalf("Decide(%+v, email %v) = %v %q, want %v \"form\"", form, hasEmail, got, lt, want)
		}
	}
	// Contact and demo forms with an email field are leads.
	f(&event.Form{ID: "contact", Fields: []string{"name", "email", "message"}}, true, true)
	f(&event.Form{ID: "demo", Fields: []string{"email"}}, false, true)
	f(&event.Form{Fields: []string{"contact[Email]", "contact[Company]"}}, false, true)
	f(&event.Form{ID: "quote", Fields: []string{"your-e-mail", "phone"}}, false, true)
	f(&event.Form{ID: "ebook", Fields: []string{"work_email"}}, false, true)
	f(&event.Form{Fields: []string{"phone"}}, true, true) // the tracker found an address in a field named otherwise
	// Without an email field: not a lead.
	f(&event.Form{ID: "contact", Fields: []string{"name", "phone", "message"}}, false, false)
	f(nil, false, false)
	f(nil, true, true) // an import of a submit with an address but no form description
	// Search forms: as the tracker says, or by field names, id and action.
	f(&event.Form{ID: "f", Fields: []string{"email"}, Search: true}, true, false)
	f(&event.Form{Fields: []string{"q"}}, false, false)
	f(&event.Form{Fields: []string{"s", "email"}}, true, false)
	f(&event.Form{ID: "searchform", Fields: []string{"term", "email"}}, true, false)
	f(&event.Form{ID: "site-search", Fields: []string{"keywords"}}, false, false)
	f(&event.Form{Action: "https://shop.example.com/search?x=1", Fields: []string{"email"}}, true, false)
	f(&event.Form{ID: "research-request", Fields: []string{"email", "topic"}}, true, true) // "research" is no search
	// Login and sign-up with a password: the tracker says so; older trackers by id or action.
	f(&event.Form{ID: "signup", Fields: []string{"email"}, Password: true}, true, false)
	f(&event.Form{ID: "signup", Fields: []string{"email", "company"}}, true, true) // a sign-up without a password is a lead
	f(&event.Form{ID: "login", Fields: []string{"email"}}, true, false)
	f(&event.Form{ID: "sign-in", Fields: []string{"email"}}, true, false)
	f(&event.Form{Action: "https://shop.example.com/wp-login.php", Fields: []string{"log"}}, false, false)
	f(&event.Form{Action: "/users/sign_in", Fields: []string{"user[email]"}}, true, false)
	f(&event.Form{ID: "blog-input", Fields: []string{"email", "comment"}}, true, true) // "blog-input" is no login
	// Newsletter-only forms: a newsletter hint and nothing but email, name and consent.
	f(&event.Form{ID: "mc-embedded-subscribe-form", Action: "https://example.us1.list-manage.com/subscribe/post?u=1&id=2",
		Fields: []string{"EMAIL", "FNAME", "b_1a2b_3c4d"}}, true, false)
	f(&event.Form{ID: "newsletter", Fields: []string{"email", "gdpr"}}, true, false)
	f(&event.Form{ID: "footer", Fields: []string{"email", "newsletter_consent", "newsletter"}}, true, false)
	f(&event.Form{ID: "footer", Fields: []string{"email"}}, true, true) // no hint: a lead
	// A contact form with a newsletter box is a lead.
	f(&event.Form{ID: "contact", Fields: []string{"email", "message", "newsletter"}}, true, true)
}

func TestSiteRules(t *testing.T) {
	rules := Rules{
		{FormID: "newsletter*", Lead: true, LeadType: "other"},
		{Action: "/api/quote*", Lead: true, LeadType: "form"},
		{FormName: "Callback", Lead: true, LeadType: "call"},
		{Path: "/careers/*", Lead: false},
		{Action: "*://partner.example/*", Lead: false},
	}
	f := func(form *event.Form, path string, want bool, wantType string) {
		t.Helper()
		got, lt := rules.Decide(Submit{Form: form, Path: path, HasEmail: true})
		if got != want || (want && lt != wantType) {
			t.Fatalf("Decide(%+v, %q) = %v %q, want %v %q", form, path, got, lt, want, wantType)
		}
	}
	// A rule decides even against the default rule: the newsletter is a lead here.
	f(&event.Form{ID: "Newsletter-Footer", Fields: []string{"email"}}, "/", true, "other")
	f(&event.Form{ID: "q", Action: "https://shop.example.com/api/quote/v2", Fields: []string{"phone"}}, "/", true, "form")
	f(&event.Form{Name: "callback", Fields: []string{"phone"}}, "/", true, "call")
	f(&event.Form{ID: "apply", Fields: []string{"email", "cv"}}, "/careers/engineer", false, "")
	f(&event.Form{ID: "x", Action: "https://partner.example/contact", Fields: []string{"email"}}, "/", false, "")
	// First match wins: the careers rule comes after the newsletter one.
	f(&event.Form{ID: "newsletter", Fields: []string{"email"}}, "/careers/x", true, "other")
	// No rule matches: the default rule.
	f(&event.Form{ID: "contact", Fields: []string{"email"}}, "/contact", true, "form")
	f(&event.Form{ID: "contact", Fields: []string{"q"}}, "/contact", false, "")
}

func TestSiteRulesValidated(t *testing.T) {
	for _, bad := range [][]site.LeadRule{{{Lead: true}}, {{FormID: "x", Lead: true, LeadType: "phone"}}} {
		_, err := site.New(site.Config{Sites: []site.Site{{ID: "s", LeadForms: bad}}})
		if err == nil {
			t.Errorf("lead_forms %+v accepted", bad)
		}
	}
	r, err := site.New(site.Config{Sites: []site.Site{{ID: "s", LeadForms: []site.LeadRule{{Path: "/x", Lead: true}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if lt := r.Get("s").LeadForms[0].LeadType; lt != "form" {
		t.Fatalf("default lead_type %q, want form", lt)
	}
}
