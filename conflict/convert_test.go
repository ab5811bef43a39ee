package conflict_test

import (
	"bytes"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/avrox"
)

// TestToFieldLevel: the §3 conversions give the state Resolve starts from,
// and resolving from the converted state equals resolving from the original.
func TestToFieldLevel(t *testing.T) {
	s1 := avro.MustParse(`{"type":"record","name":"T","namespace":"cv","fields":[
		{"name":"a","type":"long","default":0},{"name":"l","type":{"type":"array","items":"int"},"default":[]}]}`)
	s2 := avro.MustParse(`{"type":"record","name":"T","namespace":"cv","fields":[
		{"name":"a","type":"long","default":0},{"name":"l","type":{"type":"array","items":"int"},"default":[]},
		{"name":"m","type":{"type":"map","values":"int"},"default":{}}]}`)
	reg := &conflict.StaticRegistry{Schemas: map[int32]avro.Schema{1: s1, 2: s2}, Superset: 2}
	r, err := conflict.New(reg, conflict.FieldLevel)
	if err != nil {
		t.Fatal(err)
	}
	v, err := avrox.FromJSON(s1, []byte(`{"a":3,"l":[1,2,3]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range []conflict.State{
		{Value: v, SchemaID: 1},                                 // batch data
		{Value: v, SchemaID: 1, RMD: conflict.ValueLevelRMD(7)}, // value-level
		{Tombstone: true, SchemaID: 1, RMD: conflict.ValueLevelRMD(7)},
	} {
		got, err := r.ToFieldLevel(st)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := r.Explain(got)
		if err != nil {
			t.Fatal(err)
		}
		if ex.Metadata != conflict.MetadataFieldLevel || got.SchemaID != 2 || len(ex.Fields) != 3 {
			t.Fatalf("unexpected conversion: %s", ex.Text())
		}
		var T int64
		if st.RMD != nil {
			T = 7
		}
		if ex.Fields[0].TS != T || ex.Fields[1].TS != T || ex.Fields[2].TS != 0 || (ex.Fields[1].Region != nil) {
			t.Fatalf("timestamps: %s", ex.Text())
		}
		if !st.Tombstone && len(ex.Fields[1].Elements) != 3 {
			t.Fatalf("put-only prefix: %s", ex.Text())
		}
		op := conflict.Op{Kind: conflict.Delete, TS: 8, Region: 1}
		a, err1 := r.Resolve(st, op)
		b, err2 := r.Resolve(got, op)
		if err1 != nil || err2 != nil || !bytes.Equal(a.RMD, b.RMD) || !bytes.Equal(a.Value, b.Value) || a.Tombstone != b.Tombstone {
			t.Fatalf("resolving from the converted state differs: %v %v", err1, err2)
		}
	}
	if got, err := r.ToFieldLevel(conflict.State{}); err != nil || got.Value != nil || got.RMD != nil {
		t.Fatalf("missing key: %+v %v", got, err)
	}
}
