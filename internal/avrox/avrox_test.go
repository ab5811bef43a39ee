package avrox_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/avrox/avroxtest"
)

// seed returns a fresh seed and logs it so a failure can be reproduced.
func seed(t *testing.T) uint64 {
	s := uint64(time.Now().UnixNano())
	t.Logf("seed %d", s)
	return s
}

func decodeGeneric(t *testing.T, s avro.Schema, b []byte) any {
	t.Helper()
	r := avro.NewReader(bytes.NewReader(b), len(b)+1)
	v := r.ReadNext(s)
	if r.Error != nil {
		t.Fatalf("hamba cannot decode: %v", r.Error)
	}
	return v
}

func TestSkipMatchesHambaOnRandomValues(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 1))
	for i := 0; i < 300; i++ {
		s, js := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{})
		b := avroxtest.Value(rng, s, avroxtest.ValueOpts{Blocks: true})
		n, err := avrox.Skip(s, b)
		if err != nil || n != len(b) {
			t.Fatalf("Skip = %d, %v; want %d\nschema %s\nvalue %x", n, err, len(b), js, b)
		}
		if err := avrox.Validate(s, b); err != nil {
			t.Fatal(err)
		}
		decodeGeneric(t, s, b)
		spans, n, err := avrox.RecordSpans(s, b, nil)
		if err != nil || n != len(b) || len(spans) != len(s.Fields()) {
			t.Fatalf("RecordSpans: %v %d %d", err, n, len(spans))
		}
		for j, sp := range spans {
			if m, err := avrox.Skip(s.Fields()[j].Type(), b[sp.Start:]); err != nil || m != sp.End-sp.Start {
				t.Fatalf("span %d wrong", j)
			}
		}
		// Every strict prefix is truncated, and trailing bytes are rejected.
		for cut := 0; cut < len(b); cut++ {
			if _, err := avrox.Skip(s, b[:cut]); err == nil {
				t.Fatalf("prefix %d of %d accepted\nschema %s\nvalue %x", cut, len(b), js, b)
			}
		}
		if err := avrox.Validate(s, append(slices.Clip(b), 0)); err == nil && len(b) >= 0 {
			t.Fatalf("trailing byte accepted")
		}
	}
}

// refCompare is the reference order over hamba's generic values.
func refCompare(s avro.Schema, x, y any) int {
	s = avrox.Deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return 0
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Null:
			return 0
		case avro.Boolean:
			a, b := x.(bool), y.(bool)
			switch {
			case a == b:
				return 0
			case !a:
				return -1
			}
			return 1
		case avro.Int:
			return cmpOrdered(x.(int), y.(int))
		case avro.Long:
			return cmpOrdered(x.(int64), y.(int64))
		case avro.Float:
			return refFloat(float64(x.(float32)), float64(y.(float32)))
		case avro.Double:
			return refFloat(x.(float64), y.(float64))
		case avro.String:
			return strings.Compare(x.(string), y.(string))
		case avro.Bytes:
			return bytes.Compare(x.([]byte), y.([]byte))
		}
	case *avro.EnumSchema:
		return cmpOrdered(slices.Index(s.Symbols(), x.(string)), slices.Index(s.Symbols(), y.(string)))
	case *avro.FixedSchema:
		return bytes.Compare(fixedBytes(x), fixedBytes(y))
	case *avro.RecordSchema:
		a, b := x.(map[string]any), y.(map[string]any)
		for _, f := range s.Fields() {
			if f.Order() == avro.Ignore {
				continue
			}
			c := refCompare(f.Type(), a[f.Name()], b[f.Name()])
			if f.Order() == avro.Desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	case *avro.ArraySchema:
		a, b := x.([]any), y.([]any)
		for i := 0; i < len(a) && i < len(b); i++ {
			if c := refCompare(s.Items(), a[i], b[i]); c != 0 {
				return c
			}
		}
		return cmpOrdered(len(a), len(b))
	case *avro.MapSchema:
		a, b := x.(map[string]any), y.(map[string]any)
		if len(a) != len(b) {
			return cmpOrdered(len(a), len(b))
		}
		// The generator writes keys sorted, so stored order is key order.
		ka, kb := sortedKeys(a), sortedKeys(b)
		for i := range ka {
			if c := strings.Compare(ka[i], kb[i]); c != 0 {
				return c
			}
			if c := refCompare(s.Values(), a[ka[i]], b[kb[i]]); c != 0 {
				return c
			}
		}
		return 0
	case *avro.UnionSchema:
		ia, va := unionBranch(s, x)
		ib, vb := unionBranch(s, y)
		if ia != ib {
			return cmpOrdered(ia, ib)
		}
		return refCompare(s.Types()[ia], va, vb)
	}
	panic("refCompare: unknown schema " + s.String())
}

func unionBranch(s *avro.UnionSchema, v any) (int, any) {
	if v == nil {
		for i, t := range s.Types() {
			if t.Type() == avro.Null {
				return i, nil
			}
		}
		panic("nil without null branch")
	}
	for k, val := range v.(map[string]any) {
		_, i := s.Types().Get(k)
		if i < 0 {
			panic("unknown branch " + k)
		}
		return i, val
	}
	panic("empty union map")
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func fixedBytes(v any) []byte {
	rv := reflect.ValueOf(v)
	out := make([]byte, rv.Len())
	reflect.Copy(reflect.ValueOf(out), rv)
	return out
}

func cmpOrdered[T int | int64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// refFloat: NaN largest and equal to itself, -0 below +0, else numeric.
func refFloat(x, y float64) int {
	nx, ny := math.IsNaN(x), math.IsNaN(y)
	switch {
	case nx && ny:
		return 0
	case nx:
		return 1
	case ny:
		return -1
	case x < y:
		return -1
	case x > y:
		return 1
	}
	sx, sy := math.Signbit(x), math.Signbit(y)
	switch {
	case sx == sy:
		return 0
	case sx:
		return -1
	}
	return 1
}

func TestCompareMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 2))
	counts := [3]int{}
	for i := 0; i < 400; i++ {
		s, js := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{OrderProps: true})
		for j := 0; j < 10; j++ {
			a := avroxtest.Value(rng, s, avroxtest.ValueOpts{Blocks: true, MaxItems: 2})
			b := avroxtest.Value(rng, s, avroxtest.ValueOpts{Blocks: true, MaxItems: 2})
			if j%3 == 0 {
				b = a
			}
			want := refCompare(s, decodeGeneric(t, s, a), decodeGeneric(t, s, b))
			got, err := avrox.Compare(s, a, b)
			if err != nil || got != want {
				t.Fatalf("Compare = %d, %v; reference %d\nschema %s\na %x\nb %x", got, err, want, js, a, b)
			}
			back, err := avrox.Compare(s, b, a)
			if err != nil || back != -got {
				t.Fatalf("Compare not antisymmetric: %d vs %d", got, back)
			}
			eq, err := avrox.Equal(s, a, b)
			if err != nil || eq != (want == 0) {
				t.Fatalf("Equal = %v, %v; want %v", eq, err, want == 0)
			}
			counts[got+1]++
		}
	}
	t.Logf("less/equal/greater: %v", counts)
}

func TestCanonicalBytesMeansByteEquality(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 3))
	checked := 0
	for i := 0; i < 300; i++ {
		s, _ := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{NoFloats: true, OrderProps: true})
		if !avrox.CanonicalBytes(s) {
			continue
		}
		for j := 0; j < 10; j++ {
			a := avroxtest.Value(rng, s, avroxtest.ValueOpts{})
			b := avroxtest.Value(rng, s, avroxtest.ValueOpts{})
			eq, err := avrox.Equal(s, a, b)
			if err != nil || eq != bytes.Equal(a, b) {
				t.Fatalf("CanonicalBytes schema %s: Equal %v, bytes equal %v", s, eq, bytes.Equal(a, b))
			}
			checked++
		}
	}
	t.Logf("checked %d pairs", checked)
}

func TestJSONRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(seed(t), 4))
	for i := 0; i < 300; i++ {
		s, js := avroxtest.RecordSchema(rng, avroxtest.SchemaOpts{})
		b := avroxtest.Value(rng, s, avroxtest.ValueOpts{})
		j, n, err := avrox.ToJSON(s, b)
		if err != nil || n != len(b) {
			t.Fatalf("ToJSON: %v", err)
		}
		back, err := avrox.FromJSON(s, j)
		if err != nil {
			t.Fatalf("FromJSON(%s): %v\nschema %s", j, err, js)
		}
		// Unions of e.g. string and bytes may read back another branch, so
		// compare the rendered JSON, which must be a fixed point.
		j2, _, err := avrox.ToJSON(s, back)
		if err != nil || !bytes.Equal(j, j2) {
			t.Fatalf("JSON not a fixed point:\n%s\n%s\nschema %s", j, j2, js)
		}
	}
}

func TestFromJSONErrorsNameTheField(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"r","fields":[
		{"name":"a","type":"int"},
		{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
		{"name":"m","type":{"type":"map","values":"long"},"default":{}},
		{"name":"u","type":["null","string"],"default":null}]}`)
	for _, tc := range []struct{ in, want string }{
		{`{"a":1,"zz":2}`, `field "zz"`},
		{`{"a":"x"}`, `field "a"`},
		{`{"a":1,"tags":[1]}`, `field "tags": item 0`},
		{`{"a":1,"m":{"k":"v"}}`, `field "m": key "k"`},
		{`{"a":1,"u":3}`, `field "u"`},
		{`{"tags":[]}`, `field "a": missing`},
		{`{"a":4294967296}`, `overflows int`},
		{`{"a":1}x`, `trailing`},
		{`{"a":1,"a":2}`, `duplicate`},
	} {
		_, err := avrox.FromJSON(s, []byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, avrox.ErrValue) {
			t.Errorf("FromJSON(%s) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
	b, err := avrox.FromJSON(s, []byte(`{"a":-1,"m":{"z":1,"a":2},"u":"x"}`))
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := avrox.ToJSON(s, b)
	if string(j) != `{"a":-1,"tags":[],"m":{"z":1,"a":2},"u":"x"}` {
		t.Fatalf("got %s", j)
	}
}

func TestAppendGo(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"r","fields":[
		{"name":"a","type":"int","default":0},
		{"name":"b","type":"bytes","default":"\u00ff"},
		{"name":"f","type":{"type":"fixed","name":"F","size":2},"default":"ab"},
		{"name":"m","type":{"type":"map","values":"double"},"default":{"y":1,"x":2}},
		{"name":"u","type":["null","long","string"],"default":null}]}`)
	b, err := avrox.AppendGo(nil, s, map[string]any{"u": "x", "m": map[string]float64{"b": 1, "a": 2}})
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ := avrox.ToJSON(s, b)
	if got := string(j); got != `{"a":0,"b":"ÿ","f":"ab","m":{"a":2.0,"b":1.0},"u":"x"}` {
		t.Fatalf("got %s", got)
	}
	d, err := avrox.AppendDefaultRecord(nil, s.(*avro.RecordSchema))
	if err != nil {
		t.Fatal(err)
	}
	j, _, _ = avrox.ToJSON(s, d)
	if got := string(j); got != `{"a":0,"b":"ÿ","f":"ab","m":{"x":2.0,"y":1.0},"u":null}` {
		t.Fatalf("defaults: got %s", got)
	}
	for _, v := range []map[string]any{{"a": "x"}, {"a": int64(1) << 40}, {"b": "str"}, {"f": []byte("abc")}, {"u": 1.5}, {"nope": 1}} {
		if _, err := avrox.AppendGo(nil, s, v); err == nil {
			t.Errorf("AppendGo(%v) accepted", v)
		}
	}
}

func TestMalformedInputs(t *testing.T) {
	arr := avro.MustParse(`{"type":"array","items":"null"}`)
	long := avro.MustParse(`"long"`)
	str := avro.MustParse(`"string"`)
	mp := avro.MustParse(`{"type":"map","values":"int"}`)
	for _, tc := range []struct {
		s    avro.Schema
		b    []byte
		want error
	}{
		{long, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, avrox.ErrCorrupt},
		{long, []byte{0x80}, avrox.ErrTruncated},
		{str, []byte{0x01}, avrox.ErrCorrupt},        // negative length
		{str, []byte{0x10, 'a'}, avrox.ErrTruncated}, // length past the end
		{arr, avrox.AppendLong(nil, math.MaxInt64), avrox.ErrLimit},
		{arr, avrox.AppendLong(nil, math.MinInt64), avrox.ErrLimit},
		{mp, append(avrox.AppendLong(avrox.AppendLong(nil, -1), 2), 2, 'k', 2, 0), avrox.ErrCorrupt}, // block size mismatch
		{mp, append(avrox.AppendLong(avrox.AppendLong(nil, -1), 50), 2, 'k', 2, 0), avrox.ErrTruncated},
	} {
		_, err := avrox.Skip(tc.s, tc.b)
		if !errors.Is(err, tc.want) {
			t.Errorf("Skip(%s, %x) = %v, want %v", tc.s, tc.b, err, tc.want)
		}
		_, err = avrox.Compare(tc.s, tc.b, tc.b)
		if err == nil {
			t.Errorf("Compare(%s, %x) accepted", tc.s, tc.b)
		}
	}
	// Nesting past MaxDepth fails instead of recursing forever.
	rec := avro.MustParse(`{"type":"record","name":"N","fields":[{"name":"next","type":["null","N"]}]}`)
	deep := bytes.Repeat([]byte{2}, avrox.MaxDepth+10)
	if _, err := avrox.Skip(rec, append(deep, 0)); !errors.Is(err, avrox.ErrLimit) {
		t.Fatalf("deep value: %v", err)
	}
	if _, err := avrox.Skip(rec, append(bytes.Repeat([]byte{2}, 20), 0)); err != nil {
		t.Fatalf("shallow value: %v", err)
	}
}

func TestCollections(t *testing.T) {
	items := avro.MustParse(`"string"`)
	// Two blocks, one with a byte size.
	b := avrox.AppendLong(nil, 1)
	b = avrox.AppendString(b, "x")
	b = avrox.AppendLong(b, -2)
	b = avrox.AppendLong(b, 4)
	b = avrox.AppendString(b, "y")
	b = avrox.AppendString(b, "z")
	b = append(b, 0)
	got, n, err := avrox.ArrayItems(items, b, nil)
	if err != nil || n != len(b) || len(got) != 3 || string(got[2]) != "\x02z" {
		t.Fatalf("ArrayItems = %q %d %v", got, n, err)
	}
	canon := avrox.AppendArray(nil, got)
	arr := avro.NewArraySchema(items)
	if eq, err := avrox.Equal(arr, b, canon); !eq || err != nil {
		t.Fatalf("re-encoded array differs: %v", err)
	}
	m := avro.MustParse(`{"type":"map","values":"int"}`)
	mb := avrox.AppendMap(nil, []avrox.Entry{{Key: []byte("k"), Value: avrox.AppendLong(nil, 7)}, {Key: []byte("a"), Value: avrox.AppendLong(nil, 1)}})
	es, n, err := avrox.MapEntries(m.(*avro.MapSchema).Values(), mb, nil)
	if err != nil || n != len(mb) || len(es) != 2 || string(es[0].Key) != "k" {
		t.Fatalf("MapEntries = %v %d %v", es, n, err)
	}
	j, _, _ := avrox.ToJSON(m, mb)
	if string(j) != `{"k":7,"a":1}` {
		t.Fatalf("map order lost: %s", j)
	}
}

// TestFloatEdgesFromJSON: the shortest text of ±MaxFloat32 reads back as
// exactly ±MaxFloat32 (it is a hair above it as a float64), while a value
// that rounds to infinity overflows. Found by FuzzUpdateDecodeApply.
func TestFloatEdgesFromJSON(t *testing.T) {
	s := avro.MustParse(`{"type":"record","name":"r","fields":[{"name":"x","type":"float"}]}`)
	for _, text := range []string{"3.4028235e+38", "-3.4028235e+38"} {
		b, err := avrox.FromJSON(s, []byte(`{"x":`+text+`}`))
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if got := math.Float32frombits(binary.LittleEndian.Uint32(b)); math.Abs(float64(got)) != math.MaxFloat32 {
			t.Fatalf("%s read as %g", text, got)
		}
	}
	if _, err := avrox.FromJSON(s, []byte(`{"x":3.5e38}`)); err == nil || !strings.Contains(err.Error(), "overflows float") {
		t.Fatalf("3.5e38: %v, want an overflow error", err)
	}
}
