package identity

import (
	"fmt"
	"testing"
)

func TestApply(t *testing.T) {
	const site = "demo"
	v := func(s string) Key { return Key{Visitor, s} }
	e := func(s string) Key { return Key{Email, s} }
	u := func(s string) Key { return Key{User, s} }
	own := func(k Key) string { return OwnID(site, k) }
	minOf := func(ks ...Key) string {
		m := own(ks[0])
		for _, k := range ks[1:] {
			m = min(m, own(k))
		}
		return m
	}
	// f applies stored links, then new ones, and checks the person of every key in want
	// (keys mapped to the same letter must share a person) and the number of merges.
	f := func(stored, added []Link, groups map[Key]string, wantMerges int) {
		t.Helper()
		g := NewGraph(site)
		for _, l := range stored {
			g.Add(l)
		}
		changes := g.Apply(added)
		persons := map[string]string{}
		members := map[string][]Key{}
		for k, grp := range groups {
			members[grp] = append(members[grp], k)
		}
		for grp, ks := range members {
			want := minOf(ks...)
			for _, k := range ks {
				if got := g.Person(k); got != want {
					t.Fatalf("person of %v = %s, want %s (smallest own id of group %s)", k, got, want, grp)
				}
			}
			persons[grp] = want
		}
		seen := map[string]bool{}
		for _, p := range persons {
			if seen[p] {
				t.Fatalf("two groups share person %s", p)
			}
			seen[p] = true
		}
		merges := 0
		for _, c := range changes {
			merges += len(c.Merges)
			for from, to := range c.Aliases {
				if to != c.Person || from == c.Person {
					t.Fatalf("alias %s -> %s in change of %s", from, to, c.Person)
				}
			}
		}
		if merges != wantMerges {
			t.Fatalf("merges = %d, want %d (%+v)", merges, wantMerges, changes)
		}
	}
	// An anonymous visitor identifies with a new email: one person, nothing merged.
	f(nil, []Link{{Visitor: "v1", Email: "e1"}}, map[Key]string{v("v1"): "a", e("e1"): "a"}, 0)
	// Two devices, one email: the second device's person merges into the first's.
	f([]Link{{Visitor: "v1", Email: "e1"}}, []Link{{Visitor: "v2", Email: "e1"}},
		map[Key]string{v("v1"): "a", v("v2"): "a", e("e1"): "a"}, 1)
	// A user id joining two persons that each had an email: one merge.
	f([]Link{{Visitor: "v1", Email: "e1"}, {Visitor: "v2", Email: "e2"}}, []Link{{Email: "e1", User: "u1"}, {Email: "e2", User: "u1"}},
		map[Key]string{v("v1"): "a", v("v2"): "a", e("e1"): "a", e("e2"): "a", u("u1"): "a"}, 1)
	// Unrelated links stay apart.
	f(nil, []Link{{Visitor: "v1", Email: "e1"}, {Visitor: "v2", User: "u2"}},
		map[Key]string{v("v1"): "a", e("e1"): "a", v("v2"): "b", u("u2"): "b"}, 0)
	// A server call by email alone, later the visitor: the email was a person (its
	// conversion carries its id), the visitor too.
	f([]Link{{Email: "e1"}}, []Link{{Visitor: "v1", Email: "e1"}}, map[Key]string{v("v1"): "a", e("e1"): "a"}, 1)
}

func TestApplyIsOrderIndependent(t *testing.T) {
	links := []Link{{Visitor: "v1", Email: "e1"}, {Visitor: "v2", Email: "e2"}, {Visitor: "v3", Email: "e1"}, {Visitor: "v2", User: "u"}, {Visitor: "v1", User: "u"}}
	want := ""
	for i := range links {
		g := NewGraph("s")
		rot := append(append([]Link(nil), links[i:]...), links[:i]...)
		for _, l := range rot {
			g.Apply([]Link{l})
		}
		got := fmt.Sprint(g.Person(Key{Visitor, "v3"}), g.Members(Key{Email, "e2"}))
		if want == "" {
			want = got
		} else if got != want {
			t.Fatalf("order %d gives %s, want %s", i, got, want)
		}
	}
}

func TestAliasesResolveEveryEarlierPerson(t *testing.T) {
	// Every person id a member ever had resolves in one alias step to the current person.
	g := NewGraph("s")
	written := map[string]bool{}
	steps := []Link{{Visitor: "v1"}, {Visitor: "v2"}, {Visitor: "v1", Email: "e"}, {Visitor: "v2", User: "u"}, {Visitor: "v3", Email: "e"}, {User: "u", Email: "e"}}
	var last Change
	for _, l := range steps {
		for _, c := range g.Apply([]Link{l}) {
			last = c
		}
		for _, k := range l.Keys() {
			written[g.Person(k)] = true
		}
	}
	for p := range written {
		cur := p
		if a, ok := last.Aliases[p]; ok {
			cur = a
		}
		if cur != last.Person {
			t.Fatalf("person %s resolves to %s, want %s", p, cur, last.Person)
		}
	}
}
