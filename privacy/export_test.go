package privacy

// SipHash64, Tables and Columns are for the tests of package privacy_test.
var SipHash64 = sipHash64

func Tables() []string {
	out := make([]string, len(tables))
	for i, t := range tables {
		out[i] = t.name
	}
	return out
}

// Columns are the columns by which the erasure finds a person's rows, by table.
func Columns() map[string][]string {
	out := map[string][]string{}
	for _, t := range tables {
		for _, c := range t.columns {
			out[t.name] = append(out[t.name], c.name)
		}
	}
	return out
}
