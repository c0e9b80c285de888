package webhook

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"touchpoint/internal/site"
)

// Verdict is what an answer means for a delivery.
type Verdict int

const (
	// Done: delivered.
	Done Verdict = iota
	// Retry: a passing fault (network, timeout, 5xx, 429); tried again with backoff.
	Retry
	// Refused: the receiver refused it (a 4xx); tried again only a few times, in case
	// the receiver is being fixed.
	Refused
	// Fatal: it cannot succeed as it is (a bad token, a payload Meta refuses); failed
	// at once, to be sent again by hand once the cause is fixed.
	Fatal
)

// Request is a delivery made ready to send.
type Request struct {
	HTTP *http.Request
	// URL is where it goes, as the delivery list shows it (no credentials, no token).
	URL string
	// Secrets are the strings that must never appear in a logged or stored error.
	Secrets []string
}

// Target turns deliveries into requests for one kind of receiver, with the site's
// settings of the moment (a rotated secret or token is used at once), and says what the
// receiver's answers mean.
type Target interface {
	// Request builds the request of d sent at now. A nil Request with a nil error means
	// the site no longer sends to this target: the delivery is dropped.
	Request(ctx context.Context, d *Delivery, now time.Time) (*Request, error)
	// Judge reads an answer (status > 0) and returns the verdict and what to show of it.
	Judge(status int, header http.Header, body []byte) (Verdict, string)
}

// Hook is the CRM webhook target: the body POSTed to the site's webhook_url, signed with
// its webhook_secret.
type Hook struct {
	Sites *site.Registry
}

// Request implements Target.
func (h *Hook) Request(ctx context.Context, d *Delivery, now time.Time) (*Request, error) {
	st := h.Sites.Get(d.Site)
	if st == nil || st.WebhookURL == "" {
		return nil, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.WebhookURL, bytes.NewReader(d.Payload))
	if err != nil {
		return nil, fmt.Errorf("cannot build the request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Touchpoint-Webhook/2")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, Sign(string(st.WebhookSecret), ts, d.Payload))
	req.Header.Set(EventHeader, d.Event)
	req.Header.Set(DeliveryHeader, d.ID)
	out := &Request{HTTP: req, URL: DisplayURL(st.WebhookURL)}
	if st.WebhookSecret != "" {
		out.Secrets = []string{string(st.WebhookSecret)}
	}
	return out, nil
}

// Judge implements Target: 2xx is delivered; 408, 425, 429 and 5xx are passing faults;
// any other status is a refusal. A redirect says where it points, without its query: the
// receiver moved (often to https), and webhook_url is to be changed.
func (h *Hook) Judge(status int, header http.Header, body []byte) (Verdict, string) {
	switch {
	case status >= 200 && status <= 299:
		return Done, ""
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests || status >= 500:
		return Retry, answered(status, body)
	case status >= 300 && status <= 399 && header.Get("Location") != "":
		return Refused, fmt.Sprintf("answered %d %s, pointing to %s: change webhook_url if the receiver moved", status, http.StatusText(status),
			DisplayURL(header.Get("Location")))
	}
	return Refused, answered(status, body)
}

// answered describes an answer that was not a success: the status and the start of the
// body, which is where receivers say what is wrong.
func answered(status int, body []byte) string {
	msg := fmt.Sprintf("answered %d %s", status, http.StatusText(status))
	if b := bytes.TrimSpace(body); len(b) > 0 {
		msg += ": " + clip(string(b), 300)
	}
	return msg
}

// clip cuts s to at most n bytes, on a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !isRuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// DisplayURL is raw without credentials, query or fragment, which may hold secrets:
// what the delivery list shows.
func DisplayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}
