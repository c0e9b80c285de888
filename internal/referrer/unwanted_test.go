package referrer

import "testing"

func TestUnwanted(t *testing.T) {
	for _, ref := range []string{
		"https://www.paypal.com/checkoutnow?token=EC-1", "https://www.sandbox.paypal.com/webapps/hermes", "https://paypal.me/shop",
		"https://checkout.stripe.com/c/pay/cs_live_a1", "https://hooks.stripe.com/3d_secure_2/hosted", "https://pay.stripe.com/receipts/x",
		"https://js.stripe.com/v3/three-ds-2-challenge", "https://buy.stripe.com/aB3", "https://invoice.stripe.com/i/acct_1",
		"https://www.klarna.com/", "https://pay.klarna.com/eu/", "https://js.playground.klarna.com/", "https://x.klarnaservices.com/",
		"https://checkoutshopper-live.adyen.com/checkoutshopper/", "https://test.adyen.com/hpp/", "https://www.mollie.com/checkout/",
		"https://secure.worldpay.com/wcc/purchase", "https://hpp.worldpay.com/", "https://pi-live.sagepay.com/", "https://live.opayo.eu.elavon.com/",
		"https://www.opayo.co.uk/", "https://centinelapi.cardinalcommerce.com/V2/Cruise", "https://acs.3dsecure.io/challenge",
		"https://acs1.somebank.co.uk/pareq", "https://acsweb.bank.example/", "https://3ds.bank.example/", "https://3dsecure.lbbw.de/",
		"https://accounts.google.com/o/oauth2/auth", "https://login.microsoftonline.com/common/oauth2", "https://login.live.com/oauth20",
		"https://appleid.apple.com/auth/authorize", "https://secure.przelewy24.pl/trnRequest", "https://secure.payu.com/",
		"https://WWW.PAYPAL.COM:443/", "paypal.com", "android-app://com.paypal.android.p2pmobile", "https://accounts.google.co.uk/",
		"https://3ds2.somebank.com/", "https://login.windows.net/common",
	} {
		if d := Domain(ref); !Unwanted.Match(d) {
			t.Errorf("%s (%q) is not unwanted", ref, d)
		}
	}
	for _, ref := range []string{
		"https://www.google.com/", "https://mail.google.com/", "https://stripe.com/blog/payment-links", "https://www.apple.com/",
		"https://www.microsoft.com/", "https://www.bing.com/search?q=x", "https://notpaypal.com/", "https://paypal.com.evil.example/",
		"https://acsomething.com/", "https://www.amazon.com/", "https://news.ycombinator.com/", "https://t.co/x", "",
		"https://example.com/3ds", "https://www.acs.org/", "https://3dsmax.com/", "https://www.google.co.uk/search?q=x",
	} {
		if d := Domain(ref); Unwanted.Match(d) {
			t.Errorf("%s (%q) is unwanted", ref, d)
		}
	}
}

func TestHostsPatterns(t *testing.T) {
	h, err := NewHosts([]string{"https://www.Checkout.Partner.example/pay", "*.sso.example", "auth-*.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	for d, want := range map[string]bool{
		"checkout.partner.example": true, "eu.checkout.partner.example": true, "partner.example": false,
		"a.sso.example": true, "a.b.sso.example": true, "sso.example": false, "auth-eu.example.net": true,
		"auth.example.net": false, "x.auth-eu.example.net": false, "": false,
	} {
		if got := h.Match(d); got != want {
			t.Errorf("Match(%q) = %v, want %v", d, got, want)
		}
	}
	for _, bad := range []string{"*", "*.*", "exa mple.com", ""} {
		if _, err := NewHosts([]string{bad}); err == nil {
			t.Errorf("NewHosts(%q) accepted", bad)
		}
	}
	if (*Hosts)(nil).Match("paypal.com") {
		t.Error("a nil set matches")
	}
}
