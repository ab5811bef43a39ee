package partialupdate

import (
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
)

// Kind is what a top-level field holds, which decides its operations.
type Kind uint8

const (
	// Scalar fields (anything that is not a list or map, including records,
	// enums and fixed) can only be set.
	Scalar Kind = iota
	// List fields (array, or a union holding one array) can be set or take
	// setUnion/setDiff.
	List
	// Map fields (map, or a union holding one map) can be set or take
	// mapUnion/mapDiff.
	Map
)

func (k Kind) String() string {
	switch k {
	case List:
		return "list"
	case Map:
		return "map"
	}
	return "scalar"
}

// Field describes one top-level field of a value schema as updates see it.
type Field struct {
	Name  string
	Index int         // position in the value record
	Type  avro.Schema // the field's type in the value schema
	Kind  Kind
	// Elem is the list item or map value schema (nil for scalars).
	Elem avro.Schema
	// Union is the field type when it is a union (nil otherwise).
	Union *avro.UnionSchema
	// CollBranch is the union branch holding the collection (-1 when the
	// field is not a union or not a collection).
	CollBranch int
	// NullBranch is the union branch holding null (-1 when none).
	NullBranch int
	// Default is the encoded default value.
	Default []byte

	setBase       int  // update-union index of the first "set" branch
	elemCanonical bool // items are equal exactly when their bytes are
}

// Nullable reports whether the field can be set to null.
func (f *Field) Nullable() bool { return f.NullBranch >= 0 }

// Schema is a value schema together with its derived update schema. It is
// immutable and safe for concurrent use.
type Schema struct {
	value      *avro.RecordSchema
	update     *avro.RecordSchema
	updateJSON string
	fields     []Field
	byName     map[string]int
	defaults   []byte // the record of defaults
	noopName   string
}

// Value returns the value schema.
func (s *Schema) Value() *avro.RecordSchema { return s.value }

// Update returns the derived update schema (register it beside the value
// schema; update bytes are records of this schema).
func (s *Schema) Update() *avro.RecordSchema { return s.update }

// UpdateJSON returns the update schema's JSON, as registered.
func (s *Schema) UpdateJSON() string { return s.updateJSON }

// Fields returns the value schema's fields in order.
func (s *Schema) Fields() []Field { return s.fields }

// Field returns the named field, or nil.
func (s *Schema) Field(name string) *Field {
	i, ok := s.byName[name]
	if !ok {
		return nil
	}
	return &s.fields[i]
}

// Defaults returns the encoded record of every field's default: the value a
// missing key starts from.
func (s *Schema) Defaults() []byte { return s.defaults }

// Derive derives the update schema of a record value schema, per
// SEMANTICS.md §1. Each field f of type T becomes a union whose first branch
// is the empty record NoOp (also the field's default):
//
//	scalar, enum, fixed, record T     → [NoOp, T]
//	union [A, B, …]                   → [NoOp, A, B, …]            (flattened)
//	array<E>  / [null, array<E>]      → [NoOp, <f>ListOps, (null,) array<E>]
//	map<V>    / [null, map<V>]        → [NoOp, <f>MapOps, (null,) map<V>]
//
//	<f>ListOps = record {setUnion: array<E> = [], setDiff: array<E> = []}
//	<f>MapOps  = record {mapUnion: map<V> = {}, mapDiff: array<string> = []}
//
// The update record is named <Name>Update and NoOp, <f>ListOps and <f>MapOps
// live in the value record's namespace. Derive fails with ErrSchema, naming
// the field, for a non-record schema, a field without default, a union
// holding more than one collection, or a generated name that clashes with
// a named type of the value schema.
func Derive(value avro.Schema) (*Schema, error) {
	rs, ok := avrox.Deref(value).(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("partialupdate: %w: value schema is %s, not a record", ErrSchema, value.Type())
	}
	s := &Schema{value: rs, byName: map[string]int{}}
	names := map[string]bool{}
	collectNames(rs, names)
	ns := rs.Namespace()
	full := func(n string) string {
		if ns == "" {
			return n
		}
		return ns + "." + n
	}
	s.noopName = full("NoOp")
	updateName := full(rs.Name() + "Update")
	for _, n := range []string{s.noopName, updateName} {
		if names[n] {
			return nil, fmt.Errorf("partialupdate: %w: value schema already defines %s", ErrSchema, n)
		}
	}

	w := avrox.NewSchemaWriter()
	js := []byte(`{"type":"record","name":`)
	js = appendQuoted(js, updateName)
	js = append(js, `,"fields":[`...)
	for i, f := range rs.Fields() {
		fi, err := describe(i, f)
		if err != nil {
			return nil, err
		}
		s.fields = append(s.fields, fi)
		s.byName[f.Name()] = i
		s.defaults = append(s.defaults, fi.Default...)

		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, `{"name":`...)
		js = appendQuoted(js, f.Name())
		js = append(js, `,"type":[`...)
		if !w.Defined(s.noopName) {
			w.Define(s.noopName)
			js = append(js, `{"type":"record","name":`...)
			js = appendQuoted(js, s.noopName)
			js = append(js, `,"fields":[]}`...)
		} else {
			js = appendQuoted(js, s.noopName)
		}
		switch fi.Kind {
		case List, Map:
			opsName := full(f.Name() + "ListOps")
			if fi.Kind == Map {
				opsName = full(f.Name() + "MapOps")
			}
			if names[opsName] {
				return nil, fieldErr(f.Name(), ErrSchema, "value schema already defines %s", opsName)
			}
			w.Define(opsName)
			js = append(js, `,{"type":"record","name":`...)
			js = appendQuoted(js, opsName)
			if fi.Kind == List {
				js = append(js, `,"fields":[{"name":"setUnion","type":{"type":"array","items":`...)
				if js, err = w.Append(js, fi.Elem); err != nil {
					return nil, wrapField(f.Name(), ErrSchema, err)
				}
				js = append(js, `},"default":[]},{"name":"setDiff","type":{"type":"array","items":`...)
				js, _ = w.Append(js, fi.Elem)
				js = append(js, `},"default":[]}]}`...)
			} else {
				js = append(js, `,"fields":[{"name":"mapUnion","type":{"type":"map","values":`...)
				if js, err = w.Append(js, fi.Elem); err != nil {
					return nil, wrapField(f.Name(), ErrSchema, err)
				}
				js = append(js, `},"default":{}},{"name":"mapDiff","type":{"type":"array","items":"string"},"default":[]}]}`...)
			}
		}
		branches := []avro.Schema{f.Type()}
		if fi.Union != nil {
			branches = fi.Union.Types()
		}
		for _, b := range branches {
			js = append(js, ',')
			if js, err = w.Append(js, b); err != nil {
				return nil, wrapField(f.Name(), ErrSchema, err)
			}
		}
		js = append(js, `],"default":{}}`...)
	}
	js = append(js, "]}"...)
	us, err := avro.Parse(string(js))
	if err != nil {
		return nil, fmt.Errorf("partialupdate: %w: derived update schema does not parse: %v", ErrSchema, err)
	}
	s.update = us.(*avro.RecordSchema)
	s.updateJSON = string(js)
	return s, nil
}

func appendQuoted(dst []byte, s string) []byte {
	return append(dst, fmt.Sprintf("%q", s)...) // names are [A-Za-z0-9_.]
}

// describe classifies one value field.
func describe(i int, f *avro.Field) (Field, error) {
	fi := Field{Name: f.Name(), Index: i, Type: f.Type(), CollBranch: -1, NullBranch: -1, setBase: 1}
	if !f.HasDefault() {
		return fi, fieldErr(f.Name(), ErrSchema, "field has no default")
	}
	def, err := avrox.AppendDefault(nil, f)
	if err != nil {
		return fi, wrapField(f.Name(), ErrSchema, err)
	}
	fi.Default = def
	classify := func(t avro.Schema, branch int) error {
		switch t := avrox.Deref(t).(type) {
		case *avro.ArraySchema:
			if fi.Kind != Scalar {
				return fieldErr(f.Name(), ErrSchema, "union holds more than one collection")
			}
			fi.Kind, fi.Elem, fi.CollBranch = List, t.Items(), branch
		case *avro.MapSchema:
			if fi.Kind != Scalar {
				return fieldErr(f.Name(), ErrSchema, "union holds more than one collection")
			}
			fi.Kind, fi.Elem, fi.CollBranch = Map, t.Values(), branch
		case *avro.NullSchema:
			fi.NullBranch = branch
		case *avro.PrimitiveSchema:
			if t.Type() == avro.Null {
				fi.NullBranch = branch
			}
		}
		return nil
	}
	if u, ok := avrox.Deref(f.Type()).(*avro.UnionSchema); ok {
		fi.Union = u
		for b, t := range u.Types() {
			if err := classify(t, b); err != nil {
				return fi, err
			}
		}
	} else if err := classify(f.Type(), -1); err != nil {
		return fi, err
	}
	if fi.Kind != Scalar {
		fi.setBase = 2
		fi.elemCanonical = avrox.CanonicalBytes(fi.Elem)
	}
	return fi, nil
}

// collectNames records the full names of every named type in s.
func collectNames(s avro.Schema, names map[string]bool) {
	switch s := s.(type) {
	case *avro.RecordSchema:
		if names[s.FullName()] {
			return
		}
		names[s.FullName()] = true
		for _, f := range s.Fields() {
			collectNames(f.Type(), names)
		}
	case *avro.EnumSchema:
		names[s.FullName()] = true
	case *avro.FixedSchema:
		names[s.FullName()] = true
	case *avro.ArraySchema:
		collectNames(s.Items(), names)
	case *avro.MapSchema:
		collectNames(s.Values(), names)
	case *avro.UnionSchema:
		for _, t := range s.Types() {
			collectNames(t, names)
		}
	}
}
