package conflict

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// Metadata forms reported by Explain.
const (
	MetadataNone       = "none"        // no RMD: batch data (timestamps read as 0) or a missing key
	MetadataValueLevel = "value-level" // one timestamp for the value
	MetadataFieldLevel = "field-level" // per field and per element
)

// Explanation says, for a stored value, which timestamp (and, where the RMD
// records it, which region) decided each field and each collection
// element. It marshals to JSON as is.
//
// The RMD layout (SEMANTICS §3) records regions only for collections'
// whole-field operations (topRegion). Scalar fields, merged elements and
// tombstones carry no region: Region is nil for them ("region unknown"),
// never guessed.
type Explanation struct {
	SchemaID  int32              `json:"schemaId"`
	Absent    bool               `json:"absent,omitempty"`
	Tombstone bool               `json:"tombstone,omitempty"`
	Metadata  string             `json:"metadata"`
	TS        *int64             `json:"ts,omitempty"` // value-level: the value's timestamp
	Fields    []FieldExplanation `json:"fields,omitempty"`
}

// FieldExplanation is one top-level field.
type FieldExplanation struct {
	Name  string          `json:"name"`
	Kind  string          `json:"kind"` // scalar, list or map
	Value json.RawMessage `json:"value"`
	// TS is the field's timestamp: the last write that decided a scalar,
	// or a collection's last whole-field set or delete (topTs).
	TS int64 `json:"ts"`
	// Region is the region of a collection's last whole-field set or
	// delete (nil: unknown, e.g. batch data, or a scalar).
	Region *int32 `json:"region,omitempty"`
	// Elements lists a collection's elements in order, Tombstones its
	// removed elements.
	Elements   []ElementExplanation `json:"elements,omitempty"`
	Tombstones []ElementExplanation `json:"tombstones,omitempty"`
}

// ElementExplanation is one collection element or tombstone.
type ElementExplanation struct {
	Key   *string         `json:"key,omitempty"`   // map entries and map tombstones
	Value json.RawMessage `json:"value,omitempty"` // list items and map values
	TS    int64           `json:"ts"`
	// Source is "set" for elements of the put-only prefix (they came from
	// the last whole-field set and carry its timestamp and region),
	// "merge" for elements added by a merge, "remove" for tombstones.
	Source string `json:"source"`
	Region *int32 `json:"region,omitempty"`
}

// Explain describes a stored state. It reads the state in its own schema
// (no superset conversion) and never changes it.
func (r *Resolver) Explain(st State) (*Explanation, error) {
	ex := &Explanation{SchemaID: st.SchemaID, Tombstone: st.Tombstone}
	if st.Value == nil && !st.Tombstone && st.RMD == nil {
		ex.Absent, ex.Metadata = true, MetadataNone
		return ex, nil
	}
	si, err := r.c.info(st.SchemaID)
	if err != nil {
		return nil, err
	}
	if st.Value != nil {
		if err := avrox.Validate(si.value, st.Value); err != nil {
			return nil, wrapf(ErrCorrupt, err, "stored value (schema %d)", si.id)
		}
	}
	var T int64
	ex.Metadata = MetadataNone
	var fieldRMD []byte
	if st.RMD != nil {
		tag, n, err := avrox.ReadLong(st.RMD)
		if err != nil {
			return nil, wrapf(ErrCorrupt, err, "stored RMD")
		}
		switch tag {
		case valueLevelTag:
			t, m, err := avrox.ReadLong(st.RMD[n:])
			if err != nil || n+m != len(st.RMD) {
				return nil, errorf(ErrCorrupt, "stored value-level RMD")
			}
			T, ex.Metadata, ex.TS = t, MetadataValueLevel, &t
		case fieldLevelTag:
			if err := si.fieldLevel(); err != nil {
				return nil, err
			}
			ex.Metadata, fieldRMD = MetadataFieldLevel, st.RMD[n:]
		default:
			return nil, errorf(ErrCorrupt, "stored RMD: union branch %d", tag)
		}
	}
	if si.pu == nil {
		return ex, nil // not a record: nothing per field
	}
	val := st.Value
	if val == nil {
		val = si.pu.Defaults()
	}
	vsp, _, err := avrox.RecordSpans(si.rec, val, nil)
	if err != nil {
		return nil, wrapf(ErrCorrupt, err, "stored value")
	}
	var rsp []avrox.Span
	if fieldRMD != nil {
		var n int
		rsp, n, err = avrox.RecordSpans(si.rmdFields, fieldRMD, nil)
		if err != nil || n != len(fieldRMD) {
			return nil, errorf(ErrCorrupt, "stored RMD (schema %d)", si.id)
		}
	}
	for i := range si.fields {
		fi := &si.fields[i]
		v := val[vsp[i].Start:vsp[i].End]
		var fr []byte
		if fieldRMD != nil {
			fr = fieldRMD[rsp[i].Start:rsp[i].End]
		} else if fr, err = appendUniformFieldRMD(nil, fi, v, T); err != nil {
			return nil, err
		}
		fe, err := explainField(fi, v, fr)
		if err != nil {
			return nil, err
		}
		ex.Fields = append(ex.Fields, fe)
	}
	return ex, nil
}

func explainField(fi *partialupdate.Field, v, fr []byte) (FieldExplanation, error) {
	fe := FieldExplanation{Name: fi.Name, Kind: fi.Kind.String()}
	js, _, err := avrox.ToJSON(fi.Type, v)
	if err != nil {
		return fe, wrapf(ErrCorrupt, err, "field %q", fi.Name)
	}
	fe.Value = js
	if fi.Kind == partialupdate.Scalar {
		fe.TS, _, _ = avrox.ReadLong(fr)
		return fe, nil
	}
	c, err := decodeColl(fi, false, v, fr, new(scratch))
	if err != nil {
		return fe, wrapf(ErrCorrupt, err, "field %q", fi.Name)
	}
	fe.TS = c.topTs
	var region *int32
	if c.topRegion != noRegion {
		rg := c.topRegion
		region = &rg
	}
	fe.Region = region
	describe := func(e elem, src string, rg *int32, isTomb bool) (ElementExplanation, error) {
		ee := ElementExplanation{TS: e.ts, Source: src, Region: rg}
		if c.isMap {
			k := string(e.key)
			ee.Key = &k
			if isTomb {
				return ee, nil
			}
		}
		js, _, err := avrox.ToJSON(fi.Elem, e.val)
		if err != nil {
			return ee, wrapf(ErrCorrupt, err, "field %q", fi.Name)
		}
		ee.Value = js
		return ee, nil
	}
	for _, e := range c.prefix {
		e.ts = c.topTs
		ee, err := describe(e, "set", region, false)
		if err != nil {
			return fe, err
		}
		fe.Elements = append(fe.Elements, ee)
	}
	for _, e := range c.merge {
		ee, err := describe(e, "merge", nil, false)
		if err != nil {
			return fe, err
		}
		fe.Elements = append(fe.Elements, ee)
	}
	for _, e := range c.tombs {
		ee, err := describe(e, "remove", nil, true)
		if err != nil {
			return fe, err
		}
		fe.Tombstones = append(fe.Tombstones, ee)
	}
	return fe, nil
}

func regionText(r *int32) string {
	if r == nil {
		return "region unknown"
	}
	return fmt.Sprintf("region %d", *r)
}

// Text renders the explanation for people, one line per field and element.
func (ex *Explanation) Text() string {
	var b strings.Builder
	switch {
	case ex.Absent:
		b.WriteString("absent (no value, no metadata)\n")
		return b.String()
	case ex.Tombstone:
		fmt.Fprintf(&b, "tombstone, schema %d", ex.SchemaID)
	default:
		fmt.Fprintf(&b, "value, schema %d", ex.SchemaID)
	}
	switch ex.Metadata {
	case MetadataValueLevel:
		fmt.Fprintf(&b, ", value-level metadata: every field decided at ts %d, region unknown", *ex.TS)
	case MetadataNone:
		b.WriteString(", no metadata (batch data: every timestamp reads as 0)")
	default:
		b.WriteString(", field-level metadata")
	}
	b.WriteByte('\n')
	if ex.Tombstone {
		b.WriteString("fields hold their defaults; timestamps kept so older writes stay ignored:\n")
	}
	for _, f := range ex.Fields {
		if f.Kind == "scalar" {
			fmt.Fprintf(&b, "  %s = %s  (ts %d, region unknown)\n", f.Name, f.Value, f.TS)
			continue
		}
		fmt.Fprintf(&b, "  %s = %s  (%s; last whole-field set/delete ts %d, %s)\n", f.Name, f.Value, f.Kind, f.TS, regionText(f.Region))
		for _, e := range f.Elements {
			how := "merged"
			if e.Source == "set" {
				how = "from that set"
			}
			fmt.Fprintf(&b, "    %s  ts %d, %s, %s\n", elemText(e), e.TS, how, regionText(e.Region))
		}
		for _, e := range f.Tombstones {
			fmt.Fprintf(&b, "    removed %s  ts %d, %s\n", elemText(e), e.TS, regionText(e.Region))
		}
	}
	return b.String()
}

func elemText(e ElementExplanation) string {
	switch {
	case e.Key != nil && e.Value != nil:
		k, _ := json.Marshal(*e.Key)
		return string(k) + ": " + string(e.Value)
	case e.Key != nil:
		k, _ := json.Marshal(*e.Key)
		return string(k)
	}
	return string(e.Value)
}
