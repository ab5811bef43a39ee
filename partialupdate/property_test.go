package partialupdate_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/avrox/avroxtest"
	"github.com/rialtodb/rialto/partialupdate"
)

// seed is the property tests' random seed: PARTIALUPDATE_SEED when set
// (to replay a logged failure), else the clock. It is logged either way.
func seed(t testing.TB) uint64 {
	s := uint64(time.Now().UnixNano())
	if v := os.Getenv("PARTIALUPDATE_SEED"); v != "" {
		var err error
		if s, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("PARTIALUPDATE_SEED=%q: %v", v, err)
		}
	}
	t.Logf("seed %d (replay with PARTIALUPDATE_SEED=%d)", s, s)
	return s
}

// randomUpdate draws random update-record bytes of the derived schema (each
// field: NoOp, a set of any branch, or collection operations over small
// value domains so that elements overlap often) and decodes them.
func randomUpdate(t *testing.T, rng *rand.Rand, s *partialupdate.Schema) *partialupdate.Update {
	t.Helper()
	for {
		b := avroxtest.Value(rng, s.Update(), avroxtest.ValueOpts{Blocks: rng.IntN(2) == 0, MaxItems: 3})
		u, err := partialupdate.Decode(s, b)
		if errors.Is(err, partialupdate.ErrEmptyUpdate) {
			continue
		}
		if err != nil {
			t.Fatalf("decode of random update: %v", err)
		}
		return u
	}
}

func randomSchema(rng *rand.Rand) *partialupdate.Schema {
	for {
		rs, _ := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{TopCollections: true, OrderProps: rng.IntN(3) == 0, MaxDepth: 3})
		s, err := partialupdate.Derive(rs)
		if errors.Is(err, partialupdate.ErrSchema) {
			continue // e.g. a union of an array and a map: draw again
		}
		if err != nil {
			panic(err)
		}
		return s
	}
}

func mustApply(t *testing.T, u *partialupdate.Update, v []byte) []byte {
	t.Helper()
	var out []byte
	var err error
	if v == nil {
		out, err = partialupdate.ApplyMissing(nil, u)
	} else {
		out, err = partialupdate.Apply(nil, u, v)
	}
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := avrox.Validate(u.Schema().Value(), out); err != nil {
		t.Fatalf("apply wrote an invalid value: %v", err)
	}
	return out
}

func show(s *partialupdate.Schema, b []byte) string {
	j, err := partialupdate.ValueToJSON(s.Value(), b)
	if err != nil {
		return err.Error()
	}
	return string(j)
}

func showU(u *partialupdate.Update) string {
	j, err := u.JSON()
	if err != nil {
		return err.Error()
	}
	return string(j)
}

// Coalesce(u1, u2) applied once equals u1 then u2, for random values
// (including a missing key), or it is refused with ErrNotCoalescible.
func TestPropertyCoalesce(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 11))
	ok, refused := 0, 0
	for i := 0; i < 300; i++ {
		s := randomSchema(rng)
		for j := 0; j < 10; j++ {
			u1, u2 := randomUpdate(t, rng, s), randomUpdate(t, rng, s)
			c, err := partialupdate.Coalesce(u1, u2)
			if errors.Is(err, partialupdate.ErrNotCoalescible) {
				refused++
				continue
			}
			if err != nil {
				t.Fatalf("coalesce: %v", err)
			}
			ok++
			for k := 0; k < 5; k++ {
				var v []byte
				if k > 0 {
					v = avroxtest.Value(rng, s.Value(), avroxtest.ValueOpts{Blocks: k%2 == 0, MaxItems: 4})
				}
				two := mustApply(t, u2, mustApply(t, u1, v))
				one := mustApply(t, c, v)
				if !bytes.Equal(one, two) {
					t.Fatalf("coalesce differs\nschema %s\nvalue %s\nu1 %s\nu2 %s\nc  %s\none %s\ntwo %s",
						s.Value(), show(s, v), showU(u1), showU(u2), showU(c), show(s, one), show(s, two))
				}
			}
		}
	}
	t.Logf("coalesced %d pairs, %d refused as not coalescible", ok, refused)
	if ok < refused {
		t.Fatalf("too many refusals")
	}
}

// Applying an update twice equals applying it once (sets trivially; merges
// because setUnion/mapUnion of present elements and setDiff of absent ones
// change nothing).
func TestPropertyApplyTwiceEqualsOnce(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 12))
	for i := 0; i < 300; i++ {
		s := randomSchema(rng)
		for j := 0; j < 10; j++ {
			u := randomUpdate(t, rng, s)
			var v []byte
			if j > 0 {
				v = avroxtest.Value(rng, s.Value(), avroxtest.ValueOpts{Blocks: true})
			}
			keep := bytes.Clone(v)
			once := mustApply(t, u, v)
			twice := mustApply(t, u, once)
			if !bytes.Equal(once, twice) {
				t.Fatalf("apply twice differs\nu %s\nonce %s\ntwice %s", showU(u), show(s, once), show(s, twice))
			}
			if !bytes.Equal(keep, v) {
				t.Fatal("apply modified the stored value")
			}
		}
	}
}

// The derived schema parses back with hamba to the same schema, update
// bytes round-trip through Encode/Decode, decode with hamba, and the JSON
// form renders back to the same JSON.
func TestPropertyDerivedSchemaAndCodecs(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 13))
	for i := 0; i < 300; i++ {
		s := randomSchema(rng)
		parsed, err := avro.Parse(s.UpdateJSON())
		if err != nil {
			t.Fatalf("derived schema does not parse: %v\n%s", err, s.UpdateJSON())
		}
		if parsed.Fingerprint() != s.Update().Fingerprint() {
			t.Fatal("derived schema changes when parsed again")
		}
		again, err := avro.Parse(s.Update().String())
		if err != nil || again.Fingerprint() != parsed.Fingerprint() {
			t.Fatalf("canonical form of the derived schema does not parse: %v", err)
		}
		for j := 0; j < 5; j++ {
			u := randomUpdate(t, rng, s)
			b, _ := u.Encode()
			var generic any
			if err := avro.Unmarshal(parsed, b, &generic); err != nil {
				t.Fatalf("hamba cannot decode update bytes: %v", err)
			}
			d, err := partialupdate.Decode(s, b)
			if err != nil {
				t.Fatal(err)
			}
			if b2, _ := d.Encode(); !bytes.Equal(b, b2) {
				t.Fatal("encode/decode not inverse")
			}
			js, err := u.JSON()
			if err != nil {
				t.Fatal(err)
			}
			back, err := partialupdate.ParseJSON(s, js)
			if err != nil {
				t.Fatalf("JSON %s does not parse back: %v\nschema %s", js, err, s.Value())
			}
			js2, _ := back.JSON()
			if !ambiguousJSON(s.Value(), map[avro.Schema]bool{}) && !bytes.Equal(js, js2) {
				t.Fatalf("JSON form not a fixed point:\n%s\n%s", js, js2)
			}
		}
	}
}

// Applying through an Applier whose target is a superset of the stored
// value's schema equals resolving the value first and applying directly.
func TestPropertyApplierSuperset(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 14))
	for i := 0; i < 200; i++ {
		s := randomSchema(rng)
		fields := s.Value().Fields()
		// An older schema: a prefix of the fields.
		old := avrox.NewSchemaWriter()
		js := []byte(`{"type":"record","name":` + `"` + s.Value().FullName() + `","fields":[`)
		n := 1 + rng.IntN(len(fields))
		for k := 0; k < n; k++ {
			if k > 0 {
				js = append(js, ',')
			}
			var err error
			if js, err = old.AppendField(js, fields[k]); err != nil {
				t.Fatal(err)
			}
		}
		js = append(js, "]}"...)
		oldSchema, err := avro.Parse(string(js))
		if err != nil {
			t.Fatalf("%v\n%s", err, js)
		}
		a, err := partialupdate.NewApplier(s.Value())
		if err != nil {
			t.Fatal(err)
		}
		z, err := avrox.NewResolver(oldSchema, s.Value())
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 5; j++ {
			u := randomUpdate(t, rng, s)
			v := avroxtest.Value(rng, oldSchema, avroxtest.ValueOpts{Blocks: true})
			got, err := a.Apply(nil, u, v, oldSchema)
			if err != nil {
				t.Fatal(err)
			}
			resolved, _, err := z.Append(nil, v)
			if err != nil {
				t.Fatal(err)
			}
			if want := mustApply(t, u, resolved); !bytes.Equal(got, want) {
				t.Fatalf("applier differs: %s vs %s", show(s, got), show(s, want))
			}
		}
	}
}

// ambiguousJSON reports whether s holds a union whose bare JSON values can
// read back as another branch (two object-like, string-like or same-kind
// number branches; NaN and infinities are strings in JSON).
func ambiguousJSON(s avro.Schema, seen map[avro.Schema]bool) bool {
	s = avrox.Deref(s)
	if seen[s] {
		return false
	}
	seen[s] = true
	switch s := s.(type) {
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			if ambiguousJSON(f.Type(), seen) {
				return true
			}
		}
	case *avro.ArraySchema:
		return ambiguousJSON(s.Items(), seen)
	case *avro.MapSchema:
		return ambiguousJSON(s.Values(), seen)
	case *avro.UnionSchema:
		groups := map[string]int{}
		for _, t := range s.Types() {
			switch avrox.Deref(t).Type() {
			case avro.Record, avro.Map:
				groups["object"]++
			case avro.String, avro.Bytes, avro.Enum, avro.Fixed:
				groups["string"]++
			case avro.Int, avro.Long:
				groups["integer"]++
			case avro.Float, avro.Double:
				groups["float"]++
				groups["string"]++
			}
			if ambiguousJSON(t, seen) {
				return true
			}
		}
		for _, n := range groups {
			if n > 1 {
				return true
			}
		}
	}
	return false
}
