package deploy_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"touchpoint/internal/testenv"
)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// query is one PromQL expression and where it is used.
type query struct{ where, expr string }

// alertQueries reads deploy/prometheus/alerts.yml and checks the shape of every rule.
func alertQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var out []query
	seen := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			switch {
			case r.Alert == "" || seen[r.Alert]:
				t.Fatalf("alerts.yml: rule without a name or named twice: %q", r.Alert)
			case r.Labels["severity"] != "critical" && r.Labels["severity"] != "warning":
				t.Fatalf("alert %s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
			case r.Annotations["summary"] == "":
				t.Fatalf("alert %s has no summary", r.Alert)
			}
			if r.For != "" {
				if _, err := time.ParseDuration(r.For); err != nil {
					t.Fatalf("alert %s: for %q: %v", r.Alert, r.For, err)
				}
			}
			seen[r.Alert] = true
			out = append(out, query{"alert " + r.Alert, r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml has no rules")
	}
	return out
}

// dashboardQueries reads every target of deploy/grafana/touchpoint.json, rows included.
func dashboardQueries(t *testing.T) []query {
	t.Helper()
	raw, err := os.ReadFile("grafana/touchpoint.json")
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title      string          `json:"title"`
		Type       string          `json:"type"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
		Panels []json.RawMessage `json:"panels"`
	}
	var dash struct {
		UID    string            `json:"uid"`
		Panels []json.RawMessage `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("touchpoint.json: %v", err)
	}
	var out []query
	var walk func([]json.RawMessage)
	walk = func(ps []json.RawMessage) {
		for _, r := range ps {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("touchpoint.json: %v", err)
			}
			if p.Type != "row" && (len(p.Targets) == 0 || len(p.Datasource) == 0) {
				t.Fatalf("panel %q has no query or no data source", p.Title)
			}
			for _, tg := range p.Targets {
				out = append(out, query{"panel " + p.Title, tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	if dash.UID == "" || len(out) == 0 {
		t.Fatal("touchpoint.json has no uid or no queries")
	}
	return out
}

var (
	// Metric names in an expression: ours, and the ones Prometheus makes itself.
	metricName = regexp.MustCompile(`\b(tp_[a-z0-9_]+|up)\b`)
	// A selector's label matchers.
	selector = regexp.MustCompile(`\b(tp_[a-z0-9_]+|up)\{([^}]*)\}`)
	matcher  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"([^"]*)"`)
)

// balanced reports whether the brackets of expr pair up.
func balanced(expr string) bool {
	var stack []rune
	pairs := map[rune]rune{')': '(', ']': '[', '}': '{'}
	inString := false
	for _, r := range expr {
		switch {
		case r == '"':
			inString = !inString
		case inString:
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case pairs[r] != 0:
			if len(stack) == 0 || stack[len(stack)-1] != pairs[r] {
				return false
			}
			stack = stack[:len(stack)-1]
		}
	}
	return len(stack) == 0 && !inString
}

// exposition is what the services' /metrics serve: label names by sample name.
type exposition map[string]map[string]bool

func scrape(t *testing.T, url string, into exposition) error {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? `)
	for sc.Scan() {
		m := sample.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		if into[m[1]] == nil {
			into[m[1]] = map[string]bool{}
		}
		for _, l := range matcher.FindAllStringSubmatch(m[2], -1) {
			into[m[1]][l[1]] = true
		}
	}
	return sc.Err()
}

// missing lists what the queries use that the exposition lacks: metric names, and label
// names of selectors (job and instance are added by Prometheus).
func (e exposition) missing(qs []query) []string {
	var out []string
	for _, q := range qs {
		for _, name := range metricName.FindAllString(q.expr, -1) {
			if name != "up" && e[name] == nil {
				out = append(out, fmt.Sprintf("%s: metric %s", q.where, name))
			}
		}
		for _, s := range selector.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range matcher.FindAllStringSubmatch(s[2], -1) {
				if l[1] != "job" && l[1] != "instance" && s[1] != "up" && !e[s[1]][l[1]] {
					out = append(out, fmt.Sprintf("%s: label %s of %s", q.where, l[1], s[1]))
				}
			}
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// The alert rules and the Grafana dashboard use only metrics and labels that the three
// services serve: the services run against the stack with a little traffic, and every
// name the files use must be in their /metrics. Renaming a metric fails here until the
// files follow.
func TestAlertsAndDashboardUseServedMetrics(t *testing.T) {
	qs := append(alertQueries(t), dashboardQueries(t)...)
	for _, q := range qs {
		if !balanced(q.expr) {
			t.Fatalf("%s: unbalanced brackets in %q", q.where, q.expr)
		}
	}
	// Every job an alert or panel selects is scraped by the example configuration.
	cfg, err := os.ReadFile("prometheus/prometheus.yml")
	if err != nil {
		t.Fatal(err)
	}
	var prom struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName string `yaml:"job_name"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(cfg, &prom); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	if !slices.Contains(prom.RuleFiles, "alerts.yml") {
		t.Fatalf("prometheus.yml does not load alerts.yml: %v", prom.RuleFiles)
	}
	for _, q := range qs {
		for _, s := range selector.FindAllStringSubmatch(q.expr, -1) {
			for _, l := range matcher.FindAllStringSubmatch(s[2], -1) {
				if l[1] != "job" {
					continue
				}
				re := regexp.MustCompile("^(?:" + l[2] + ")$")
				if !slices.ContainsFunc(prom.ScrapeConfigs, func(c struct {
					JobName string `yaml:"job_name"`
				}) bool {
					return re.MatchString(c.JobName)
				}) {
					t.Fatalf("%s selects job %q, which prometheus.yml does not scrape", q.where, l[2])
				}
			}
		}
	}

	kc := testenv.Topics(t, testenv.KafkaConfig(t).Brokers, 2)
	_, db := testenv.FreshDatabase(t)
	ch := []string{"-clickhouse.addr", testenv.Env("TP_CLICKHOUSE_ADDR", "127.0.0.1:9000"), "-clickhouse.database", db}
	kafka := []string{"-kafka.brokers", kc.Brokers, "-kafka.topic", kc.Topic, "-kafka.dlq", kc.DLQ}
	addr := func() string { return fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)) }
	collector, collectorMetrics, stitcher, attribution, attributionMetrics := addr(), addr(), addr(), addr(), addr()
	testenv.Start(t, testenv.Binary(t, "./cmd/collector"), append(kafka, "-http.listen", collector, "-metrics.listen", collectorMetrics,
		"-sites", "config/dev.json", "-spool.dir", filepath.Join(t.TempDir(), "spool"))...)
	testenv.Start(t, testenv.Binary(t, "./cmd/stitcher"), append(append(kafka, ch...), "-http.listen", stitcher, "-kafka.group", kc.Topic)...)
	testenv.Start(t, testenv.Binary(t, "./cmd/attribution"), append(ch, "-http.listen", attribution, "-metrics.listen", attributionMetrics,
		"-sites", "config/dev.json")...)

	// A little traffic: an accepted event, which the stitcher then writes, and a refused request.
	testenv.Eventually(t, 30*time.Second, "the collector accepting an event", func() (bool, error) {
		body := fmt.Sprintf(`{"site":"demo","events":[{"id":%q,"type":"pageview","vid":"v1","url":"http://localhost/"}]}`, uuid.NewString())
		req, _ := http.NewRequest(http.MethodPost, "http://"+collector+"/e", strings.NewReader(body))
		req.Header.Set("Origin", "http://localhost:3000")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusNoContent, fmt.Errorf("status %d", resp.StatusCode)
	})
	if resp, err := http.Post("http://"+collector+"/e", "text/plain", strings.NewReader("{")); err == nil {
		resp.Body.Close()
	}

	var left []string
	testenv.Eventually(t, 60*time.Second, "every metric of the alerts and the dashboard served", func() (bool, error) {
		e := exposition{}
		for _, u := range []string{collectorMetrics, stitcher, attributionMetrics} {
			if err := scrape(t, "http://"+u+"/metrics", e); err != nil {
				return false, err
			}
		}
		left = e.missing(qs)
		return len(left) == 0, fmt.Errorf("not served:\n  %s", strings.Join(left, "\n  "))
	})
}
