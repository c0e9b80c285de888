package collector

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/segmentio/encoding/json"

	"touchpoint/collector/enrich"
	"touchpoint/internal/event"
)

// MaxDepth bounds JSON nesting in request bodies: an event is at most 3 levels deep
// (batch → events → event → form/props/traits), so 8 leaves room and stops stack games.
const MaxDepth = 8

// Request-level refusal reasons (event-level reasons are in package enrich).
const (
	reasonMalformedJSON  enrich.Reason = "malformed_json"
	reasonInvalidUTF8    enrich.Reason = "invalid_utf8"
	reasonTooDeep        enrich.Reason = "too_deep"
	reasonBodyTooLarge   enrich.Reason = "body_too_large"
	reasonNoEvents       enrich.Reason = "no_events"
	reasonTooManyEvents  enrich.Reason = "too_many_events"
	reasonUnknownSite    enrich.Reason = "unknown_site"
	reasonOrigin         enrich.Reason = "origin_not_allowed"
	reasonUnauthorized   enrich.Reason = "unauthorized"
	reasonSiteMismatch   enrich.Reason = "site_mismatch"
	reasonRateSite       enrich.Reason = "rate_limited_site"
	reasonRateIP         enrich.Reason = "rate_limited_ip"
	reasonRateAuth       enrich.Reason = "rate_limited_auth"
	reasonSpoolFull      enrich.Reason = "spool_full"
	reasonUnavailable    enrich.Reason = "unavailable"
	reasonMethod         enrich.Reason = "method_not_allowed"
	reasonNotFound       enrich.Reason = "not_found"
	reasonBadRequest     enrich.Reason = "bad_request"
	reasonTimeout        enrich.Reason = "timeout"
	reasonAllEventsWrong enrich.Reason = "all_events_refused"
)

// rawBatch is a request body with its events left undecoded, so that a bad event can be
// refused alone and sent as received to the dead-letter topic.
type rawBatch struct {
	Site   string            `json:"site"`
	Events []json.RawMessage `json:"events"`
}

// decodeBatch checks a body's encoding and shape: valid UTF-8, nesting at most MaxDepth,
// a JSON object with a site and 1 to maxEvents events.
func decodeBatch(body []byte, maxEvents int) (*rawBatch, *enrich.Refusal) {
	b, ref := splitBatch(body)
	if ref != nil {
		return nil, ref
	}
	if b.Site == "" {
		return nil, &enrich.Refusal{Reason: reasonUnknownSite, Detail: "site is missing"}
	}
	if len(b.Events) == 0 {
		return nil, &enrich.Refusal{Reason: reasonNoEvents, Detail: "events is empty"}
	}
	if len(b.Events) > maxEvents {
		return nil, &enrich.Refusal{Reason: reasonTooManyEvents, Detail: "a request carries at most " + strconv.Itoa(maxEvents) + " events"}
	}
	return b, nil
}

// splitBatch reads a body's site and events. The events stay slices of body, valid while
// the request is served (the dead-letter path copies the few it keeps); the site is
// copied, as body is reused after the answer.
func splitBatch(body []byte) (*rawBatch, *enrich.Refusal) {
	// Every /e request comes here. event.SplitBatch reads the tracker's bodies, nesting
	// checked, at less than half the cost of parseBatch, and leaves anything else to it:
	// it says what is wrong.
	if utf8.Valid(body) {
		if site, events, ok := event.SplitBatch(body, MaxDepth); ok {
			return &rawBatch{Site: strings.Clone(site), Events: events}, nil
		}
	}
	return parseBatch(body)
}

// parseBatch is splitBatch for any body: checkJSON, then the general JSON decoder.
func parseBatch(body []byte) (*rawBatch, *enrich.Refusal) {
	if ref := checkJSON(body); ref != nil {
		return nil, ref
	}
	var b rawBatch
	rest, err := json.Parse(body, &b, json.DontCopyRawMessage)
	if err == nil && len(bytes.TrimSpace(rest)) > 0 {
		err = errors.New("data after the JSON object")
	}
	if err != nil {
		return nil, &enrich.Refusal{Reason: reasonMalformedJSON, Detail: "body must be {\"site\":…,\"events\":[…]}: " + err.Error()}
	}
	return &b, nil
}

// checkJSON refuses invalid UTF-8 and JSON nested deeper than MaxDepth before any decoder
// sees the body (encoding/json accepts the first and nests to 10000).
func checkJSON(body []byte) *enrich.Refusal {
	if !utf8.Valid(body) {
		return &enrich.Refusal{Reason: reasonInvalidUTF8, Detail: "body is not valid UTF-8"}
	}
	depth := 0
	for i := 0; i < len(body); i++ {
		switch body[i] {
		case '"':
			// Most of a body is inside strings: jump to the closing quote, the first one
			// not escaped by an odd number of backslashes.
			for {
				j := bytes.IndexByte(body[i+1:], '"')
				if j < 0 {
					return nil // unterminated: the decoder refuses it
				}
				i += 1 + j
				if !escaped(body, i) {
					break
				}
			}
		case '{', '[':
			depth++
			if depth > MaxDepth {
				return &enrich.Refusal{Reason: reasonTooDeep, Detail: "JSON nested deeper than " + strconv.Itoa(MaxDepth)}
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// escaped reports whether body[i] follows an odd number of backslashes.
func escaped(body []byte, i int) bool {
	n := 0
	for i--; i >= 0 && body[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}
