// Package lead decides which form submits are leads. A site's lead_forms rules decide
// first (the first rule that matches wins); without a matching rule a submit is a lead when
// the form has an email field and is not a search, login, sign-up-with-password or
// newsletter-only form. What the tracker says about the form (search, password) is used
// when present; otherwise, for older trackers and imports, the field names, the form's id,
// name and action tell.
package lead

import (
	"net/url"
	"strings"

	"touchpoint/internal/event"
	"touchpoint/internal/glob"
	"touchpoint/internal/site"
)

// Submit is what is known of one form submit.
type Submit struct {
	Form     *event.Form // nil when the event has no form description
	Path     string      // the page's path
	HasEmail bool        // the submit carried an email address (traits)
}

// Rules are a site's lead_forms; nil or empty means the default rule only.
type Rules []site.LeadRule

// Decide reports whether s is a lead, and its lead type.
func (rs Rules) Decide(s Submit) (bool, string) {
	if r := rs.Rule(s); r != nil {
		return r.Lead, r.LeadType
	}
	var f event.Form
	if s.Form != nil {
		f = *s.Form
	}
	return Default(&f, s.HasEmail), "form"
}

// Rule returns the first rule that matches s, or nil.
func (rs Rules) Rule(s Submit) *site.LeadRule {
	var f event.Form
	if s.Form != nil {
		f = *s.Form
	}
	for i := range rs {
		r := &rs[i]
		if matches(r.FormID, f.ID) && matches(r.FormName, f.Name) && matchesAction(r.Action, f.Action) && matches(r.Path, s.Path) {
			return r
		}
	}
	return nil
}

// Default is the rule without lead_forms: an email field, and no search, login, sign-up
// with a password or newsletter-only form.
func Default(f *event.Form, hasEmail bool) bool {
	k := classify(f)
	return (hasEmail || k.email) && !k.search && !k.password && !k.newsletterOnly
}

// kind is what a form looks like.
type kind struct {
	email, search, password, newsletterOnly bool
}

// Field names that make a search form; names of the fields a newsletter sign-up has
// besides the email address.
var (
	searchFields = set("q", "s", "query", "search", "keyword", "keywords", "searchterm", "search_term", "search_query", "searchquery", "term", "k", "kw")
	signupFields = set("name", "fname", "lname", "firstname", "first_name", "lastname", "last_name", "fullname", "full_name", "your_name",
		"consent", "gdpr", "terms", "privacy", "agree", "accept", "optin", "opt_in", "newsletter", "subscribe", "list", "lists", "language", "lang")
)

// consentWords make a field a consent box ("newsletter_consent", "accept-terms").
var consentWords = []string{"consent", "gdpr", "terms", "privacy", "agree", "accept", "optin", "newsletter", "subscribe", "marketing"}

func classify(f *event.Form) kind {
	var k kind
	k.search, k.password = f.Search, f.Password
	hint := tokens(f.ID) + tokens(f.Name) + actionTokens(f.Action)
	others := false
	for _, name := range f.Fields {
		n := fieldName(name)
		switch {
		case strings.Contains(n, "mail"):
			k.email = true
		case searchFields[n]:
			k.search = true
		case signupFields[n] || honeypot(n) || has(tokens(n), consentWords...):
			hint += tokens(name)
		default:
			others = true
		}
	}
	if has(hint, "search", "searchform", "searchbox", "searchbar", "sitesearch") {
		k.search = true
	}
	if has(hint, "login", "signin", "logon") {
		k.password = true
	}
	k.newsletterOnly = !others && has(hint, "newsletter", "newsletters", "subscribe", "subscription", "subscriptions", "mailinglist", "listmanage", "mailchimp")
	return k
}

// fieldName is a field name lower-cased, without array brackets and a form prefix
// ("contact[Email]" is "email", "EMAIL" is "email").
func fieldName(n string) string {
	n = strings.ToLower(strings.TrimSpace(n))
	n = strings.TrimSuffix(n, "[]")
	if i := strings.LastIndexByte(n, '['); i >= 0 && strings.HasSuffix(n, "]") {
		n = n[i+1 : len(n)-1]
	}
	return strings.Trim(n, "-_ ")
}

// honeypot reports a Mailchimp-style bot trap ("b_1a2b3c_4d5e") or a field named like one.
func honeypot(n string) bool {
	return strings.HasPrefix(n, "b_") || n == "honeypot" || n == "hp" || n == "website_url"
}

// tokens is s cut into lower-case words, each word followed by ' ' and each pair of
// adjacent words also written joined ("sign-in" gives " sign in signin "), so that has can
// look for whole words.
func tokens(s string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	})
	var b strings.Builder
	b.WriteByte(' ')
	for i, w := range words {
		b.WriteString(w + " ")
		if i > 0 {
			b.WriteString(words[i-1] + w + " ")
		}
	}
	return b.String()
}

// actionTokens are the words of an action URL's host and path.
func actionTokens(action string) string {
	if u, err := url.Parse(action); err == nil {
		return tokens(u.Hostname()) + tokens(u.Path)
	}
	return tokens(action)
}

// has reports whether hint (tokens) holds one of words.
func has(hint string, words ...string) bool {
	for _, w := range words {
		if strings.Contains(hint, " "+w+" ") {
			return true
		}
	}
	return false
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// matches reports whether s matches glob pattern p, "*" standing for any characters,
// without regard to case; an empty pattern matches anything.
func matches(p, s string) bool {
	return p == "" || glob.Match(strings.ToLower(p), strings.ToLower(s))
}

// matchesAction matches an action pattern: against the path of the action URL when the
// pattern starts with "/", else against the whole URL.
func matchesAction(p, action string) bool {
	if strings.HasPrefix(p, "/") {
		if u, err := url.Parse(action); err == nil {
			action = u.Path
		}
	}
	return matches(p, action)
}
