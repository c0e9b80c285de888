package event

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Traits are what an identify (or a form) says about a visitor: email, user_id and
// whatever else the site sends. Values are strings: a number or a boolean is kept as its
// JSON text (42 is "42", true is "true"), so `tp('identify', {user_id: 42})` links the
// visitor as user "42"; null means no value. An object or an array is refused.
type Traits map[string]string

// UnmarshalJSON reads a traits object as the event decoder does.
func (t *Traits) UnmarshalJSON(data []byte) error {
	if string(bytes.TrimSpace(data)) == "null" {
		return nil // as for any map: null leaves it as it was
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	m := make(Traits, len(raw))
	for k, v := range raw {
		v = bytes.TrimSpace(v)
		switch {
		case len(v) == 0:
		case string(v) == "null":
		case v[0] == '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return err
			}
			m[k] = s
		case string(v) == "true", string(v) == "false", v[0] == '-' || '0' <= v[0] && v[0] <= '9':
			m[k] = string(v)
		default:
			return fmt.Errorf("trait %q: a string, number, boolean or null, not %s", k, v)
		}
	}
	*t = m
	return nil
}
