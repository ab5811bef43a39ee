package avrox_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/avrox/avroxtest"
)

// writerOf derives an older writer schema from reader r: some fields
// dropped, some types narrowed to one that promotes to r's, some extra
// writer-only fields, fields shuffled.
func writerOf(rng *rand.Rand, r *avro.RecordSchema) (*avro.RecordSchema, string) {
	var fields []string
	for i, f := range r.Fields() {
		if rng.IntN(5) == 0 {
			continue
		}
		w := avrox.NewSchemaWriter()
		tj, err := w.Append(nil, f.Type())
		if err != nil {
			panic(err)
		}
		t := string(tj)
		narrow := map[string][]string{
			`"long"`:   {`"int"`},
			`"float"`:  {`"int"`, `"long"`},
			`"double"`: {`"int"`, `"long"`, `"float"`},
			`"bytes"`:  {`"string"`},
			`"string"`: {`"bytes"`},
		}
		if alts, ok := narrow[t]; ok && rng.IntN(2) == 0 {
			t = alts[rng.IntN(len(alts))]
		}
		fields = append(fields, fmt.Sprintf(`{"name":%q,"type":%s}`, f.Name(), t))
		if rng.IntN(4) == 0 {
			fields = append(fields, fmt.Sprintf(`{"name":"extra%d","type":["null","string",{"type":"array","items":"long"}]}`, i))
		}
	}
	rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
	js := fmt.Sprintf(`{"type":"record","name":%q,"fields":[%s]}`, r.FullName(), strings.Join(fields, ","))
	s, err := avro.Parse(js)
	if err != nil {
		panic(fmt.Sprintf("%v\n%s", err, js))
	}
	return s.(*avro.RecordSchema), js
}

// promote converts a generic value of writer type w to reader type r.
func promote(w, r avro.Schema, v any) any {
	switch {
	case w.Type() == avro.Int && r.Type() == avro.Long:
		return int64(v.(int))
	case w.Type() == avro.Int && r.Type() == avro.Float:
		return float32(v.(int))
	case w.Type() == avro.Int && r.Type() == avro.Double:
		return float64(v.(int))
	case w.Type() == avro.Long && r.Type() == avro.Float:
		return float32(v.(int64))
	case w.Type() == avro.Long && r.Type() == avro.Double:
		return float64(v.(int64))
	case w.Type() == avro.Float && r.Type() == avro.Double:
		return float64(v.(float32))
	case w.Type() == avro.String && r.Type() == avro.Bytes:
		return []byte(v.(string))
	case w.Type() == avro.Bytes && r.Type() == avro.String:
		return string(v.([]byte))
	}
	return v
}

func TestResolveMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 5))
	copies := 0
	for i := 0; i < 300; i++ {
		r, rjs := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{})
		w, wjs := writerOf(rng, r)
		z, err := avrox.NewResolver(w, r)
		if err != nil {
			t.Fatalf("NewResolver: %v\nwriter %s\nreader %s", err, wjs, rjs)
		}
		if z.Identity() {
			copies++
		}
		for j := 0; j < 5; j++ {
			b := avroxtest.Value(rng, w, avroxtest.ValueOpts{Blocks: true})
			out, n, err := z.Append([]byte("prefix"), b)
			if err != nil || n != len(b) {
				t.Fatalf("resolve: %d %v", n, err)
			}
			out = out[len("prefix"):]
			if err := avrox.Validate(r, out); err != nil {
				t.Fatalf("resolved bytes invalid: %v", err)
			}
			wv := decodeGeneric(t, w, b).(map[string]any)
			want := map[string]any{}
			for _, rf := range r.Fields() {
				wf := fieldByName(w, rf.Name())
				if wf == nil {
					d, err := avrox.AppendDefault(nil, rf)
					if err != nil {
						t.Fatal(err)
					}
					want[rf.Name()] = decodeGeneric(t, rf.Type(), d)
					continue
				}
				want[rf.Name()] = promote(avrox.Deref(wf.Type()), avrox.Deref(rf.Type()), wv[rf.Name()])
			}
			got := decodeGeneric(t, r, out)
			if refCompare(r, want, got) != 0 {
				t.Fatalf("resolved value differs\nwant %v\ngot  %v\nwriter %s\nreader %s", want, got, wjs, rjs)
			}
		}
	}
	t.Logf("%d of 300 pairs were plain copies", copies)
}

func fieldByName(rs *avro.RecordSchema, name string) *avro.Field {
	for _, f := range rs.Fields() {
		if f.Name() == name {
			return f
		}
	}
	return nil
}

func TestResolveUnionsEnumsAndErrors(t *testing.T) {
	w := avro.MustParse(`{"type":"record","name":"r","fields":[
		{"name":"u","type":["null","int","string"]},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B","Z"]}},
		{"name":"s","type":"int"},
		{"name":"l","type":{"type":"array","items":"int"}}]}`)
	r := avro.MustParse(`{"type":"record","name":"r","fields":[
		{"name":"l","type":{"type":"array","items":"double"}},
		{"name":"s","type":["null","long"]},
		{"name":"u","type":["string","null","long"]},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["B","A","C"],"default":"C"}},
		{"name":"n","type":"string","default":"new"}]}`)
	z, err := avrox.NewResolver(w, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ in, want string }{
		{`{"u":null,"e":"A","s":1,"l":[1,2]}`, `{"l":[1.0,2.0],"s":1,"u":null,"e":"A","n":"new"}`},
		{`{"u":5,"e":"Z","s":-1,"l":[]}`, `{"l":[],"s":-1,"u":5,"e":"C","n":"new"}`},
		{`{"u":"x","e":"B","s":0,"l":[3]}`, `{"l":[3.0],"s":0,"u":"x","e":"B","n":"new"}`},
	} {
		b, err := avrox.FromJSON(w, []byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		out, _, err := z.Append(nil, b)
		if err != nil {
			t.Fatal(err)
		}
		j, _, err := avrox.ToJSON(r, out)
		if err != nil || string(j) != tc.want {
			t.Errorf("resolve %s = %s, %v; want %s", tc.in, j, err, tc.want)
		}
	}
	bad := avro.MustParse(`{"type":"record","name":"r","fields":[{"name":"s","type":"boolean"},{"name":"x","type":"int"}]}`)
	if _, err := avrox.NewResolver(w, bad); !errors.Is(err, avrox.ErrSchema) || !strings.Contains(err.Error(), `field "s"`) {
		t.Fatalf("incompatible: %v", err)
	}
	noDefault := avro.MustParse(`{"type":"record","name":"r","fields":[{"name":"x","type":"int"}]}`)
	if _, err := avrox.NewResolver(w, noDefault); !errors.Is(err, avrox.ErrSchema) || !strings.Contains(err.Error(), `field "x"`) {
		t.Fatalf("new field without default: %v", err)
	}
}

func TestSuperset(t *testing.T) {
	a := avro.MustParse(`{"type":"record","name":"V","namespace":"n","fields":[
		{"name":"id","type":"long","default":0},
		{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string","default":""}]},"default":{}},
		{"name":"kind","type":{"type":"enum","name":"K","symbols":["X","Y"]},"default":"X"}]}`).(*avro.RecordSchema)
	b := avro.MustParse(`{"type":"record","name":"V","namespace":"n","fields":[
		{"name":"id","type":"long","default":0},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
		{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string","default":""},{"name":"zip","type":"string","default":"00000"}]},"default":{}},
		{"name":"kind2","type":"n.K","default":"Y"},
		{"name":"kind","type":{"type":"enum","name":"K2","symbols":["X"]},"default":"X"}]}`).(*avro.RecordSchema)
	if _, err := avrox.Superset(a, b); err == nil || !strings.Contains(err.Error(), `field "kind"`) {
		t.Fatalf("conflicting field types accepted: %v", err)
	}
	bjs := `{"type":"record","name":"V","namespace":"n","fields":[
		{"name":"id","type":"long","default":0},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
		{"name":"addr","type":{"type":"record","name":"Addr","fields":[{"name":"city","type":"string","default":""},{"name":"zip","type":"string","default":"00000"}]},"default":{}},
		{"name":"kind","type":{"type":"enum","name":"K","symbols":["X","Y"]},"default":"X"},
		{"name":"kind2","type":"n.K","default":"Y"}]}`
	b = avro.MustParse(bjs).(*avro.RecordSchema)
	sup, err := avrox.Superset(a, b)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range sup.Fields() {
		names = append(names, f.Name())
	}
	if got := strings.Join(names, ","); got != "id,addr,kind,tags,kind2" {
		t.Fatalf("superset fields %s", got)
	}
	for _, src := range []struct {
		s  avro.Schema
		js string
	}{{a, `{"id":1,"addr":{"city":"x"},"kind":"Y"}`}, {b, `{"id":2,"tags":["t"],"addr":{"city":"y","zip":"1"},"kind":"X","kind2":"X"}`}} {
		z, err := avrox.NewResolver(src.s, sup)
		if err != nil {
			t.Fatal(err)
		}
		v, _ := avrox.FromJSON(src.s, []byte(src.js))
		out, _, err := z.Append(nil, v)
		if err != nil {
			t.Fatal(err)
		}
		j, _, _ := avrox.ToJSON(sup, out)
		t.Logf("%s -> %s", src.js, j)
	}
	js, err := avrox.SchemaJSON(sup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := avro.Parse(string(js)); err != nil {
		t.Fatalf("superset JSON does not parse: %v\n%s", err, js)
	}
}
