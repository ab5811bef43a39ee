package partialupdate

import (
	"bytes"
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
)

// Apply applies u to stored, a value encoded with u's value schema, and
// appends the new value to dst (SEMANTICS.md §2). Untouched fields are
// copied as byte spans; only touched fields are re-encoded. stored is never
// modified and dst must not alias it. On error dst is returned unchanged
// and the error names the field.
func Apply(dst []byte, u *Update, stored []byte) ([]byte, error) {
	return applyCore(dst, u.schema, stored, u, nil)
}

// ApplyMissing applies u to a key that has no value: the record of the
// schema's defaults.
func ApplyMissing(dst []byte, u *Update) ([]byte, error) {
	return applyCore(dst, u.schema, u.schema.defaults, u, nil)
}

// Applier applies updates built with any compatible value schema to values
// stored with any compatible value schema, writing the result in one target
// schema (the superset: the registered schema containing both). Stored
// values are resolved into the target at byte level first; update fields
// are matched to target fields by name and must have the same type. An
// Applier caches per-schema work and is safe for concurrent use.
type Applier struct {
	target    *Schema
	resolvers sync.Map // avro.Schema (stored) → *avrox.Resolver
	fieldMaps sync.Map // *Schema (update's) → *fieldMap
}

type fieldMap struct {
	toUpdate []int         // per target field: update field index or -1
	fields   []mappedField // per update field
}

// mappedField says how one update field lands in the target.
type mappedField struct {
	target int             // target field index, -1: absent from the target
	value  *avrox.Resolver // update field type → target type; nil: same encoding
	elem   *avrox.Resolver // list item / map value; nil: same encoding
	err    error           // why the field cannot be applied (raised if touched)
}

// NewApplier returns an Applier writing values of target.
func NewApplier(target avro.Schema) (*Applier, error) {
	s, err := Derive(target)
	if err != nil {
		return nil, err
	}
	return &Applier{target: s}, nil
}

// Target returns the target schema.
func (a *Applier) Target() *Schema { return a.target }

// Apply applies u to stored, encoded with storedSchema (nil: the target
// schema), and appends the new value, in the target schema, to dst.
func (a *Applier) Apply(dst []byte, u *Update, stored []byte, storedSchema avro.Schema) ([]byte, error) {
	m, err := a.mapFor(u)
	if err != nil {
		return dst, err
	}
	if storedSchema != nil && storedSchema != avro.Schema(a.target.value) &&
		storedSchema.Fingerprint() != a.target.value.Fingerprint() {
		z, err := a.resolverFor(storedSchema)
		if err != nil {
			return dst, err
		}
		resolved, n, err := z.Append(nil, stored)
		if err != nil {
			return dst, fmt.Errorf("partialupdate: stored value: %w: %w", ErrCorrupt, err)
		}
		if n != len(stored) {
			return dst, fmt.Errorf("partialupdate: stored value: %w: %d trailing bytes", ErrCorrupt, len(stored)-n)
		}
		stored = resolved
	}
	return applyCore(dst, a.target, stored, u, m)
}

// ApplyMissing applies u to a missing key (the target's defaults).
func (a *Applier) ApplyMissing(dst []byte, u *Update) ([]byte, error) {
	m, err := a.mapFor(u)
	if err != nil {
		return dst, err
	}
	return applyCore(dst, a.target, a.target.defaults, u, m)
}

func (a *Applier) resolverFor(w avro.Schema) (*avrox.Resolver, error) {
	if z, ok := a.resolvers.Load(w); ok {
		return z.(*avrox.Resolver), nil
	}
	z, err := avrox.NewResolver(w, a.target.value)
	if err != nil {
		return nil, fmt.Errorf("partialupdate: %w: stored schema cannot be read as the target: %w", ErrMismatch, err)
	}
	a.resolvers.Store(w, z)
	return z, nil
}

// mapFor returns nil when u's schema is the target, else the field mapping.
func (a *Applier) mapFor(u *Update) (*fieldMap, error) {
	if u.schema == a.target {
		return nil, nil
	}
	var fm *fieldMap
	if v, ok := a.fieldMaps.Load(u.schema); ok {
		fm = v.(*fieldMap)
	} else {
		fm = buildFieldMap(a.target, u.schema)
		a.fieldMaps.Store(u.schema, fm)
	}
	for j, mf := range fm.fields {
		if mf.err != nil && u.fields[j].Op != OpNone {
			return nil, mf.err
		}
	}
	return fm, nil
}

func buildFieldMap(t, us *Schema) *fieldMap {
	fm := &fieldMap{toUpdate: make([]int, len(t.fields)), fields: make([]mappedField, len(us.fields))}
	for i := range fm.toUpdate {
		fm.toUpdate[i] = -1
	}
	for j, uf := range us.fields {
		mf := &fm.fields[j]
		i, ok := t.byName[uf.Name]
		if !ok {
			mf.target = -1
			mf.err = fieldErr(uf.Name, ErrUnknownField, "target schema %s has no such field", t.value.FullName())
			continue
		}
		mf.target = i
		fm.toUpdate[i] = j
		tf := &t.fields[i]
		if uf.Type.Fingerprint() == tf.Type.Fingerprint() {
			continue
		}
		var err error
		if mf.value, err = avrox.NewResolver(uf.Type, tf.Type); err != nil {
			mf.err = wrapField(uf.Name, ErrMismatch, err)
			continue
		}
		if uf.Kind != tf.Kind {
			mf.err = fieldErr(uf.Name, ErrMismatch, "a %s in the update's schema, a %s in the target", uf.Kind, tf.Kind)
			continue
		}
		if uf.Kind != Scalar {
			if mf.elem, err = avrox.NewResolver(uf.Elem, tf.Elem); err != nil {
				mf.err = wrapField(uf.Name, ErrMismatch, err)
			}
		}
	}
	return fm
}

// convert rewrites an update field in the target field's types.
func (mf *mappedField) convert(name string, fu *FieldUpdate) (*FieldUpdate, error) {
	out := &FieldUpdate{Op: fu.Op}
	var err error
	conv := func(z *avrox.Resolver, b []byte) ([]byte, error) {
		if z == nil {
			return b, nil
		}
		r, _, err := z.Append(nil, b)
		if err != nil {
			return nil, wrapField(name, ErrMismatch, err)
		}
		return r, nil
	}
	switch fu.Op {
	case OpSet:
		out.Value, err = conv(mf.value, fu.Value)
	case OpListOps:
		for _, x := range fu.Add {
			var r []byte
			if r, err = conv(mf.elem, x); err != nil {
				return nil, err
			}
			out.Add = append(out.Add, r)
		}
		for _, x := range fu.Remove {
			var r []byte
			if r, err = conv(mf.elem, x); err != nil {
				return nil, err
			}
			out.Remove = append(out.Remove, r)
		}
	case OpMapOps:
		for _, e := range fu.Put {
			var r []byte
			if r, err = conv(mf.elem, e.Value); err != nil {
				return nil, err
			}
			out.Put = append(out.Put, avrox.Entry{Key: e.Key, Value: r})
		}
		out.RemoveKeys = fu.RemoveKeys
	}
	return out, err
}

// applyCore applies u to stored (a value of t) field by field. m maps t's
// fields to u's (nil: same schema).
func applyCore(dst []byte, t *Schema, stored []byte, u *Update, m *fieldMap) ([]byte, error) {
	var spansBuf [32]avrox.Span
	spans, n, err := avrox.RecordSpans(t.value, stored, spansBuf[:0])
	if err != nil {
		return dst, fmt.Errorf("partialupdate: stored value: %w: %w", ErrCorrupt, err)
	}
	if n != len(stored) {
		return dst, fmt.Errorf("partialupdate: stored value: %w: %d trailing bytes", ErrCorrupt, len(stored)-n)
	}
	start := len(dst)
	copyFrom := 0
	for i := range t.fields {
		j := i
		if m != nil {
			j = m.toUpdate[i]
			if j < 0 {
				continue
			}
		}
		fu := &u.fields[j]
		if fu.Op == OpNone {
			continue
		}
		if m != nil && (m.fields[j].value != nil || m.fields[j].elem != nil) {
			if fu, err = m.fields[j].convert(t.fields[i].Name, fu); err != nil {
				return dst[:start], err
			}
		}
		sp := spans[i]
		dst = append(dst, stored[copyFrom:sp.Start]...)
		if dst, err = applyField(dst, &t.fields[i], fu, stored[sp.Start:sp.End]); err != nil {
			return dst[:start], err
		}
		copyFrom = sp.End
	}
	return append(dst, stored[copyFrom:]...), nil
}

// applyField appends the new value of one field.
func applyField(dst []byte, fi *Field, fu *FieldUpdate, cur []byte) ([]byte, error) {
	switch fu.Op {
	case OpSet:
		return append(dst, fu.Value...), nil
	case OpListOps:
		if fi.Kind != List {
			return dst, fieldErr(fi.Name, ErrNotCollection, "list operations on a %s field", fi.Kind)
		}
		return mergeList(dst, fi, cur, fu.Add, fu.Remove)
	case OpMapOps:
		if fi.Kind != Map {
			return dst, fieldErr(fi.Name, ErrNotCollection, "map operations on a %s field", fi.Kind)
		}
		return mergeMap(dst, fi, cur, fu.Put, fu.RemoveKeys)
	}
	return append(dst, cur...), nil
}

// collectionBody returns the collection bytes of a list or map field value,
// or ok false when the value is null (or another non-collection branch),
// which merges treat as empty.
func collectionBody(fi *Field, cur []byte) ([]byte, bool, error) {
	if fi.Union == nil {
		return cur, true, nil
	}
	b, n, err := avrox.ReadLong(cur)
	if err != nil {
		return nil, false, err
	}
	if int(b) != fi.CollBranch {
		return nil, false, nil
	}
	return cur[n:], true, nil
}

// itemSet answers "is this item in the list" for merges: by hashing bytes
// when the item type is canonical and the list is long, else pairwise
// Avro equality.
type itemSet struct {
	fi    *Field
	items [][]byte
	hash  map[string]int // item bytes → count, when hashing
}

const hashThreshold = 16

func newItemSet(fi *Field, items [][]byte) itemSet {
	s := itemSet{fi: fi, items: items}
	if fi.elemCanonical && len(items) > hashThreshold {
		s.hash = make(map[string]int, len(items))
		for _, it := range items {
			s.hash[string(it)]++
		}
	}
	return s
}

func (s *itemSet) contains(x []byte) (bool, error) {
	if s.hash != nil {
		return s.hash[string(x)] > 0, nil
	}
	for _, it := range s.items {
		if bytes.Equal(it, x) {
			return true, nil
		}
	}
	if s.fi.elemCanonical {
		return false, nil
	}
	for _, it := range s.items {
		eq, err := avrox.Equal(s.fi.Elem, it, x)
		if err != nil {
			return false, err
		}
		if eq {
			return true, nil
		}
	}
	return false, nil
}

func (s *itemSet) add(x []byte) {
	s.items = append(s.items, x)
	if s.hash == nil && s.fi.elemCanonical && len(s.items) > hashThreshold {
		s.hash = make(map[string]int, len(s.items))
		for _, it := range s.items {
			s.hash[string(it)]++
		}
	} else if s.hash != nil {
		s.hash[string(x)]++
	}
}

// MergeList appends the result of setUnion add then setDiff remove on the
// list field value cur (SEMANTICS.md §2): each added item not already
// present is appended in order; every occurrence of each removed item is
// dropped; a null (or non-list) value starts empty. The result is a list
// value of the field's type (the list branch for a union).
func MergeList(dst []byte, fi *Field, cur []byte, add, remove [][]byte) ([]byte, error) {
	return mergeList(dst, fi, cur, add, remove)
}

// Scratch slices for merges, reused so that a merge allocates nothing once
// warm. They only hold sub-slices of the inputs during one call.
var (
	itemsPool   = sync.Pool{New: func() any { s := make([][]byte, 0, 64); return &s }}
	entriesPool = sync.Pool{New: func() any { s := make([]avrox.Entry, 0, 32); return &s }}
)

func mergeList(dst []byte, fi *Field, cur []byte, add, remove [][]byte) ([]byte, error) {
	scratch := itemsPool.Get().(*[][]byte)
	items := (*scratch)[:0]
	defer func() {
		clear(items)
		*scratch = items[:0]
		itemsPool.Put(scratch)
	}()
	body, ok, err := collectionBody(fi, cur)
	if err != nil {
		return dst, wrapField(fi.Name, ErrCorrupt, err)
	}
	if ok {
		if items, _, err = avrox.ArrayItems(fi.Elem, body, items); err != nil {
			return dst, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	if len(add) > 0 {
		set := newItemSet(fi, items)
		for _, a := range add {
			found, err := set.contains(a)
			if err != nil {
				return dst, wrapField(fi.Name, ErrCorrupt, err)
			}
			if !found {
				set.add(a)
			}
		}
		items = set.items
	}
	if len(remove) > 0 {
		rs := newItemSet(fi, remove)
		out := items[:0]
		for _, it := range items {
			found, err := rs.contains(it)
			if err != nil {
				return dst, wrapField(fi.Name, ErrCorrupt, err)
			}
			if !found {
				out = append(out, it)
			}
		}
		items = out
	}
	if fi.Union != nil {
		dst = avrox.AppendLong(dst, int64(fi.CollBranch))
	}
	return avrox.AppendArray(dst, items), nil
}

// MergeMap appends the result of mapUnion put then mapDiff removeKeys on the
// map field value cur (SEMANTICS.md §2): a put overwrites an existing key's
// value in place and appends a new key; removed keys are dropped; a null (or
// non-map) value starts empty.
func MergeMap(dst []byte, fi *Field, cur []byte, put []avrox.Entry, removeKeys [][]byte) ([]byte, error) {
	return mergeMap(dst, fi, cur, put, removeKeys)
}

func mergeMap(dst []byte, fi *Field, cur []byte, put []avrox.Entry, removeKeys [][]byte) ([]byte, error) {
	scratch := entriesPool.Get().(*[]avrox.Entry)
	entries := (*scratch)[:0]
	defer func() {
		clear(entries)
		*scratch = entries[:0]
		entriesPool.Put(scratch)
	}()
	body, ok, err := collectionBody(fi, cur)
	if err != nil {
		return dst, wrapField(fi.Name, ErrCorrupt, err)
	}
	if ok {
		if entries, _, err = avrox.MapEntries(fi.Elem, body, entries); err != nil {
			return dst, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	var index map[string]int
	find := func(k []byte) int {
		if index != nil {
			if i, ok := index[string(k)]; ok {
				return i
			}
			return -1
		}
		for i := range entries {
			if bytes.Equal(entries[i].Key, k) {
				return i
			}
		}
		return -1
	}
	if len(put)*len(entries) > 256 {
		index = make(map[string]int, len(entries)+len(put))
		for i, e := range entries {
			if _, dup := index[string(e.Key)]; !dup {
				index[string(e.Key)] = i
			}
		}
	}
	for _, p := range put {
		if i := find(p.Key); i >= 0 {
			entries[i].Value = p.Value
			continue
		}
		entries = append(entries, p)
		if index != nil {
			index[string(p.Key)] = len(entries) - 1
		}
	}
	if len(removeKeys) > 0 {
		out := entries[:0]
		for _, e := range entries {
			drop := false
			for _, k := range removeKeys {
				if bytes.Equal(k, e.Key) {
					drop = true
					break
				}
			}
			if !drop {
				out = append(out, e)
			}
		}
		entries = out
	}
	if fi.Union != nil {
		dst = avrox.AppendLong(dst, int64(fi.CollBranch))
	}
	return avrox.AppendMap(dst, entries), nil
}
