// Command touchpoint-token creates, lists and revokes access tokens of the reports API:
//
//	touchpoint-token create -site S -scope reports:read[,costs:write,admin] [-name LABEL]
//	touchpoint-token revoke -id tok_...
//	touchpoint-token list [-site S]
//
// create prints the token once on standard output; only its SHA-256 is stored.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"touchpoint/internal/apitoken"
	"touchpoint/internal/chstore"
	"touchpoint/internal/envflag"
	"touchpoint/internal/site"
)

const usage = `usage:
  touchpoint-token create -site SITE -scope reports:read|costs:write|admin[,...] [-name LABEL]
  touchpoint-token revoke -id TOKEN_ID
  touchpoint-token list [-site SITE]`

func main() {
	if len(os.Args) < 2 || strings.HasPrefix(os.Args[1], "-") {
		fmt.Fprintln(os.Stderr, usage)
		os.Exit(2)
	}
	cmd := os.Args[1]
	os.Args = append(os.Args[:1], os.Args[2:]...)
	chc := chstore.RegisterFlags(flag.CommandLine)
	sitesFile := flag.String("sites", "config/dev.json", "site configuration file (create checks that the site is configured)")
	siteID := flag.String("site", "", "site of the token")
	scope := flag.String("scope", "", "comma-separated scopes: reports:read, costs:write, admin")
	name := flag.String("name", "", "a label for the token (who or what uses it)")
	id := flag.String("id", "", "revoke: the token id (tok_...)")
	flag.Usage = func() { fmt.Fprintln(os.Stderr, usage); flag.PrintDefaults() }
	envflag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, cmd, *chc, *sitesFile, *siteID, *scope, *name, *id); err != nil {
		fmt.Fprintln(os.Stderr, "touchpoint-token:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cmd string, chc chstore.Config, sitesFile, siteID, scope, name, id string) error {
	switch cmd {
	case "create", "revoke", "list":
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
	var scopes []apitoken.Scope
	if cmd == "create" {
		if siteID == "" {
			return errors.New("create needs -site")
		}
		sites, err := site.Load(sitesFile)
		if err != nil {
			return err
		}
		if sites.Get(siteID) == nil {
			return fmt.Errorf("site %q is not in %s", siteID, sitesFile)
		}
		if scopes, err = apitoken.ParseScopes(scope); err != nil {
			return err
		}
	}
	if cmd == "revoke" && id == "" {
		return errors.New("revoke needs -id (see list)")
	}
	conn, err := chstore.Open(ctx, chc)
	if err != nil {
		return err
	}
	defer conn.Close()
	store := &apitoken.Store{Conn: conn, DB: chc.Database}
	switch cmd {
	case "create":
		t, secret, err := store.Create(ctx, siteID, scopes, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "created %s for site %s with %s; the token is shown only now:\n", t.ID, t.Site, joinScopes(t.Scopes))
		fmt.Println(secret)
	case "revoke":
		t, err := store.Revoke(ctx, id)
		if errors.Is(err, apitoken.ErrNotFound) {
			return fmt.Errorf("no token %s", id)
		}
		if err != nil {
			return err
		}
		fmt.Printf("revoked %s (site %s, %s)\n", t.ID, t.Site, joinScopes(t.Scopes))
	case "list":
		ts, err := store.List(ctx, siteID)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ID\tSITE\tSCOPES\tNAME\tCREATED\tREVOKED")
		for _, t := range ts {
			revoked := "-"
			if t.Revoked {
				revoked = t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Site, joinScopes(t.Scopes), t.Name, t.CreatedAt.Format(time.RFC3339), revoked)
		}
		return w.Flush()
	}
	return nil
}

func joinScopes(s []apitoken.Scope) string {
	out := make([]string, len(s))
	for i, sc := range s {
		out[i] = string(sc)
	}
	return strings.Join(out, ",")
}
