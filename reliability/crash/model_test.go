package crash

import (
	"math/rand"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/partialupdate"
)

// TestModelAgreesWithConflict checks the driver's reference model against
// the conflict package, in process: the generated operations of each
// region are resolved in their region's order, the two regions interleaved
// at random, and every key must end as the model says. A disagreement here
// is a fault of the model (or of conflict), not of the servers.
func TestModelAgreesWithConflict(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	schema := avro.MustParse(ValueSchema)
	derived, err := partialupdate.Derive(schema)
	if err != nil {
		t.Fatal(err)
	}
	res, err := conflict.New(&conflict.StaticRegistry{Schemas: map[int32]avro.Schema{1: schema}, Superset: 1}, conflict.FieldLevel)
	if err != nil {
		t.Fatal(err)
	}
	const keys, ops = 50, 5000
	m := newModel(keys)
	g := newGenerator(seed, m, 2, 1_700_000_000_000)
	state := make([]conflict.State, keys)
	apply := func(o op) {
		c := conflict.Op{TS: o.ts, Region: int32(o.region + 1), SchemaID: 1}
		switch o.kind {
		case opPut:
			c.Kind, c.Value = conflict.Put, encodeRow(o.put)
		case opDelete:
			c.Kind = conflict.Delete
		case opUpdate:
			u, err := buildUpdate(derived, o.upd)
			if err != nil {
				t.Fatalf("%s: %v", o, err)
			}
			c.Kind, c.Decoded = conflict.Update, u
		}
		if o.region < 0 {
			c.Region = -1
		}
		r, err := res.Resolve(state[o.key], c)
		if err != nil {
			t.Fatalf("%s: %v", o, err)
		}
		if r.Applied {
			state[o.key] = conflict.State{Value: r.Value, Tombstone: r.Tombstone, SchemaID: r.SchemaID, RMD: r.RMD}
		}
	}
	for _, o := range g.batch() {
		apply(o)
	}
	var byRegion [2][]op
	history := map[int][]op{}
	for range ops {
		o := g.next()
		byRegion[o.region] = append(byRegion[o.region], o)
		history[o.key] = append(history[o.key], o)
	}
	rng := rand.New(rand.NewSource(seed))
	for len(byRegion[0])+len(byRegion[1]) > 0 {
		r := rng.Intn(2)
		if len(byRegion[r]) == 0 {
			r = 1 - r
		}
		n := min(len(byRegion[r]), 1+rng.Intn(20))
		for _, o := range byRegion[r][:n] {
			apply(o)
		}
		byRegion[r] = byRegion[r][n:]
	}
	for k := range keys {
		want, live := m.keys[k].value()
		st := state[k]
		if got := st.Value != nil && !st.Tombstone; got != live {
			t.Errorf("%s: live=%v, model says %v; history:\n%s", KeyName(k), got, live, opsString(history[k]))
			continue
		}
		if !live {
			continue
		}
		got, err := decodeRow(st.Value)
		if err != nil {
			t.Fatalf("%s: %v", KeyName(k), err)
		}
		if !got.equal(want) {
			t.Errorf("%s: conflict gives %s, model %s; history:\n%s", KeyName(k), got, want, opsString(history[k]))
		}
	}
}

func TestRowEncoding(t *testing.T) {
	schema := avro.MustParse(ValueSchema)
	nick := "ada"
	for _, r := range []row{
		{},
		{name: "x", count: -5, nick: &nick, tags: []string{"b", "a"}, attrs: []kv{{"z", 1}, {"a", -2}}},
	} {
		b := encodeRow(r)
		var v map[string]any
		if err := avro.Unmarshal(schema, b, &v); err != nil {
			t.Fatalf("%s: hamba cannot read the encoding: %v", r, err)
		}
		got, err := decodeRow(b)
		if err != nil || !got.equal(r) {
			t.Fatalf("%s: round trip gives %s, %v", r, got, err)
		}
	}
	// hamba's own encoding (blocks as it writes them) decodes too.
	v := map[string]any{"name": "n", "count": int64(3), "nick": nil, "tags": []any{"a", "b"}, "attrs": map[string]any{"k": int64(1)}}
	b, err := avro.Marshal(schema, v)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeRow(b)
	if err != nil || got.String() != `{name:"n" count:3 nick:null tags:[a b] attrs:{k:1}}` {
		t.Fatalf("decoding hamba's bytes: %s, %v", got, err)
	}
}

func opsString(ops []op) string {
	var s string
	for _, o := range ops {
		s += "  " + o.String() + "\n"
	}
	return s
}
