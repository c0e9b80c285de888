package enrich

import (
	"net/mail"
	"strings"

	"touchpoint/internal/event"
)

// HashTraits replaces every trait that holds an email address by its hash, as the
// collector does before an event leaves it for a site that does not keep PII:
//   - "email" in any spelling ("Email", "EMAIL") is the person's email: it becomes
//     email_sha256 and the stitcher links the person by it;
//   - another trait whose name ends in "email" ("contact_email", "workEmail") or whose
//     value parses as an address becomes <name>_sha256, the hash of that address;
//   - user_id keeps its name, so that it still links, and holds the hash when it is an
//     address.
//
// Hashes are event.EmailSHA256 of the normalised address. With keep, only the spelling of
// "email" is normalised and the address kept next to its hash. It reports whether t
// changed.
func HashTraits(t map[string]string, keep bool) bool {
	changed := false
	for k, v := range t {
		if k != event.TraitEmail && strings.EqualFold(k, event.TraitEmail) {
			delete(t, k)
			if _, ok := t[event.TraitEmail]; !ok {
				t[event.TraitEmail] = v
			}
			changed = true
		}
	}
	if email, ok := t[event.TraitEmail]; ok {
		email = event.NormaliseEmail(email)
		if strings.ContainsAny(email, "<>") { // "Ann <ann@example.com>": the address only
			if a, ok := address(email); ok {
				email = a
			}
		}
		if email == "" {
			delete(t, event.TraitEmail)
		} else {
			t[event.TraitEmailSHA256] = event.EmailSHA256(email)
			if keep {
				t[event.TraitEmail] = email
			} else {
				delete(t, event.TraitEmail)
			}
		}
		changed = true
	}
	if keep {
		return changed
	}
	for k, v := range t {
		if k == event.TraitEmail || k == event.TraitEmailSHA256 || strings.HasSuffix(k, "_sha256") {
			continue
		}
		a, isAddr := address(v)
		if !isAddr {
			if !emailName(k) || strings.TrimSpace(v) == "" {
				continue
			}
			a = v
		}
		if k == event.TraitUserID {
			t[k] = event.EmailSHA256(a)
		} else {
			delete(t, k)
			t[k+"_sha256"] = event.EmailSHA256(a)
		}
		changed = true
	}
	return changed
}

// emailName reports whether a trait's name says it holds an email address.
func emailName(k string) bool {
	k = strings.ToLower(k)
	return strings.HasSuffix(k, "email") || strings.HasSuffix(k, "e-mail") || strings.HasSuffix(k, "e_mail") || k == "mail"
}

// address returns the address in s when s is one (possibly with a display name:
// "Ann <ann@example.com>"), lower-cased.
func address(s string) (string, bool) {
	if !strings.Contains(s, "@") { // most values: no parse
		return "", false
	}
	a, err := mail.ParseAddress(strings.TrimSpace(s))
	if err != nil {
		return "", false
	}
	return event.NormaliseEmail(a.Address), true
}
