package reports

import (
	"strings"
	"testing"
)

func TestParseCosts(t *testing.T) {
	f := func(contentType, body string, want []Cost, wantErr string) {
		t.Helper()
		got, err := ParseCosts(contentType, []byte(body))
		if wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), wantErr) {
				t.Fatalf("ParseCosts(%q): err = %v, want it to mention %q", body, err, wantErr)
			}
			return
		}
		if err != nil {
			t.Fatalf("ParseCosts(%q): %v", body, err)
		}
		if len(got) != len(want) {
			t.Fatalf("ParseCosts(%q) = %+v, want %+v", body, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("row %d = %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	f("text/csv", "date,source,medium,campaign,cost,currency\n2026-10-01,Google,CPC,brand,12.5,eur\n",
		[]Cost{{Date: "2026-10-01", Channel: "Paid Search", Source: "google", Medium: "cpc", Campaign: "brand", Cost: 12.5, Currency: "EUR"}}, "")
	f("text/csv", "\ufeffcost,date,source,channel\n3,2026-10-02,newsletter,Email\n",
		[]Cost{{Date: "2026-10-02", Channel: "Email", Source: "newsletter", Cost: 3}}, "")
	f("application/json", `{"costs":[{"date":"2026-10-01","source":"facebook","medium":"paid_social","campaign":"retarget","cost":40}]}`,
		[]Cost{{Date: "2026-10-01", Channel: "Paid Social", Source: "facebook", Medium: "paid_social", Campaign: "retarget", Cost: 40}}, "")
	f("text/csv", "date,source\n2026-10-01,google\n", nil, `lacks column "cost"`)
	f("text/csv", "date,source,cost\n2026-13-01,google,1\n", nil, "not YYYY-MM-DD")
	f("text/csv", "date,source,cost\n2026-10-01,google,abc\n", nil, "not a number")
	f("text/csv", "date,source,cost\n2026-10-01,google,-1\n", nil, "non-negative")
	f("text/csv", "date,source,cost\n2026-10-01,,1\n", nil, "source is required")
	f("text/csv", "date,source,cost\n", nil, "no cost rows")
	f("application/json", `{"costs":[{"date":"2026-10-01","source":"x","cost":"1"}]}`, nil, "malformed JSON")
}
