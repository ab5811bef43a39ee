package partialupdate

import (
	"errors"
	"slices"

	"github.com/rialtodb/rialto/internal/avrox"
)

// Op is the intent of an update for one field.
type Op uint8

const (
	// OpNone leaves the field alone (the NoOp branch).
	OpNone Op = iota
	// OpSet replaces the field with Value.
	OpSet
	// OpListOps merges into a list field: setUnion Add, then setDiff Remove.
	OpListOps
	// OpMapOps merges into a map field: mapUnion Put, then mapDiff RemoveKeys.
	OpMapOps
)

func (o Op) String() string {
	switch o {
	case OpSet:
		return "set"
	case OpListOps:
		return "listOps"
	case OpMapOps:
		return "mapOps"
	}
	return "noop"
}

// FieldUpdate is what an update does to one field, as encoded bytes that
// can be copied or compared without decoding (package conflict consumes it
// directly). Byte slices may alias the bytes the update was decoded from
// and must not be modified.
type FieldUpdate struct {
	Op Op
	// Value (OpSet) is the new value encoded in the field's type (for a
	// union field: branch index, then the branch's value).
	Value []byte
	// Add and Remove (OpListOps) are encoded list items: setUnion, setDiff.
	Add, Remove [][]byte
	// Put (OpMapOps) are mapUnion entries (raw key bytes, encoded value).
	Put []avrox.Entry
	// RemoveKeys (OpMapOps) are mapDiff keys (raw bytes).
	RemoveKeys [][]byte
}

// Update is a partial update of one value: per field of the value schema,
// one FieldUpdate. Updates are immutable once built or decoded and safe for
// concurrent use.
type Update struct {
	schema *Schema
	fields []FieldUpdate
}

// Schema returns the schema the update was built or decoded with.
func (u *Update) Schema() *Schema { return u.schema }

// Fields returns one FieldUpdate per value-schema field, in schema order.
// The slice must not be modified.
func (u *Update) Fields() []FieldUpdate { return u.fields }

// Touched returns the names of the fields the update does not leave alone.
func (u *Update) Touched() []string {
	var out []string
	for i, f := range u.fields {
		if f.Op != OpNone {
			out = append(out, u.schema.fields[i].Name)
		}
	}
	return out
}

// Builder builds an Update with methods named for the three intents: a field
// is left alone unless a method names it; Set/SetNull replace it; AddToList,
// RemoveFromList, PutEntries/PutEntry and RemoveKeys merge into a
// collection. Methods return the builder for chaining; every problem is
// collected and reported by Build, each naming its field.
type Builder struct {
	s      *Schema
	fields []FieldUpdate
	errs   []error
}

// NewBuilder starts an update of a value of schema s.
func NewBuilder(s *Schema) *Builder {
	return &Builder{s: s, fields: make([]FieldUpdate, len(s.fields))}
}

func (b *Builder) field(name string) (*Field, *FieldUpdate) {
	i, ok := b.s.byName[name]
	if !ok {
		b.errs = append(b.errs, fieldErr(name, ErrUnknownField, "value schema %s has no such field", b.s.value.FullName()))
		return nil, nil
	}
	return &b.s.fields[i], &b.fields[i]
}

// Set replaces the field with v, a Go value of the field's type (see
// avrox.AppendGo: records as map[string]any, lists as slices, maps as
// map[string]T, a union takes the first branch that accepts v; nil sets
// null where the field is nullable). Setting a collection field sets the
// whole collection.
func (b *Builder) Set(field string, v any) *Builder {
	fi, fu := b.field(field)
	if fi == nil {
		return b
	}
	if v == nil && !fi.Nullable() {
		b.errs = append(b.errs, fieldErr(field, ErrNotNullable, ""))
		return b
	}
	enc, err := avrox.AppendGo(nil, fi.Type, v)
	if err != nil {
		b.errs = append(b.errs, wrapField(field, ErrWrongType, err))
		return b
	}
	b.set(fi, fu, enc)
	return b
}

// SetNull sets a nullable field to null.
func (b *Builder) SetNull(field string) *Builder { return b.Set(field, nil) }

// SetEncoded replaces the field with an already encoded value of its type;
// the bytes are validated and copied.
func (b *Builder) SetEncoded(field string, value []byte) *Builder {
	fi, fu := b.field(field)
	if fi == nil {
		return b
	}
	if err := avrox.Validate(fi.Type, value); err != nil {
		b.errs = append(b.errs, wrapField(field, ErrWrongType, err))
		return b
	}
	b.set(fi, fu, slices.Clone(value))
	return b
}

func (b *Builder) set(fi *Field, fu *FieldUpdate, enc []byte) {
	switch fu.Op {
	case OpSet:
		b.errs = append(b.errs, fieldErr(fi.Name, ErrSetAndMerge, "set twice"))
		return
	case OpListOps, OpMapOps:
		b.errs = append(b.errs, fieldErr(fi.Name, ErrSetAndMerge, ""))
		return
	}
	*fu = FieldUpdate{Op: OpSet, Value: enc}
}

func (b *Builder) merge(fi *Field, fu *FieldUpdate, kind Kind, what string) bool {
	if fi.Kind != kind {
		b.errs = append(b.errs, fieldErr(fi.Name, ErrNotCollection, "%s needs a %s field, this one is a %s", what, kind, fi.Kind))
		return false
	}
	if fu.Op == OpSet {
		b.errs = append(b.errs, fieldErr(fi.Name, ErrSetAndMerge, ""))
		return false
	}
	if kind == List {
		fu.Op = OpListOps
	} else {
		fu.Op = OpMapOps
	}
	return true
}

func (b *Builder) items(fi *Field, elems []any) ([][]byte, bool) {
	out := make([][]byte, 0, len(elems))
	for _, e := range elems {
		enc, err := avrox.AppendGo(nil, fi.Elem, e)
		if err != nil {
			b.errs = append(b.errs, wrapField(fi.Name, ErrWrongType, err))
			return nil, false
		}
		out = append(out, enc)
	}
	return out, true
}

// AddToList adds elements to a list field (setUnion): each element not
// already present is appended, keeping the existing order.
func (b *Builder) AddToList(field string, elems ...any) *Builder {
	fi, fu := b.field(field)
	if fi == nil || !b.merge(fi, fu, List, "AddToList") {
		return b
	}
	if enc, ok := b.items(fi, elems); ok {
		fu.Add = append(fu.Add, enc...)
	}
	return b
}

// RemoveFromList removes every occurrence of each element from a list field
// (setDiff), after the additions of the same update.
func (b *Builder) RemoveFromList(field string, elems ...any) *Builder {
	fi, fu := b.field(field)
	if fi == nil || !b.merge(fi, fu, List, "RemoveFromList") {
		return b
	}
	if enc, ok := b.items(fi, elems); ok {
		fu.Remove = append(fu.Remove, enc...)
	}
	return b
}

// PutEntries puts entries into a map field (mapUnion: existing keys are
// overwritten in place, new keys appended). entries is a map[string]T; its
// keys are added in sorted order so the update is deterministic. Use
// PutEntry to control the order of new keys.
func (b *Builder) PutEntries(field string, entries any) *Builder {
	fi, fu := b.field(field)
	if fi == nil || !b.merge(fi, fu, Map, "PutEntries") {
		return b
	}
	// Encode as a map of the field's value type, then split the entries.
	enc, err := avrox.AppendGo(nil, mapOf(fi), entries)
	if err != nil {
		b.errs = append(b.errs, wrapField(field, ErrWrongType, err))
		return b
	}
	es, _, err := avrox.MapEntries(fi.Elem, enc, nil)
	if err != nil {
		b.errs = append(b.errs, wrapField(field, ErrWrongType, err))
		return b
	}
	for _, e := range es {
		fu.Put = putEntry(fu.Put, e)
	}
	return b
}

// PutEntry puts one entry into a map field.
func (b *Builder) PutEntry(field, key string, v any) *Builder {
	fi, fu := b.field(field)
	if fi == nil || !b.merge(fi, fu, Map, "PutEntry") {
		return b
	}
	enc, err := avrox.AppendGo(nil, fi.Elem, v)
	if err != nil {
		b.errs = append(b.errs, wrapField(field, ErrWrongType, atKey(key, err)))
		return b
	}
	fu.Put = putEntry(fu.Put, avrox.Entry{Key: []byte(key), Value: enc})
	return b
}

// putEntry overwrites the value of an existing key in place or appends.
func putEntry(es []avrox.Entry, e avrox.Entry) []avrox.Entry {
	for i := range es {
		if string(es[i].Key) == string(e.Key) {
			es[i].Value = e.Value
			return es
		}
	}
	return append(es, e)
}

// RemoveKeys removes keys from a map field (mapDiff), after the puts of the
// same update.
func (b *Builder) RemoveKeys(field string, keys ...string) *Builder {
	fi, fu := b.field(field)
	if fi == nil || !b.merge(fi, fu, Map, "RemoveKeys") {
		return b
	}
	for _, k := range keys {
		fu.RemoveKeys = append(fu.RemoveKeys, []byte(k))
	}
	return b
}

// Build returns the update, or every problem found (errors.Join of
// *FieldError values; ErrEmptyUpdate when no field is touched).
func (b *Builder) Build() (*Update, error) {
	if len(b.errs) > 0 {
		return nil, errors.Join(b.errs...)
	}
	u := &Update{schema: b.s, fields: slices.Clone(b.fields)}
	if !u.touchesAny() {
		return nil, errEmpty()
	}
	return u, nil
}

func errEmpty() error {
	return &emptyError{}
}

type emptyError struct{}

func (*emptyError) Error() string { return "partialupdate: " + ErrEmptyUpdate.Error() }
func (*emptyError) Unwrap() error { return ErrEmptyUpdate }
