// Package webhook delivers each new lead to the site's CRM webhook: a JSON body signed
// with HMAC-SHA256, retried with exponential backoff, every attempt written to a log.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"strconv"
	"sync"
	"time"

	"touchpoint/scoring/rules"
)

// Signature headers. The signature is hex(HMAC-SHA256(secret, timestamp + "." + body)),
// so a receiver can refuse old replays by checking the timestamp.
const (
	SignatureHeader = "X-Touchpoint-Signature"
	TimestampHeader = "X-Touchpoint-Timestamp"
)

// Touch is a touchpoint as the CRM receives it.
type Touch struct {
	Channel     string    `json:"channel"`
	Source      string    `json:"source"`
	Medium      string    `json:"medium"`
	Campaign    string    `json:"campaign"`
	Term        string    `json:"term"`
	LandingPage string    `json:"landing_page"`
	Referrer    string    `json:"referrer"`
	Time        time.Time `json:"time"`
}

// Lead is the body POSTed for each new lead.
type Lead struct {
	Event  string `json:"event"` // always "lead.created"
	Site   string `json:"site"`
	Person struct {
		ID          string `json:"id"`
		EmailSHA256 string `json:"email_sha256,omitempty"`
		UserID      string `json:"user_id,omitempty"`
	} `json:"person"`
	Lead struct {
		ConversionID string    `json:"conversion_id"`
		LeadType     string    `json:"lead_type"`
		OccurredAt   time.Time `json:"occurred_at"`
		Value        float64   `json:"value"`
		Currency     string    `json:"currency"`
	} `json:"lead"`
	FirstClick Touch `json:"first_click"`
	LastClick  Touch `json:"last_click"`
	// Score is the person's lead score with the lead; null when the site does not score
	// leads.
	Score *rules.Score `json:"score"`
}

// Delivery is one webhook to send.
type Delivery struct {
	Site, ConversionID, URL, Secret string
	Body                            []byte
	Attempt                         int // attempts already made
}

// Attempt is one logged try.
type Attempt struct {
	Site, ConversionID, URL string
	Attempt                 int
	Status                  int
	Error                   string
	Delivered               bool
	NextRetryAt             time.Time // zero when no retry follows
	Payload                 []byte
	At                      time.Time
}

// Log stores attempts (ClickHouse in production).
type Log interface {
	Record(ctx context.Context, a Attempt) error
}

// Sign returns the signature header value for body sent at ts.
func Sign(secret string, ts int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(strconv.FormatInt(ts, 10)))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature as a receiver does.
func Verify(secret, signature, timestamp string, body []byte) bool {
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return false
	}
	return hmac.Equal([]byte(Sign(secret, ts, body)), []byte(signature))
}

// Sender delivers webhooks from a queue in the background.
type Sender struct {
	client      *http.Client
	log         Log
	maxAttempts int
	backoff     func(attempt int) time.Duration

	// Erased reports whether a delivery's conversion was erased (docs/privacy.md): its
	// pending attempts are dropped, so the person is neither sent nor logged again.
	Erased func(ctx context.Context, site, conversionID string) bool

	mu      sync.Mutex
	pending []Delivery
	wake    chan struct{}
}

// NewSender builds a sender. maxAttempts bounds the tries of one delivery.
func NewSender(l Log, maxAttempts int, firstBackoff time.Duration) *Sender {
	return &Sender{
		client:      &http.Client{Timeout: 10 * time.Second},
		log:         l,
		maxAttempts: maxAttempts,
		backoff: func(attempt int) time.Duration {
			return min(firstBackoff<<min(attempt, 16), 10*time.Minute)
		},
		wake: make(chan struct{}, 1),
	}
}

// Enqueue schedules d for delivery now.
func (s *Sender) Enqueue(d Delivery) {
	s.mu.Lock()
	s.pending = append(s.pending, d)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done; failed deliveries wait for their backoff.
func (s *Sender) Run(ctx context.Context) {
	for {
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		for _, d := range batch {
			d := d
			go s.deliver(ctx, d)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wake:
		}
	}
}

func (s *Sender) deliver(ctx context.Context, d Delivery) {
	if s.Erased != nil && s.Erased(ctx, d.Site, d.ConversionID) {
		log.Printf("webhook: dropping the delivery of %s: its conversion was erased", d.ConversionID)
		return
	}
	now := time.Now()
	status, err := s.post(ctx, d, now)
	d.Attempt++
	a := Attempt{Site: d.Site, ConversionID: d.ConversionID, URL: d.URL, Attempt: d.Attempt, Status: status,
		Delivered: err == nil, Payload: d.Body, At: now}
	var retryIn time.Duration
	if err != nil {
		a.Error = err.Error()
		if d.Attempt < s.maxAttempts {
			retryIn = s.backoff(d.Attempt - 1)
			a.NextRetryAt = now.Add(retryIn)
		}
	}
	if lerr := s.log.Record(context.WithoutCancel(ctx), a); lerr != nil {
		log.Printf("webhook: cannot log attempt %d for %s: %v", a.Attempt, d.ConversionID, lerr)
	}
	switch {
	case err == nil:
		deliveries.WithLabelValues(resultDelivered).Inc()
	case retryIn == 0:
		deliveries.WithLabelValues(resultAbandoned).Inc()
		log.Printf("webhook: giving up on %s after %d attempts: %v", d.ConversionID, d.Attempt, err)
	default:
		deliveries.WithLabelValues(resultRetrying).Inc()
	}
	if retryIn == 0 {
		return
	}
	select {
	case <-ctx.Done():
	case <-time.After(retryIn):
		s.Enqueue(d)
	}
}

func (s *Sender) post(ctx context.Context, d Delivery, now time.Time) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Body))
	if err != nil {
		return 0, fmt.Errorf("cannot build request: %w", err)
	}
	ts := now.Unix()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Touchpoint-Webhook/1")
	req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
	req.Header.Set(SignatureHeader, Sign(d.Secret, ts, d.Body))
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach webhook: %w", err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}
