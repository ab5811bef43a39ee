package partialupdate_test

import (
	"bytes"
	"testing"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// FuzzParseJSON feeds arbitrary text to the JSON forms users write (the
// update JSON of `rialto write update` and the HTTP API, and full values):
// nothing panics; an accepted update encodes, decodes to the same bytes
// and renders a JSON form that parses again; an accepted value is valid
// Avro of the schema and renders back to JSON that reads to the same
// bytes.
func FuzzParseJSON(f *testing.F) {
	s, err := partialupdate.Derive(fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"set":{"id":3,"u":"x"},"add":{"tags":["a","b"]},"remove":{"tags":["c"]},"put":{"m":{"k":1}},"removeKeys":{"m":["q"]}}`))
	f.Add([]byte(`{"id":1,"tags":["c","d"],"people":[{"n":"p","x":1}],"m":{"q":2},"fx":"ab","e":"B"}`))
	f.Add([]byte(`{"set":{"u":{"double":1.5}}}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, data []byte) {
		if u, err := partialupdate.ParseJSON(s, data); err == nil {
			enc, err := u.Encode()
			if err != nil {
				t.Fatalf("accepted update %s does not encode: %v", data, err)
			}
			dec, err := partialupdate.Decode(s, enc)
			if err != nil {
				t.Fatalf("encoded update does not decode: %v", err)
			}
			if again, _ := dec.Encode(); !bytes.Equal(enc, again) {
				t.Fatalf("update %s: encode/decode/encode differs", data)
			}
			js, err := u.JSON()
			if err != nil {
				t.Fatalf("accepted update has no JSON form: %v", err)
			}
			if _, err := partialupdate.ParseJSON(s, js); err != nil {
				t.Fatalf("JSON form %s of %s does not parse: %v", js, data, err)
			}
		}
		v, err := partialupdate.ValueFromJSON(fuzzSchema, data)
		if err != nil {
			return
		}
		if err := avrox.Validate(fuzzSchema, v); err != nil {
			t.Fatalf("value %s became invalid Avro: %v", data, err)
		}
		js, err := partialupdate.ValueToJSON(fuzzSchema, v)
		if err != nil {
			t.Fatalf("value %s does not render: %v", data, err)
		}
		back, err := partialupdate.ValueFromJSON(fuzzSchema, js)
		if err != nil || !bytes.Equal(back, v) {
			t.Fatalf("value %s → %s does not read back the same: %v", data, js, err)
		}
	})
}
