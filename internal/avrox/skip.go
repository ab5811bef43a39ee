package avrox

import (
	"github.com/hamba/avro/v2"
)

// Deref returns the named schema a reference points to, or s itself.
func Deref(s avro.Schema) avro.Schema {
	for {
		r, ok := s.(*avro.RefSchema)
		if !ok {
			return s
		}
		s = r.Schema()
	}
}

// Skip returns the length of the value of schema s at the front of b. It
// never panics: truncated or malformed input returns an error wrapping
// ErrTruncated, ErrCorrupt or ErrLimit with the path of the failing value.
// Every nested value is validated, including blocks that announce their byte
// size.
func Skip(s avro.Schema, b []byte) (int, error) {
	n, err := skip(s, b, 0)
	return n, topError(err)
}

// Validate checks that b holds exactly one value of schema s.
func Validate(s avro.Schema, b []byte) error {
	n, err := skip(s, b, 0)
	if err != nil {
		return topError(err)
	}
	if n != len(b) {
		return topError(ErrCorrupt)
	}
	return nil
}

// fixedSize returns the encoded size of values of s when every value has the
// same size (null 0, float 4, double 8, fixed N), else -1.
func fixedSize(s avro.Schema) int {
	switch s := Deref(s).(type) {
	case *avro.NullSchema:
		return 0
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float:
			return 4
		case avro.Double:
			return 8
		case avro.Null:
			return 0
		}
	case *avro.FixedSchema:
		return s.Size()
	}
	return -1
}

func skip(s avro.Schema, b []byte, depth int) (int, error) {
	if depth > MaxDepth {
		return 0, ErrLimit
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return skip(s.Schema(), b, depth+1)
	case *avro.NullSchema:
		return 0, nil
	case *avro.PrimitiveSchema:
		return skipPrimitive(s.Type(), b)
	case *avro.RecordSchema:
		pos := 0
		for _, f := range s.Fields() {
			n, err := skip(f.Type(), b[pos:], depth+1)
			if err != nil {
				return 0, atField(f.Name(), err)
			}
			pos += n
		}
		return pos, nil
	case *avro.EnumSchema:
		v, n, err := ReadInt(b)
		if err != nil {
			return 0, err
		}
		if v < 0 || int(v) >= len(s.Symbols()) {
			return 0, ErrCorrupt
		}
		return n, nil
	case *avro.FixedSchema:
		if len(b) < s.Size() {
			return 0, ErrTruncated
		}
		return s.Size(), nil
	case *avro.ArraySchema:
		return skipBlocks(s.Items(), false, b, depth)
	case *avro.MapSchema:
		return skipBlocks(s.Values(), true, b, depth)
	case *avro.UnionSchema:
		idx, n, err := ReadLong(b)
		if err != nil {
			return 0, err
		}
		types := s.Types()
		if idx < 0 || idx >= int64(len(types)) {
			return 0, ErrCorrupt
		}
		m, err := skip(types[idx], b[n:], depth+1)
		if err != nil {
			return 0, atBranch(int(idx), err)
		}
		return n + m, nil
	default:
		return 0, ErrSchema
	}
}

func skipPrimitive(t avro.Type, b []byte) (int, error) {
	switch t {
	case avro.Null:
		return 0, nil
	case avro.Boolean:
		if len(b) < 1 {
			return 0, ErrTruncated
		}
		if b[0] > 1 {
			return 0, ErrCorrupt
		}
		return 1, nil
	case avro.Int:
		_, n, err := ReadInt(b)
		return n, err
	case avro.Long:
		_, n, err := ReadLong(b)
		return n, err
	case avro.Float:
		if len(b) < 4 {
			return 0, ErrTruncated
		}
		return 4, nil
	case avro.Double:
		if len(b) < 8 {
			return 0, ErrTruncated
		}
		return 8, nil
	case avro.String, avro.Bytes:
		l, n, err := readLen(b)
		return n + l, err
	default:
		return 0, ErrSchema
	}
}

// readBlockHeader reads an array or map block header. It returns the item
// count (0 ends the collection), the announced byte size (-1 when absent)
// and the header length.
func readBlockHeader(b []byte) (count int, size int, n int, err error) {
	c, n, err := ReadLong(b)
	if err != nil {
		return 0, 0, 0, err
	}
	if c >= 0 {
		if c > MaxItems {
			return 0, 0, 0, ErrLimit
		}
		return int(c), -1, n, nil
	}
	if c < -MaxItems {
		return 0, 0, 0, ErrLimit
	}
	sz, m, err := ReadLong(b[n:])
	if err != nil {
		return 0, 0, 0, err
	}
	if sz < 0 {
		return 0, 0, 0, ErrCorrupt
	}
	if sz > int64(len(b)-n-m) {
		return 0, 0, 0, ErrTruncated
	}
	return int(-c), int(sz), n + m, nil
}

func skipBlocks(item avro.Schema, isMap bool, b []byte, depth int) (int, error) {
	pos, total := 0, 0
	fs := fixedSize(item)
	for {
		count, size, n, err := readBlockHeader(b[pos:])
		if err != nil {
			return 0, atItem(total, err)
		}
		pos += n
		if count == 0 {
			if size > 0 {
				return 0, ErrCorrupt
			}
			return pos, nil
		}
		total += count
		if total > MaxItems {
			return 0, ErrLimit
		}
		start := pos
		if fs >= 0 && !isMap {
			if fs > 0 && count > (len(b)-pos)/fs {
				return 0, atItem(total-count, ErrTruncated)
			}
			pos += count * fs
		} else {
			for i := 0; i < count; i++ {
				if isMap {
					l, m, err := readLen(b[pos:])
					if err != nil {
						return 0, atItem(total-count+i, err)
					}
					key := b[pos+m : pos+m+l]
					pos += m + l
					m, err = skip(item, b[pos:], depth+1)
					if err != nil {
						return 0, atKey(string(key), err)
					}
					pos += m
					continue
				}
				m, err := skip(item, b[pos:], depth+1)
				if err != nil {
					return 0, atItem(total-count+i, err)
				}
				pos += m
			}
		}
		if size >= 0 && pos-start != size {
			return 0, ErrCorrupt
		}
	}
}
