package partialupdate

import (
	"bytes"
	"fmt"

	"github.com/rialtodb/rialto/internal/avrox"
)

// Coalesce merges two consecutive updates of one key into one, so that for
// every stored value v (and a missing key):
//
//	Apply(Apply(v, u1), u2) == Apply(v, Coalesce(u1, u2))
//
// byte for byte. Per field:
//
//	u1 \ u2    none        set s2      merge m2
//	none       none        set s2      m2
//	set s1     set s1      set s2      set (m2 applied to s1)
//	merge m1   m1          set s2      m1 then m2 as one merge (below)
//
// Two list merges combine to add = (add1 − remove1) ++ add2 − remove2 and
// remove = (remove1 − add2) ∪ remove2; two map merges likewise (later puts
// overwrite earlier values, keeping the earlier key's position). One case has
// no single-merge equivalent: an element (or map key) removed by u1 and
// added back by u2 moves to the end of a collection that held it, which no
// single setUnion/setDiff can do. Coalesce then returns ErrNotCoalescible
// naming the field, and the caller applies the updates one after the other.
//
// Both updates must use the same value schema (ErrMismatch otherwise). The
// result shares no mutable state with its inputs.
func Coalesce(u1, u2 *Update) (*Update, error) {
	if u1.schema != u2.schema && u1.schema.value.Fingerprint() != u2.schema.value.Fingerprint() {
		return nil, fmt.Errorf("partialupdate: %w: coalescing updates of different value schemas", ErrMismatch)
	}
	s := u1.schema
	out := &Update{schema: s, fields: make([]FieldUpdate, len(s.fields))}
	for i := range s.fields {
		fi, a, b := &s.fields[i], &u1.fields[i], &u2.fields[i]
		switch {
		case b.Op == OpNone:
			out.fields[i] = *a
		case b.Op == OpSet || a.Op == OpNone:
			out.fields[i] = *b
		case a.Op == OpSet:
			v, err := applyField(nil, fi, b, a.Value)
			if err != nil {
				return nil, err
			}
			out.fields[i] = FieldUpdate{Op: OpSet, Value: v}
		case a.Op == OpListOps && b.Op == OpListOps:
			fu, err := coalesceLists(fi, a, b)
			if err != nil {
				return nil, err
			}
			out.fields[i] = fu
		case a.Op == OpMapOps && b.Op == OpMapOps:
			fu, err := coalesceMaps(fi, a, b)
			if err != nil {
				return nil, err
			}
			out.fields[i] = fu
		default:
			return nil, fieldErr(fi.Name, ErrMismatch, "cannot coalesce %s with %s", a.Op, b.Op)
		}
	}
	return out, nil
}

// in reports whether x is in items by Avro equality.
func in(fi *Field, items [][]byte, x []byte) (bool, error) {
	for _, it := range items {
		if bytes.Equal(it, x) {
			return true, nil
		}
		if !fi.elemCanonical {
			eq, err := avrox.Equal(fi.Elem, it, x)
			if err != nil {
				return false, err
			}
			if eq {
				return true, nil
			}
		}
	}
	return false, nil
}

func coalesceLists(fi *Field, a, b *FieldUpdate) (FieldUpdate, error) {
	var add, remove [][]byte
	keep := func(dst [][]byte, x []byte, exclude ...[][]byte) ([][]byte, error) {
		for _, ex := range exclude {
			found, err := in(fi, ex, x)
			if err != nil || found {
				return dst, err
			}
		}
		found, err := in(fi, dst, x)
		if err != nil || found {
			return dst, err
		}
		return append(dst, x), nil
	}
	var err error
	for _, x := range b.Add {
		removedBefore, err := in(fi, a.Remove, x)
		if err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
		removedAfter, err := in(fi, b.Remove, x)
		if err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
		if removedBefore && !removedAfter {
			return FieldUpdate{}, fieldErr(fi.Name, ErrNotCoalescible, "an element removed by the first update is added back by the second")
		}
	}
	for _, x := range a.Add {
		if add, err = keep(add, x, a.Remove, b.Remove); err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	for _, x := range b.Add {
		if add, err = keep(add, x, b.Remove); err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	for _, x := range a.Remove {
		if remove, err = keep(remove, x, b.Add); err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	for _, x := range b.Remove {
		if remove, err = keep(remove, x); err != nil {
			return FieldUpdate{}, wrapField(fi.Name, ErrCorrupt, err)
		}
	}
	return FieldUpdate{Op: OpListOps, Add: add, Remove: remove}, nil
}

func hasKey(keys [][]byte, k []byte) bool {
	for _, x := range keys {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}

func coalesceMaps(fi *Field, a, b *FieldUpdate) (FieldUpdate, error) {
	var put []avrox.Entry
	var remove [][]byte
	for _, e := range b.Put {
		if hasKey(a.RemoveKeys, e.Key) && !hasKey(b.RemoveKeys, e.Key) {
			return FieldUpdate{}, fieldErr(fi.Name, ErrNotCoalescible, "key %q removed by the first update is put back by the second", e.Key)
		}
	}
	for _, e := range a.Put {
		if !hasKey(a.RemoveKeys, e.Key) {
			put = putEntry(put, e)
		}
	}
	for _, e := range b.Put {
		put = putEntry(put, e)
	}
	kept := put[:0]
	for _, e := range put {
		if !hasKey(b.RemoveKeys, e.Key) {
			kept = append(kept, e)
		}
	}
	put = kept
	for _, k := range a.RemoveKeys {
		if !hasKey(remove, k) && !putHas(b.Put, k) {
			remove = append(remove, k)
		}
	}
	for _, k := range b.RemoveKeys {
		if !hasKey(remove, k) {
			remove = append(remove, k)
		}
	}
	return FieldUpdate{Op: OpMapOps, Put: put, RemoveKeys: remove}, nil
}

func putHas(es []avrox.Entry, k []byte) bool {
	for _, e := range es {
		if bytes.Equal(e.Key, k) {
			return true
		}
	}
	return false
}
