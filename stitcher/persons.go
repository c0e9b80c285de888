package stitcher

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"
	"unique"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"touchpoint/internal/chstore"
	"touchpoint/internal/event"
	"touchpoint/stitcher/identity"
)

type personKey struct {
	site string
	key  identity.Key
}

// detached is k with copies of its strings (see visitorKey.detached).
func (k personKey) detached() personKey {
	return personKey{unique.Make(k.site).Value(), identity.Key{Kind: k.key.Kind, Value: strings.Clone(k.key.Value)}}
}

// identityRows are the identity graph rows a batch writes.
type identityRows struct {
	links   [][]any // identities
	servers [][]any // server_links
	aliases [][]any // person_aliases
	merges  [][]any // person_merges
	checks  []personCheck
}

// personCheck is a person whose links a batch writes, read again once they are in
// (reconcile).
type personCheck struct {
	site    string
	person  string         // its id as the batch wrote it
	members []identity.Key // its identifiers as the batch saw them
	last    identity.Link  // the batch's last link of the person
}

const (
	identityColumns   = "site_id, visitor_id, person_id, email_sha256, user_id, linked_at, event_id, version"
	serverLinkColumns = "site_id, visitor_id, email_sha256, user_id, linked_at, event_id, version"
	aliasColumns      = "site_id, person_id, current_person_id, updated_at, version"
	mergeColumns      = "site_id, person_id, merged_into, merged_at, event_id, visitor_id, email_sha256, user_id"
)

var linksRefused = promauto.NewCounter(prometheus.CounterOpts{
	Name: "tp_stitcher_identity_links_refused_total",
	Help: "Browser identity links not applied because they would join a server-owned person with another.",
})

var personsReconciled = promauto.NewCounter(prometheus.CounterOpts{
	Name: "tp_stitcher_persons_reconciled_total",
	Help: "Persons found grown by links of another stitcher instance when read again after a batch.",
})

// linkOf returns the identity link an event carries: identify events, forms and server
// calls with an email (hash) or user id, joined to the event's visitor id when it has one.
func linkOf(in *incoming) (identity.Link, bool) {
	l := identity.Link{Visitor: in.e.VID, Email: emailHash(in.e.Traits), User: in.e.Traits[event.TraitUserID], At: in.ts, EventID: in.id,
		Server: in.e.Trusted()}
	return l, l.Email != "" || l.User != ""
}

// link applies the batch's identity links: for each site it reads from ClickHouse every
// stored link connected to them, adds the new ones and returns the rows that record links,
// aliases of person ids that are no longer current, and merges. The person cache learns the
// new person of every identifier involved. Browser links that the graph refuses
// (identity.Graph.Allows) change nothing and mark their event unlinked.
func (st *Stitcher) link(ctx context.Context, ins []incoming) (identityRows, error) {
	var out identityRows
	bySite := map[string][]int{} // positions in ins of the events with a link
	for i := range ins {
		ins[i].unlinked = false
		if _, ok := linkOf(&ins[i]); ok {
			bySite[ins[i].e.Site] = append(bySite[ins[i].e.Site], i)
		}
	}
	now := time.Now().UTC()
	version := uint64(now.UnixNano())
	for site, at := range bySite {
		// In the order the collector received them, as if each came in a batch of its own:
		// the partitions of a batch interleave in no particular order.
		sort.SliceStable(at, func(a, b int) bool { return ins[at[a]].e.ReceivedAt < ins[at[b]].e.ReceivedAt })
		links := make([]identity.Link, len(at))
		for j, i := range at {
			links[j], _ = linkOf(&ins[i])
		}
		g := identity.NewGraph(site)
		var keys []identity.Key
		for _, l := range links {
			keys = append(keys, l.Keys()...)
		}
		// The links of the batch being inserted may not be in ClickHouse yet: they are
		// taken from that batch instead of waiting for it.
		var inflight map[siteKey][]identity.Link
		if cur := st.inflight; cur != nil {
			inflight = cur.touched.links
		}
		if err := st.loadGraph(ctx, g, site, keys, inflight); err != nil {
			return out, err
		}
		changes, refused := g.Apply(links)
		for _, j := range refused {
			ins[at[j]].unlinked = true
		}
		linksRefused.Add(float64(len(refused)))
		for _, c := range changes {
			for _, m := range c.Members {
				st.persons[personKey{site, m}.detached()] = c.Person
			}
			for from, to := range c.Aliases {
				out.aliases = append(out.aliases, []any{site, from, to, now, version})
			}
			var last identity.Link
			for _, i := range c.Links {
				l := links[i]
				linked, v := time.Unix(l.At, 0).UTC(), math.MaxUint64-uint64(l.At)
				out.links = append(out.links, []any{site, l.Visitor, c.Person, l.Email, l.User, linked, l.EventID, v})
				if l.Server {
					out.servers = append(out.servers, []any{site, l.Visitor, l.Email, l.User, linked, l.EventID, v})
				}
				if l.At >= last.At {
					last = l
				}
			}
			for _, m := range c.Merges {
				out.merges = append(out.merges, mergeRow(site, m.From, m.Into, last))
			}
			out.checks = append(out.checks, personCheck{site: site, person: c.Person, members: c.Members, last: last})
		}
	}
	return out, nil
}

func mergeRow(site, from, into string, cause identity.Link) []any {
	return []any{site, from, into, time.Unix(cause.At, 0).UTC(), cause.EventID, cause.Visitor, cause.Email, cause.User}
}

// reconcile reads again, once a batch's identity rows are in, every person the batch
// wrote, and writes the aliases of each once more, as ClickHouse has the person now, with
// a newer version. Another stitcher instance may apply links of the same person at the
// same moment, each instance seeing only its own links, and the one that read last may
// write its partial view last. Its reconcile, or the other's, comes after both batches
// are in: of two batches, the one inserted last reads the other's links here. The
// aliases a reconcile writes are the latest, and those of the last one see every link.
// Any instance computes the same person (the smallest own id of all its identifiers).
func (st *Stitcher) reconcile(ctx context.Context, checks []personCheck) error {
	if len(checks) == 0 {
		return nil
	}
	now := time.Now().UTC()
	version := uint64(now.UnixNano())
	bySite := map[string][]personCheck{}
	for _, c := range checks {
		bySite[c.site] = append(bySite[c.site], c)
	}
	var aliases, merges [][]any
	for site, cs := range bySite {
		var keys []identity.Key
		for _, c := range cs {
			keys = append(keys, c.members...)
		}
		g := identity.NewGraph(site)
		if err := st.loadGraph(ctx, g, site, keys, nil); err != nil {
			return err
		}
		done := map[string]bool{}
		for _, c := range cs {
			members := g.Members(c.members[0])
			person := g.Person(c.members[0])
			if len(members) > len(c.members) {
				personsReconciled.Inc() // another instance linked the person meanwhile
			}
			if !done[person] {
				done[person] = true
				for _, m := range members {
					if id := identity.OwnID(site, m); id != person {
						aliases = append(aliases, []any{site, id, person, now, version})
					}
				}
			}
			if c.person != person {
				merges = append(merges, mergeRow(site, c.person, person, c.last))
			}
		}
	}
	if len(aliases) == 0 && len(merges) == 0 {
		return nil
	}
	return st.store.write(ctx, &batchRows{events: &eventBlock{}, ids: identityRows{aliases: aliases, merges: merges}})
}

// loadGraph adds to g every stored link connected to the identifiers keys, and which of
// them servers made (server_links), so that g knows the server-owned persons. Links in
// inflight (by identifier) are added as if they were stored.
func (st *Stitcher) loadGraph(ctx context.Context, g *identity.Graph, site string, keys []identity.Key, inflight map[siteKey][]identity.Link) error {
	seen := map[identity.Key]bool{}
	var frontier []identity.Key
	push := func(k identity.Key) {
		if !seen[k] {
			seen[k] = true
			frontier = append(frontier, k)
		}
	}
	add := func(l identity.Link) {
		for _, k := range l.Keys() {
			push(k)
		}
	}
	for _, k := range keys {
		push(k)
	}
	for len(frontier) > 0 {
		var vids, emails, users []string
		next := frontier[min(len(frontier), maxListLen):]
		asked := frontier[:min(len(frontier), maxListLen)]
		frontier = append([]identity.Key(nil), next...)
		for _, k := range asked {
			switch k.Kind {
			case identity.Visitor:
				vids = append(vids, k.Value)
			case identity.Email:
				emails = append(emails, k.Value)
			case identity.User:
				users = append(users, k.Value)
			}
			for _, l := range inflight[siteKey{site, k}] {
				g.Add(l)
				add(l)
			}
		}
		stored, err := st.store.links(ctx, site, vids, emails, users)
		if err != nil {
			return err
		}
		for _, l := range stored {
			g.Add(l)
			add(l)
		}
	}
	return nil
}

// personKeyOf is the identifier an event's person is found by: its visitor id, else the
// email hash or user id of a server call. A browser event without a visitor id has no
// person: the email it names is only its claim.
func personKeyOf(in *incoming) (identity.Key, bool) {
	switch {
	case in.e.VID != "":
		return identity.Key{Kind: identity.Visitor, Value: in.e.VID}, true
	case !in.e.Trusted():
		return identity.Key{}, false
	case emailHash(in.e.Traits) != "":
		return identity.Key{Kind: identity.Email, Value: emailHash(in.e.Traits)}, true
	case in.e.Traits["user_id"] != "":
		return identity.Key{Kind: identity.User, Value: in.e.Traits["user_id"]}, true
	}
	return identity.Key{}, false
}

// resolved is the current person of each identifier a batch's events are found by.
type resolved struct {
	byKey   map[personKey]int32 // position in ids
	ids     []string
	byEvent []int32 // position in ids of each event's person; -1 for none
}

func (r *resolved) ofEvent(i int) string {
	if p := r.byEvent[i]; p >= 0 {
		return r.ids[p]
	}
	return ""
}

func (r *resolved) of(k personKey) string {
	if p, ok := r.byKey[k]; ok {
		return r.ids[p]
	}
	return ""
}

// resolve finds the current person of each identifier the batch's events are found by.
// Identifiers not in the cache are looked up in person_aliases by their own id; an
// identifier without an alias is its own person. A stale cache entry is harmless: it is a
// person id that person_aliases resolves.
func (st *Stitcher) resolve(ctx context.Context, ins []incoming) (*resolved, error) {
	// Sized for a person per few events, as visitors are: growing the map rehashed it often.
	r := &resolved{byKey: make(map[personKey]int32, len(ins)/4), byEvent: make([]int32, len(ins))}
	miss := map[string]map[string]int32{} // site -> own id -> position in ids
	for i := range ins {
		k, ok := personKeyOf(&ins[i])
		if !ok {
			r.byEvent[i] = -1
			continue
		}
		pk := personKey{ins[i].e.Site, k}
		at, done := r.byKey[pk]
		if !done {
			at = int32(len(r.ids))
			r.byKey[pk] = at
			p, cached := st.persons[pk]
			if !cached {
				p = identity.OwnID(pk.site, k)
				if miss[pk.site] == nil {
					miss[pk.site] = map[string]int32{}
				}
				miss[pk.site][p] = at
			}
			r.ids = append(r.ids, p)
		}
		r.byEvent[i] = at
	}
	st.awaitInsert(func(t *touched) bool {
		for site, owns := range miss {
			for id := range owns {
				if t.aliased[sitePerson{site, id}] {
					return true
				}
			}
		}
		return false
	})
	for site, owns := range miss {
		for _, chunk := range chunkMap(owns, maxListLen) {
			ids := make([]string, 0, len(chunk))
			for id := range chunk {
				ids = append(ids, id)
			}
			current, err := st.store.aliases(ctx, site, ids)
			if err != nil {
				return nil, err
			}
			for from, to := range current {
				r.ids[owns[from]] = to
			}
		}
	}
	if len(st.persons) > st.cfg.MaxVisitors {
		st.persons = map[personKey]string{}
	}
	for k, at := range r.byKey {
		// Only a new or changed entry is written: assigning to an existing key would
		// replace its stored copy with k, whose strings point into this batch's messages.
		if p, ok := st.persons[k]; !ok || p != r.ids[at] {
			st.persons[k.detached()] = r.ids[at]
		}
	}
	return r, nil
}

const maxListLen = chstore.MaxListLen

// chunkMap splits m into maps of at most n entries.
func chunkMap[V any](m map[string]V, n int) []map[string]V {
	var out []map[string]V
	cur := map[string]V{}
	for k, v := range m {
		if len(cur) == n {
			out = append(out, cur)
			cur = map[string]V{}
		}
		cur[k] = v
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}
