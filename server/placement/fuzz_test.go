package placement

import (
	"testing"
)

// FuzzDecode: group metadata and sync assignments come from other members
// of the consumer group. Decoding arbitrary bytes never panics, nor do the
// plan's lookups on what was accepted, nor Compute over accepted members;
// an accepted plan survives an encode/decode round trip.
func FuzzDecode(f *testing.F) {
	m := Member{ID: "s1", Addr: "127.0.0.1:1", Catalog: Catalog{Revision: 3}}
	f.Add(EncodeMember(m))
	f.Add(Compute([]Member{m}).Encode())
	f.Add([]byte(`{"assignments":[{"store":"s","version":1,"partition":0,"replicas":[]}]}`))
	f.Add([]byte(`{"id":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := DecodeMember(b); err == nil {
			Compute([]Member{m, {ID: "other"}})
		}
		p, err := DecodePlan(b)
		if err != nil {
			return
		}
		for _, a := range p.Assignments {
			p.Replicas(a.Partition)
			for _, id := range a.Replicas {
				p.For(id)
			}
		}
		again, err := DecodePlan(p.Encode())
		if err != nil {
			t.Fatalf("accepted plan does not decode again: %v", err)
		}
		if string(again.Encode()) != string(p.Encode()) {
			t.Fatalf("plan round trip differs: %s vs %s", again.Encode(), p.Encode())
		}
	})
}
