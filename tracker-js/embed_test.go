package trackerjs

import (
	"bytes"
	"compress/gzip"
	"testing"
)

// The budget from the spec, also enforced by the node tests; checked here so
// a Go-only build cannot ship an oversized snippet either.
const budget = 3072

func TestScriptFitsBudget(t *testing.T) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(Script); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if len(Script) == 0 || buf.Len() > budget {
		t.Fatalf("t.js is %d bytes, %d gzipped; want 1..%d gzipped", len(Script), buf.Len(), budget)
	}
}
