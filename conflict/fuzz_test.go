package conflict_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// The fuzzed store: schema 2 is the superset of schema 1.
var fuzzFields = []genField{
	{"f0", gLong}, {"f1", gNullList}, {"f2", gNullMap}, {"f3", gRecList}, {"f4", gRecIgnore}, {"f5", gList}, {"f6", gMap},
}

func fuzzResolvers(t testing.TB) (field, value *conflict.Resolver) {
	s1, err := avro.Parse(recordJSON([]genField{fuzzFields[0], fuzzFields[1], fuzzFields[3], fuzzFields[6]}))
	if err != nil {
		t.Fatal(err)
	}
	s2, err := avro.Parse(recordJSON(fuzzFields))
	if err != nil {
		t.Fatal(err)
	}
	reg := &conflict.StaticRegistry{Schemas: map[int32]avro.Schema{1: s1, 2: s2}, Superset: 2}
	field, err = conflict.New(reg, conflict.FieldLevel)
	if err != nil {
		t.Fatal(err)
	}
	value, err = conflict.New(reg, conflict.ValueLevel)
	if err != nil {
		t.Fatal(err)
	}
	return field, value
}

// FuzzResolve feeds Resolve and Explain arbitrary stored values, RMD and
// operation bytes (the seed corpus holds valid ones, so mutations stay
// mostly decodable). Nothing may panic; an applied result must be
// explainable and resolving the same operation against it must be ignored.
func FuzzResolve(f *testing.F) {
	field, value := fuzzResolvers(f)
	f.Add(uint8(1), []byte(nil), []byte(nil), uint8(0), []byte{2, 0, 0, 0, 0, 0, 0, 0}, int64(5), int32(1))
	f.Fuzz(func(t *testing.T, kind uint8, stored, rmd []byte, flags uint8, opBytes []byte, ts int64, region int32) {
		r := field
		if flags&8 != 0 {
			r = value
		}
		st := conflict.State{Value: stored, RMD: rmd, SchemaID: int32(1 + flags&1), Tombstone: flags&2 != 0}
		if flags&4 != 0 {
			st.RMD = nil
		}
		if st.Tombstone || len(stored) == 0 {
			st.Value = nil // a missing key or a tombstone
		}
		op := conflict.Op{Kind: conflict.Kind(1 + kind%3), Value: opBytes, SchemaID: int32(1 + (flags>>4)&1), TS: ts, Region: region}
		_, stErr := r.Explain(st)
		res, err := r.Resolve(st, op)
		if err != nil || !res.Applied || stErr != nil {
			return // garbage in may come out unchanged where untouched; valid in must be valid out
		}
		next := conflict.State{Value: res.Value, Tombstone: res.Tombstone, SchemaID: res.SchemaID, RMD: res.RMD}
		if _, err := r.Explain(next); err != nil {
			t.Fatalf("result does not explain: %v", err)
		}
		again, err := r.Resolve(next, op)
		if err != nil {
			t.Fatalf("resolving against its own result failed: %v", err)
		}
		if again.Applied {
			t.Fatalf("not idempotent: %x / %x then %x / %x", res.Value, res.RMD, again.Value, again.RMD)
		}
	})
}

// TestWriteFuzzCorpus regenerates testdata/fuzz/FuzzResolve from random
// valid states and operations: CONFLICT_WRITE_CORPUS=1 go test -run TestWriteFuzzCorpus.
func TestWriteFuzzCorpus(t *testing.T) {
	if os.Getenv("CONFLICT_WRITE_CORPUS") == "" {
		t.Skip("CONFLICT_WRITE_CORPUS not set")
	}
	field, _ := fuzzResolvers(t)
	dir := filepath.Join("testdata", "fuzz", "FuzzResolve")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	g := gen{rand.New(rand.NewPCG(1, 2))}
	schemas := map[int32][]genField{1: {fuzzFields[0], fuzzFields[1], fuzzFields[3], fuzzFields[6]}, 2: fuzzFields}
	for n := 0; n < 40; n++ {
		// Build a state by resolving a few operations from a missing key.
		st := conflict.State{}
		var last conflict.Op
		var lastKind uint8
		var lastFlags uint8
		steps := 1 + g.r.IntN(4)
		for k := 0; k < steps; k++ {
			id := int32(1 + g.r.IntN(2))
			op := conflict.Op{TS: int64(1 + g.r.IntN(5)), Region: int32(g.r.IntN(3)), SchemaID: id}
			kind := uint8(g.r.IntN(3))
			op.Kind = conflict.Kind(1 + kind)
			switch op.Kind {
			case conflict.Put:
				vs, _ := field.UpdateSchema(id)
				v, err := avrox.FromJSON(vs.Value(), []byte(g.recordValueJSON(schemas[id])))
				if err != nil {
					t.Fatal(err)
				}
				op.Value = v
			case conflict.Update:
				us, _ := field.UpdateSchema(id)
				u, err := partialupdate.ParseJSON(us, []byte(g.updateJSON(schemas[id])))
				if err != nil {
					t.Fatal(err)
				}
				op.Value, _ = u.Encode()
			}
			if k == steps-1 {
				last, lastKind, lastFlags = op, kind, uint8(id-1)<<4
				break
			}
			res, err := field.Resolve(st, op)
			if err != nil {
				t.Fatal(err)
			}
			if res.Applied {
				st = conflict.State{Value: res.Value, Tombstone: res.Tombstone, SchemaID: res.SchemaID, RMD: res.RMD}
			}
		}
		flags := lastFlags | uint8(st.SchemaID-1)&1
		if st.Tombstone {
			flags |= 2
		}
		if st.RMD == nil {
			flags |= 4
		}
		var b bytes.Buffer
		b.WriteString("go test fuzz v1\n")
		fmt.Fprintf(&b, "byte(%q)\n[]byte(%q)\n[]byte(%q)\nbyte(%q)\n[]byte(%q)\nint64(%d)\nint32(%d)\n",
			lastKind, st.Value, st.RMD, flags, last.Value, last.TS, last.Region)
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", n)), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
