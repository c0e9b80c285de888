package site

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// EnvPrefix is the start of a site's override variables: TP_SITE_<ID>_<SETTING>, with the
// id upper-cased and '.' or '-' written '_' (TP_SITE_DEMO_SECRET for site "demo").
func EnvPrefix(id string) string {
	return "TP_SITE_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(id)) + "_"
}

// ApplyEnv overrides settings of configured sites from the environment, so secrets need
// not sit in the file: SECRET (clear text, stored hashed), ORIGINS (comma-separated),
// COOKIE_DOMAIN, KEEP_PII (true/false), LOOKBACK_DAYS, RETENTION_DAYS, MAX_BROWSER_VALUE,
// TWILIO_AUTH_TOKEN, CALLRAIL_SIGNING_KEY, WEBHOOK_URL, WEBHOOK_SECRET, WEBHOOK_INCLUDE_EMAIL
// (true/false), META_PIXEL_ID and META_ACCESS_TOKEN. TP_ADMIN_TOKEN sets the admin token.
func ApplyEnv(c *Config, lookup func(string) (string, bool)) error {
	if v, ok := lookup("TP_ADMIN_TOKEN"); ok && v != "" {
		c.AdminTokenSHA256 = hashHex(v)
	}
	for i := range c.Sites {
		s := &c.Sites[i]
		p := EnvPrefix(s.ID)
		if v, ok := lookup(p + "SECRET"); ok && v != "" {
			s.SecretSHA256 = hashHex(v)
		}
		if v, ok := lookup(p + "ORIGINS"); ok {
			s.Origins = nil
			for _, o := range strings.Split(v, ",") {
				if o = strings.TrimSpace(o); o != "" {
					s.Origins = append(s.Origins, o)
				}
			}
		}
		if v, ok := lookup(p + "TWILIO_AUTH_TOKEN"); ok && v != "" {
			s.CallTracking.TwilioAuthToken = v
		}
		if v, ok := lookup(p + "CALLRAIL_SIGNING_KEY"); ok && v != "" {
			s.CallTracking.CallRailSigningKey = v
		}
		if v, ok := lookup(p + "COOKIE_DOMAIN"); ok {
			s.CookieDomain = v
		}
		for name, dst := range map[string]*bool{"KEEP_PII": &s.KeepPII, "WEBHOOK_INCLUDE_EMAIL": &s.WebhookIncludeEmail} {
			if v, ok := lookup(p + name); ok {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return fmt.Errorf("cannot use %s%s=%q: %w", p, name, v, err)
				}
				*dst = b
			}
		}
		if v, ok := lookup(p + "WEBHOOK_URL"); ok {
			s.WebhookURL = strings.TrimSpace(v)
		}
		if v, ok := lookup(p + "WEBHOOK_SECRET"); ok && v != "" {
			s.WebhookSecret = Secret(v)
		}
		pixel, okPixel := lookup(p + "META_PIXEL_ID")
		token, okToken := lookup(p + "META_ACCESS_TOKEN")
		if (okPixel || okToken && token != "") && s.Meta == nil {
			s.Meta = &Meta{}
		} else if s.Meta != nil {
			m := *s.Meta // the file's settings are not changed under other holders of the config
			s.Meta = &m
		}
		if okPixel {
			s.Meta.PixelID = strings.TrimSpace(pixel)
		}
		if okToken && token != "" {
			s.Meta.AccessToken = Secret(token)
		}
		if v, ok := lookup(p + "LOOKBACK_DAYS"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return fmt.Errorf("cannot use %sLOOKBACK_DAYS=%q: a positive number of days", p, v)
			}
			s.LookbackDays = n
		}
		if v, ok := lookup(p + "RETENTION_DAYS"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return fmt.Errorf("cannot use %sRETENTION_DAYS=%q: 0 (keep) or a positive number of days", p, v)
			}
			s.RetentionDays = n
		}
		if v, ok := lookup(p + "MAX_BROWSER_VALUE"); ok {
			n, err := strconv.ParseFloat(v, 64)
			if err != nil || !(n > 0) || math.IsInf(n, 0) {
				return fmt.Errorf("cannot use %sMAX_BROWSER_VALUE=%q: a positive amount", p, v)
			}
			s.MaxBrowserValue = n
		}
	}
	return nil
}

func hashHex(clear string) string {
	h := sha256.Sum256([]byte(clear))
	return hex.EncodeToString(h[:])
}
