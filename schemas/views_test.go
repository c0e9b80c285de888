package schemas_test

import (
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"touchpoint/internal/chstore"
	"touchpoint/internal/testenv"
)

// The analysts' views give what the reports count on rows with versions, tombstones,
// bots, merged persons and money in other currencies: every check of testdata/views.sql
// holds on ClickHouse 18.16 (scripts/check_schema.py runs them on a current engine).
func TestViews(t *testing.T) {
	sql, err := os.ReadFile("testdata/views.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, db := testenv.FreshDatabase(t)
	// Over HTTP: ClickHouse 18.16 waits for a data block after an INSERT … VALUES sent over
	// the native protocol, which the driver does not send for a plain statement.
	endpoint := testenv.Env("TP_CLICKHOUSE_HTTP", "http://127.0.0.1:8123") + "/?database=" + url.QueryEscape(db)
	for _, st := range chstore.SplitStatements(strings.ReplaceAll(string(sql), "{db}", db)) {
		resp, err := http.Post(endpoint, "text/plain", strings.NewReader(st))
		if err != nil {
			t.Fatal(err)
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s\n%s", msg, st)
		}
	}
}
