package channel

import (
	"bufio"
	"bytes"
	"embed"
	"fmt"
	"strings"

	"touchpoint/internal/referrer"
)

//go:embed data/*.txt
var dataFS embed.FS

// category is a set of site kinds a source belongs to.
type category uint8

const (
	search category = 1 << iota
	social
	video
	shopping
	ai
)

var listFiles = []struct {
	file string
	cat  category
}{
	{"data/search.txt", search},
	{"data/social.txt", social},
	{"data/video.txt", video},
	{"data/shopping.txt", shopping},
	{"data/ai.txt", ai},
}

var sites = mustLoadSites()

func mustLoadSites() map[string]category {
	m, err := loadSites()
	if err != nil {
		panic(err)
	}
	return m
}

func loadSites() (map[string]category, error) {
	m := map[string]category{}
	for _, lf := range listFiles {
		data, err := dataFS.ReadFile(lf.file)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", lf.file, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for sc.Scan() {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if line != normalizeSource(line) {
				return nil, fmt.Errorf("%s: %q must be lower-case, without www. and scheme", lf.file, line)
			}
			m[line] |= lf.cat
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", lf.file, err)
		}
	}
	return m, nil
}

// categorize returns the kinds of site source is. A listed name or domain
// matches exactly; a domain also matches through its parent domains
// ("m.facebook.com" through "facebook.com"). Domains are looked up in the
// referrer data as well, so that "google.de" is a search site without every
// country domain being listed here; the more specific listed domain decides
// ("mail.google.com" is webmail there, not a search site through
// "google.com" here), and on a tie these lists win ("youtube.com" is video).
func categorize(source string) category {
	s := normalizeSource(source)
	if c, ok := sites[s]; ok {
		return c
	}
	if !strings.Contains(s, ".") || strings.ContainsAny(s, " /") {
		return 0
	}
	listedHere := ""
	for d := s; strings.Contains(d, "."); {
		if _, ok := sites[d]; ok {
			listedHere = d
			break
		}
		_, d, _ = strings.Cut(d, ".")
	}
	r, listedThere := referrer.Lookup(s)
	if len(listedHere) >= len(listedThere) {
		return sites[listedHere] // 0 when neither list has it
	}
	switch r.Medium {
	case referrer.MediumSearch:
		return search
	case referrer.MediumSocial:
		return social
	case referrer.MediumChatbot:
		return ai
	}
	return 0
}

// normalizeSource lower-cases source and reduces a URL to its domain.
func normalizeSource(source string) string {
	s := strings.ToLower(strings.TrimSpace(source))
	if strings.Contains(s, "://") {
		return referrer.Domain(s)
	}
	return strings.TrimPrefix(s, "www.")
}
