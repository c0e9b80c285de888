package phone

import "testing"

func TestE164(t *testing.T) {
	for _, c := range []struct{ in, cc, want string }{
		{"+44 20 7123 4567", "44", "+442071234567"},
		{"(020) 7123 4567", "44", "+442071234567"},
		{"020-7123-4567", "44", "+442071234567"},
		{"0044 20 7123 4567", "", "+442071234567"},
		{"+1 (415) 867-5310", "", "+14158675310"},
		{"(415) 867-5310", "1", "+14158675310"},
		{"1-415-867-5310", "1", "+14158675310"},
		{"tel:+4930123456", "", "+4930123456"},
		{"030 123456", "49", "+4930123456"},
		{"abc", "44", ""},
	} {
		if got := E164(c.in, c.cc); got != c.want {
			t.Errorf("E164(%q, %q) = %q, want %q", c.in, c.cc, got, c.want)
		}
	}
}

func TestSame(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"+442071234567", "+44 20 7123 4567", true},
		{"+442071234567", "(020) 7123 4567", true},
		{"020 7123 4567", "+442071234567", true},
		{"+442071234567", "+442071234568", false},
		{"+442071234567", "+12071234567", false},
		{"+442071234567", "4567", false}, // too few digits to tell
		{"(020) 7123 4567", "20 7123 4567", true},
		{"+1 (555) 010-0000", "5550100000", true},
		{"+15550100000", "1-555-010-0000", true},
		{"(555) 010-0000", "1 555 010 0000", true},
		{"555.010.0000", "+1 555 010 0001", false},
		{"(555) 010-0000", "2 555 010 0000", false},
		{"0044 20 7123 4567", "+44 20 7123 4567", true},
		{"", "", false},
	} {
		if got := Same(c.a, c.b); got != c.want {
			t.Errorf("Same(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func TestWithheld(t *testing.T) {
	for _, s := range []string{"", "anonymous", "Restricted", "+266696687", "+2562533", "+86282452253", "UNAVAILABLE"} {
		if !Withheld(s) {
			t.Errorf("Withheld(%q) = false", s)
		}
	}
	for _, s := range []string{"+447700900123", "07700 900123"} {
		if Withheld(s) {
			t.Errorf("Withheld(%q) = true", s)
		}
	}
}
