package testenv

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
)

// RepoRoot is the directory holding go.mod.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// FreePort returns a loopback TCP port nobody listens on right now.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// PrivateKafka runs a single-node broker of the test's own, from the jars that
// scripts/kafka.sh fetch put in .stack/kafka/lib, on free ports with a temporary data
// directory. It is running when PrivateKafka returns; stop and start may be called to
// take it down and bring it back (same ports, same data) — never do that to the shared
// stack's broker. The broker is stopped when the test ends.
func PrivateKafka(t testing.TB) (brokers string, stop func(), start func()) {
	t.Helper()
	root := RepoRoot(t)
	stack := Env("TP_STACK_DIR", filepath.Join(root, ".stack"))
	lib := filepath.Join(stack, "kafka", "lib")
	if jars, _ := filepath.Glob(filepath.Join(lib, "kafka_*.jar")); len(jars) == 0 {
		Missing(t, "Kafka jars", fmt.Errorf("none in %s (run scripts/kafka.sh fetch)", lib))
	}
	if _, err := exec.LookPath("java"); err != nil {
		Missing(t, "java", err)
	}
	dir := t.TempDir()
	port, ctrl := FreePort(t), FreePort(t)
	brokers = fmt.Sprintf("127.0.0.1:%d", port)
	props := filepath.Join(dir, "server.properties")
	conf := strings.Join([]string{
		"process.roles=broker,controller",
		"node.id=1",
		fmt.Sprintf("controller.quorum.voters=1@127.0.0.1:%d", ctrl),
		fmt.Sprintf("listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d", port, ctrl),
		"advertised.listeners=PLAINTEXT://" + brokers,
		"controller.listener.names=CONTROLLER",
		"inter.broker.listener.name=PLAINTEXT",
		"listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
		"auto.create.topics.enable=false",
		"offsets.topic.replication.factor=1",
		"offsets.topic.num.partitions=1",
		"transaction.state.log.replication.factor=1",
		"transaction.state.log.min.isr=1",
		"share.coordinator.state.topic.replication.factor=1",
		"share.coordinator.state.topic.min.isr=1",
		"group.initial.rebalance.delay.ms=0",
		"log.dirs=" + filepath.Join(dir, "data"),
	}, "\n") + "\n"
	if err := os.WriteFile(props, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	java := func(args ...string) *exec.Cmd {
		base := []string{"-Xms128m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
			"-Dkafka.logs.dir=" + filepath.Join(dir, "logs"),
			"-Dlog4j2.configurationFile=" + filepath.Join(root, "deploy", "kafka", "log4j2.yaml"),
			"-cp", filepath.Join(lib, "*")}
		return exec.Command("java", append(base, args...)...)
	}
	u := uuid.New()
	clusterID := base64.RawURLEncoding.EncodeToString(u[:])
	if out, err := java("kafka.tools.StorageTool", "format", "-t", clusterID, "-c", props).CombinedOutput(); err != nil {
		t.Fatalf("cannot format private Kafka storage: %v\n%s", err, out)
	}

	var cmd *exec.Cmd
	start = func() {
		t.Helper()
		logf, err := os.OpenFile(filepath.Join(dir, "kafka.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		cmd = java("kafka.Kafka", props)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("cannot start private Kafka: %v", err)
		}
		deadline := time.Now().Add(120 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", brokers, time.Second)
			if err == nil {
				c.Close()
				return
			}
			if time.Now().After(deadline) {
				out, _ := os.ReadFile(filepath.Join(dir, "kafka.out"))
				t.Fatalf("private Kafka not listening on %s after 120 s:\n%s", brokers, out)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	stop = func() {
		if cmd == nil || cmd.Process == nil {
			return
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		cmd = nil
	}
	start()
	t.Cleanup(stop)
	return brokers, stop, start
}
