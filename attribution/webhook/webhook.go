// Package webhook sends what the attribution service tells the outside world: CRM webhooks
// (a JSON body signed with HMAC-SHA256) and Meta Conversions API events. Deliveries wait in
// a ClickHouse table (delivery_queue) until they are delivered or given up, so a restart
// loses none; a background sender tries each one with backoff and logs every attempt in
// webhook_deliveries.
package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strconv"
)

// Signature headers. The signature is hex(HMAC-SHA256(secret, timestamp + "." + body)),
// so a receiver can refuse old replays by checking the timestamp.
const (
	SignatureHeader = "X-Touchpoint-Signature"
	TimestampHeader = "X-Touchpoint-Timestamp"
	// EventHeader and DeliveryHeader repeat the body's event and id, so a receiver can
	// route and deduplicate before parsing.
	EventHeader    = "X-Touchpoint-Event"
	DeliveryHeader = "X-Touchpoint-Delivery"
)

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
