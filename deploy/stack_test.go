package deploy_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// `make status` (scripts/stack.sh status) tells a service that died — its pid file is
// there, its process gone — from one that was stopped, shows the end of its log, and
// fails unless everything runs.
func TestStackStatusNamesADeadService(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"run", "log"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	pidFile := func(name string, pid int) {
		if err := os.WriteFile(filepath.Join(dir, "run", name+".pid"), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	live := exec.Command("sleep", "60")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { live.Process.Kill(); live.Wait() }()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"stitcher", "attribution", "kafka", "clickhouse"} {
		pidFile(name, live.Process.Pid)
	}
	pidFile("collector", dead.Process.Pid)
	if err := os.WriteFile(filepath.Join(dir, "log", "collector.log"), []byte("collector: listening\npanic: the last words\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	status := func() (string, error) {
		cmd := exec.Command("bash", "../scripts/stack.sh", "status")
		cmd.Env = append(os.Environ(), "TP_STACK_DIR="+dir)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := status()
	if err == nil {
		t.Fatalf("status succeeded with a dead collector:\n%s", out)
	}
	for _, want := range []string{"collector DIED (pid " + strconv.Itoa(dead.Process.Pid) + " is gone)", "panic: the last words",
		"stitcher running (pid " + strconv.Itoa(live.Process.Pid) + ")"} {
		if !strings.Contains(out, want) {
			t.Fatalf("status does not say %q:\n%s", want, out)
		}
	}

	// Stopped (no pid file) is not dead, but still not everything running.
	os.Remove(filepath.Join(dir, "run", "collector.pid"))
	out, err = status()
	if err == nil || strings.Contains(out, "DIED") || !strings.Contains(out, "collector stopped") {
		t.Fatalf("status with a stopped collector (%v):\n%s", err, out)
	}
	pidFile("collector", live.Process.Pid)
	if out, err := status(); err != nil {
		t.Fatalf("status with everything running: %v\n%s", err, out)
	}
}
