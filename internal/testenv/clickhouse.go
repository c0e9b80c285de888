package testenv

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"touchpoint/internal/chstore"
)

// PrivateClickHouse runs a ClickHouse server of the test's own (the Debian
// clickhouse-server binary, the repository's config, free ports, a temporary data folder)
// so a test may stop and start it without touching the shared stack. It returns the native
// protocol address and functions that stop the server (SIGTERM, waits for exit) and start
// it again on the same ports and data. The server is stopped when the test ends.
func PrivateClickHouse(t testing.TB) (addr string, stop func(), start func()) {
	t.Helper()
	bin, err := exec.LookPath("clickhouse-server")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/clickhouse-server"); serr != nil {
			Missing(t, "clickhouse-server binary", err)
		}
		bin = "/usr/sbin/clickhouse-server"
	}
	_, file, _, _ := runtime.Caller(0)
	conf, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "clickhouse", "config.xml"))
	if err != nil {
		t.Fatalf("cannot read ClickHouse config: %v", err)
	}
	users, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "deploy", "clickhouse", "users.xml"))
	if err != nil {
		t.Fatalf("cannot read ClickHouse users: %v", err)
	}
	dir := t.TempDir()
	tcp, http := FreePort(t), FreePort(t)
	conf = regexp.MustCompile(`<tcp_port>\d+</tcp_port>`).ReplaceAll(conf, []byte("<tcp_port>"+strconv.Itoa(tcp)+"</tcp_port>"))
	conf = regexp.MustCompile(`<http_port>\d+</http_port>`).ReplaceAll(conf, []byte("<http_port>"+strconv.Itoa(http)+"</http_port>"))
	// Small caches: the server shares the machine with the stack.
	conf = regexp.MustCompile(`<(uncompressed|mark)_cache_size>\d+<`).ReplaceAll(conf, []byte("<${1}_cache_size>67108864<"))
	for _, d := range []string{"log", "tmp", "user_files", "format_schemas"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "config.xml"), conf, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.xml"), users, 0o644); err != nil {
		t.Fatal(err)
	}
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp))
	var cmd *exec.Cmd
	start = func() {
		t.Helper()
		cmd = exec.Command(bin, "--config-file="+filepath.Join(dir, "config.xml"))
		cmd.Dir = dir // relative paths in config.xml resolve against it
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start clickhouse-server: %v", err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			conn, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: "default", User: "default"})
			cancel()
			if err == nil {
				conn.Close()
				return
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(filepath.Join(dir, "log", "clickhouse-server.err.log"))
				t.Fatalf("private ClickHouse did not start: %v\n%s", err, log)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stop = func() {
		if cmd == nil || cmd.Process == nil {
			return
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		cmd = nil
	}
	start()
	t.Cleanup(stop)
	return addr, stop, start
}

// MigratedAt connects to the ClickHouse at addr (a private one) and creates database db
// with every migration; the connection is closed when the test ends.
func MigratedAt(t testing.TB, addr, db string) driver.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := chstore.Open(ctx, chstore.Config{Addr: addr, Database: db, User: "default"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := chstore.Migrate(ctx, conn, db); err != nil {
		t.Fatalf("cannot migrate %s: %v", db, err)
	}
	return conn
}
