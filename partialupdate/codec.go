package partialupdate

import (
	"fmt"

	"github.com/rialtodb/rialto/internal/avrox"
)

// Encode returns the update's bytes: one record of the derived update
// schema (Schema().Update()). Pass them to the writer together with the
// value and update schema ids.
func (u *Update) Encode() ([]byte, error) {
	return u.AppendEncode(nil), nil
}

// AppendEncode appends the update's bytes to dst.
func (u *Update) AppendEncode(dst []byte) []byte {
	for i := range u.fields {
		fi, fu := &u.schema.fields[i], &u.fields[i]
		switch fu.Op {
		case OpNone:
			dst = append(dst, 0) // branch 0: the empty NoOp record
		case OpSet:
			if fi.Union == nil {
				dst = avrox.AppendLong(dst, int64(fi.setBase))
				dst = append(dst, fu.Value...)
			} else {
				// Value starts with the value-union branch index; the update
				// union holds the same branches shifted by setBase.
				b, n, _ := avrox.ReadLong(fu.Value)
				dst = avrox.AppendLong(dst, int64(fi.setBase)+b)
				dst = append(dst, fu.Value[n:]...)
			}
		case OpListOps:
			dst = avrox.AppendLong(dst, 1)
			dst = avrox.AppendArray(dst, fu.Add)
			dst = avrox.AppendArray(dst, fu.Remove)
		case OpMapOps:
			dst = avrox.AppendLong(dst, 1)
			dst = avrox.AppendMap(dst, fu.Put)
			dst = avrox.AppendLong(dst, int64(len(fu.RemoveKeys)))
			if len(fu.RemoveKeys) > 0 {
				for _, k := range fu.RemoveKeys {
					dst = avrox.AppendBytes(dst, k)
				}
				dst = append(dst, 0)
			}
		}
	}
	return dst
}

// Decode reads update bytes written in s's update schema. Every value is
// validated against the field's type; the result's byte slices alias b, which
// must not be modified while the update is in use. Errors name the field.
// An update that touches no field is ErrEmptyUpdate.
func Decode(s *Schema, b []byte) (*Update, error) {
	u := &Update{schema: s, fields: make([]FieldUpdate, len(s.fields))}
	pos := 0
	for i := range s.fields {
		fi := &s.fields[i]
		n, err := decodeField(fi, &u.fields[i], b[pos:])
		if err != nil {
			return nil, err
		}
		pos += n
	}
	if pos != len(b) {
		return nil, fmt.Errorf("partialupdate: %w: %d trailing bytes after the update", ErrCorrupt, len(b)-pos)
	}
	if !u.touchesAny() {
		return nil, errEmpty()
	}
	return u, nil
}

func (u *Update) touchesAny() bool {
	for i := range u.fields {
		if u.fields[i].Op != OpNone {
			return true
		}
	}
	return false
}

func decodeField(fi *Field, fu *FieldUpdate, b []byte) (int, error) {
	idx, n, err := avrox.ReadLong(b)
	if err != nil {
		return 0, wrapField(fi.Name, ErrCorrupt, err)
	}
	nset := int64(1)
	if fi.Union != nil {
		nset = int64(len(fi.Union.Types()))
	}
	switch {
	case idx == 0:
		return n, nil
	case idx == 1 && fi.Kind != Scalar:
		if fi.Kind == List {
			add, m, err := avrox.ArrayItems(fi.Elem, b[n:], nil)
			if err != nil {
				return 0, wrapField(fi.Name, ErrCorrupt, fmt.Errorf("setUnion: %w", err))
			}
			rem, k, err := avrox.ArrayItems(fi.Elem, b[n+m:], nil)
			if err != nil {
				return 0, wrapField(fi.Name, ErrCorrupt, fmt.Errorf("setDiff: %w", err))
			}
			*fu = FieldUpdate{Op: OpListOps, Add: add, Remove: rem}
			return n + m + k, nil
		}
		put, m, err := avrox.MapEntries(fi.Elem, b[n:], nil)
		if err != nil {
			return 0, wrapField(fi.Name, ErrCorrupt, fmt.Errorf("mapUnion: %w", err))
		}
		keys, k, err := avrox.ArrayItems(stringSchema, b[n+m:], nil)
		if err != nil {
			return 0, wrapField(fi.Name, ErrCorrupt, fmt.Errorf("mapDiff: %w", err))
		}
		for j, key := range keys {
			_, p, _ := avrox.ReadLong(key)
			keys[j] = key[p:]
		}
		*fu = FieldUpdate{Op: OpMapOps, Put: put, RemoveKeys: keys}
		return n + m + k, nil
	case idx >= int64(fi.setBase) && idx < int64(fi.setBase)+nset:
		if fi.Union == nil {
			m, err := avrox.Skip(fi.Type, b[n:])
			if err != nil {
				return 0, wrapField(fi.Name, ErrCorrupt, err)
			}
			*fu = FieldUpdate{Op: OpSet, Value: b[n : n+m : n+m]}
			return n + m, nil
		}
		branch := idx - int64(fi.setBase)
		m, err := avrox.Skip(fi.Union.Types()[branch], b[n:])
		if err != nil {
			return 0, wrapField(fi.Name, ErrCorrupt, err)
		}
		v := avrox.AppendLong(make([]byte, 0, m+2), branch)
		*fu = FieldUpdate{Op: OpSet, Value: append(v, b[n:n+m]...)}
		return n + m, nil
	}
	return 0, fieldErr(fi.Name, ErrCorrupt, "update union branch %d out of range", idx)
}
