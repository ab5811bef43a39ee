package avrox

import (
	"encoding/json"
	"strconv"

	"github.com/hamba/avro/v2"
)

// SchemaWriter writes schemas as JSON, defining each named type (record,
// enum, fixed) in full the first time it is written and by its full name
// afterwards, so that several schemas written with one SchemaWriter form one
// valid schema document. Field defaults are written in Avro's JSON form
// (bytes as code-point strings), from their encoded value.
type SchemaWriter struct {
	defined map[string]bool
}

// NewSchemaWriter returns a writer with no named type defined yet.
func NewSchemaWriter() *SchemaWriter {
	return &SchemaWriter{defined: map[string]bool{}}
}

// Defined reports whether the named type has been written in full.
func (w *SchemaWriter) Defined(fullName string) bool { return w.defined[fullName] }

// Define marks a name as defined (written elsewhere by the caller).
func (w *SchemaWriter) Define(fullName string) { w.defined[fullName] = true }

// Append appends the JSON of schema s.
func (w *SchemaWriter) Append(dst []byte, s avro.Schema) ([]byte, error) {
	s = Deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return append(dst, `"null"`...), nil
	case *avro.PrimitiveSchema:
		ls := s.Logical()
		if ls == nil {
			return append(dst, strconv.Quote(string(s.Type()))...), nil
		}
		dst = append(dst, `{"type":`...)
		dst = append(dst, strconv.Quote(string(s.Type()))...)
		return appendLogical(dst, ls), nil
	case *avro.RecordSchema:
		if w.defined[s.FullName()] {
			return appendJSONString(dst, s.FullName()), nil
		}
		w.defined[s.FullName()] = true
		typ := "record"
		if s.IsError() {
			typ = "error"
		}
		dst = append(dst, `{"type":"`+typ+`","name":`...)
		dst = appendJSONString(dst, s.FullName())
		dst = appendNameExtras(dst, s.Aliases(), s.Doc())
		dst = append(dst, `,"fields":[`...)
		for i, f := range s.Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = w.AppendField(dst, f); err != nil {
				return dst, err
			}
		}
		return append(dst, "]}"...), nil
	case *avro.EnumSchema:
		if w.defined[s.FullName()] {
			return appendJSONString(dst, s.FullName()), nil
		}
		w.defined[s.FullName()] = true
		dst = append(dst, `{"type":"enum","name":`...)
		dst = appendJSONString(dst, s.FullName())
		dst = appendNameExtras(dst, s.Aliases(), s.Doc())
		syms, _ := json.Marshal(s.Symbols())
		dst = append(dst, `,"symbols":`...)
		dst = append(dst, syms...)
		if s.HasDefault() {
			dst = append(dst, `,"default":`...)
			dst = appendJSONString(dst, s.Default())
		}
		return append(dst, '}'), nil
	case *avro.FixedSchema:
		if w.defined[s.FullName()] {
			return appendJSONString(dst, s.FullName()), nil
		}
		w.defined[s.FullName()] = true
		dst = append(dst, `{"type":"fixed","name":`...)
		dst = appendJSONString(dst, s.FullName())
		dst = appendNameExtras(dst, s.Aliases(), "")
		dst = append(dst, `,"size":`...)
		dst = strconv.AppendInt(dst, int64(s.Size()), 10)
		if ls := s.Logical(); ls != nil {
			return appendLogical(dst, ls), nil
		}
		return append(dst, '}'), nil
	case *avro.ArraySchema:
		dst = append(dst, `{"type":"array","items":`...)
		dst, err := w.Append(dst, s.Items())
		return append(dst, '}'), err
	case *avro.MapSchema:
		dst = append(dst, `{"type":"map","values":`...)
		dst, err := w.Append(dst, s.Values())
		return append(dst, '}'), err
	case *avro.UnionSchema:
		dst = append(dst, '[')
		for i, t := range s.Types() {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = w.Append(dst, t); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	return dst, topError(schemaErr("cannot write schema of type %s", s.Type()))
}

// AppendField appends the JSON of a record field, with its default.
func (w *SchemaWriter) AppendField(dst []byte, f *avro.Field) ([]byte, error) {
	dst = append(dst, `{"name":`...)
	dst = appendJSONString(dst, f.Name())
	dst = appendNameExtras(dst, f.Aliases(), f.Doc())
	dst = append(dst, `,"type":`...)
	var err error
	if dst, err = w.Append(dst, f.Type()); err != nil {
		return dst, err
	}
	if f.HasDefault() {
		def, err := AppendDefault(nil, f)
		if err != nil {
			return dst, err
		}
		dst = append(dst, `,"default":`...)
		if dst, _, err = AppendJSON(dst, f.Type(), def); err != nil {
			return dst, err
		}
	}
	if f.Order() == avro.Desc || f.Order() == avro.Ignore {
		dst = append(dst, `,"order":"`+string(f.Order())+`"`...)
	}
	return append(dst, '}'), nil
}

func appendNameExtras(dst []byte, aliases []string, doc string) []byte {
	if len(aliases) > 0 {
		a, _ := json.Marshal(aliases)
		dst = append(dst, `,"aliases":`...)
		dst = append(dst, a...)
	}
	if doc != "" {
		dst = append(dst, `,"doc":`...)
		dst = appendJSONString(dst, doc)
	}
	return dst
}

func appendLogical(dst []byte, ls avro.LogicalSchema) []byte {
	dst = append(dst, `,"logicalType":`...)
	dst = appendJSONString(dst, string(ls.Type()))
	if d, ok := ls.(*avro.DecimalLogicalSchema); ok {
		dst = append(dst, `,"precision":`...)
		dst = strconv.AppendInt(dst, int64(d.Precision()), 10)
		dst = append(dst, `,"scale":`...)
		dst = strconv.AppendInt(dst, int64(d.Scale()), 10)
	}
	return append(dst, '}')
}

// SchemaJSON returns the JSON of one schema document.
func SchemaJSON(s avro.Schema) ([]byte, error) {
	return NewSchemaWriter().Append(nil, s)
}
