package avrox

import (
	"bytes"
	"encoding/binary"
	"math"

	"github.com/hamba/avro/v2"
)

// Compare compares the values of schema s at the front of a and b in Avro
// sort order as SEMANTICS.md defines it and returns -1, 0 or +1:
//
//   - null == null; booleans false < true;
//   - int and long numerically; float and double numerically with a total
//     order: -0 < +0 and every NaN is equal to every NaN and larger than
//     +Inf (the order of Java's Float.compare, which the Avro reference
//     implementation uses);
//   - string, bytes and fixed byte-wise (unsigned lexicographic);
//   - enums by symbol position;
//   - records field by field in schema order, skipping fields with
//     "order":"ignore" and reversing fields with "order":"descending";
//   - arrays element by element, then the shorter first;
//   - unions by branch index, then by value;
//   - maps by number of entries, then entry by entry in stored order (key
//     byte-wise, then value).
//
// Malformed input returns an error, never a panic.
func Compare(s avro.Schema, a, b []byte) (int, error) {
	c, _, _, err := compare(s, a, b, 0)
	return c, topError(err)
}

// Equal reports whether two values of schema s are equal in Avro order
// (Compare == 0): the identity of collection elements. Fields with
// "order":"ignore" do not count. Byte-identical encodings are equal without
// decoding.
func Equal(s avro.Schema, a, b []byte) (bool, error) {
	if bytes.Equal(a, b) {
		return true, nil
	}
	c, err := Compare(s, a, b)
	return c == 0, err
}

// CanonicalBytes reports whether, for schema s, two valid canonical encodings
// are equal in Avro order exactly when their bytes are equal. That holds for
// schemas without float, double, arrays, maps and "order":"ignore" fields;
// callers may then hash encodings instead of comparing them pairwise.
func CanonicalBytes(s avro.Schema) bool {
	return canonicalBytes(s, map[avro.Schema]bool{})
}

func canonicalBytes(s avro.Schema, seen map[avro.Schema]bool) bool {
	s = Deref(s)
	if seen[s] {
		return true
	}
	switch s := s.(type) {
	case *avro.NullSchema:
		return true
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float, avro.Double:
			return false
		}
		return true
	case *avro.EnumSchema, *avro.FixedSchema:
		return true
	case *avro.RecordSchema:
		seen[s] = true
		for _, f := range s.Fields() {
			if f.Order() == avro.Ignore || !canonicalBytes(f.Type(), seen) {
				return false
			}
		}
		return true
	case *avro.UnionSchema:
		for _, t := range s.Types() {
			if !canonicalBytes(t, seen) {
				return false
			}
		}
		return true
	}
	return false
}

func cmpInt(x, y int64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// CompareFloat64 is the total order used for doubles: numeric, -0 < +0,
// NaN equal to NaN and above +Inf.
func CompareFloat64(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	bx, by := int64(math.Float64bits(x)), int64(math.Float64bits(y))
	if x != x {
		bx = 0x7ff8000000000000
	}
	if y != y {
		by = 0x7ff8000000000000
	}
	return cmpInt(bx, by)
}

// CompareFloat32 is CompareFloat64 for floats.
func CompareFloat32(x, y float32) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	bx, by := int32(math.Float32bits(x)), int32(math.Float32bits(y))
	if x != x {
		bx = 0x7fc00000
	}
	if y != y {
		by = 0x7fc00000
	}
	return cmpInt(int64(bx), int64(by))
}

func compare(s avro.Schema, a, b []byte, depth int) (int, int, int, error) {
	if depth > MaxDepth {
		return 0, 0, 0, ErrLimit
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return compare(s.Schema(), a, b, depth+1)
	case *avro.NullSchema:
		return 0, 0, 0, nil
	case *avro.PrimitiveSchema:
		return comparePrimitive(s.Type(), a, b)
	case *avro.RecordSchema:
		pa, pb, res := 0, 0, 0
		for _, f := range s.Fields() {
			if res != 0 || f.Order() == avro.Ignore {
				na, err := skip(f.Type(), a[pa:], depth+1)
				if err != nil {
					return 0, 0, 0, atField(f.Name(), err)
				}
				nb, err := skip(f.Type(), b[pb:], depth+1)
				if err != nil {
					return 0, 0, 0, atField(f.Name(), err)
				}
				pa, pb = pa+na, pb+nb
				continue
			}
			c, na, nb, err := compare(f.Type(), a[pa:], b[pb:], depth+1)
			if err != nil {
				return 0, 0, 0, atField(f.Name(), err)
			}
			if f.Order() == avro.Desc {
				c = -c
			}
			res = c
			pa, pb = pa+na, pb+nb
		}
		return res, pa, pb, nil
	case *avro.EnumSchema:
		x, na, err := ReadInt(a)
		if err != nil {
			return 0, 0, 0, err
		}
		y, nb, err := ReadInt(b)
		if err != nil {
			return 0, 0, 0, err
		}
		if x < 0 || y < 0 || int(x) >= len(s.Symbols()) || int(y) >= len(s.Symbols()) {
			return 0, 0, 0, ErrCorrupt
		}
		return cmpInt(int64(x), int64(y)), na, nb, nil
	case *avro.FixedSchema:
		n := s.Size()
		if len(a) < n || len(b) < n {
			return 0, 0, 0, ErrTruncated
		}
		return bytes.Compare(a[:n], b[:n]), n, n, nil
	case *avro.ArraySchema:
		return compareArrays(s.Items(), a, b, depth)
	case *avro.MapSchema:
		return compareMaps(s.Values(), a, b, depth)
	case *avro.UnionSchema:
		types := s.Types()
		x, na, err := ReadLong(a)
		if err != nil {
			return 0, 0, 0, err
		}
		y, nb, err := ReadLong(b)
		if err != nil {
			return 0, 0, 0, err
		}
		if x < 0 || y < 0 || x >= int64(len(types)) || y >= int64(len(types)) {
			return 0, 0, 0, ErrCorrupt
		}
		if x != y {
			ma, err := skip(types[x], a[na:], depth+1)
			if err != nil {
				return 0, 0, 0, atBranch(int(x), err)
			}
			mb, err := skip(types[y], b[nb:], depth+1)
			if err != nil {
				return 0, 0, 0, atBranch(int(y), err)
			}
			return cmpInt(x, y), na + ma, nb + mb, nil
		}
		c, ma, mb, err := compare(types[x], a[na:], b[nb:], depth+1)
		if err != nil {
			return 0, 0, 0, atBranch(int(x), err)
		}
		return c, na + ma, nb + mb, nil
	default:
		return 0, 0, 0, ErrSchema
	}
}

func comparePrimitive(t avro.Type, a, b []byte) (int, int, int, error) {
	switch t {
	case avro.Null:
		return 0, 0, 0, nil
	case avro.Boolean:
		if len(a) < 1 || len(b) < 1 {
			return 0, 0, 0, ErrTruncated
		}
		if a[0] > 1 || b[0] > 1 {
			return 0, 0, 0, ErrCorrupt
		}
		return cmpInt(int64(a[0]), int64(b[0])), 1, 1, nil
	case avro.Int, avro.Long:
		var x, y int64
		var na, nb int
		var err error
		if t == avro.Int {
			var xi, yi int32
			if xi, na, err = ReadInt(a); err != nil {
				return 0, 0, 0, err
			}
			if yi, nb, err = ReadInt(b); err != nil {
				return 0, 0, 0, err
			}
			x, y = int64(xi), int64(yi)
		} else {
			if x, na, err = ReadLong(a); err != nil {
				return 0, 0, 0, err
			}
			if y, nb, err = ReadLong(b); err != nil {
				return 0, 0, 0, err
			}
		}
		return cmpInt(x, y), na, nb, nil
	case avro.Float:
		if len(a) < 4 || len(b) < 4 {
			return 0, 0, 0, ErrTruncated
		}
		x := math.Float32frombits(binary.LittleEndian.Uint32(a))
		y := math.Float32frombits(binary.LittleEndian.Uint32(b))
		return CompareFloat32(x, y), 4, 4, nil
	case avro.Double:
		if len(a) < 8 || len(b) < 8 {
			return 0, 0, 0, ErrTruncated
		}
		x := math.Float64frombits(binary.LittleEndian.Uint64(a))
		y := math.Float64frombits(binary.LittleEndian.Uint64(b))
		return CompareFloat64(x, y), 8, 8, nil
	case avro.String, avro.Bytes:
		la, na, err := readLen(a)
		if err != nil {
			return 0, 0, 0, err
		}
		lb, nb, err := readLen(b)
		if err != nil {
			return 0, 0, 0, err
		}
		return bytes.Compare(a[na:na+la], b[nb:nb+lb]), na + la, nb + lb, nil
	}
	return 0, 0, 0, ErrSchema
}

// blockIter walks the items of an array or map across blocks.
type blockIter struct {
	b     []byte
	pos   int
	left  int // items left in the current block
	size  int // announced byte size of the current block, -1 if none
	start int // where the current block's items start
	total int
	done  bool
}

// next positions the iterator on the next item. It returns false at the end.
func (it *blockIter) next() (bool, error) {
	if it.done {
		return false, nil
	}
	for it.left == 0 {
		if it.size >= 0 && it.pos-it.start != it.size {
			return false, ErrCorrupt
		}
		count, size, n, err := readBlockHeader(it.b[it.pos:])
		if err != nil {
			return false, err
		}
		it.pos += n
		if count == 0 {
			it.done = true
			return false, nil
		}
		it.total += count
		if it.total > MaxItems {
			return false, ErrLimit
		}
		it.left, it.size, it.start = count, size, it.pos
	}
	it.left--
	return true, nil
}

func newBlockIter(b []byte) blockIter { return blockIter{b: b, size: -1} }

func compareArrays(items avro.Schema, a, b []byte, depth int) (int, int, int, error) {
	ia, ib := newBlockIter(a), newBlockIter(b)
	res, i := 0, 0
	for {
		oka, err := ia.next()
		if err != nil {
			return 0, 0, 0, atItem(i, err)
		}
		okb, err := ib.next()
		if err != nil {
			return 0, 0, 0, atItem(i, err)
		}
		if !oka || !okb {
			if res == 0 {
				switch {
				case oka:
					res = 1
				case okb:
					res = -1
				}
			}
			// Finish whichever side is left.
			if oka {
				if err := finishItems(&ia, items, false, depth); err != nil {
					return 0, 0, 0, atItem(i, err)
				}
			}
			if okb {
				if err := finishItems(&ib, items, false, depth); err != nil {
					return 0, 0, 0, atItem(i, err)
				}
			}
			return res, ia.pos, ib.pos, nil
		}
		if res != 0 {
			na, err := skip(items, a[ia.pos:], depth+1)
			if err != nil {
				return 0, 0, 0, atItem(i, err)
			}
			nb, err := skip(items, b[ib.pos:], depth+1)
			if err != nil {
				return 0, 0, 0, atItem(i, err)
			}
			ia.pos, ib.pos = ia.pos+na, ib.pos+nb
		} else {
			c, na, nb, err := compare(items, a[ia.pos:], b[ib.pos:], depth+1)
			if err != nil {
				return 0, 0, 0, atItem(i, err)
			}
			res = c
			ia.pos, ib.pos = ia.pos+na, ib.pos+nb
		}
		i++
	}
}

// finishItems skips the current item (already announced by next) and every
// remaining item.
func finishItems(it *blockIter, s avro.Schema, isMap bool, depth int) error {
	for {
		if isMap {
			l, n, err := readLen(it.b[it.pos:])
			if err != nil {
				return err
			}
			it.pos += n + l
		}
		n, err := skip(s, it.b[it.pos:], depth+1)
		if err != nil {
			return err
		}
		it.pos += n
		ok, err := it.next()
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
	}
}

// countMap validates a map and returns its entry count and length.
func countMap(values avro.Schema, b []byte, depth int) (int, int, error) {
	it := newBlockIter(b)
	n := 0
	for {
		ok, err := it.next()
		if err != nil {
			return 0, 0, atItem(n, err)
		}
		if !ok {
			return n, it.pos, nil
		}
		l, m, err := readLen(b[it.pos:])
		if err != nil {
			return 0, 0, atItem(n, err)
		}
		it.pos += m + l
		vl, err := skip(values, b[it.pos:], depth+1)
		if err != nil {
			return 0, 0, atKey(string(b[it.pos-l:it.pos]), err)
		}
		it.pos += vl
		n++
	}
}

func compareMaps(values avro.Schema, a, b []byte, depth int) (int, int, int, error) {
	ca, la, err := countMap(values, a, depth)
	if err != nil {
		return 0, 0, 0, err
	}
	cb, lb, err := countMap(values, b, depth)
	if err != nil {
		return 0, 0, 0, err
	}
	if ca != cb {
		return cmpInt(int64(ca), int64(cb)), la, lb, nil
	}
	// Both are valid now: compare entries in stored order.
	ia, ib := newBlockIter(a), newBlockIter(b)
	for {
		oka, err := ia.next()
		if err != nil {
			return 0, 0, 0, err
		}
		okb, err := ib.next()
		if err != nil {
			return 0, 0, 0, err
		}
		if !oka || !okb {
			return 0, la, lb, nil
		}
		ka, na, _ := readLen(a[ia.pos:])
		kb, nb, _ := readLen(b[ib.pos:])
		keyA := a[ia.pos+na : ia.pos+na+ka]
		keyB := b[ib.pos+nb : ib.pos+nb+kb]
		if c := bytes.Compare(keyA, keyB); c != 0 {
			return c, la, lb, nil
		}
		ia.pos += na + ka
		ib.pos += nb + kb
		c, va, vb, err := compare(values, a[ia.pos:], b[ib.pos:], depth+1)
		if err != nil {
			return 0, 0, 0, atKey(string(keyA), err)
		}
		if c != 0 {
			return c, la, lb, nil
		}
		ia.pos += va
		ib.pos += vb
	}
}
