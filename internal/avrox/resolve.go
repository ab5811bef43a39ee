package avrox

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/hamba/avro/v2"
)

// Resolver converts values written with a writer schema into the encoding
// of a reader schema (Avro schema resolution), working on bytes: wherever
// the writer's and reader's types have the same canonical form the value's
// bytes are copied as they are. A Resolver is immutable and safe for
// concurrent use.
//
// Supported: records (fields matched by name or reader alias; fields only
// in the reader take their default; fields only in the writer are skipped),
// promotions int→long→float→double (int→float, int→double, long→double
// too), string↔bytes, enums by symbol name (an unknown symbol takes the
// reader enum's default, else fails), fixed of equal name and size, arrays,
// maps, and unions on either side (a writer branch goes to the first reader
// branch it resolves to, same type before promotion).
type Resolver struct {
	root *resolver
	w, r avro.Schema
}

type rkind uint8

const (
	rCopy rkind = iota // same canonical form: copy the bytes
	rIntToFloat
	rIntToDouble
	rFloatToDouble
	rRecord
	rEnum
	rArray
	rMap
	rUnionToUnion  // writer union → reader union
	rUnionToSingle // writer union → reader non-union
	rSingleToUnion // writer non-union → reader union
)

type resolver struct {
	kind rkind
	w    avro.Schema

	// rRecord
	wfields  []rfield // per writer field
	rorder   []int    // per reader field: writer field index or -1
	defaults [][]byte // per reader field: encoded default (when rorder is -1)
	// rEnum: writer symbol index → reader index (-1: unknown)
	enumMap []int
	// rArray, rMap
	item *resolver
	// unions: per writer branch (or the single writer type)
	branches []*resolver
	targets  []int // reader branch index per writer branch (-1: none)
	target   int   // rSingleToUnion: reader branch
}

type rfield struct {
	name   string
	w      avro.Schema
	reader int // reader field index, -1: skip
	res    *resolver
}

// NewResolver compiles the resolution of writer schema w into reader schema
// r. It fails with ErrSchema, naming the field, when the schemas are not
// compatible.
func NewResolver(w, r avro.Schema) (*Resolver, error) {
	c := &resolveCompiler{memo: map[[2]avro.Schema]*resolver{}}
	root, err := c.compile(w, r)
	if err != nil {
		return nil, topError(err)
	}
	return &Resolver{root: root, w: w, r: r}, nil
}

// Identity reports whether the two schemas have the same encoding, so that
// resolution is a plain copy.
func (z *Resolver) Identity() bool { return z.root.kind == rCopy }

// Append converts the writer-schema value at the front of src, appends the
// reader-schema encoding to dst, and returns dst and the bytes read from src.
// On error dst is returned as it was given.
func (z *Resolver) Append(dst, src []byte) ([]byte, int, error) {
	out, n, err := z.root.apply(dst, src, 0)
	if err != nil {
		return dst, 0, topError(err)
	}
	return out, n, nil
}

type resolveCompiler struct {
	memo map[[2]avro.Schema]*resolver
}

func sameEncoding(w, r avro.Schema) bool {
	return w.Fingerprint() == r.Fingerprint()
}

func schemaErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrSchema)
}

func (c *resolveCompiler) compile(w, r avro.Schema) (*resolver, error) {
	w, r = Deref(w), Deref(r)
	key := [2]avro.Schema{w, r}
	if res, ok := c.memo[key]; ok {
		return res, nil
	}
	if sameEncoding(w, r) {
		res := &resolver{kind: rCopy, w: w}
		c.memo[key] = res
		return res, nil
	}
	wt, rt := w.Type(), r.Type()
	if wt == avro.Union || rt == avro.Union {
		return c.compileUnion(w, r)
	}
	switch {
	case wt == avro.Int && rt == avro.Long, wt == avro.String && rt == avro.Bytes, wt == avro.Bytes && rt == avro.String:
		return &resolver{kind: rCopy, w: w}, nil
	case (wt == avro.Int || wt == avro.Long) && rt == avro.Float:
		return &resolver{kind: rIntToFloat, w: w}, nil
	case (wt == avro.Int || wt == avro.Long) && rt == avro.Double:
		return &resolver{kind: rIntToDouble, w: w}, nil
	case wt == avro.Float && rt == avro.Double:
		return &resolver{kind: rFloatToDouble, w: w}, nil
	}
	if wt != rt {
		return nil, schemaErr("cannot read %s as %s", wt, rt)
	}
	switch ws := w.(type) {
	case *avro.RecordSchema:
		rs := r.(*avro.RecordSchema)
		if ws.Name() != rs.Name() && !slices.Contains(rs.Aliases(), ws.FullName()) && !slices.Contains(rs.Aliases(), ws.Name()) {
			return nil, schemaErr("record %s cannot be read as %s", ws.FullName(), rs.FullName())
		}
		res := &resolver{kind: rRecord, w: w}
		c.memo[key] = res
		rfields := rs.Fields()
		res.rorder = make([]int, len(rfields))
		res.defaults = make([][]byte, len(rfields))
		for i := range res.rorder {
			res.rorder[i] = -1
		}
		for wi, wf := range ws.Fields() {
			ri := slices.IndexFunc(rfields, func(f *avro.Field) bool {
				return f.Name() == wf.Name() || slices.Contains(f.Aliases(), wf.Name())
			})
			fr := rfield{name: wf.Name(), w: wf.Type(), reader: ri}
			if ri >= 0 {
				sub, err := c.compile(wf.Type(), rfields[ri].Type())
				if err != nil {
					return nil, atField(wf.Name(), err)
				}
				fr.res = sub
				res.rorder[ri] = wi
			}
			res.wfields = append(res.wfields, fr)
		}
		for ri, rf := range rfields {
			if res.rorder[ri] >= 0 {
				continue
			}
			d, err := AppendDefault(nil, rf)
			if err != nil {
				return nil, atField(rf.Name(), schemaErr("field is new in the reader schema and has no default"))
			}
			res.defaults[ri] = d
		}
		return res, nil
	case *avro.EnumSchema:
		rs := r.(*avro.EnumSchema)
		if ws.Name() != rs.Name() {
			return nil, schemaErr("enum %s cannot be read as %s", ws.FullName(), rs.FullName())
		}
		res := &resolver{kind: rEnum, w: w}
		for _, sym := range ws.Symbols() {
			i := slices.Index(rs.Symbols(), sym)
			if i < 0 && rs.HasDefault() {
				i = slices.Index(rs.Symbols(), rs.Default())
			}
			res.enumMap = append(res.enumMap, i)
		}
		return res, nil
	case *avro.FixedSchema:
		rs := r.(*avro.FixedSchema)
		if ws.Size() != rs.Size() || ws.Name() != rs.Name() {
			return nil, schemaErr("fixed %s cannot be read as %s", ws.FullName(), rs.FullName())
		}
		return &resolver{kind: rCopy, w: w}, nil
	case *avro.ArraySchema:
		res := &resolver{kind: rArray, w: w}
		c.memo[key] = res
		sub, err := c.compile(ws.Items(), r.(*avro.ArraySchema).Items())
		if err != nil {
			return nil, err
		}
		res.item = sub
		return res, nil
	case *avro.MapSchema:
		res := &resolver{kind: rMap, w: w}
		c.memo[key] = res
		sub, err := c.compile(ws.Values(), r.(*avro.MapSchema).Values())
		if err != nil {
			return nil, err
		}
		res.item = sub
		return res, nil
	}
	// Same primitive type with a different logical type: same encoding.
	if _, ok := w.(*avro.PrimitiveSchema); ok {
		return &resolver{kind: rCopy, w: w}, nil
	}
	return nil, schemaErr("cannot read %s as %s", wt, rt)
}

// matchBranch finds the reader union branch for writer type w: first a
// branch of the same encoding (or same name), then the first that resolves.
func (c *resolveCompiler) matchBranch(w avro.Schema, rtypes []avro.Schema) (int, *resolver) {
	w = Deref(w)
	for i, rt := range rtypes {
		rt = Deref(rt)
		if sameEncoding(w, rt) {
			return i, &resolver{kind: rCopy, w: w}
		}
	}
	for i, rt := range rtypes {
		rt = Deref(rt)
		wn, wok := w.(avro.NamedSchema)
		rn, rok := rt.(avro.NamedSchema)
		if wok && rok && wn.Name() != rn.Name() {
			continue
		}
		if res, err := c.compile(w, rt); err == nil {
			return i, res
		}
	}
	return -1, nil
}

func (c *resolveCompiler) compileUnion(w, r avro.Schema) (*resolver, error) {
	wu, wIsUnion := w.(*avro.UnionSchema)
	ru, rIsUnion := r.(*avro.UnionSchema)
	switch {
	case wIsUnion && rIsUnion:
		res := &resolver{kind: rUnionToUnion, w: w}
		found := false
		for _, wt := range wu.Types() {
			i, sub := c.matchBranch(wt, ru.Types())
			res.targets = append(res.targets, i)
			res.branches = append(res.branches, sub)
			found = found || i >= 0
		}
		if !found {
			return nil, schemaErr("no branch of %s can be read as %s", w, r)
		}
		return res, nil
	case wIsUnion:
		res := &resolver{kind: rUnionToSingle, w: w}
		found := false
		for _, wt := range wu.Types() {
			i, sub := c.matchBranch(wt, []avro.Schema{r})
			res.targets = append(res.targets, i)
			res.branches = append(res.branches, sub)
			found = found || i >= 0
		}
		if !found {
			return nil, schemaErr("no branch of %s can be read as %s", w, r)
		}
		return res, nil
	default:
		i, sub := c.matchBranch(w, ru.Types())
		if i < 0 {
			return nil, schemaErr("%s cannot be read as %s", w.Type(), r)
		}
		return &resolver{kind: rSingleToUnion, w: w, branches: []*resolver{sub}, target: i}, nil
	}
}

func (z *resolver) apply(dst, src []byte, depth int) ([]byte, int, error) {
	if depth > MaxDepth {
		return dst, 0, ErrLimit
	}
	switch z.kind {
	case rCopy:
		n, err := skip(z.w, src, depth)
		if err != nil {
			return dst, 0, err
		}
		return append(dst, src[:n]...), n, nil
	case rIntToFloat, rIntToDouble:
		v, n, err := ReadLong(src)
		if err != nil {
			return dst, 0, err
		}
		if z.w.Type() == avro.Int && (v < math.MinInt32 || v > math.MaxInt32) {
			return dst, 0, ErrCorrupt
		}
		if z.kind == rIntToFloat {
			return AppendFloat(dst, float32(v)), n, nil
		}
		return AppendDouble(dst, float64(v)), n, nil
	case rFloatToDouble:
		if len(src) < 4 {
			return dst, 0, ErrTruncated
		}
		f := math.Float32frombits(binary.LittleEndian.Uint32(src))
		return AppendDouble(dst, float64(f)), 4, nil
	case rRecord:
		return z.applyRecord(dst, src, depth)
	case rEnum:
		i, n, err := ReadInt(src)
		if err != nil {
			return dst, 0, err
		}
		if i < 0 || int(i) >= len(z.enumMap) {
			return dst, 0, ErrCorrupt
		}
		if z.enumMap[i] < 0 {
			return dst, 0, fmt.Errorf("enum symbol %d has no reader symbol and no default: %w", i, ErrSchema)
		}
		return AppendLong(dst, int64(z.enumMap[i])), n, nil
	case rArray, rMap:
		return z.applyBlocks(dst, src, depth)
	case rUnionToUnion, rUnionToSingle:
		idx, n, err := ReadLong(src)
		if err != nil {
			return dst, 0, err
		}
		if idx < 0 || idx >= int64(len(z.targets)) {
			return dst, 0, ErrCorrupt
		}
		t := z.targets[idx]
		if t < 0 {
			return dst, 0, atBranch(int(idx), fmt.Errorf("branch has no match in the reader schema: %w", ErrSchema))
		}
		if z.kind == rUnionToUnion {
			dst = AppendLong(dst, int64(t))
		}
		out, m, err := z.branches[idx].apply(dst, src[n:], depth+1)
		if err != nil {
			return dst, 0, atBranch(int(idx), err)
		}
		return out, n + m, nil
	case rSingleToUnion:
		start := len(dst)
		dst = AppendLong(dst, int64(z.target))
		out, n, err := z.branches[0].apply(dst, src, depth+1)
		if err != nil {
			return dst[:start], 0, err
		}
		return out, n, nil
	}
	return dst, 0, ErrSchema
}

func (z *resolver) applyRecord(dst, src []byte, depth int) ([]byte, int, error) {
	// Fast path: writer fields map to reader fields in the same order and
	// no reader field is new: convert field by field straight into dst.
	inOrder := len(z.rorder) == len(z.wfields)
	for i, w := range z.rorder {
		if w != i {
			inOrder = false
			break
		}
	}
	if inOrder {
		pos := 0
		for _, f := range z.wfields {
			var n int
			var err error
			if dst, n, err = f.res.apply(dst, src[pos:], depth+1); err != nil {
				return dst, 0, atField(f.name, err)
			}
			pos += n
		}
		return dst, pos, nil
	}
	var spansBuf [16]Span
	spans := spansBuf[:0]
	pos := 0
	for _, f := range z.wfields {
		n, err := skip(f.w, src[pos:], depth+1)
		if err != nil {
			return dst, 0, atField(f.name, err)
		}
		spans = append(spans, Span{pos, pos + n})
		pos += n
	}
	for ri, wi := range z.rorder {
		if wi < 0 {
			dst = append(dst, z.defaults[ri]...)
			continue
		}
		f := z.wfields[wi]
		var err error
		if dst, _, err = f.res.apply(dst, src[spans[wi].Start:spans[wi].End], depth+1); err != nil {
			return dst, 0, atField(f.name, err)
		}
	}
	return dst, pos, nil
}

func (z *resolver) applyBlocks(dst, src []byte, depth int) ([]byte, int, error) {
	isMap := z.kind == rMap
	it := newBlockIter(src)
	var countPos int
	count := 0
	for i := 0; ; i++ {
		ok, err := it.next()
		if err != nil {
			return dst, 0, atItem(i, err)
		}
		if !ok {
			break
		}
		if count == 0 {
			// Reserve room for the count; patched below.
			countPos = len(dst)
		}
		count++
		if isMap {
			l, m, err := readLen(src[it.pos:])
			if err != nil {
				return dst, 0, atItem(i, err)
			}
			dst = append(dst, src[it.pos:it.pos+m+l]...)
			it.pos += m + l
		}
		var n int
		if dst, n, err = z.item.apply(dst, src[it.pos:], depth+1); err != nil {
			return dst, 0, atItem(i, err)
		}
		it.pos += n
	}
	if count > 0 {
		// Insert the block count in front of the items.
		var hdr [10]byte
		h := AppendLong(hdr[:0], int64(count))
		dst = slices.Insert(dst, countPos, h...)
	}
	return append(dst, 0), it.pos, nil
}
