package main_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"touchpoint/internal/apitoken"
	"touchpoint/internal/site"
	"touchpoint/internal/testenv"
)

// The command creates a token shown once, lists it without its secret, and revokes it;
// the reports API's check accepts it for its site only until it is revoked.
func TestTokenCommand(t *testing.T) {
	conn, db := testenv.FreshDatabase(t)
	bin := testenv.Binary(t, "./cmd/touchpoint-token")
	sitesFile := filepath.Join(t.TempDir(), "sites.json")
	if err := os.WriteFile(sitesFile, []byte(`{"sites": [{"id": "shop"}, {"id": "blog"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := exec.Command(bin, append(args, "-clickhouse.database", db, "-sites", sitesFile)...)
		cmd.Env = append(os.Environ(), "TP_CLICKHOUSE_ADDR="+testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"))
		var out strings.Builder
		cmd.Stdout = &out
		var errOut strings.Builder
		cmd.Stderr = &errOut
		err := cmd.Run()
		if err != nil {
			return out.String() + errOut.String(), err
		}
		return out.String(), nil
	}
	secret, err := run("create", "-site", "shop", "-scope", "reports:read,costs:write", "-name", "agency")
	if err != nil {
		t.Fatalf("create: %v %s", err, secret)
	}
	secret = strings.TrimSpace(secret)
	if !strings.HasPrefix(secret, "tpk_") || strings.Contains(secret, "\n") {
		t.Fatalf("create printed %q, want the token alone", secret)
	}
	list, err := run("list")
	if err != nil || !strings.Contains(list, "shop") || !strings.Contains(list, "reports:read,costs:write") || !strings.Contains(list, "agency") ||
		strings.Contains(list, secret) {
		t.Fatalf("list: %v\n%s", err, list)
	}
	id := strings.Fields(strings.Split(list, "\n")[1])[0]
	sites, err := site.New(site.Config{Sites: []site.Site{{ID: "shop"}, {ID: "blog"}}})
	if err != nil {
		t.Fatal(err)
	}
	store := &apitoken.Store{Conn: conn, DB: db, Sites: sites}
	g, ok, err := store.Verify(context.Background(), secret)
	if err != nil || !ok || !g.Allows("shop", apitoken.CostsWrite) || g.Allows("blog", apitoken.ReportsRead) || g.Allows("shop", apitoken.Admin) || g.TokenID != id {
		t.Fatalf("created token grants %+v (%v, %v)", g, ok, err)
	}
	if out, err := run("revoke", "-id", id); err != nil || !strings.Contains(out, "revoked "+id) {
		t.Fatalf("revoke: %v %s", err, out)
	}
	store = &apitoken.Store{Conn: conn, DB: db, Sites: sites} // another process: reads the table afresh
	if _, ok, _ := store.Verify(context.Background(), secret); ok {
		t.Fatal("a revoked token is accepted")
	}
	for _, bad := range [][]string{{"create", "-site", "nope", "-scope", "admin"}, {"create", "-site", "shop", "-scope", "root"},
		{"create", "-site", "shop"}, {"revoke", "-id", "tok_000000000000"}, {"drop"}} {
		if out, err := run(bad...); err == nil {
			t.Fatalf("%v succeeded: %s", bad, out)
		}
	}
}
