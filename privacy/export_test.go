package privacy

// SipHash64 and Tables are for the tests of package privacy_test.
var SipHash64 = sipHash64

func Tables() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}
