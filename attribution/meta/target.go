package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"touchpoint/attribution/webhook"
	"touchpoint/internal/site"
)

// Target sends the queue's Meta deliveries (webhook.TargetMeta) with each site's pixel
// and access token of the moment.
type Target struct {
	Sites *site.Registry
	// URL is the Graph API base (DefaultURL); a site's meta.endpoint replaces it.
	URL string
}

// EventsURL is where a site's events go, without the token.
func (t *Target) EventsURL(st *site.Site) string {
	base := t.URL
	if st.Meta.Endpoint != "" {
		base = st.Meta.Endpoint
	}
	if base == "" {
		base = DefaultURL
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(st.Meta.PixelID) + "/events"
}

// Request implements webhook.Target.
func (t *Target) Request(ctx context.Context, d *webhook.Delivery, _ time.Time) (*webhook.Request, error) {
	st := t.Sites.Get(d.Site)
	if st == nil || !st.SendsToMeta() {
		return nil, nil
	}
	token := string(st.Meta.AccessToken)
	if token == "" {
		return nil, fmt.Errorf("the site has no Meta access token (meta.access_token, or %sMETA_ACCESS_TOKEN)", site.EnvPrefix(st.ID))
	}
	body := d.Payload
	if code := st.Meta.TestEventCode; code != "" {
		var b Body
		if err := json.Unmarshal(body, &b); err != nil {
			return nil, fmt.Errorf("cannot read the stored event: %w", err)
		}
		b.TestEventCode = code
		var err error
		if body, err = json.Marshal(b); err != nil {
			return nil, err
		}
	}
	events := t.EventsURL(st)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, events+"?access_token="+url.QueryEscape(token), bytes.NewReader(body))
	if err != nil {
		return nil, errors.New("cannot build the request: check meta.endpoint")
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Touchpoint-CAPI/1")
	return &webhook.Request{HTTP: req, URL: events, Secrets: []string{token, url.QueryEscape(token)}}, nil
}

// apiError is the error object of a Graph API answer.
type apiError struct {
	Error struct {
		Message     string `json:"message"`
		Type        string `json:"type"`
		Code        int    `json:"code"`
		Subcode     int    `json:"error_subcode"`
		IsTransient bool   `json:"is_transient"`
		UserTitle   string `json:"error_user_title"`
		UserMessage string `json:"error_user_msg"`
		FBTraceID   string `json:"fbtrace_id"`
	} `json:"error"`
}

// transientCodes are the Graph API error codes of passing conditions: unknown or service
// errors (1, 2), rate limits (4, 17, 32, 341, 613) and a temporary block (368).
var transientCodes = map[int]bool{1: true, 2: true, 4: true, 17: true, 32: true, 341: true, 368: true, 613: true}

// Judge implements webhook.Target: an error Meta marks transient, a rate limit, a 429 or a
// 5xx is tried again; any other error fails the delivery at once, since sending the same
// event again gets the same answer (a bad token, a parameter Meta refuses).
func (t *Target) Judge(status int, _ http.Header, body []byte) (webhook.Verdict, string) {
	if status >= 200 && status <= 299 {
		return webhook.Done, ""
	}
	var e apiError
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" && e.Error.Code == 0 {
		msg := fmt.Sprintf("Meta answered %d %s", status, http.StatusText(status))
		if status == http.StatusTooManyRequests || status >= 500 {
			return webhook.Retry, msg
		}
		return webhook.Fatal, msg
	}
	x := e.Error
	msg := "Meta: " + x.Message
	if x.UserMessage != "" && x.UserMessage != x.Message {
		msg += " — " + x.UserMessage
	}
	msg += fmt.Sprintf(" (HTTP %d, code %d", status, x.Code)
	if x.Subcode != 0 {
		msg += fmt.Sprintf(", subcode %d", x.Subcode)
	}
	if x.FBTraceID != "" {
		msg += ", fbtrace_id " + x.FBTraceID
	}
	msg += ")"
	if x.IsTransient || transientCodes[x.Code] || status == http.StatusTooManyRequests || status >= 500 {
		return webhook.Retry, msg
	}
	return webhook.Fatal, msg
}
