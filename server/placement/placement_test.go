package placement

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

func members(n int, cat Catalog) []Member {
	var out []Member
	for i := 0; i < n; i++ {
		out = append(out, Member{ID: fmt.Sprintf("server-%d", i), Catalog: cat})
	}
	return out
}

var catalog = Catalog{Revision: 3, Versions: []Version{{"users", 1, 16, 2}, {"items", 4, 8, 1}, {"big", 1, 64, 3}}}

func TestReplicasDistinctLeaderFirst(t *testing.T) {
	p := Compute(members(4, catalog))
	if len(p.Assignments) != 16+8+64 {
		t.Fatalf("%d assignments", len(p.Assignments))
	}
	for _, a := range p.Assignments {
		want := map[string]int{"users": 2, "items": 1, "big": 3}[a.Store]
		if len(a.Replicas) != want {
			t.Fatalf("%v: %d replicas, want %d", a.Partition, len(a.Replicas), want)
		}
		seen := map[string]bool{}
		for _, r := range a.Replicas {
			if seen[r] {
				t.Fatalf("%v: server %s twice", a.Partition, r)
			}
			seen[r] = true
		}
	}
	// Leaders spread: every server leads something.
	leads := map[string]int{}
	for _, a := range p.Assignments {
		leads[a.Replicas[0]]++
	}
	if len(leads) != 4 {
		t.Fatalf("leaders on %d of 4 servers: %v", len(leads), leads)
	}
	// For agrees with the assignments.
	for _, m := range p.Members {
		for _, h := range p.For(m.ID) {
			reps := p.Replicas(h.Partition)
			if (reps[0] == m.ID) != h.Leader {
				t.Fatalf("For(%s) leader flag wrong for %v", m.ID, h.Partition)
			}
		}
	}
}

func TestDeterministicWhateverTheOrder(t *testing.T) {
	ms := members(5, catalog)
	want := Compute(ms).Encode()
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 20; i++ {
		rng.Shuffle(len(ms), func(a, b int) { ms[a], ms[b] = ms[b], ms[a] })
		if got := Compute(ms).Encode(); string(got) != string(want) {
			t.Fatal("plan depends on member order")
		}
	}
}

func TestRemovingAServerMovesOnlyItsReplicas(t *testing.T) {
	before := Compute(members(4, catalog))
	after := Compute(members(4, catalog)[:3]) // server-3 leaves
	gone := "server-3"
	for _, a := range before.Assignments {
		had := map[string]bool{}
		for _, r := range a.Replicas {
			had[r] = true
		}
		for _, r := range after.Replicas(a.Partition) {
			if !had[r] && !had[gone] {
				t.Fatalf("%v moved to %s although its servers all stayed", a.Partition, r)
			}
		}
		// A surviving leader keeps leading.
		if l := a.Replicas[0]; l != gone && after.Replicas(a.Partition)[0] != l {
			t.Fatalf("%v: leader changed from %s although it stayed", a.Partition, l)
		}
	}
}

func TestNewestCatalogWins(t *testing.T) {
	old := Catalog{Revision: 1, Versions: []Version{{"users", 1, 4, 1}}}
	ms := members(2, old)
	ms[1].Catalog = catalog
	p := Compute(ms)
	if p.Revision != 3 || len(p.Assignments) != 16+8+64 {
		t.Fatalf("plan from revision %d with %d assignments", p.Revision, len(p.Assignments))
	}
}

func TestEncodeDecode(t *testing.T) {
	p := Compute(members(3, catalog))
	q, err := DecodePlan(p.Encode())
	if err != nil || !reflect.DeepEqual(p.Assignments, q.Assignments) || !reflect.DeepEqual(p.For("server-1"), q.For("server-1")) {
		t.Fatalf("round trip: %v", err)
	}
	m := Member{ID: "a", Addr: "127.0.0.1:1", Catalog: catalog}
	got, err := DecodeMember(EncodeMember(m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("member round trip: %+v %v", got, err)
	}
	for _, bad := range []string{"", "{", `{"addr":"x"}`} {
		if _, err := DecodeMember([]byte(bad)); err == nil {
			t.Errorf("DecodeMember(%q) accepted", bad)
		}
	}
	if _, err := DecodePlan([]byte("nope")); err == nil {
		t.Error("DecodePlan accepted garbage")
	}
}

func TestNoMembers(t *testing.T) {
	if p := Compute(nil); len(p.Assignments) != 0 || p.For("x") != nil {
		t.Fatal("plan without members has assignments")
	}
}
