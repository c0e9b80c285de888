package event

import "github.com/segmentio/encoding/json"

// AppendJSON appends e to b as the collector writes it to the events topic: json.Marshal's
// encoding, except that '<', '>' and '&' are not escaped. The message is never part of an
// HTML page, and URLs keeping their '&' as they are is what DecodeEnriched reads fastest.
func AppendJSON(b []byte, e *Enriched) ([]byte, error) {
	return json.Append(b, e, json.SortMapKeys)
}
