package partialupdate

import (
	"fmt"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
)

// ParseJSON reads the JSON form of an update (see the package
// documentation) for schema s. Unknown members, unknown fields, values of
// the wrong type, an operation that does not fit the field, setting and
// merging one field, and an update that touches nothing are errors naming
// the field.
func ParseJSON(s *Schema, data []byte) (*Update, error) {
	doc, err := avrox.ParseJSON(data)
	if err != nil {
		return nil, fmt.Errorf("partialupdate: %w: %w", ErrWrongType, err)
	}
	ops, groups, ok := doc.Members()
	if !ok {
		return nil, fmt.Errorf("partialupdate: %w: an update is a JSON object", ErrWrongType)
	}
	b := NewBuilder(s)
	for g, op := range ops {
		fields, vals, ok := groups[g].Members()
		if !ok {
			return nil, fmt.Errorf("partialupdate: %w: %q must map field names to values", ErrWrongType, op)
		}
		for k, name := range fields {
			fi, fu := b.field(name)
			if fi == nil {
				continue
			}
			if err := parseOp(b, op, fi, fu, vals[k]); err != nil {
				b.errs = append(b.errs, err)
			}
		}
	}
	return b.Build()
}

func parseOp(b *Builder, op string, fi *Field, fu *FieldUpdate, v avrox.ParsedJSON) error {
	name := fi.Name
	elems := func() ([][]byte, error) {
		es, ok := v.Elements()
		if !ok {
			return nil, fieldErr(name, ErrWrongType, "%q takes a JSON array of elements", op)
		}
		out := make([][]byte, 0, len(es))
		for i, e := range es {
			enc, err := e.Append(nil, fi.Elem)
			if err != nil {
				return nil, wrapField(name, ErrWrongType, fmt.Errorf("element %d: %w", i, err))
			}
			out = append(out, enc)
		}
		return out, nil
	}
	switch op {
	case "set":
		if v.IsNull() && !fi.Nullable() {
			return fieldErr(name, ErrNotNullable, "")
		}
		enc, err := v.Append(nil, fi.Type)
		if err != nil {
			return wrapField(name, ErrWrongType, err)
		}
		n := len(b.errs)
		b.set(fi, fu, enc)
		if len(b.errs) > n {
			err := b.errs[n]
			b.errs = b.errs[:n]
			return err
		}
	case "add", "remove":
		n := len(b.errs)
		if !b.merge(fi, fu, List, op) {
			err := b.errs[n]
			b.errs = b.errs[:n]
			return err
		}
		es, err := elems()
		if err != nil {
			return err
		}
		if op == "add" {
			fu.Add = append(fu.Add, es...)
		} else {
			fu.Remove = append(fu.Remove, es...)
		}
	case "put":
		n := len(b.errs)
		if !b.merge(fi, fu, Map, op) {
			err := b.errs[n]
			b.errs = b.errs[:n]
			return err
		}
		keys, vals, ok := v.Members()
		if !ok {
			return fieldErr(name, ErrWrongType, `"put" takes a JSON object of entries`)
		}
		for i, k := range keys {
			enc, err := vals[i].Append(nil, fi.Elem)
			if err != nil {
				return wrapField(name, ErrWrongType, atKey(k, err))
			}
			fu.Put = putEntry(fu.Put, avrox.Entry{Key: []byte(k), Value: enc})
		}
	case "removeKeys":
		n := len(b.errs)
		if !b.merge(fi, fu, Map, op) {
			err := b.errs[n]
			b.errs = b.errs[:n]
			return err
		}
		es, ok := v.Elements()
		if !ok {
			return fieldErr(name, ErrWrongType, `"removeKeys" takes a JSON array of keys`)
		}
		for i, e := range es {
			k, ok := e.String()
			if !ok {
				return fieldErr(name, ErrWrongType, "key %d is not a string", i)
			}
			fu.RemoveKeys = append(fu.RemoveKeys, []byte(k))
		}
	default:
		return fmt.Errorf("partialupdate: %w: unknown operation %q (want set, add, remove, put, removeKeys)", ErrWrongType, op)
	}
	return nil
}

// JSON renders the update in its JSON form. Fields appear in schema order
// within each operation; a merge with no elements renders as an empty
// "add" (lists) or "put" (maps) so that it reads back as the same merge.
func (u *Update) JSON() ([]byte, error) {
	type group struct {
		name string
		body []byte
	}
	groups := []*group{{name: "set"}, {name: "add"}, {name: "remove"}, {name: "put"}, {name: "removeKeys"}}
	member := func(g *group, field string) {
		if len(g.body) > 0 {
			g.body = append(g.body, ',')
		}
		g.body = appendJSONString(g.body, field)
		g.body = append(g.body, ':')
	}
	items := func(dst []byte, s avro.Schema, its [][]byte) ([]byte, error) {
		dst = append(dst, '[')
		for i, it := range its {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, _, err = avrox.AppendJSON(dst, s, it); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	var err error
	for i, fu := range u.fields {
		fi := &u.schema.fields[i]
		switch fu.Op {
		case OpSet:
			member(groups[0], fi.Name)
			if groups[0].body, _, err = avrox.AppendJSON(groups[0].body, fi.Type, fu.Value); err != nil {
				return nil, wrapField(fi.Name, ErrCorrupt, err)
			}
		case OpListOps:
			if len(fu.Add) > 0 || len(fu.Remove) == 0 {
				member(groups[1], fi.Name)
				if groups[1].body, err = items(groups[1].body, fi.Elem, fu.Add); err != nil {
					return nil, wrapField(fi.Name, ErrCorrupt, err)
				}
			}
			if len(fu.Remove) > 0 {
				member(groups[2], fi.Name)
				if groups[2].body, err = items(groups[2].body, fi.Elem, fu.Remove); err != nil {
					return nil, wrapField(fi.Name, ErrCorrupt, err)
				}
			}
		case OpMapOps:
			if len(fu.Put) > 0 || len(fu.RemoveKeys) == 0 {
				member(groups[3], fi.Name)
				g := groups[3]
				g.body = append(g.body, '{')
				// A key put twice keeps its last value (the later put
				// overwrites the earlier on apply); JSON has one member per key.
				last := make(map[string]int, len(fu.Put))
				for k, e := range fu.Put {
					last[string(e.Key)] = k
				}
				first := true
				for k, e := range fu.Put {
					if last[string(e.Key)] != k {
						continue
					}
					if !first {
						g.body = append(g.body, ',')
					}
					first = false
					if !utf8.Valid(e.Key) { // two such keys could become one member
						return nil, fmt.Errorf("partialupdate: field %q: map key %q is not UTF-8: %w", fi.Name, e.Key, ErrNoJSON)
					}
					g.body = appendJSONString(g.body, string(e.Key))
					g.body = append(g.body, ':')
					if g.body, _, err = avrox.AppendJSON(g.body, fi.Elem, e.Value); err != nil {
						return nil, wrapField(fi.Name, ErrCorrupt, err)
					}
				}
				g.body = append(g.body, '}')
			}
			if len(fu.RemoveKeys) > 0 {
				member(groups[4], fi.Name)
				g := groups[4]
				g.body = append(g.body, '[')
				for k, key := range fu.RemoveKeys {
					if k > 0 {
						g.body = append(g.body, ',')
					}
					g.body = appendJSONString(g.body, string(key))
				}
				g.body = append(g.body, ']')
			}
		}
	}
	out := []byte{'{'}
	first := true
	for _, g := range groups {
		if len(g.body) == 0 {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = appendJSONString(out, g.name)
		out = append(out, ":{"...)
		out = append(out, g.body...)
		out = append(out, '}')
	}
	return append(out, '}'), nil
}

func appendJSONString(dst []byte, s string) []byte {
	j, _, _ := avrox.AppendJSON(dst, stringSchema, avrox.AppendString(nil, s))
	return j
}

// ValueFromJSON converts the plain JSON form of a value (an object with one
// member per field; see the package documentation) to value bytes of the
// record schema. It is strict: an unknown field, a value of the wrong type
// or a missing field without default is an error naming the field.
func ValueFromJSON(value avro.Schema, data []byte) ([]byte, error) {
	b, err := avrox.FromJSON(value, data)
	if err != nil {
		return nil, fmt.Errorf("partialupdate: %w: %w", ErrWrongType, err)
	}
	return b, nil
}

// ValueToJSON renders value bytes of the schema in the plain JSON form.
// Trailing bytes after the value are an error.
func ValueToJSON(value avro.Schema, b []byte) ([]byte, error) {
	j, n, err := avrox.ToJSON(value, b)
	if err != nil {
		return nil, fmt.Errorf("partialupdate: %w: %w", ErrCorrupt, err)
	}
	if n != len(b) {
		return nil, fmt.Errorf("partialupdate: %w: %d trailing bytes after the value", ErrCorrupt, len(b)-n)
	}
	return j, nil
}
