package collector

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"touchpoint/collector/spool"
)

// A replay that fails after setting a message aside tries the same spool records again:
// the message is not set aside twice, until the spool has moved past it.
func TestDeadLetterFileKeepsAMessageOnce(t *testing.T) {
	f := &deadLetterFile{path: filepath.Join(t.TempDir(), deadLetterName)}
	m := spool.Message{Topic: "tp.events", Key: []byte("demo/v"), Value: []byte(`{"id":"e1"}`)}
	other := spool.Message{Topic: "tp.events", Key: []byte("demo/v"), Value: []byte{0xff, 0x00}}
	refused := errors.New("[10] Message Size Too Large")
	lines := func() []string {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(string(raw)), "\n")
	}
	for range 2 {
		if err := f.add(m, refused); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.add(other, refused); err != nil {
		t.Fatal(err)
	}
	if got := lines(); len(got) != 2 || !strings.Contains(got[0], `"value":{"id":"e1"}`) || !strings.Contains(got[1], `"value_base64":"/wA="`) {
		t.Fatalf("file after the same message twice and another:\n%s", strings.Join(got, "\n"))
	}
	if !f.has(m) {
		t.Fatal("a message set aside is not known as such")
	}
	f.forget()
	if f.has(m) {
		t.Fatal("still known after the spool moved on")
	}
	if err := f.add(m, refused); err != nil {
		t.Fatal(err)
	}
	if got := lines(); len(got) != 3 {
		t.Fatalf("%d lines, want 3: a message refused again later is set aside again", len(got))
	}
	if fi, err := os.Stat(f.path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v (%v), want 0600: it holds events", fi.Mode(), err)
	}
}
