// Package deploy_test checks the Docker deployment against the promises of
// docs/security.md: no development secrets in the image, only the collector and the
// reports port published, on loopback by default, and a password on ClickHouse.
package deploy_test

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"touchpoint/internal/site"
)

type compose struct {
	Services map[string]struct {
		Image           string            `yaml:"image"`
		Command         []string          `yaml:"command"`
		Restart         string            `yaml:"restart"`
		StopGracePeriod string            `yaml:"stop_grace_period"`
		Ports           []string          `yaml:"ports"`
		Environment     map[string]string `yaml:"environment"`
		Volumes         []string          `yaml:"volumes"`
		Healthcheck     struct {
			Test []string `yaml:"test"`
		} `yaml:"healthcheck"`
	} `yaml:"services"`
}

var variable = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}`)

// interpolate expands ${NAME}, ${NAME:-default} and ${NAME:?error} as docker compose does;
// it returns the names that are required and missing from env.
func interpolate(s string, env map[string]string) (string, []string) {
	var missing []string
	out := variable.ReplaceAllStringFunc(s, func(m string) string {
		p := variable.FindStringSubmatch(m)
		if v := env[p[1]]; v != "" {
			return v
		}
		switch p[2] {
		case "-":
			return p[3]
		case "?":
			missing = append(missing, p[1])
		}
		return ""
	})
	return out, missing
}

func load(t *testing.T, env map[string]string) (*compose, []string) {
	t.Helper()
	raw, err := os.ReadFile("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	text, missing := interpolate(string(raw), env)
	var c compose
	if err := yaml.Unmarshal([]byte(text), &c); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	if len(c.Services) == 0 {
		t.Fatal("docker-compose.yml has no services")
	}
	return &c, missing
}

var secrets = map[string]string{"TP_ADMIN_TOKEN": "a-long-random-admin-token", "TP_SITE_DEMO_SECRET": "a-long-random-site-secret",
	"TP_CLICKHOUSE_PASSWORD": "a-long-random-password"}

func TestComposeRequiresItsSecrets(t *testing.T) {
	_, missing := load(t, nil)
	for name := range secrets {
		if !slices.Contains(missing, name) {
			t.Fatalf("docker compose starts without %s (required: %v)", name, missing)
		}
	}
	if _, missing := load(t, secrets); len(missing) != 0 {
		t.Fatalf("still missing %v", missing)
	}
}

func TestComposePublishesOnlyCollectorAndReportsOnLoopback(t *testing.T) {
	f := func(env map[string]string, wantHost string) {
		t.Helper()
		c, _ := load(t, env)
		published := map[string][]string{}
		for name, s := range c.Services {
			if len(s.Ports) > 0 {
				published[name] = s.Ports
			}
		}
		want := map[string][]string{"collector": {wantHost + ":8080:8080"}, "attribution": {wantHost + ":8081:8081"}}
		if fmt.Sprint(published) != fmt.Sprint(want) {
			t.Fatalf("published ports %v, want %v", published, want)
		}
	}
	env := map[string]string{}
	for k, v := range secrets {
		env[k] = v
	}
	f(env, "127.0.0.1")
	env["TP_BIND"] = "0.0.0.0"
	f(env, "0.0.0.0")
}

func TestComposeServicesAreLockedDown(t *testing.T) {
	c, _ := load(t, secrets)
	ch := c.Services["clickhouse"].Environment
	if ch["CLICKHOUSE_PASSWORD"] != secrets["TP_CLICKHOUSE_PASSWORD"] || ch["CLICKHOUSE_USER"] == "" || ch["CLICKHOUSE_SKIP_USER_SETUP"] != "" {
		t.Fatalf("ClickHouse without a password-protected user: %v", ch)
	}
	kafka := c.Services["kafka"].Environment
	if l := kafka["KAFKA_ADVERTISED_LISTENERS"] + kafka["KAFKA_LISTENERS"]; strings.Contains(l, "127.0.0.1") || strings.Contains(l, "localhost") ||
		strings.Contains(l, "PLAINTEXT://") {
		t.Fatalf("Kafka listens for the host: %s", l)
	}
	for name, s := range c.Services {
		env := s.Environment
		for k, v := range env {
			if strings.Contains(v, "demo-secret") || strings.Contains(v, "demo-admin") {
				t.Fatalf("%s: %s holds a development secret", name, k)
			}
		}
		if env["TP_CLICKHOUSE_ADDR"] != "" && (env["TP_CLICKHOUSE_PASSWORD"] != secrets["TP_CLICKHOUSE_PASSWORD"] || env["TP_CLICKHOUSE_USER"] != ch["CLICKHOUSE_USER"]) {
			t.Fatalf("%s connects to ClickHouse without its user and password", name)
		}
		// A service that loads the site file would refuse to start with its secrets on its address.
		// The stitcher reads it for the sites' rules only and serves no API a secret protects.
		for _, v := range s.Volumes {
			if name == "stitcher" {
				break
			}
			if !strings.HasSuffix(v, ":/etc/touchpoint/sites.json:ro") {
				continue
			}
			file := strings.TrimPrefix(strings.SplitN(v, ":", 2)[0], "./")
			cfg, err := site.ReadConfig("../" + file)
			if err != nil {
				t.Fatal(err)
			}
			if err := site.ApplyEnv(&cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
				t.Fatal(err)
			}
			r, err := site.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := r.CheckExposure(env["TP_HTTP_LISTEN"]); err != nil {
				t.Fatalf("%s would not start: %v", name, err)
			}
		}
	}
}

func TestImageShipsNoSiteConfig(t *testing.T) {
	raw, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	stages := regexp.MustCompile(`(?m)^FROM `).Split(string(raw), -1)
	final := stages[len(stages)-1]
	if regexp.MustCompile(`(?m)^(COPY|ADD)\b.*\bconfig\b`).MatchString(final) {
		t.Fatalf("the image copies the site configuration:\n%s", final)
	}
	if !regexp.MustCompile(`(?m)^USER [a-z]`).MatchString(final) || strings.Contains(final, "dev.json") {
		t.Fatalf("the image runs as root or names the development file:\n%s", final)
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(strings.Fields(string(ignore)), "config") {
		t.Fatal(".dockerignore lets config/ into the build context")
	}
}

// A service that exits is started again (migrate only after a failure), each of ours has a
// health check on its own address, and docker waits longer than its shutdown deadline
// before killing it.
func TestComposeRestartsAndChecksServices(t *testing.T) {
	c, _ := load(t, secrets)
	// The default shutdown-timeout of each binary (cmd/*/main.go, cmd/attribution/serve.go).
	shutdown := map[string]time.Duration{"collector": 20 * time.Second, "stitcher": 10 * time.Second, "attribution": 10 * time.Second}
	for name, s := range c.Services {
		want := "unless-stopped"
		if name == "migrate" {
			want = "on-failure"
		}
		if s.Restart != want {
			t.Errorf("%s: restart %q, want %q", name, s.Restart, want)
		}
		deadline, ours := shutdown[name]
		if !ours {
			continue
		}
		port := s.Environment["TP_HTTP_LISTEN"][strings.LastIndex(s.Environment["TP_HTTP_LISTEN"], ":"):]
		if hc := strings.Join(s.Healthcheck.Test, " "); !strings.Contains(hc, "localhost"+port+"/healthz") {
			t.Errorf("%s: health check %q does not ask /healthz on its port %s", name, hc, port)
		}
		grace, err := time.ParseDuration(s.StopGracePeriod)
		if err != nil || grace <= deadline {
			t.Errorf("%s: stop_grace_period %q, want longer than its %s shutdown deadline", name, s.StopGracePeriod, deadline)
		}
	}
	for name := range shutdown {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("docker-compose.yml has no %s", name)
		}
	}
}
