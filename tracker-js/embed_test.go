package trackerjs

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

// Checked here as well as by the node tests, so that a Go-only build cannot ship a
// stale gzip encoding or an oversized snippet either.
func TestFiles(t *testing.T) {
	for _, f := range []struct {
		name   string
		file   File
		budget int
	}{{"t.js", Script, 2048}, {"l.js", Links, 1024}, {"c.js", Calls, 2048}} {
		zr, err := gzip.NewReader(bytes.NewReader(f.file.Gzip))
		if err != nil {
			t.Fatalf("%s.gz: %v", f.name, err)
		}
		plain, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("%s.gz: %v", f.name, err)
		}
		if len(f.file.Plain) == 0 || !bytes.Equal(plain, f.file.Plain) {
			t.Errorf("%s.gz does not hold %s (run npm run build)", f.name, f.name)
		}
		if len(f.file.Gzip) > f.budget {
			t.Errorf("%s is %d bytes gzipped; want at most %d", f.name, len(f.file.Gzip), f.budget)
		}
	}
}
