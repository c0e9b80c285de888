// Package apidoc reads the endpoints listed in docs/api.md, so that tests can hold the
// page to the routes the services register.
package apidoc

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Endpoint is one documented route.
type Endpoint struct{ Method, Path string }

func (e Endpoint) String() string { return e.Method + " " + e.Path }

var heading = regexp.MustCompile("^### `([A-Z]+) (/[^` ]*)`$")

// Endpoints returns the endpoints documented under the level-two heading section of file,
// one per "### `METHOD /path`" heading.
func Endpoints(file, section string) ([]Endpoint, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Endpoint
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if title, ok := strings.CutPrefix(line, "## "); ok {
			in = title == section
			continue
		}
		if m := heading.FindStringSubmatch(line); in && m != nil {
			out = append(out, Endpoint{m[1], m[2]})
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s documents no endpoint under %q", file, section)
	}
	return out, nil
}
