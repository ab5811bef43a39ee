package partialupdate_test

import (
	"bytes"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

var fuzzSchema = avro.MustParse(`{"type":"record","name":"F","fields":[
	{"name":"id","type":"long","default":0},
	{"name":"u","type":["null","string","double"],"default":null},
	{"name":"e","type":{"type":"enum","name":"E","symbols":["A","B"]},"default":"A"},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"people","type":["null",{"type":"array","items":{"type":"record","name":"P","fields":[
		{"name":"n","type":"string","default":""},{"name":"x","type":"float","default":0,"order":"ignore"}]}}],"default":null},
	{"name":"m","type":["null",{"type":"map","values":["null","long"]}],"default":null},
	{"name":"fx","type":{"type":"fixed","name":"X","size":2},"default":"ab"}]}`)

// FuzzUpdateDecodeApply decodes arbitrary update bytes and applies them to
// arbitrary stored bytes: nothing panics, inputs are never modified, a
// successful apply writes a valid value, and apply/coalesce/JSON agree.
func FuzzUpdateDecodeApply(f *testing.F) {
	s, err := partialupdate.Derive(fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	seedU, _ := partialupdate.ParseJSON(s, []byte(`{"set":{"id":3,"u":"x"},"add":{"tags":["a","b"],"people":[{"n":"p"}]},"remove":{"tags":["c"]},"put":{"m":{"k":1,"z":null}},"removeKeys":{"m":["q"]}}`))
	ub, _ := seedU.Encode()
	stored, _ := partialupdate.ValueFromJSON(fuzzSchema, []byte(`{"id":1,"tags":["c","d"],"people":[{"n":"p","x":1}],"m":{"q":2}}`))
	f.Add(ub, stored)
	f.Add([]byte{2, 6, 0, 0, 0, 0, 0, 0}, s.Defaults())
	f.Add([]byte{0, 0, 0, 2, 2, 2, 'a', 0, 2, 2, 'b', 0, 0, 0, 0}, stored)
	f.Fuzz(func(t *testing.T, ubytes, stored []byte) {
		keepU, keepS := bytes.Clone(ubytes), bytes.Clone(stored)
		defer func() {
			if !bytes.Equal(keepU, ubytes) || !bytes.Equal(keepS, stored) {
				t.Fatal("input modified")
			}
		}()
		u, err := partialupdate.Decode(s, ubytes)
		if err != nil {
			return
		}
		out, err := partialupdate.Apply([]byte("x"), u, stored)
		if err == nil {
			if err := avrox.Validate(fuzzSchema, out[1:]); err != nil {
				t.Fatalf("apply wrote an invalid value: %v", err)
			}
			again, err := partialupdate.Apply(nil, u, out[1:])
			if err != nil {
				t.Fatalf("apply to its own output: %v", err)
			}
			twice, err := partialupdate.Apply(nil, u, again)
			if err != nil || !bytes.Equal(again, twice) {
				t.Fatalf("apply not idempotent: %v", err)
			}
		} else if string(out) != "x" {
			t.Fatal("failed apply changed dst")
		}
		if _, err := partialupdate.ApplyMissing(nil, u); err != nil {
			t.Fatalf("apply to defaults: %v", err)
		}
		if c, err := partialupdate.Coalesce(u, u); err == nil {
			one, err1 := partialupdate.ApplyMissing(nil, c)
			mid, _ := partialupdate.ApplyMissing(nil, u)
			two, err2 := partialupdate.Apply(nil, u, mid)
			if err1 != nil || err2 != nil || !bytes.Equal(one, two) {
				t.Fatalf("coalesce(u, u) differs: %v %v", err1, err2)
			}
		}
		if js, err := u.JSON(); err == nil {
			if _, err := partialupdate.ParseJSON(s, js); err != nil {
				t.Fatalf("JSON form %s does not parse: %v", js, err)
			}
		}
	})
}
