package testenv

import (
	"net"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PrivateRedis runs a Redis server of the test's own (Debian's redis-server, a free
// loopback port, a temporary data folder with an append-only file) so a test may stop and
// start it without touching the stack's lease store. It returns the address and functions
// that stop the server (SIGTERM, waits for exit) and start it again on the same port and
// data. The server is stopped when the test ends.
func PrivateRedis(t testing.TB) (addr string, stop func(), start func()) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		Missing(t, "redis-server binary", err)
	}
	dir := t.TempDir()
	port := FreePort(t)
	addr = "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	start = func() {
		cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
			"--appendonly", "yes", "--appendfsync", "always", "--save", "", "--daemonize", "no", "--logfile", "")
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start redis-server: %v", err)
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("redis-server on %s did not answer: %v", addr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	stop = func() {
		if cmd == nil || cmd.Process == nil {
			return
		}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		cmd = nil
	}
	start()
	t.Cleanup(stop)
	return addr, stop, start
}
