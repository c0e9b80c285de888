package reports

import (
	"archive/zip"
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The two files the ECB publishes, as it writes them.
const (
	ecbDaily = "Date, USD, JPY, BGN, CZK, DKK, GBP, HUF, PLN, RON, SEK, CHF, ISK, NOK, TRY, AUD, BRL, CAD, CNY, HKD, IDR, ILS, INR, KRW, MXN, MYR, NZD, PHP, SGD, THB, ZAR, \n" +
		"04 December 2026, 1.0800, 161.62, 1.9558, 25.120, 7.4590, 0.84000, 403.10, 4.2620, 4.9770, 11.4150, 0.9390, 146.90, 11.7610, 37.4520, 1.6420, 6.4300, 1.5130, 7.8650, 8.4060, 17450.00, 3.9240, 91.4200, 1541.20, 21.3200, 4.7810, 1.8310, 62.1400, 1.4350, 37.6100, 19.5400, \n"
	ecbHist = "Date,USD,JPY,BGN,CYP,CZK,DKK,EEK,GBP,HUF,LTL,LVL,MTL,PLN,ROL,RON,SEK,SIT,SKK,CHF,ISK,NOK,HRK,RUB,TRL,TRY,AUD,BRL,CAD,CNY,HKD,IDR,ILS,INR,KRW,MXN,MYR,NZD,PHP,SGD,THB,ZAR,\n" +
		"2026-12-04,1.08,161.62,1.9558,N/A,25.12,7.459,N/A,0.84,403.1,N/A,N/A,N/A,4.262,N/A,4.977,11.415,N/A,N/A,0.939,146.9,11.761,N/A,N/A,N/A,37.452,1.642,6.43,1.513,7.865,8.406,17450,3.924,91.42,1541.2,21.32,4.781,1.831,62.14,1.435,37.61,19.54,\n" +
		"2026-12-03,1.075,160.9,1.9558,N/A,25.1,7.459,N/A,N/A,402.5,N/A,N/A,N/A,4.26,N/A,4.977,11.4,N/A,N/A,0.94,146.5,11.75,N/A,N/A,N/A,37.3,1.64,6.41,1.51,7.85,8.39,17400,3.92,91.2,1540,21.3,4.78,1.83,62.1,1.43,37.6,19.5,\n"
)

func rateMap(rates []Rate) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rates {
		out[r.Date+" "+r.Base+"/"+r.Currency] = r.Rate
	}
	return out
}

func TestParseRates(t *testing.T) {
	// The day's file: EUR site, rates as published; 100 USD are 92.59 EUR.
	rates, err := ParseRates([]byte(ecbDaily), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	m := rateMap(rates)
	if len(rates) != 30 || m["2026-12-04 EUR/USD"] != 1.08 || m["2026-12-04 EUR/JPY"] != 161.62 || m["2026-12-04 EUR/ZAR"] != 19.54 {
		t.Fatalf("daily file: %d rates %v", len(rates), m)
	}
	if got := math.Round(100/m["2026-12-04 EUR/USD"]*100) / 100; got != 92.59 {
		t.Fatalf("100 USD = %v EUR, want 92.59", got)
	}
	// The history, N/A left out; a GBP site gets cross rates through the euro, and the
	// euro itself; a day without a GBP rate gives nothing.
	rates, err = ParseRates([]byte(ecbHist), "GBP")
	if err != nil {
		t.Fatal(err)
	}
	m = rateMap(rates)
	if !near(m["2026-12-04 GBP/USD"], 1.08/0.84) || !near(m["2026-12-04 GBP/EUR"], 1/0.84) || !near(m["2026-12-04 GBP/JPY"], 161.62/0.84) {
		t.Fatalf("GBP cross rates: %v", m)
	}
	if _, ok := m["2026-12-04 GBP/CYP"]; ok {
		t.Fatal("an N/A rate was kept")
	}
	if _, ok := m["2026-12-04 GBP/GBP"]; ok {
		t.Fatal("a rate of the site's currency against itself")
	}
	for k := range m {
		if strings.HasPrefix(k, "2026-12-03") {
			t.Fatalf("a day without a GBP rate gave %s", k)
		}
	}
	// The zip the ECB serves.
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("eurofxref-hist.csv")
	w.Write([]byte(ecbHist))
	zw.Close()
	zipped, err := ParseRates(z.Bytes(), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	hist, _ := ParseRates([]byte(ecbHist), "EUR")
	if !reflect.DeepEqual(zipped, hist) || len(hist) != 30+29 {
		t.Fatalf("zip: %d rates, file: %d", len(zipped), len(hist))
	}
	// A plain file, in any column order, with a BOM.
	rates, err = ParseRates([]byte("\ufeffcurrency,rate,date\nusd,1.08,2026-12-04\nGBP, 0.84 ,2026-12-04\nEUR,1,2026-12-04\n"), "EUR")
	if err != nil {
		t.Fatal(err)
	}
	if want := []Rate{{"2026-12-04", "EUR", "USD", 1.08}, {"2026-12-04", "EUR", "GBP", 0.84}}; !reflect.DeepEqual(rates, want) {
		t.Fatalf("plain file: %+v", rates)
	}

	f := func(body, base, wantErr string) {
		t.Helper()
		if _, err := ParseRates([]byte(body), base); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("ParseRates(%q, %s): %v, want an error about %q", body, base, err, wantErr)
		}
	}
	f(ecbDaily, "ARS", "no rate for ARS")
	f("date,currency\n2026-12-04,USD\n", "EUR", `lacks "rate"`)
	f("date,currency,rate\n2026-12-04,USD,0\n", "EUR", "not a positive number")
	f("date,currency,rate\n2026-12-04,USD,-1.08\n", "EUR", "not a positive number")
	f("date,currency,rate\n2026-12-04,USD,NaN\n", "EUR", "not a positive number")
	f("date,currency,rate\n04/12/2026,USD,1.08\n", "EUR", "not YYYY-MM-DD")
	f("date,currency,rate\n2026-12-04,dollar,1.08\n", "EUR", "not an ISO 4217 code")
	f("date,currency,rate,base\n2026-12-04,USD,1.08,GBP\n", "EUR", "against GBP")
	f("date,currency,rate\n2026-12-04,EUR,1.1\n", "EUR", "site's currency")
	f("date,currency,rate\n", "EUR", "no rates")
	f("Date,USD,\n2026-12-04,abc,\n", "EUR", "not a positive number")
	f("Date,USD,\nyesterday,1.08,\n", "EUR", "04 December 2026")
	f("PK\x03\x04garbage", "EUR", "zip")
}

// Rates parsed from an ECB history written from known rates are those rates, crossed for
// a site in another currency: the known rates are the reference the parser is held to.
func TestParseRatesMatchesWrittenRates(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	codes := []string{"USD", "JPY", "GBP", "CHF", "SEK"}
	for n := 0; n < 100; n++ {
		var b strings.Builder
		b.WriteString("Date," + strings.Join(codes, ",") + ",\n")
		want := map[string]float64{}
		base := []string{"EUR", "GBP", "USD"}[rng.IntN(3)]
		day := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for d := 0; d < 1+rng.IntN(5); d++ {
			day = day.AddDate(0, 0, 1+rng.IntN(3))
			perEUR := map[string]float64{"EUR": 1}
			b.WriteString(day.Format("2006-01-02"))
			for _, c := range codes {
				if rng.IntN(8) == 0 {
					b.WriteString(",N/A")
					continue
				}
				x := float64(1+rng.IntN(200000)) / 1000
				perEUR[c] = x
				b.WriteString("," + strconv.FormatFloat(x, 'f', -1, 64))
			}
			b.WriteString(",\n")
			if bv, ok := perEUR[base]; ok {
				for c, x := range perEUR {
					if c != base {
						want[day.Format("2006-01-02")+" "+base+"/"+c] = x / bv
					}
				}
			}
		}
		rates, err := ParseRates([]byte(b.String()), base)
		if len(want) == 0 {
			if err == nil {
				t.Fatalf("no rate could be crossed, yet %d rates", len(rates))
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v\n%s", err, b.String())
		}
		if got := rateMap(rates); !reflect.DeepEqual(got, want) {
			t.Fatalf("base %s:\n%s\ngot  %v\nwant %v", base, b.String(), got, want)
		}
	}
}

func TestRateBook(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse("2006-01-02", s); return t }
	b := newRateBook("EUR", []Rate{{"2026-12-04", "EUR", "USD", 1.08}, {"2026-12-07", "EUR", "USD", 1.1}, {"2026-12-04", "GBP", "USD", 1.3}})
	f := func(cur, day string, want float64) {
		t.Helper()
		got, ok := b.rate(cur, d(day))
		if ok != (want != 0) || got != want {
			t.Fatalf("rate(%s, %s) = %v, %v; want %v", cur, day, got, ok, want)
		}
	}
	f("USD", "2026-12-04", 1.08)
	f("USD", "2026-12-05", 1.08) // Saturday: Friday's rate
	f("USD", "2026-12-06", 1.08)
	f("USD", "2026-12-07", 1.1)
	f("USD", "2026-12-14", 1.1) // a week old
	f("USD", "2026-12-15", 0)   // older than a week: no rate
	f("USD", "2026-12-03", 0)   // before the first rate
	f("GBP", "2026-12-04", 0)   // a rate against another base is not used
	f("CHF", "2026-12-04", 0)
}

// Whatever rates the parser accepts are positive rates of ISO codes on real dates.
func FuzzParseRates(f *testing.F) {
	f.Add([]byte(ecbDaily), "EUR")
	f.Add([]byte(ecbHist), "GBP")
	f.Add([]byte("date,currency,rate\n2026-12-04,USD,1.08\n"), "EUR")
	f.Fuzz(func(t *testing.T, body []byte, base string) {
		if len(base) != 3 || strings.ToUpper(base) != base {
			return
		}
		rates, err := ParseRates(body, base)
		if err != nil {
			return
		}
		for _, r := range rates {
			if _, err := time.Parse("2006-01-02", r.Date); err != nil || r.Base != base || len(r.Currency) != 3 || r.Currency == base ||
				!(r.Rate > 0) || math.IsInf(r.Rate, 0) {
				t.Fatalf("invalid rate %+v from %q", r, body)
			}
		}
	})
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }
