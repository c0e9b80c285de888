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
		changes, refused := g.Apply(added)
		if len(refused) != 0 {
			t.Fatalf("links %v refused", refused)
		}
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
	f([]Link{{Visitor: "v1", Email: "e1"}, {Visitor: "v2", Email: "e2"}}, []Link{{Email: "e1", User: "u1", Server: true}, {Email: "e2", User: "u1", Server: true}},
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
			l.Server = true
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
	steps := []Link{{Visitor: "v1"}, {Visitor: "v2"}, {Visitor: "v1", Email: "e"}, {Visitor: "v2", User: "u"}, {Visitor: "v3", Email: "e"}, {User: "u", Email: "e", Server: true}}
	var last Change
	for _, l := range steps {
		changes, _ := g.Apply([]Link{l})
		for _, c := range changes {
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

// A browser can link its own visitor to an email or user id, but never join a person that
// a server linked with anyone else: typing a customer's email into a form, or claiming
// their user id, must not make the customer's journey and conversions the typist's.
func TestBrowserLinksCannotTakeOverServerOwnedPersons(t *testing.T) {
	v := func(s string) Key { return Key{Visitor, s} }
	// f applies stored links (server ones own their persons), then added links one call at
	// a time, and checks which were refused and who is whose.
	f := func(stored, added []Link, wantRefused []int, same, apart [][2]Key) {
		t.Helper()
		g := NewGraph("demo")
		for _, l := range stored {
			g.Add(l)
		}
		_, refused := g.Apply(added)
		if fmt.Sprint(refused) != fmt.Sprint(wantRefused) {
			t.Fatalf("refused %v, want %v", refused, wantRefused)
		}
		for _, p := range same {
			if g.Person(p[0]) != g.Person(p[1]) {
				t.Fatalf("%v and %v are apart, want one person", p[0], p[1])
			}
		}
		for _, p := range apart {
			if g.Person(p[0]) == g.Person(p[1]) {
				t.Fatalf("%v and %v are one person, want apart", p[0], p[1])
			}
		}
	}
	e, u := Key{Email, "victim"}, Key{User, "victim-id"}
	crm := []Link{{Visitor: "victim", Email: "victim", User: "victim-id", Server: true}}
	// The attacker's visitor claims the victim's email, or user id, or both.
	f(crm, []Link{{Visitor: "attacker", Email: "victim"}}, []int{0}, nil, [][2]Key{{v("attacker"), e}})
	f(crm, []Link{{Visitor: "attacker", User: "victim-id"}}, []int{0}, nil, [][2]Key{{v("attacker"), u}})
	f(crm, []Link{{Visitor: "attacker", Email: "attacker", User: "victim-id"}}, []int{0}, nil, [][2]Key{{v("attacker"), u}})
	// Through a chain: the attacker's own email first, then the victim's visitor id with it.
	f(crm, []Link{{Visitor: "attacker", Email: "attacker"}, {Visitor: "victim", Email: "attacker"}}, []int{1}, nil,
		[][2]Key{{v("attacker"), v("victim")}})
	// Ownership also comes from a server call by email alone (a CRM conversion).
	f([]Link{{Email: "victim", Server: true}}, []Link{{Visitor: "attacker", Email: "victim"}}, []int{0}, nil, [][2]Key{{v("attacker"), e}})
	// A browser link without a visitor id is never a browser's to make.
	f([]Link{{Visitor: "x", Email: "a"}, {Visitor: "y", User: "b"}}, []Link{{Email: "a", User: "b"}}, []int{0}, nil, [][2]Key{{{Email, "a"}, {User, "b"}}})
	// What a browser may do: link its visitor to a new identifier, also when its person is
	// server-owned; join browser-only persons; repeat what is known.
	f(crm, []Link{{Visitor: "victim", User: "second-id"}, {Visitor: "victim", Email: "victim"}}, nil,
		[][2]Key{{v("victim"), {User, "second-id"}}}, nil)
	f([]Link{{Visitor: "laptop", Email: "ann"}}, []Link{{Visitor: "phone", Email: "ann"}}, nil, [][2]Key{{v("phone"), v("laptop")}}, nil)
	// Order matters within one call, as it does across calls: a form first, then the CRM's
	// call by the same email, is one person; the CRM first, then another device's form, is not.
	f(nil, []Link{{Visitor: "laptop", Email: "ann"}, {Email: "ann", Server: true}, {Visitor: "phone", Email: "ann"}}, []int{2},
		[][2]Key{{v("laptop"), {Email, "ann"}}}, [][2]Key{{v("phone"), {Email, "ann"}}})
	// A server may join anything.
	f(crm, []Link{{Visitor: "phone", Email: "victim", Server: true}}, nil, [][2]Key{{v("phone"), v("victim")}}, nil)
}
