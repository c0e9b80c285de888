package referrer

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

//go:embed data/referrers.json
var referrersJSON []byte

//go:embed data/other-sites.txt
var otherSitesTxt []byte

// source is one entry of data/referrers.json.
type source struct {
	Key     string   `json:"key"`     // short lower-case name for reports; defaults to the lower-cased name
	Params  []string `json:"params"`  // query parameters carrying the search term, in order of preference
	Domains []string `json:"domains"` // "host" or "host/path-prefix"; subdomains match too
}

// match is what a host (and optional path prefix) resolves to.
type match struct {
	path   string // "" or a path prefix such as "/imgres"
	medium string
	name   string
	params []string
}

// index maps a host to its matches, longest path first.
type index struct {
	hosts map[string][]match
	keys  map[string]string // source name -> report key
}

var sources = mustLoad(referrersJSON, otherSitesTxt)

func mustLoad(referrers, otherSites []byte) *index {
	idx, err := load(referrers, otherSites)
	if err != nil {
		panic(err)
	}
	return idx
}

var listedMedia = []string{MediumSearch, MediumSocial, MediumEmail, MediumChatbot, MediumPaid}

// load builds the lookup index and refuses data that would make the answer
// depend on map iteration order: the same host/path listed twice.
func load(referrers, otherSites []byte) (*index, error) {
	var data map[string]map[string]source
	if err := json.Unmarshal(referrers, &data); err != nil {
		return nil, fmt.Errorf("cannot parse referrer data: %w", err)
	}
	idx := &index{hosts: map[string][]match{}, keys: map[string]string{}}
	seen := map[string]string{}
	add := func(domain string, m match) error {
		domain = strings.ToLower(strings.TrimSpace(domain))
		host, path, _ := strings.Cut(domain, "/")
		if host == "" || strings.Trim(host, ".") != host {
			return fmt.Errorf("bad domain %q for %q", domain, m.name)
		}
		if path != "" {
			m.path = "/" + strings.TrimSuffix(path, "/")
		}
		if prev, ok := seen[host+m.path]; ok {
			return fmt.Errorf("domain %q listed for both %q and %q", domain, prev, m.name)
		}
		seen[host+m.path] = m.name
		idx.hosts[host] = append(idx.hosts[host], m)
		return nil
	}
	for medium, byName := range data {
		if !slices.Contains(listedMedia, medium) {
			return nil, fmt.Errorf("unknown medium %q in referrer data", medium)
		}
		for name, s := range byName {
			key := s.Key
			if key == "" {
				key = strings.ToLower(name)
			}
			if prev, ok := idx.keys[name]; ok && prev != key {
				return nil, fmt.Errorf("source %q has two keys: %q and %q", name, prev, key)
			}
			idx.keys[name] = key
			if len(s.Domains) == 0 {
				return nil, fmt.Errorf("source %q has no domains", name)
			}
			for _, d := range s.Domains {
				if err := add(d, match{medium: medium, name: name, params: s.Params}); err != nil {
					return nil, err
				}
			}
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(otherSites))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := add(line, match{medium: MediumUnknown, name: line}); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("cannot read other sites: %w", err)
	}
	for _, ms := range idx.hosts {
		slices.SortFunc(ms, func(a, b match) int { return len(b.path) - len(a.path) })
	}
	return idx, nil
}

// lookup finds the most specific entry for host and path: the longest listed
// host suffix (on label boundaries) wins, and on that host the longest listed
// path prefix (on segment boundaries).
// It also returns the listed host that matched.
func (idx *index) lookup(host, path string) (match, string, bool) {
	path = strings.ToLower(path)
	for h := host; strings.Contains(h, "."); {
		for _, m := range idx.hosts[h] {
			if m.path == "" || path == m.path || strings.HasPrefix(path, m.path+"/") {
				return m, h, true
			}
		}
		_, h, _ = strings.Cut(h, ".")
	}
	return match{}, "", false
}
