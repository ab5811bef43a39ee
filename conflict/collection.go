package conflict

import (
	"bytes"
	"slices"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

var (
	longSchema   = avro.NewPrimitiveSchema(avro.Long, nil)
	stringSchema = avro.NewPrimitiveSchema(avro.String, nil)
)

// elem is one collection element: a list item (val) or a map entry (key,
// val); in tombstones val (lists) or key (maps) names the element.
type elem struct {
	key []byte
	val []byte
	ts  int64
}

// coll is one collection field with its metadata (SEMANTICS §3, §6): the
// put-only prefix, the merge part sorted by (ts, element) and the
// tombstones sorted by (ts, element).
type coll struct {
	fi        *partialupdate.Field
	isMap     bool
	base      []byte // a non-collection value (null, another union branch); only in put-only state
	prefix    []elem
	merge     []elem
	tombs     []elem
	topTs     int64
	topRegion int32
	canon     bool // identity is byte equality
	s         *scratch
	err       error // first comparison error (only on malformed bytes)
}

func (c *coll) putOnly() bool { return len(c.merge) == 0 && len(c.tombs) == 0 }

// scratch holds the working memory of one Resolve call; it is pooled so
// that the hot path allocates only the result. Slices in it alias inputs,
// never the other way round.
type scratch struct {
	fs       fieldState
	vsp, rsp []avrox.Span
	psp      []avrox.Span
	outs     []fieldOut
	buf      []byte // touched fields' new value and RMD bytes (fieldOut offsets)
	raw      [][]byte
	ents     []avrox.Entry
	elems    []elem // the stored collection's elements
	lelems   []elem // a whole-field set's new elements
	tombs    []elem
	add, rem []elem
	c        coll
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

// putScratch returns s to the pool. Its slices may still reference the last
// call's input bytes; sync.Pool drops entries within two GC cycles, so that
// retention is bounded, and scratches grown by huge inputs are not kept.
func putScratch(s *scratch) {
	if cap(s.buf) > 1<<20 || cap(s.elems) > 1<<14 || cap(s.lelems) > 1<<14 || cap(s.tombs) > 1<<14 {
		return
	}
	scratchPool.Put(s)
}

// splitValue reads a collection field value into dst: its items, or its
// bytes as a base when it holds another branch of the union (null).
func splitValue(fi *partialupdate.Field, v []byte, s *scratch, dst []elem) (base []byte, items []elem, err error) {
	items = dst[:0]
	body := v
	if fi.Union != nil {
		br, n, err := avrox.ReadLong(v)
		if err != nil {
			return nil, nil, err
		}
		if int(br) != fi.CollBranch {
			return v, nil, nil
		}
		body = v[n:]
	}
	if fi.Kind == partialupdate.Map {
		es, _, err := avrox.MapEntries(fi.Elem, body, s.ents[:0])
		s.ents = es[:0]
		if err != nil {
			return nil, nil, err
		}
		for _, e := range es {
			items = append(items, elem{key: e.Key, val: e.Value})
		}
		return nil, items, nil
	}
	items, err = splitItems(fi.Elem, body, items)
	return nil, items, err
}

// primLen returns a function measuring one value of primitive type t at the
// front of b (nil for other types): the hot path of splitItems.
func itemSkipper(t avro.Schema) func(b []byte) (int, error) {
	p, ok := avrox.Deref(t).(*avro.PrimitiveSchema)
	if !ok || p.Logical() != nil {
		return nil
	}
	switch p.Type() {
	case avro.String, avro.Bytes:
		return func(b []byte) (int, error) {
			l, n, err := avrox.ReadLong(b)
			if err != nil {
				return 0, err
			}
			if l < 0 || l > int64(len(b)-n) {
				return 0, avrox.ErrTruncated
			}
			return n + int(l), nil
		}
	case avro.Int, avro.Long:
		return func(b []byte) (int, error) {
			_, n, err := avrox.ReadLong(b)
			return n, err
		}
	}
	return nil
}

// splitItems appends to dst every item of the array at the front of b (all
// blocks; a negative count is followed by the block's byte size, which must
// match). Items alias b.
func splitItems(items avro.Schema, b []byte, dst []elem) ([]elem, error) {
	fast := itemSkipper(items)
	pos := 0
	for {
		cnt, n, err := avrox.ReadLong(b[pos:])
		if err != nil {
			return dst, err
		}
		pos += n
		if cnt == 0 {
			if pos != len(b) {
				return dst, avrox.ErrCorrupt
			}
			return dst, nil
		}
		size := int64(-1)
		if cnt < 0 {
			cnt = -cnt
			if size, n, err = avrox.ReadLong(b[pos:]); err != nil {
				return dst, err
			}
			pos += n
		}
		if cnt < 0 || cnt > avrox.MaxItems || int(cnt)+len(dst) > avrox.MaxItems {
			return dst, avrox.ErrLimit
		}
		start := pos
		for k := int64(0); k < cnt; k++ {
			var m int
			if fast != nil {
				m, err = fast(b[pos:])
			} else {
				m, err = avrox.Skip(items, b[pos:])
			}
			if err != nil {
				return dst, err
			}
			dst = append(dst, elem{val: b[pos : pos+m : pos+m]})
			pos += m
		}
		if size >= 0 && int64(pos-start) != size {
			return dst, avrox.ErrCorrupt
		}
	}
}

// decodeColl builds the collection state from the field's value bytes and
// its RMD bytes (a <f>_Collection record).
// canon says that element identity is byte equality (avrox.CanonicalBytes
// of the item type). The coll lives in s and is valid until the next call.
func decodeColl(fi *partialupdate.Field, canon bool, v, r []byte, s *scratch) (*coll, error) {
	s.c = coll{fi: fi, isMap: fi.Kind == partialupdate.Map, canon: canon, s: s}
	c := &s.c
	base, items, err := splitValue(fi, v, s, s.elems)
	s.elems = items[:0]
	if err != nil {
		return nil, err
	}
	c.base = base
	pos := 0
	next := func() (int64, error) {
		x, n, err := avrox.ReadLong(r[pos:])
		pos += n
		return x, err
	}
	if c.topTs, err = next(); err != nil {
		return nil, err
	}
	reg, err := next()
	if err != nil {
		return nil, err
	}
	c.topRegion = int32(reg)
	pol, err := next()
	if err != nil {
		return nil, err
	}
	// activeTs: blocks of longs.
	nActive := 0
	for {
		cnt, m, err := avrox.ReadLong(r[pos:])
		if err != nil {
			return nil, err
		}
		pos += m
		if cnt == 0 {
			break
		}
		if cnt < 0 {
			cnt = -cnt
			_, m, err := avrox.ReadLong(r[pos:])
			if err != nil {
				return nil, err
			}
			pos += m
		}
		if cnt < 0 || pol < 0 || cnt > int64(len(items)) || int(pol)+nActive+int(cnt) > len(items) {
			return nil, errorf(ErrCorrupt, "field %q: RMD has more timestamps than the value has elements", fi.Name)
		}
		for k := int64(0); k < cnt; k++ {
			t, m, err := avrox.ReadLong(r[pos:])
			if err != nil {
				return nil, err
			}
			pos += m
			items[int(pol)+nActive].ts = t
			nActive++
		}
	}
	if pol < 0 || int(pol)+nActive != len(items) || (base != nil && len(items) > 0) {
		return nil, errorf(ErrCorrupt, "field %q: RMD has %d put-only and %d active elements, value has %d", fi.Name, pol, nActive, len(items))
	}
	c.prefix = items[:pol:pol]
	c.merge = items[pol:]
	c.tombs = s.tombs[:0]
	// Tombstones: blocks of (element | key, ts).
	for {
		cnt, m, err := avrox.ReadLong(r[pos:])
		if err != nil {
			return nil, err
		}
		pos += m
		if cnt == 0 {
			break
		}
		if cnt < 0 {
			cnt = -cnt
			_, m, err := avrox.ReadLong(r[pos:])
			if err != nil {
				return nil, err
			}
			pos += m
		}
		if cnt > avrox.MaxItems || int(cnt)+len(c.tombs) > avrox.MaxItems {
			return nil, errorf(ErrCorrupt, "field %q: too many tombstones", fi.Name)
		}
		for k := int64(0); k < cnt; k++ {
			var t elem
			if c.isMap {
				s, err := avrox.Skip(stringSchema, r[pos:])
				if err != nil {
					return nil, err
				}
				_, hn, _ := avrox.ReadLong(r[pos:])
				t.key = r[pos+hn : pos+s : pos+s]
				pos += s
			} else {
				s, err := avrox.Skip(fi.Elem, r[pos:])
				if err != nil {
					return nil, err
				}
				t.val = r[pos : pos+s : pos+s]
				pos += s
			}
			if t.ts, err = next(); err != nil {
				return nil, err
			}
			c.tombs = append(c.tombs, t)
		}
	}
	s.tombs = c.tombs[:0]
	if pos != len(r) {
		return nil, errorf(ErrCorrupt, "field %q: %d trailing RMD bytes", fi.Name, len(r)-pos)
	}
	return c, nil
}

// appendValue appends the field's value: the base in put-only state, else
// the prefix followed by the merge part.
func (c *coll) appendValue(dst []byte) []byte {
	if c.base != nil && c.putOnly() && len(c.prefix) == 0 {
		return append(dst, c.base...)
	}
	if c.fi.Union != nil {
		dst = avrox.AppendLong(dst, int64(c.fi.CollBranch))
	}
	n := len(c.prefix) + len(c.merge)
	if n > 0 {
		dst = avrox.AppendLong(dst, int64(n))
		for _, part := range [2][]elem{c.prefix, c.merge} {
			for _, e := range part {
				if c.isMap {
					dst = avrox.AppendBytes(dst, e.key)
				}
				dst = append(dst, e.val...)
			}
		}
	}
	return append(dst, 0)
}

// appendRMD appends the <f>_Collection record.
func (c *coll) appendRMD(dst []byte) []byte {
	dst = avrox.AppendLong(dst, c.topTs)
	dst = avrox.AppendLong(dst, int64(c.topRegion))
	dst = avrox.AppendLong(dst, int64(len(c.prefix)))
	if len(c.merge) > 0 {
		dst = avrox.AppendLong(dst, int64(len(c.merge)))
		for _, e := range c.merge {
			dst = avrox.AppendLong(dst, e.ts)
		}
	}
	dst = append(dst, 0)
	if len(c.tombs) > 0 {
		dst = avrox.AppendLong(dst, int64(len(c.tombs)))
		for _, t := range c.tombs {
			if c.isMap {
				dst = avrox.AppendBytes(dst, t.key)
			} else {
				dst = append(dst, t.val...)
			}
			dst = avrox.AppendLong(dst, t.ts)
		}
	}
	return append(dst, 0)
}

// same reports element identity: Avro equality for list items, key bytes
// for map entries.
func (c *coll) same(a, b *elem) bool {
	if c.isMap {
		return bytes.Equal(a.key, b.key)
	}
	if c.canon {
		return bytes.Equal(a.val, b.val)
	}
	eq, err := avrox.Equal(c.fi.Elem, a.val, b.val)
	if err != nil && c.err == nil {
		c.err = err
	}
	return eq
}

// order is the element order: Avro order (keys byte-wise for maps), then
// the encoded bytes, so that Avro-equal items with different bytes (NaN
// payloads, order:ignore fields) still sort one way.
func (c *coll) order(a, b *elem) int {
	if c.isMap {
		return bytes.Compare(a.key, b.key)
	}
	r, err := avrox.Compare(c.fi.Elem, a.val, b.val)
	if err != nil && c.err == nil {
		c.err = err
	}
	if r != 0 {
		return r
	}
	return bytes.Compare(a.val, b.val)
}

func (c *coll) sortByTs(es []elem) {
	slices.SortStableFunc(es, func(a, b elem) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return c.order(&a, &b)
	})
}

func indexOf(c *coll, es []elem, e *elem) int {
	for i := range es {
		if c.same(&es[i], e) {
			return i
		}
	}
	return -1
}

// wholeFieldIgnored is SEMANTICS §6 "Ignoring a whole-field operation".
func (c *coll) wholeFieldIgnored(ts int64, region int32) bool {
	return c.topTs > ts || (c.topTs == ts && c.topRegion > region)
}

// set is §6 "Whole-field set" of value v (encoded in the field's type), and
// with v = the field's default also "Whole-field delete". It reports false
// when the operation is ignored.
//
// Deviations from the text, each needed for convergence (doc.go, "Notes on
// SEMANTICS"): tombstones are kept only when strictly newer than ts, and L
// keeps its duplicates outside put-only state as it does inside it.
func (c *coll) set(v []byte, ts int64, region int32) (bool, error) {
	if c.wholeFieldIgnored(ts, region) {
		return false, nil
	}
	base, items, err := splitValue(c.fi, v, c.s, c.s.lelems)
	c.s.lelems = items[:0]
	if err != nil {
		return false, err
	}
	c.topTs, c.topRegion = ts, region
	wasPutOnly := c.putOnly()
	keep := func(es []elem, orEqual bool) []elem {
		out := es[:0] // in place
		for _, e := range es {
			if e.ts > ts || (orEqual && e.ts == ts) {
				out = append(out, e)
			}
		}
		return out
	}
	c.merge = keep(c.merge, false)
	c.tombs = keep(c.tombs, asWritten.setKeepsTombstonesAtTs)
	if asWritten.setDedupes && !wasPutOnly {
		items = c.dedupeKeepLast(items)
	}
	prefix := items[:0] // in place
	for i := range items {
		if (len(c.merge) > 0 && indexOf(c, c.merge, &items[i]) >= 0) || (len(c.tombs) > 0 && indexOf(c, c.tombs, &items[i]) >= 0) {
			continue
		}
		prefix = append(prefix, items[i])
	}
	c.prefix = prefix
	c.base = base
	return true, c.err
}

// dedupeKeepLast keeps the last occurrence of each element (the text of §6
// step 3; only used with asWritten.setDedupes).
func (c *coll) dedupeKeepLast(items []elem) []elem {
	var out []elem
	for i := range items {
		if indexOf(c, items[i+1:], &items[i]) < 0 {
			out = append(out, items[i])
		}
	}
	return out
}

// mergeOps is §6 "Merge": add (setUnion / mapUnion entries) then remove
// (setDiff items / mapDiff keys, as elems with key set for maps) at ts.
func (c *coll) mergeOps(add, remove []elem, ts int64) error {
	if ts <= c.topTs {
		return nil
	}
	// Step 1 (add and remove are the caller's scratch: filtered in place
	// into copies so that neither filter sees the other's result).
	a, r := add, remove
	if len(remove) > 0 && len(add) > 0 {
		a = c.s.lelems[:0]
		for i := range add {
			if indexOf(c, remove, &add[i]) < 0 {
				a = append(a, add[i])
			}
		}
		c.s.lelems = a[:0]
		if !c.isMap {
			r = remove[:0]
			for i := range remove {
				if indexOf(c, add, &remove[i]) < 0 {
					r = append(r, remove[i])
				}
			}
		}
	}
	if len(a) == 0 && len(r) == 0 {
		return c.err
	}
	for i := range a {
		c.add(&a[i], ts)
	}
	for i := range r {
		c.remove(&r[i], ts)
	}
	// Step 4.
	c.sortByTs(c.merge)
	c.sortByTs(c.tombs)
	return c.err
}

// dropFromPrefix removes every copy of e from the put-only prefix and
// reports whether there was one.
func (c *coll) dropFromPrefix(e *elem) bool {
	n := 0
	found := false
	for i := range c.prefix {
		if c.same(&c.prefix[i], e) {
			found = true
			continue
		}
		c.prefix[n] = c.prefix[i]
		n++
	}
	c.prefix = c.prefix[:n]
	return found
}

func (c *coll) add(e *elem, ts int64) {
	ne := elem{key: e.key, val: e.val, ts: ts}
	if i := indexOf(c, c.tombs, e); i >= 0 {
		if c.tombs[i].ts >= ts {
			return // stays removed
		}
		c.tombs = slices.Delete(c.tombs, i, i+1)
		c.merge = append(c.merge, ne)
		return
	}
	if c.dropFromPrefix(e) {
		c.merge = append(c.merge, ne)
		return
	}
	i := indexOf(c, c.merge, e)
	switch {
	case i < 0:
		c.merge = append(c.merge, ne)
	case c.merge[i].ts < ts:
		c.merge[i] = ne
	case c.merge[i].ts == ts:
		if c.isMap {
			if c.mapValueWins(e.val, c.merge[i].val) {
				c.merge[i].val = e.val
			}
		} else if bytes.Compare(e.val, c.merge[i].val) > 0 {
			c.merge[i].val = e.val // Avro-equal: keep the larger encoding
		}
	}
}

func (c *coll) remove(e *elem, ts int64) {
	ne := elem{key: e.key, val: e.val, ts: ts}
	if c.isMap {
		ne.val = nil
	}
	if i := indexOf(c, c.tombs, e); i >= 0 {
		t := &c.tombs[i]
		if t.ts < ts || (t.ts == ts && !c.isMap && bytes.Compare(e.val, t.val) > 0) {
			*t = ne
		}
		return
	}
	if c.dropFromPrefix(e) {
		c.tombs = append(c.tombs, ne)
		return
	}
	if i := indexOf(c, c.merge, e); i >= 0 {
		if c.merge[i].ts > ts {
			return
		}
		c.merge = slices.Delete(c.merge, i, i+1)
	}
	c.tombs = append(c.tombs, ne)
}

// mapValueWins is the tie rule of a map add at an equal timestamp: the new
// value replaces the current one only if it is larger; a null current value
// always loses, a null new value never wins.
func (c *coll) mapValueWins(nv, cur []byte) bool {
	if isNull(c.fi.Elem, nv) {
		return false
	}
	if isNull(c.fi.Elem, cur) {
		return true
	}
	r, err := avrox.Compare(c.fi.Elem, nv, cur)
	if err != nil && c.err == nil {
		c.err = err
	}
	if r != 0 {
		return r > 0
	}
	return bytes.Compare(nv, cur) > 0
}

// isNull reports whether v (of schema s) is null: the null type, or a union
// value in its null branch.
func isNull(s avro.Schema, v []byte) bool {
	switch t := avrox.Deref(s).(type) {
	case *avro.NullSchema:
		return true
	case *avro.PrimitiveSchema:
		return t.Type() == avro.Null
	case *avro.UnionSchema:
		_, br, _, err := avrox.UnionBranch(t, v)
		if err != nil {
			return false
		}
		return isNull(br, nil)
	}
	return false
}
