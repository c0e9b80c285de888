package envflag

import (
	"flag"
	"testing"
)

func TestApply(t *testing.T) {
	f := func(args []string, env map[string]string, want string, wantErr bool) {
		t.Helper()
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		addr := fs.String("http.listen", ":8080", "")
		n := fs.Int("batch.size", 1, "")
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		err := apply(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if (err != nil) != wantErr {
			t.Fatalf("args %v env %v: err = %v, want error %v", args, env, err, wantErr)
		}
		if *addr != want {
			t.Fatalf("args %v env %v: got %q, want %q", args, env, *addr, want)
		}
		_ = n
	}
	f(nil, nil, ":8080", false)
	f(nil, map[string]string{"TP_HTTP_LISTEN": ":9"}, ":9", false)
	f([]string{"-http.listen", ":7"}, map[string]string{"TP_HTTP_LISTEN": ":9"}, ":7", false)
	f(nil, map[string]string{"TP_BATCH_SIZE": "many"}, ":8080", true)
}
