// Package placement decides which servers of a region hold which version
// partitions, and which replica leads. It is the balancer of the servers'
// Kafka consumer group: Kafka's group protocol elects one member to compute
// the plan from every member's metadata and hands each member the result,
// so no other coordination service is involved.
//
// # Guarantees
//
//  1. Compute is a pure function of the members and the catalog: any member
//     computing it from the same inputs gets the same plan.
//  2. Replicas of a partition are on distinct servers (as many as there are
//     servers, up to the replication factor); the first replica leads.
//  3. Placement uses rendezvous hashing per partition, so adding or removing
//     a server moves only the replicas that must move: those of the
//     departed server, and about 1/N of the others when one joins.
//  4. The catalog used is the one with the highest revision among the
//     members, so a member whose view is stale cannot roll placement back.
package placement

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
)

// Version is one version to place.
type Version struct {
	Store       string `json:"store"`
	Version     int32  `json:"version"`
	Partitions  int32  `json:"partitions"`
	Replication int    `json:"replication"`
}

// Catalog is what a member knows must be placed.
type Catalog struct {
	Revision int64     `json:"revision"`
	Versions []Version `json:"versions"`
}

// Member is one server in the group.
type Member struct {
	// ID is the server's stable identity (from its configuration): the same
	// server restarting gets its partitions back.
	ID string `json:"id"`
	// Addr is the server's read address, for clients.
	Addr    string  `json:"addr,omitempty"`
	Catalog Catalog `json:"catalog"`
}

// Partition names one version partition.
type Partition struct {
	Store     string `json:"store"`
	Version   int32  `json:"version"`
	Partition int32  `json:"partition"`
}

// Assignment is one replica of a partition on a server.
type Assignment struct {
	Partition
	// Replicas are server IDs, leader first.
	Replicas []string `json:"replicas"`
}

// Plan is the placement of every partition of the catalog.
type Plan struct {
	Revision    int64             `json:"revision"` // the catalog revision it was computed from
	Members     []Member          `json:"members"`  // catalog omitted; sorted by ID
	Assignments []Assignment      `json:"assignments"`
	index       map[string][]int  // server ID → indexes into Assignments
	byPartition map[Partition]int // partition → index into Assignments
}

// Compute places every partition of the newest catalog among the members.
func Compute(members []Member) Plan {
	var cat Catalog
	ids := make([]Member, 0, len(members))
	seen := map[string]bool{}
	for _, m := range members {
		if m.Catalog.Revision > cat.Revision || (m.Catalog.Revision == cat.Revision && len(cat.Versions) == 0) {
			cat = m.Catalog
		}
		if !seen[m.ID] {
			seen[m.ID] = true
			ids = append(ids, Member{ID: m.ID, Addr: m.Addr})
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].ID < ids[j].ID })
	versions := append([]Version(nil), cat.Versions...)
	sort.Slice(versions, func(i, j int) bool {
		if versions[i].Store != versions[j].Store {
			return versions[i].Store < versions[j].Store
		}
		return versions[i].Version < versions[j].Version
	})
	plan := Plan{Revision: cat.Revision, Members: ids}
	if len(ids) == 0 {
		return plan.indexed()
	}
	type scored struct {
		id    string
		score uint64
	}
	scores := make([]scored, len(ids))
	for _, v := range versions {
		rf := v.Replication
		if rf < 1 {
			rf = 1
		}
		rf = min(rf, len(ids))
		for p := int32(0); p < v.Partitions; p++ {
			part := Partition{v.Store, v.Version, p}
			for i, m := range ids {
				scores[i] = scored{m.ID, score(m.ID, part)}
			}
			sort.Slice(scores, func(i, j int) bool {
				if scores[i].score != scores[j].score {
					return scores[i].score > scores[j].score
				}
				return scores[i].id < scores[j].id
			})
			reps := make([]string, rf)
			for i := range reps {
				reps[i] = scores[i].id
			}
			plan.Assignments = append(plan.Assignments, Assignment{Partition: part, Replicas: reps})
		}
	}
	return plan.indexed()
}

// score is the rendezvous weight of a server for a partition. Partitions of
// one store and version share the store/version part, but the partition
// number is hashed in, so partitions spread over servers.
func score(server string, p Partition) uint64 {
	h := fnv.New64a()
	h.Write([]byte(server))
	h.Write([]byte{0})
	h.Write([]byte(p.Store))
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], uint32(p.Version))
	binary.BigEndian.PutUint32(b[4:], uint32(p.Partition))
	h.Write(b[:])
	// fnv's low bits mix poorly for short inputs: finish with a mixer.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

func (p Plan) indexed() Plan {
	p.index = map[string][]int{}
	p.byPartition = map[Partition]int{}
	for i, a := range p.Assignments {
		p.byPartition[a.Partition] = i
		for _, id := range a.Replicas {
			p.index[id] = append(p.index[id], i)
		}
	}
	return p
}

// For returns the partitions a server holds, and whether it leads each.
func (p Plan) For(server string) []Held {
	var out []Held
	for _, i := range p.index[server] {
		a := p.Assignments[i]
		out = append(out, Held{Partition: a.Partition, Leader: a.Replicas[0] == server})
	}
	return out
}

// Replicas returns the servers holding a partition, leader first.
func (p Plan) Replicas(part Partition) []string {
	if i, ok := p.byPartition[part]; ok {
		return p.Assignments[i].Replicas
	}
	return nil
}

// Held is a partition a server holds.
type Held struct {
	Partition
	Leader bool
}

// Encode serializes a plan for the group's sync assignment.
func (p Plan) Encode() []byte {
	b, _ := json.Marshal(p) // plain data: cannot fail
	return b
}

// DecodePlan reads what Encode wrote.
func DecodePlan(b []byte) (Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return Plan{}, fmt.Errorf("placement: bad plan: %w", err)
	}
	return p.indexed(), nil
}

// EncodeMember serializes a member's join metadata.
func EncodeMember(m Member) []byte {
	b, _ := json.Marshal(m)
	return b
}

// DecodeMember reads what EncodeMember wrote.
func DecodeMember(b []byte) (Member, error) {
	var m Member
	if err := json.Unmarshal(b, &m); err != nil {
		return Member{}, fmt.Errorf("placement: bad member metadata: %w", err)
	}
	if m.ID == "" {
		return Member{}, fmt.Errorf("placement: member metadata without an id")
	}
	return m, nil
}
