package conflict_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// TestDataDriven runs the scripts under testdata/rules. Commands:
//
//	schema id=N [superset]   input: value schema JSON; registers it (superset:
//	                         it is the registry's superset; the first schema is
//	                         the superset until another says so)
//	mode value|field         the resolver's RMD form (default field)
//	state missing            the key has no value and no RMD
//	state schema=N [ts=T] [tombstone]
//	                         input: value JSON (none for a tombstone); no ts:
//	                         no RMD (batch data); ts=T: value-level RMD T
//	put schema=N ts=T region=R       input: value JSON
//	delete ts=T region=R
//	update schema=N ts=T region=R    input: update JSON (partialupdate form)
//	explain [json]           the explanation of the stored state
//	rmd-schema id=N          the derived RMD schema
//
// put/delete/update print "applied" or "ignored", then the stored state
// (value JSON or "tombstone", schema id and RMD, readable); an applied result
// becomes the stored state. Every operation is also resolved a second time
// against its own result, which must be ignored (idempotence), and twice
// against the input, which must give the same bytes (purity).
func TestDataDriven(t *testing.T) {
	datadriven.Walk(t, "testdata/rules", func(t *testing.T, path string) {
		h := &harness{reg: &conflict.StaticRegistry{Schemas: map[int32]avro.Schema{}}, mode: conflict.FieldLevel, superset: -1}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			out, err := h.run(t, d)
			if err != nil {
				return "error: " + err.Error() + "\n"
			}
			return out
		})
	})
}

type harness struct {
	reg      *conflict.StaticRegistry
	superset int32
	mode     conflict.Mode
	res      *conflict.Resolver
	st       conflict.State
}

func intArg(t *testing.T, d *datadriven.TestData, key string, def int64) int64 {
	a, ok := d.Arg(key)
	if !ok || len(a.Vals) == 0 {
		return def
	}
	v, err := strconv.ParseInt(a.Vals[0], 10, 64)
	if err != nil {
		t.Fatalf("%s: bad %s: %v", d.Pos, key, err)
	}
	return v
}

func (h *harness) resolver(t *testing.T) *conflict.Resolver {
	if h.res == nil {
		r, err := conflict.New(h.reg, h.mode)
		if err != nil {
			t.Fatal(err)
		}
		h.res = r
	}
	return h.res
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) (string, error) {
	switch d.Cmd {
	case "schema":
		s, err := avro.Parse(d.Input)
		if err != nil {
			return "", err
		}
		id := int32(intArg(t, d, "id", 1))
		h.reg.Schemas[id] = s
		if h.superset < 0 || d.HasArg("superset") {
			h.superset = id
		}
		h.reg.Superset = h.superset
		h.res = nil
		return "ok\n", nil
	case "mode":
		switch d.CmdArgs[0].Key {
		case "value":
			h.mode = conflict.ValueLevel
		case "field":
			h.mode = conflict.FieldLevel
		default:
			t.Fatalf("%s: mode value|field", d.Pos)
		}
		h.res = nil
		return "ok\n", nil
	case "state":
		if d.HasArg("missing") {
			h.st = conflict.State{}
			return h.render(t)
		}
		id := int32(intArg(t, d, "schema", int64(h.superset)))
		st := conflict.State{SchemaID: id, Tombstone: d.HasArg("tombstone")}
		if !st.Tombstone {
			v, err := avrox.FromJSON(h.reg.Schemas[id], []byte(d.Input))
			if err != nil {
				return "", err
			}
			st.Value = v
		}
		if d.HasArg("ts") {
			st.RMD = conflict.ValueLevelRMD(intArg(t, d, "ts", 0))
		}
		h.st = st
		return h.render(t)
	case "put", "delete", "update":
		op := conflict.Op{
			TS:       intArg(t, d, "ts", 0),
			Region:   int32(intArg(t, d, "region", 0)),
			SchemaID: int32(intArg(t, d, "schema", int64(h.superset))),
		}
		switch d.Cmd {
		case "put":
			op.Kind = conflict.Put
			v, err := avrox.FromJSON(h.reg.Schemas[op.SchemaID], []byte(d.Input))
			if err != nil {
				return "", err
			}
			op.Value = v
		case "delete":
			op.Kind = conflict.Delete
		case "update":
			op.Kind = conflict.Update
			us, err := h.resolver(t).UpdateSchema(op.SchemaID)
			if err != nil {
				return "", err
			}
			u, err := partialupdate.ParseJSON(us, []byte(d.Input))
			if err != nil {
				return "", err
			}
			if op.Value, err = u.Encode(); err != nil {
				return "", err
			}
		}
		r := h.resolver(t)
		res, err := r.Resolve(h.st, op)
		if err != nil {
			return "", err
		}
		again, err := r.Resolve(h.st, op)
		if err != nil || !sameResult(res, again) {
			t.Fatalf("%s: resolve is not deterministic: %v", d.Pos, err)
		}
		next := h.st
		if res.Applied {
			next = conflict.State{Value: res.Value, Tombstone: res.Tombstone, SchemaID: res.SchemaID, RMD: res.RMD}
		}
		twice, err := r.Resolve(next, op)
		if err != nil {
			t.Fatalf("%s: second application failed: %v", d.Pos, err)
		}
		if twice.Applied {
			t.Fatalf("%s: applying the operation twice changed the state again", d.Pos)
		}
		h.st = next
		out, err := h.render(t)
		if err != nil {
			return "", err
		}
		if res.Applied {
			return "applied\n" + out, nil
		}
		return "ignored\n" + out, nil
	case "explain":
		ex, err := h.resolver(t).Explain(h.st)
		if err != nil {
			return "", err
		}
		if d.HasArg("json") {
			b, err := json.MarshalIndent(ex, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			return string(b) + "\n", nil
		}
		return ex.Text(), nil
	case "rmd-schema":
		_, js, err := h.resolver(t).RMDSchema(int32(intArg(t, d, "id", int64(h.superset))))
		if err != nil {
			return "", err
		}
		var out bytes.Buffer
		if err := json.Indent(&out, []byte(js), "", "  "); err != nil {
			t.Fatal(err)
		}
		return out.String() + "\n", nil
	case "rmd-hex":
		return hex.EncodeToString(h.st.RMD) + "\n", nil
	}
	t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
	return "", nil
}

func sameResult(a, b conflict.Result) bool {
	return a.Applied == b.Applied && a.Tombstone == b.Tombstone && a.SchemaID == b.SchemaID &&
		bytes.Equal(a.Value, b.Value) && bytes.Equal(a.RMD, b.RMD) && (a.Value == nil) == (b.Value == nil)
}

// render prints the stored state: value, schema and a compact RMD.
func (h *harness) render(t *testing.T) (string, error) {
	ex, err := h.resolver(t).Explain(h.st)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	switch {
	case ex.Absent:
		b.WriteString("absent\n")
		return b.String(), nil
	case ex.Tombstone:
		fmt.Fprintf(&b, "tombstone (schema %d)\n", ex.SchemaID)
	default:
		js, _, err := avrox.ToJSON(h.reg.Schemas[h.st.SchemaID], h.st.Value)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "value (schema %d): %s\n", ex.SchemaID, js)
	}
	switch ex.Metadata {
	case conflict.MetadataNone:
		b.WriteString("rmd: none\n")
		return b.String(), nil
	case conflict.MetadataValueLevel:
		fmt.Fprintf(&b, "rmd: value-level ts=%d\n", *ex.TS)
		return b.String(), nil
	}
	b.WriteString("rmd: field-level\n")
	for _, f := range ex.Fields {
		if f.Kind == "scalar" {
			fmt.Fprintf(&b, "  %s: ts=%d\n", f.Name, f.TS)
			continue
		}
		region := "-1"
		if f.Region != nil {
			region = strconv.Itoa(int(*f.Region))
		}
		fmt.Fprintf(&b, "  %s: top=%d/r%s", f.Name, f.TS, region)
		var set, merged, removed []string
		for _, e := range f.Elements {
			if e.Source == "set" {
				set = append(set, elemStr(e, false))
			} else {
				merged = append(merged, elemStr(e, true))
			}
		}
		for _, e := range f.Tombstones {
			removed = append(removed, elemStr(e, true))
		}
		if len(merged) == 0 && len(removed) == 0 {
			b.WriteString(" put-only")
		}
		fmt.Fprintf(&b, " set=[%s]", strings.Join(set, " "))
		if len(merged) > 0 {
			fmt.Fprintf(&b, " merged=[%s]", strings.Join(merged, " "))
		}
		if len(removed) > 0 {
			fmt.Fprintf(&b, " removed=[%s]", strings.Join(removed, " "))
		}
		b.WriteByte('\n')
	}
	return b.String(), nil
}

func elemStr(e conflict.ElementExplanation, withTs bool) string {
	var s string
	switch {
	case e.Key != nil && e.Value != nil:
		s = *e.Key + ":" + string(e.Value)
	case e.Key != nil:
		s = *e.Key
	default:
		s = string(e.Value)
	}
	if withTs {
		s += "@" + strconv.FormatInt(e.TS, 10)
	}
	return s
}

// TestEveryRuleHasACase checks that each numbered rule of SEMANTICS §3–6
// is named by a "# rule:" line of some script under testdata/rules.
func TestEveryRuleHasACase(t *testing.T) {
	rules := []string{
		"§3 field-level", "§3 value-level", "§3 Converting value-level timestamp T to field-level", "§3 A key with no RMD at all",
		"§4 PUT with ts > T", "§4 PUT with ts < T", "§4 PUT with ts == T on a tombstone", "§4 PUT with ts == T: the larger serialized bytes",
		"§4 PUT with ts == T: equal bytes", "§4 DELETE with ts >= T", "§4 DELETE with ts < T", "§4 No RMD yet: PUT", "§4 No RMD yet: DELETE",
		"§5 PUT ignored outright", "§5 PUT value schemas may differ", "§5 PUT scalar F < ts", "§5 PUT scalar F > ts",
		"§5 PUT scalar F == ts: the larger value wins", "§5 PUT scalar F == ts: equal keeps the old", "§5 PUT collection field",
		"§5 PUT fields it lacks take their defaults",
		"§5 DELETE ignored outright", "§5 DELETE scalar", "§5 DELETE collection field", "§5 DELETE if every field ends fully deleted",
		"§5 UPDATE ignored outright", "§5 UPDATE the stored value is read in the superset schema", "§5 UPDATE a key with no RMD (never written)",
		"§5 UPDATE a key with no RMD (batch data)", "§5 UPDATE a tombstone starts from the defaults", "§5 UPDATE NoOp fields",
		"§5 UPDATE Set", "§5 UPDATE collection ops", "§5 UPDATE if nothing changed", "§5 UPDATE the result always leaves a live value",
		"§6 ignoring a whole-field operation: topTs > ts", "§6 ignoring a whole-field operation: topTs == ts and topRegion > region",
		"§6 ignoring a whole-field operation: equal region", "§6 merge ignored if ts <= topTs",
		"§6 whole-field set, step 1", "§6 whole-field set, step 2", "§6 whole-field set, step 3: keep elements",
		"§6 whole-field set, step 3: a null L", "§6 whole-field set, step 3: no value comparison",
		"§6 whole-field delete, step 1", "§6 whole-field delete, step 2", "§6 whole-field delete, step 3: drop",
		"§6 whole-field delete, step 3: if nothing was dropped", "§6 whole-field delete, step 3: if nothing remains",
		"§6 merge step 1: elements named in both", "§6 merge step 1: for maps", "§6 merge step 1: nothing left",
		"§6 merge step 2: add an element tombstoned at < ts", "§6 merge step 2: add an element tombstoned at >= ts",
		"§6 merge step 2: add an element in the put-only prefix", "§6 merge step 2: add an absent element",
		"§6 merge step 2: add an element active at < ts", "§6 merge step 2: add an element active at == ts",
		"§6 merge step 2: maps at == ts: a null current value", "§6 merge step 2: maps at == ts: a null new value",
		"§6 merge step 2: add an element active at > ts",
		"§6 merge step 3: remove an element tombstoned at < ts", "§6 merge step 3: remove an element tombstoned at >= ts",
		"§6 merge step 3: remove an element active at <= ts", "§6 merge step 3: remove an element active at > ts",
		"§6 merge step 3: remove an absent element", "§6 merge step 4", "§6 element identity",
	}
	var named []string
	ents, err := os.ReadDir("testdata/rules")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata/rules", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(line, "# rule: "); ok {
				named = append(named, s)
			}
		}
	}
	for _, r := range rules {
		found := false
		for _, n := range named {
			if strings.HasPrefix(n, r) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no case names rule %q", r)
		}
	}
}
