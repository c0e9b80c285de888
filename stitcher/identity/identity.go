// Package identity builds persons from identity links: a visitor id, an email hash or a user
// id seen together belong to one person. A person's id is the smallest "own id" of
// the identifiers it contains, so it does not depend on the order links arrive in, and every
// person id ever written is the own id of one of its identifiers: when persons merge, aliasing
// each member's own id to the new person id is enough to resolve every stored row.
package identity

import (
	"slices"
	"sort"

	"github.com/google/uuid"
)

// Kinds of identifiers.
const (
	Visitor = 'v'
	Email   = 'e'
	User    = 'u'
)

// Key is one identifier of a person.
type Key struct {
	Kind  byte
	Value string
}

var namespace = uuid.MustParse("0d7f4a3c-8b21-5e9d-b6a4-1c2e3f405a6b")

// OwnID is the person id an identifier has while it is alone: UUID v5 of site and key.
func OwnID(site string, k Key) string {
	return uuid.NewSHA1(namespace, []byte(site+"\x00"+string(k.Kind)+":"+k.Value)).String()
}

// Link is one observation that identifiers belong together.
type Link struct {
	Visitor, Email, User string
	At                   int64 // seconds
	EventID              uuid.UUID
	// Server is set for links made by the site's servers (/v1/identify, /v1/conversions,
	// /v1/import), which carry its secret; browser links are claims anyone can make.
	Server bool
}

// Keys returns the link's non-empty identifiers.
func (l Link) Keys() []Key {
	var ks []Key
	if l.Visitor != "" {
		ks = append(ks, Key{Visitor, l.Visitor})
	}
	if l.Email != "" {
		ks = append(ks, Key{Email, l.Email})
	}
	if l.User != "" {
		ks = append(ks, Key{User, l.User})
	}
	return ks
}

// Graph is a union-find over the identifiers of one site.
type Graph struct {
	site   string
	parent map[Key]Key
	owned  map[Key]bool // roots of server-owned persons
	// comps caches components until a key or a union changes them: a reconcile asks for
	// the members of thousands of persons of one graph.
	comps map[Key][]Key
}

// NewGraph returns an empty graph of site.
func NewGraph(site string) *Graph {
	return &Graph{site: site, parent: map[Key]Key{}, owned: map[Key]bool{}}
}

// Own records that a server linked k: its person is server-owned from now on.
func (g *Graph) Own(k Key) { g.owned[g.find(k)] = true }

// Owned reports whether k's person is server-owned.
func (g *Graph) Owned(k Key) bool {
	_, known := g.parent[k]
	return known && g.owned[g.find(k)]
}

// Allows reports whether browser link l may be applied. A browser may link only its own
// visitor id, to identifiers nobody holds yet or to other persons, but it never joins two
// persons when one of them is server-owned: otherwise anyone who types a customer's email
// into a form, or claims their user id, would take over the customer's journey. Server
// links are always applied.
func (g *Graph) Allows(l Link) bool {
	if l.Server {
		return true
	}
	if l.Visitor == "" {
		return false
	}
	var persons []Key // roots of the persons the link's identifiers belong to
	owned := false
	for _, k := range l.Keys() {
		if _, known := g.parent[k]; !known {
			if k.Kind == Visitor { // a visitor without links is a person of its own
				persons = append(persons, k)
			}
			continue // a new email or user id is nobody yet
		}
		r := g.find(k)
		if !slices.Contains(persons, r) {
			persons = append(persons, r)
		}
		owned = owned || g.owned[r]
	}
	return len(persons) < 2 || !owned
}

func (g *Graph) find(k Key) Key {
	p, ok := g.parent[k]
	if !ok {
		g.parent[k] = k
		g.comps = nil
		return k
	}
	if p == k {
		return k
	}
	r := g.find(p)
	g.parent[k] = r
	return r
}

// Add joins the link's identifiers.
func (g *Graph) Add(l Link) {
	ks := l.Keys()
	for _, k := range ks {
		g.find(k)
	}
	for _, k := range ks[min(1, len(ks)):] {
		a, b := g.find(ks[0]), g.find(k)
		if a != b {
			g.parent[b] = a
			g.comps = nil
			if g.owned[b] {
				g.owned[a] = true
				delete(g.owned, b)
			}
		}
	}
	if l.Server {
		for _, k := range ks {
			g.Own(k)
		}
	}
}

// Members returns the identifiers of k's person, sorted; the caller must not change them.
func (g *Graph) Members(k Key) []Key {
	return g.components()[g.find(k)]
}

// Person returns the person id of k: the smallest own id of its person's identifiers.
func (g *Graph) Person(k Key) string {
	return g.personOf(g.Members(k))
}

func (g *Graph) personOf(members []Key) string {
	best := ""
	for _, m := range members {
		if id := OwnID(g.site, m); best == "" || id < best {
			best = id
		}
	}
	return best
}

// components returns the sorted members of every person, by root.
func (g *Graph) components() map[Key][]Key {
	if g.comps != nil {
		return g.comps
	}
	out := map[Key][]Key{}
	for m := range g.parent {
		r := g.find(m)
		out[r] = append(out[r], m)
	}
	for _, ms := range out {
		sort.Slice(ms, func(i, j int) bool {
			if ms[i].Kind != ms[j].Kind {
				return ms[i].Kind < ms[j].Kind
			}
			return ms[i].Value < ms[j].Value
		})
	}
	g.comps = out
	return out
}

// Merge records that person From became part of person Into.
type Merge struct{ From, Into string }

// Change is what adding links did to one person.
type Change struct {
	Person  string            // the person id after the links
	Members []Key             // the person's identifiers
	Links   []int             // indexes of the links that touched the person
	Aliases map[string]string // own id of each member that is not Person -> Person
	Merges  []Merge           // persons that existed before and are now Person
}

// Apply adds links to g, which holds every link already stored that touches them, in the
// order given, and returns one Change per person the applied links touched, and the
// indexes of the browser links it refused (see Allows).
func (g *Graph) Apply(links []Link) (changes []Change, refused []int) {
	// Persons before, per identifier touched. A visitor id new to the graph was a person of
	// its own (its events carry its own id); a new email or user id was nobody yet.
	comps := g.components()
	personOfRoot := map[Key]string{}
	before := map[Key]string{}
	for _, l := range links {
		for _, k := range l.Keys() {
			if _, ok := before[k]; ok {
				continue
			}
			if _, known := g.parent[k]; known {
				r := g.find(k)
				if _, ok := personOfRoot[r]; !ok {
					personOfRoot[r] = g.personOf(comps[r])
				}
				before[k] = personOfRoot[r]
			} else if k.Kind == Visitor {
				before[k] = OwnID(g.site, k)
			}
		}
	}
	applied := make([]bool, len(links))
	for i, l := range links {
		if g.Allows(l) {
			g.Add(l)
			applied[i] = true
		} else {
			refused = append(refused, i)
		}
	}
	comps = g.components()
	byRoot := map[Key]int{}
	var out []Change
	for i, l := range links {
		ks := l.Keys()
		if len(ks) == 0 || !applied[i] {
			continue
		}
		root := g.find(ks[0])
		if ci, ok := byRoot[root]; ok {
			out[ci].Links = append(out[ci].Links, i)
			continue
		}
		byRoot[root] = len(out)
		members := comps[root]
		c := Change{Person: g.personOf(members), Members: members, Links: []int{i}, Aliases: map[string]string{}}
		for _, m := range members {
			if id := OwnID(g.site, m); id != c.Person {
				c.Aliases[id] = c.Person
			}
		}
		// A merge joins two persons that existed; one person taking a new id because a new
		// identifier sorts first is only an alias.
		existed := map[string]bool{}
		for _, m := range members {
			if p, ok := before[m]; ok {
				existed[p] = true
			}
		}
		if len(existed) > 1 {
			for p := range existed {
				if p != c.Person {
					c.Merges = append(c.Merges, Merge{From: p, Into: c.Person})
				}
			}
		}
		sort.Slice(c.Merges, func(i, j int) bool { return c.Merges[i].From < c.Merges[j].From })
		out = append(out, c)
	}
	return out, refused
}
