package site

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// The webhook and Meta settings: validated at load, overridden from the environment, and
// their secrets never printed, whatever verb logs a site.
func TestOutboundSettings(t *testing.T) {
	var c Config
	if err := json.Unmarshal([]byte(`{"sites": [
		{"id": "shop", "webhook_url": "https://crm.example/hook", "webhook_secret": "file-secret",
		 "meta": {"pixel_id": " 123456 ", "access_token": "file-token", "events": {"lead": "Lead", "customer": "Purchase"}}},
		{"id": "plain"}]}`), &c); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"TP_SITE_SHOP_WEBHOOK_SECRET": "env-secret", "TP_SITE_SHOP_META_ACCESS_TOKEN": "EAAGenv",
		"TP_SITE_SHOP_WEBHOOK_INCLUDE_EMAIL": "true", "TP_SITE_PLAIN_META_PIXEL_ID": "42"}
	if err := ApplyEnv(&c, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	shop, plain := r.Get("shop"), r.Get("plain")
	if shop.WebhookSecret != "env-secret" || shop.Meta.AccessToken != "EAAGenv" || !shop.WebhookIncludeEmail || !shop.KeepsEmail() ||
		shop.Meta.PixelID != "123456" || !plain.SendsToMeta() || plain.Meta.AccessToken != "" {
		t.Fatalf("settings: %+v %+v", shop, plain)
	}
	if shop.MetaEvent("customer") != "Purchase" || shop.MetaEvent("sale") != "" || plain.MetaEvent("sale") != "Purchase" || plain.MetaEvent("mql") != "" {
		t.Fatal("Meta event names")
	}
	for _, format := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(format, shop) + fmt.Sprintf(format, *shop.Meta) + fmt.Sprintf(format, shop.WebhookSecret); strings.Contains(out, "env-secret") ||
			strings.Contains(out, "EAAGenv") || !strings.Contains(out, "[redacted]") {
			t.Fatalf("%s prints a secret: %s", format, out)
		}
	}

	f := func(s Site, want string) {
		t.Helper()
		if _, err := New(Config{Sites: []Site{s}}); err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("%+v: %v, want an error saying %q", s, err, want)
		}
	}
	f(Site{ID: "a", WebhookURL: "ftp://crm.example/"}, "webhook_url")
	f(Site{ID: "a", WebhookURL: "crm.example/hook"}, "webhook_url")
	f(Site{ID: "a", Meta: &Meta{PixelID: "pixel-1"}}, "pixel_id")
	f(Site{ID: "a", Meta: &Meta{AccessToken: "t"}}, "pixel_id is required")
	f(Site{ID: "a", Meta: &Meta{PixelID: "1", Endpoint: "graph.local"}}, "endpoint")
	f(Site{ID: "a", Meta: &Meta{PixelID: "1", Events: map[string]string{"lead": "Lead<script>"}}}, "events")
	if _, err := New(Config{Sites: []Site{{ID: "a", Meta: &Meta{}}}}); err != nil {
		t.Fatalf("an empty meta object is no Meta: %v", err)
	}
	bad := Config{Sites: []Site{{ID: "a"}}}
	if err := ApplyEnv(&bad, func(k string) (string, bool) { return "yes please", k == "TP_SITE_A_WEBHOOK_INCLUDE_EMAIL" }); err == nil {
		t.Fatal("a bad boolean was accepted")
	}
}
