package partialupdate_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// TestDataDriven runs the scripts under testdata/rules/. Commands:
//
//	schema [name=N]          input: value schema JSON (default name "v")
//	derive [name=N]          prints the derived update schema, or the error
//	store [schema=N]         input: value JSON; becomes the stored value
//	store missing            the key has no value
//	update [schema=N]        input: update JSON; applies it to the stored
//	                         value (with an Applier whose target is N when
//	                         the stored value has another schema) and prints
//	                         the new value, which becomes the stored value
//	                         (target=T: apply with an Applier writing T)
//	update-hex [schema=N]    input: update bytes in hex
//	stored-hex               input: stored value bytes in hex (corrupt cases)
//	coalesce [schema=N]      input: two update JSON lines; prints the
//	                         coalesced update and checks it against applying
//	                         both to the stored value
//
// Every update is also encoded, decoded and rendered back to JSON to check
// the round trips, and a failing apply must leave the stored bytes as they
// were.
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/rules", func(t *testing.T, path string) {
		h := &harness{schemas: map[string]*partialupdate.Schema{}, raw: map[string]avro.Schema{}}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

type harness struct {
	schemas     map[string]*partialupdate.Schema
	raw         map[string]avro.Schema
	stored      []byte
	storedIn    string
	missing     bool
	lastApplied string
}

func (h *harness) arg(d *datadriven.TestData, key, def string) string {
	if a, ok := d.Arg(key); ok && len(a.Vals) > 0 {
		return a.Vals[0]
	}
	return def
}

func errOut(err error) string {
	return "error: " + err.Error() + "\n"
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	name := h.arg(d, "name", h.arg(d, "schema", "v"))
	switch d.Cmd {
	case "schema":
		s, err := avro.Parse(d.Input)
		if err != nil {
			return errOut(err)
		}
		h.raw[name] = s
		return "ok\n"
	case "derive":
		s, err := partialupdate.Derive(h.raw[name])
		if err != nil {
			return errOut(err)
		}
		h.schemas[name] = s
		if _, err := avro.Parse(s.UpdateJSON()); err != nil {
			t.Fatalf("derived schema does not parse: %v", err)
		}
		var out bytes.Buffer
		if err := json.Indent(&out, []byte(s.UpdateJSON()), "", "  "); err != nil {
			t.Fatal(err)
		}
		return out.String() + "\n"
	case "store":
		h.storedIn = name
		if d.HasArg("missing") {
			h.missing, h.stored = true, nil
			return "ok\n"
		}
		b, err := partialupdate.ValueFromJSON(h.schema(t, name).Value(), []byte(d.Input))
		if err != nil {
			return errOut(err)
		}
		h.missing, h.stored = false, b
		return h.render(t, name, b)
	case "stored-hex":
		b, err := hex.DecodeString(strings.Join(strings.Fields(d.Input), ""))
		if err != nil {
			t.Fatal(err)
		}
		h.storedIn, h.missing, h.stored = name, false, b
		return "ok\n"
	case "update", "update-hex":
		s := h.schema(t, name)
		var u *partialupdate.Update
		var err error
		if d.Cmd == "update" {
			u, err = partialupdate.ParseJSON(s, []byte(d.Input))
		} else {
			b, herr := hex.DecodeString(strings.Join(strings.Fields(d.Input), ""))
			if herr != nil {
				t.Fatal(herr)
			}
			u, err = partialupdate.Decode(s, b)
		}
		if err != nil {
			return errOut(err)
		}
		h.checkRoundTrips(t, u)
		target := h.arg(d, "target", name)
		out, err := h.applyIn(t, target, u)
		if err != nil {
			return errOut(err)
		}
		h.stored, h.storedIn, h.missing = out, target, false
		return h.render(t, target, out)
	case "coalesce":
		s := h.schema(t, name)
		lines := strings.Split(strings.TrimSpace(d.Input), "\n")
		if len(lines) != 2 {
			t.Fatalf("coalesce needs two update lines")
		}
		u1, err := partialupdate.ParseJSON(s, []byte(lines[0]))
		if err != nil {
			return errOut(err)
		}
		u2, err := partialupdate.ParseJSON(s, []byte(lines[1]))
		if err != nil {
			return errOut(err)
		}
		c, err := partialupdate.Coalesce(u1, u2)
		if err != nil {
			return errOut(err)
		}
		js, err := c.JSON()
		if err != nil {
			t.Fatal(err)
		}
		one, err := h.apply(t, name, c)
		if err != nil {
			t.Fatalf("coalesced apply: %v", err)
		}
		saved := h.stored
		mid, err := h.apply(t, name, u1)
		if err != nil {
			t.Fatal(err)
		}
		h.stored, h.missing = mid, false
		two, err := h.apply(t, name, u2)
		h.stored, h.missing = saved, saved == nil
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(one, two) {
			t.Fatalf("coalesce differs from applying both:\n%s\n%s", h.render(t, name, one), h.render(t, name, two))
		}
		return string(js) + "\n" + "on stored value: " + h.render(t, name, one)
	}
	t.Fatalf("unknown command %s", d.Cmd)
	return ""
}

func (h *harness) schema(t *testing.T, name string) *partialupdate.Schema {
	s, ok := h.schemas[name]
	if !ok {
		raw, ok := h.raw[name]
		if !ok {
			t.Fatalf("no schema %q", name)
		}
		var err error
		if s, err = partialupdate.Derive(raw); err != nil {
			t.Fatalf("derive %s: %v", name, err)
		}
		h.schemas[name] = s
	}
	return s
}

func (h *harness) render(t *testing.T, name string, b []byte) string {
	j, err := partialupdate.ValueToJSON(h.schema(t, name).Value(), b)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return string(j) + "\n"
}

// apply applies u to the stored value, through an Applier when the stored
// value has another schema, and checks the stored bytes are not modified.
func (h *harness) apply(t *testing.T, name string, u *partialupdate.Update) ([]byte, error) {
	return h.applyIn(t, name, u)
}

// applyIn applies u with target schema name (the result's schema).
func (h *harness) applyIn(t *testing.T, name string, u *partialupdate.Update) ([]byte, error) {
	keep := bytes.Clone(h.stored)
	defer func() {
		if !bytes.Equal(keep, h.stored) {
			t.Fatalf("apply modified the stored value")
		}
	}()
	same := u.Schema() == h.schema(t, name)
	if h.missing && same {
		return partialupdate.ApplyMissing(nil, u)
	}
	if same && (h.storedIn == name || h.storedIn == "") {
		return partialupdate.Apply(nil, u, h.stored)
	}
	a, err := partialupdate.NewApplier(h.schema(t, name).Value())
	if err != nil {
		return nil, err
	}
	if h.missing {
		return a.ApplyMissing(nil, u)
	}
	return a.Apply(nil, u, h.stored, h.schema(t, h.storedIn).Value())
}

func (h *harness) checkRoundTrips(t *testing.T, u *partialupdate.Update) {
	b, err := u.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := avroValidate(u.Schema().Update(), b); err != nil {
		t.Fatalf("update bytes do not match the update schema: %v", err)
	}
	d, err := partialupdate.Decode(u.Schema(), b)
	if err != nil {
		t.Fatalf("decode of encoded update: %v", err)
	}
	b2, _ := d.Encode()
	if !bytes.Equal(b, b2) {
		t.Fatalf("encode/decode not inverse")
	}
	js, err := u.JSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := partialupdate.ParseJSON(u.Schema(), js)
	if err != nil {
		t.Fatalf("JSON %s does not parse back: %v", js, err)
	}
	b3, _ := back.Encode()
	if !bytes.Equal(b, b3) {
		t.Fatalf("JSON round trip changed the update: %s", js)
	}
}

// avroValidate decodes b with hamba as an independent check of the bytes,
// and checks with avrox that they are exactly one update record.
func avroValidate(s avro.Schema, b []byte) error {
	var v any
	if err := avro.Unmarshal(s, b, &v); err != nil {
		return err
	}
	return avrox.Validate(s, b)
}
