package avrox

import (
	"github.com/hamba/avro/v2"
)

// Span is the half-open byte range [Start, End) of one value inside a buffer.
type Span struct{ Start, End int }

// RecordSpans appends to dst the span of every field of record rs in the
// value at the front of b, in schema order, and returns the spans and the
// record's total length. Field i of the record is b[spans[i].Start:spans[i].End].
func RecordSpans(rs *avro.RecordSchema, b []byte, dst []Span) ([]Span, int, error) {
	pos := 0
	for _, f := range rs.Fields() {
		n, err := skip(f.Type(), b[pos:], 1)
		if err != nil {
			return dst, 0, topError(atField(f.Name(), err))
		}
		dst = append(dst, Span{pos, pos + n})
		pos += n
	}
	return dst, pos, nil
}

// Entry is one map entry: the key's raw bytes (no length prefix) and the
// encoded value.
type Entry struct {
	Key   []byte
	Value []byte
}

// ArrayItems appends to dst every item of the array (item schema items) at
// the front of b, each as a sub-slice of b holding its encoding, and returns
// the items and the array's total length. Items of every block are returned
// in order.
func ArrayItems(items avro.Schema, b []byte, dst [][]byte) ([][]byte, int, error) {
	pos, total := 0, 0
	fs := fixedSize(items)
	for {
		count, size, n, err := readBlockHeader(b[pos:])
		if err != nil {
			return dst, 0, topError(atItem(total, err))
		}
		pos += n
		if count == 0 {
			return dst, pos, nil
		}
		total += count
		if total > MaxItems {
			return dst, 0, topError(ErrLimit)
		}
		start := pos
		for i := 0; i < count; i++ {
			m := fs
			if fs < 0 {
				m, err = skip(items, b[pos:], 1)
				if err != nil {
					return dst, 0, topError(atItem(total-count+i, err))
				}
			} else if m > len(b)-pos {
				return dst, 0, topError(atItem(total-count+i, ErrTruncated))
			}
			dst = append(dst, b[pos:pos+m:pos+m])
			pos += m
		}
		if size >= 0 && pos-start != size {
			return dst, 0, topError(ErrCorrupt)
		}
	}
}

// MapEntries appends to dst every entry of the map (value schema values) at
// the front of b in stored order, and returns the entries and the map's total
// length. Keys and values are sub-slices of b.
func MapEntries(values avro.Schema, b []byte, dst []Entry) ([]Entry, int, error) {
	pos, total := 0, 0
	for {
		count, size, n, err := readBlockHeader(b[pos:])
		if err != nil {
			return dst, 0, topError(atItem(total, err))
		}
		pos += n
		if count == 0 {
			return dst, pos, nil
		}
		total += count
		if total > MaxItems {
			return dst, 0, topError(ErrLimit)
		}
		start := pos
		for i := 0; i < count; i++ {
			l, m, err := readLen(b[pos:])
			if err != nil {
				return dst, 0, topError(atItem(total-count+i, err))
			}
			key := b[pos+m : pos+m+l : pos+m+l]
			pos += m + l
			vl, err := skip(values, b[pos:], 1)
			if err != nil {
				return dst, 0, topError(atKey(string(key), err))
			}
			dst = append(dst, Entry{Key: key, Value: b[pos : pos+vl : pos+vl]})
			pos += vl
		}
		if size >= 0 && pos-start != size {
			return dst, 0, topError(ErrCorrupt)
		}
	}
}

// AppendArray appends the canonical encoding of an array whose items are
// already encoded: one block with a positive count, then the 0 terminator
// (just 0 for an empty array).
func AppendArray(dst []byte, items [][]byte) []byte {
	if len(items) > 0 {
		dst = AppendLong(dst, int64(len(items)))
		for _, it := range items {
			dst = append(dst, it...)
		}
	}
	return append(dst, 0)
}

// AppendMap appends the canonical encoding of a map from entries with
// encoded values, in the given order: one block with a positive count, then 0.
func AppendMap(dst []byte, entries []Entry) []byte {
	if len(entries) > 0 {
		dst = AppendLong(dst, int64(len(entries)))
		for _, e := range entries {
			dst = AppendBytes(dst, e.Key)
			dst = append(dst, e.Value...)
		}
	}
	return append(dst, 0)
}

// UnionBranch reads the branch index of a union value of schema u at the
// front of b. It returns the index, the branch schema and the length of the
// index; the branch value follows at b[n:].
func UnionBranch(u *avro.UnionSchema, b []byte) (int, avro.Schema, int, error) {
	idx, n, err := ReadLong(b)
	if err != nil {
		return 0, nil, 0, topError(err)
	}
	types := u.Types()
	if idx < 0 || idx >= int64(len(types)) {
		return 0, nil, 0, topError(ErrCorrupt)
	}
	return int(idx), types[idx], n, nil
}
