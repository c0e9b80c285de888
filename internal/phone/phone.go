// Package phone reads telephone numbers as people and providers write them: E.164
// ("+442071234567"), international ("+44 20 7123 4567", "0044 20 7123 4567") or national
// ("(020) 7123 4567", "020-7123-4567"), and tells whether two of them are the same line.
package phone

import "strings"

// Digits returns the digits of s, with a "+" in front when one comes before them (as in
// "tel:+44…"), and "00" or "011" international prefixes turned into "+". Letters and
// punctuation are dropped.
func Digits(s string) string {
	var b strings.Builder
	plus := false
	if i := strings.IndexAny(s, "+0123456789"); i >= 0 {
		plus = s[i] == '+'
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	d := b.String()
	switch {
	case plus:
		return "+" + d
	case strings.HasPrefix(d, "00") && len(d) > 9:
		return "+" + d[2:]
	}
	return d
}

// E164 is s in E.164 form when that can be known: numbers written with their country
// code as they are, national numbers with the country calling code cc ("44"; empty when
// unknown) in place of their trunk prefix "0" (or before them, for the North American
// plan's ten digits). It returns "" for anything that is no number.
func E164(s, cc string) string {
	d := Digits(s)
	switch {
	case len(d) < 4:
		return ""
	case d[0] == '+':
		return d
	case cc == "":
		return d
	case cc == "1" && len(d) == 11 && d[0] == '1':
		return "+" + d
	case cc == "1" && len(d) == 10:
		return "+1" + d
	case d[0] == '0':
		return "+" + cc + strings.TrimLeft(d, "0")
	}
	return "+" + cc + d
}

// Same reports whether a and b are the same number: equal in E.164, or the national
// significant digits of one (without trunk prefix) ending the other's, at least seven of
// them, when only one of them carries its country code. tracker-js/src/phone.js decides
// the same way.
func Same(a, b string) bool {
	da, db := Digits(a), Digits(b)
	if da == "" || db == "" {
		return false
	}
	if da == db {
		return true
	}
	intlA, intlB := da[0] == '+', db[0] == '+'
	if intlA && intlB {
		return strings.TrimLeft(da, "+0") == strings.TrimLeft(db, "+0")
	}
	if !intlA && !intlB {
		// Both national: the same without trunk prefix, or a North American number with
		// and without its leading 1 ("1-555-010-0000", "(555) 010-0000").
		na, nb := strings.TrimLeft(da, "0"), strings.TrimLeft(db, "0")
		return na == nb || len(na) == 10 && nb == "1"+na || len(nb) == 10 && na == "1"+nb
	}
	if intlA {
		da, db = db, da // da national, db international
	}
	n := strings.TrimLeft(da, "0")
	return len(n) >= 7 && strings.HasSuffix(db, n)
}

// Withheld reports whether a caller id says the number was withheld: empty, words such
// as "anonymous", "restricted" or "unavailable", or the digit spellings Twilio sends for
// them (+266696687 ANONYMOUS, +7378742833 RESTRICTED, +86282452253 UNAVAILABLE,
// +2562533 BLOCKED).
func Withheld(s string) bool {
	d := Digits(s)
	switch d {
	case "", "+", "+266696687", "+7378742833", "+86282452253", "+2562533", "266696687", "7378742833", "86282452253", "2562533":
		return true
	}
	return len(strings.TrimLeft(d, "+0")) < 3
}
