package avrox

import (
	"github.com/hamba/avro/v2"
)

// Superset returns the record schema holding every field of a and b: a's
// fields in a's order, then b's fields that a lacks, in b's order. A field
// present in both must have the same encoding in both, or be a record in
// both (merged recursively); otherwise Superset fails with ErrSchema naming
// the field. Values of a and of b can both be resolved into the superset
// when every field that is new relative to the writer has a default.
// The result is parsed from JSON, so it is a complete, valid schema.
func Superset(a, b *avro.RecordSchema) (*avro.RecordSchema, error) {
	w := NewSchemaWriter()
	js, err := supersetJSON(w, a, b, nil)
	if err != nil {
		return nil, topError(err)
	}
	s, err := avro.Parse(string(js))
	if err != nil {
		return nil, topError(schemaErr("superset does not parse: %v", err))
	}
	return s.(*avro.RecordSchema), nil
}

func supersetJSON(w *SchemaWriter, a, b *avro.RecordSchema, dst []byte) ([]byte, error) {
	if w.Defined(a.FullName()) {
		return appendJSONString(dst, a.FullName()), nil
	}
	w.Define(a.FullName())
	typ := "record"
	if a.IsError() {
		typ = "error"
	}
	dst = append(dst, `{"type":"`+typ+`","name":`...)
	dst = appendJSONString(dst, a.FullName())
	dst = appendNameExtras(dst, a.Aliases(), a.Doc())
	dst = append(dst, `,"fields":[`...)
	bf := map[string]*avro.Field{}
	for _, f := range b.Fields() {
		bf[f.Name()] = f
	}
	n := 0
	var err error
	for _, f := range a.Fields() {
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		other, ok := bf[f.Name()]
		delete(bf, f.Name())
		if !ok || sameEncoding(f.Type(), other.Type()) {
			if dst, err = w.AppendField(dst, f); err != nil {
				return dst, err
			}
			continue
		}
		ra, okA := Deref(f.Type()).(*avro.RecordSchema)
		rb, okB := Deref(other.Type()).(*avro.RecordSchema)
		if !okA || !okB {
			return dst, atField(f.Name(), schemaErr("types differ (%s vs %s)", f.Type(), other.Type()))
		}
		// Merged nested record: write the field by hand around it.
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, f.Name())
		dst = appendNameExtras(dst, f.Aliases(), f.Doc())
		dst = append(dst, `,"type":`...)
		if dst, err = supersetJSON(w, ra, rb, dst); err != nil {
			return dst, atField(f.Name(), err)
		}
		if f.HasDefault() {
			// The merged record's default: a's default, whose missing
			// members take the new fields' own defaults when parsed.
			def, err := AppendDefault(nil, f)
			if err != nil {
				return dst, err
			}
			dst = append(dst, `,"default":`...)
			if dst, _, err = AppendJSON(dst, f.Type(), def); err != nil {
				return dst, err
			}
		}
		dst = append(dst, '}')
	}
	for _, f := range b.Fields() {
		if _, ok := bf[f.Name()]; !ok {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		if dst, err = w.AppendField(dst, f); err != nil {
			return dst, err
		}
	}
	return append(dst, "]}"...), nil
}
