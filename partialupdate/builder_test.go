package partialupdate_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/partialupdate"
)

var userSchema = avro.MustParse(`{"type":"record","name":"User","fields":[
	{"name":"id","type":"long","default":0},
	{"name":"name","type":"string","default":""},
	{"name":"nick","type":["null","string"],"default":null},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"scores","type":["null",{"type":"map","values":"double"}],"default":null}]}`)

func TestBuilder(t *testing.T) {
	s, err := partialupdate.Derive(userSchema)
	if err != nil {
		t.Fatal(err)
	}
	u, err := partialupdate.NewBuilder(s).
		Set("name", "Ada").
		SetNull("nick").
		AddToList("tags", "go", "avro").
		RemoveFromList("tags", "java").
		PutEntry("scores", "q1", 7.5).
		PutEntries("scores", map[string]float64{"q3": 1, "q2": 2}).
		RemoveKeys("scores", "q0").
		Build()
	if err != nil {
		t.Fatal(err)
	}
	js, _ := u.JSON()
	want := `{"set":{"name":"Ada","nick":null},"add":{"tags":["go","avro"]},"remove":{"tags":["java"]},"put":{"scores":{"q1":7.5,"q2":2.0,"q3":1.0}},"removeKeys":{"scores":["q0"]}}`
	if string(js) != want {
		t.Fatalf("got  %s\nwant %s", js, want)
	}
	if got := strings.Join(u.Touched(), ","); got != "name,nick,tags,scores" {
		t.Fatalf("touched %s", got)
	}
	out, err := partialupdate.ApplyMissing(nil, u)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := partialupdate.ValueToJSON(userSchema, out)
	if string(j) != `{"id":0,"name":"Ada","nick":null,"tags":["go","avro"],"scores":{"q1":7.5,"q2":2.0,"q3":1.0}}` {
		t.Fatalf("applied: %s", j)
	}
	// The FieldUpdate view the conflict package consumes.
	f := u.Fields()[3]
	if f.Op != partialupdate.OpListOps || len(f.Add) != 2 || !bytes.Equal(f.Add[0], []byte{4, 'g', 'o'}) {
		t.Fatalf("tags field update %+v", f)
	}
}

func TestBuilderErrorsNameTheField(t *testing.T) {
	s, err := partialupdate.Derive(userSchema)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		build func(b *partialupdate.Builder) *partialupdate.Builder
		field string
		is    error
	}{
		{"unknown", func(b *partialupdate.Builder) *partialupdate.Builder { return b.Set("nope", 1) }, "nope", partialupdate.ErrUnknownField},
		{"wrong type", func(b *partialupdate.Builder) *partialupdate.Builder { return b.Set("id", "x") }, "id", partialupdate.ErrWrongType},
		{"wrong elem", func(b *partialupdate.Builder) *partialupdate.Builder { return b.AddToList("tags", 3) }, "tags", partialupdate.ErrWrongType},
		{"wrong map value", func(b *partialupdate.Builder) *partialupdate.Builder { return b.PutEntry("scores", "k", "v") }, "scores", partialupdate.ErrWrongType},
		{"not nullable", func(b *partialupdate.Builder) *partialupdate.Builder { return b.SetNull("name") }, "name", partialupdate.ErrNotNullable},
		{"set and merge", func(b *partialupdate.Builder) *partialupdate.Builder {
			return b.Set("tags", []string{"a"}).AddToList("tags", "b")
		}, "tags", partialupdate.ErrSetAndMerge},
		{"merge and set", func(b *partialupdate.Builder) *partialupdate.Builder {
			return b.RemoveKeys("scores", "a").Set("scores", nil)
		}, "scores", partialupdate.ErrSetAndMerge},
		{"set twice", func(b *partialupdate.Builder) *partialupdate.Builder { return b.Set("id", 1).Set("id", 2) }, "id", partialupdate.ErrSetAndMerge},
		{"list op on map", func(b *partialupdate.Builder) *partialupdate.Builder { return b.AddToList("scores", 1.0) }, "scores", partialupdate.ErrNotCollection},
		{"map op on scalar", func(b *partialupdate.Builder) *partialupdate.Builder { return b.RemoveKeys("name", "k") }, "name", partialupdate.ErrNotCollection},
		{"bad encoded", func(b *partialupdate.Builder) *partialupdate.Builder { return b.SetEncoded("name", []byte{9}) }, "name", partialupdate.ErrWrongType},
	} {
		_, err := tc.build(partialupdate.NewBuilder(s)).Build()
		var fe *partialupdate.FieldError
		if !errors.Is(err, tc.is) || !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: got %v, want %v on field %q", tc.name, err, tc.is, tc.field)
		}
	}
	if _, err := partialupdate.NewBuilder(s).Build(); !errors.Is(err, partialupdate.ErrEmptyUpdate) {
		t.Errorf("empty update: %v", err)
	}
}

// Bad stored bytes return an error naming the field and leave the input as
// it was, for every truncation of a valid value.
func TestApplyBadStoredValue(t *testing.T) {
	s, _ := partialupdate.Derive(userSchema)
	u, _ := partialupdate.NewBuilder(s).AddToList("tags", "x").Build()
	v, err := partialupdate.ValueFromJSON(userSchema, []byte(`{"id":5,"name":"n","tags":["a","b"],"scores":{"k":1}}`))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(v); cut++ {
		in := bytes.Clone(v[:cut])
		dst := []byte("keep")
		out, err := partialupdate.Apply(dst, u, in)
		if err == nil {
			t.Fatalf("truncated value (%d of %d bytes) accepted", cut, len(v))
		}
		if !strings.Contains(err.Error(), "field \"") {
			t.Errorf("error does not name the field: %v", err)
		}
		if !bytes.Equal(in, v[:cut]) || string(out) != "keep" {
			t.Fatal("failed apply changed its input or output")
		}
	}
}
