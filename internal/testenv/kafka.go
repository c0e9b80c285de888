package testenv

import (
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
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

// FreePort returns a loopback TCP port nobody listens on right now, for a server a test
// starts, and never the same one twice in a test binary. It is below Linux's ephemeral
// range (32768 and up by default): a port from that range was taken by some outgoing
// connection of a test running beside, before the server could bind it ("Address already
// in use").
func FreePort(t testing.TB) int {
	t.Helper()
	for range 1000 {
		ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(20000+rand.IntN(12000))))
		if err != nil {
			continue // in use
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		// Two servers started one after the other were once given the same port: the one
		// that bound it answered for both, and the other's requests got its 404s.
		if _, given := givenPorts.LoadOrStore(port, true); given {
			continue
		}
		return port
	}
	t.Fatal("no free loopback port between 20000 and 32000")
	return 0
}

// givenPorts are the ports FreePort returned.
var givenPorts sync.Map

// PrivateKafka runs a single-node broker of the test's own (see KafkaServer) and returns
// its address and functions that stop it (SIGTERM, waits for exit) and start it again.
func PrivateKafka(t testing.TB) (brokers string, stop func(), start func()) {
	t.Helper()
	k := PrivateKafkaServer(t)
	return k.Brokers, k.Stop, k.Start
}

// KafkaServer is a broker of a test's own.
type KafkaServer struct {
	Brokers string // its address
	t       testing.TB
	java    func(args ...string) *exec.Cmd
	dir     string
	props   string
	cmd     *exec.Cmd
	done    chan struct{}
}

// PrivateKafkaServer runs a single-node broker of the test's own, from the jars that
// scripts/kafka.sh fetch put in .stack/kafka/lib, on free ports with a temporary data
// directory. It is running when PrivateKafkaServer returns; the test may stop, kill,
// pause and start it (same ports, same data) — never do that to the shared stack's
// broker. The broker is stopped when the test ends.
func PrivateKafkaServer(t testing.TB) *KafkaServer {
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
	brokers := fmt.Sprintf("127.0.0.1:%d", port)
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
	// "=": an id may start with '-', which would read as an option otherwise (as Kafka's own
	// random-uuid avoids).
	if out, err := java("kafka.tools.StorageTool", "format", "--cluster-id="+clusterID, "-c", props).CombinedOutput(); err != nil {
		t.Fatalf("cannot format private Kafka storage: %v\n%s", err, out)
	}

	k := &KafkaServer{Brokers: brokers, t: t, java: java, dir: dir, props: props}
	k.Start()
	t.Cleanup(k.Stop)
	return k
}

// Start starts the broker and returns once it listens.
func (k *KafkaServer) Start() {
	k.t.Helper()
	logf, err := os.OpenFile(filepath.Join(k.dir, "kafka.out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		k.t.Fatal(err)
	}
	k.cmd = k.java("kafka.Kafka", k.props)
	k.cmd.Stdout, k.cmd.Stderr = logf, logf
	k.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := k.cmd.Start(); err != nil {
		k.t.Fatalf("cannot start private Kafka: %v", err)
	}
	k.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); logf.Close(); close(done) }(k.cmd, k.done)
	deadline := time.Now().Add(120 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", k.Brokers, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(k.dir, "kafka.out"))
			k.t.Fatalf("private Kafka not listening on %s after 120 s:\n%s", k.Brokers, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Stop stops the broker as an operator does (SIGTERM, SIGKILL after 30 s) and waits for it.
func (k *KafkaServer) Stop() { k.end(syscall.SIGTERM) }

// Kill kills the broker at once (SIGKILL), as a crash does, and waits for it.
func (k *KafkaServer) Kill() { k.end(syscall.SIGKILL) }

func (k *KafkaServer) end(sig syscall.Signal) {
	if k.cmd == nil {
		return
	}
	pg := -k.cmd.Process.Pid
	syscall.Kill(pg, sig)
	syscall.Kill(pg, syscall.SIGCONT) // a paused broker cannot act on SIGTERM
	select {
	case <-k.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(pg, syscall.SIGKILL)
		<-k.done
	}
	k.cmd = nil
}

// Pause freezes the broker (SIGSTOP): connections open and requests go unanswered, as
// with a hung machine or a network partition. Resume thaws it.
func (k *KafkaServer) Pause() {
	if k.cmd != nil {
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGSTOP)
	}
}

// Resume thaws a paused broker.
func (k *KafkaServer) Resume() {
	if k.cmd != nil {
		syscall.Kill(-k.cmd.Process.Pid, syscall.SIGCONT)
	}
}
