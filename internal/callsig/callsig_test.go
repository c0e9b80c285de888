package callsig

import "testing"

// Twilio's published example: auth token 12345, this URL and these parameters.
func TestTwilioExample(t *testing.T) {
	params := map[string][]string{"CallSid": {"CA1234567890ABCDE"}, "Caller": {"+14158675310"}, "Digits": {"1234"},
		"From": {"+14158675310"}, "To": {"+18005551212"}}
	if got := Twilio("12345", "https://mycompany.com/myapp.php?foo=1&bar=2", params); got != "GvWf1cFY/Q7PnoempGyD5oXAezc=" {
		t.Errorf("signature %s, Twilio's example says GvWf1cFY/Q7PnoempGyD5oXAezc=", got)
	}
}
