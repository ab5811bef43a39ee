package conflict

import (
	"bytes"
	"fmt"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// Mode is the RMD form of a store version (SEMANTICS §3).
type Mode uint8

const (
	// ValueLevel keeps one timestamp per value (§4). PUT and DELETE only.
	ValueLevel Mode = iota + 1
	// FieldLevel keeps a timestamp per field and per collection element
	// (§5, §6). PUT, DELETE and UPDATE.
	FieldLevel
)

func (m Mode) String() string {
	switch m {
	case ValueLevel:
		return "value-level"
	case FieldLevel:
		return "field-level"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Kind is the kind of an operation.
type Kind uint8

const (
	// Put writes a whole value.
	Put Kind = iota + 1
	// Delete deletes the value.
	Delete
	// Update is a partial update (sets and collection merges).
	Update
)

func (k Kind) String() string {
	switch k {
	case Put:
		return "put"
	case Delete:
		return "delete"
	case Update:
		return "update"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// State is what is stored for a key.
type State struct {
	// Value is the stored value, encoded with SchemaID; nil when the key is
	// absent or a tombstone.
	Value []byte
	// Tombstone marks a deleted key (Value is nil; RMD is kept).
	Tombstone bool
	// SchemaID is the value schema of Value, and the schema whose RMD
	// schema RMD is written in.
	SchemaID int32
	// RMD is the replication metadata; nil when there is none (a key never
	// written, or batch data without timestamps).
	RMD []byte
}

// Op is one operation to resolve against a State.
type Op struct {
	Kind Kind
	// Value is the whole value (Put, encoded with SchemaID) or the update
	// bytes (Update, encoded with the update schema derived from SchemaID).
	// Unused for Delete.
	Value []byte
	// SchemaID is the value schema of a Put, or the value schema an Update
	// was derived from.
	SchemaID int32
	// Decoded optionally carries an Update already decoded with the
	// resolver's UpdateSchema(SchemaID) (or a schema of identical fields);
	// Value is then ignored.
	Decoded *partialupdate.Update
	// TS orders the operation (logical timestamp or producer clock, ms).
	TS int64
	// Region is the id of the region whose RT topic carried the operation
	// (batch data: -1).
	Region int32
}

// Result is the outcome of Resolve.
type Result struct {
	// Applied reports whether the stored state changes. When false, the
	// other members repeat the stored state.
	Applied bool
	// Value is the new value (nil for a tombstone), in SchemaID.
	Value []byte
	// Tombstone marks a deleted key.
	Tombstone bool
	// SchemaID is the value schema of Value and RMD: the superset schema
	// for field-level results, the put's schema for value-level ones.
	SchemaID int32
	// RMD is the new replication metadata.
	RMD []byte
}

func unchanged(st State) Result {
	return Result{Value: st.Value, Tombstone: st.Tombstone, SchemaID: st.SchemaID, RMD: st.RMD}
}

// Resolver resolves operations against stored state for one store version.
// It caches per-schema work and is safe for concurrent use.
type Resolver struct {
	mode Mode
	c    cache
}

// New returns a Resolver for a store version whose RMD form is mode.
func New(reg Registry, mode Mode) (*Resolver, error) {
	if reg == nil {
		return nil, errorf(ErrSchema, "nil registry")
	}
	if mode != ValueLevel && mode != FieldLevel {
		return nil, errorf(ErrMode, "unknown mode %d", mode)
	}
	return &Resolver{mode: mode, c: cache{reg: reg}}, nil
}

// Mode returns the resolver's RMD form.
func (r *Resolver) Mode() Mode { return r.mode }

// RMDSchema returns the RMD schema derived from value schema id, and its
// JSON. Schemas that are not records (or not derivable into an update
// schema) only have the value-level branch.
func (r *Resolver) RMDSchema(id int32) (avro.Schema, string, error) {
	si, err := r.c.info(id)
	if err != nil {
		return nil, "", err
	}
	return si.rmd, si.rmdJSON, nil
}

// UpdateSchema returns the partial-update schema of value schema id, the
// one Resolve decodes Update bytes with.
func (r *Resolver) UpdateSchema(id int32) (*partialupdate.Schema, error) {
	si, err := r.c.info(id)
	if err != nil {
		return nil, err
	}
	if err := si.fieldLevel(); err != nil {
		return nil, err
	}
	return si.pu, nil
}

// ValueLevelRMD returns the value-level RMD bytes for timestamp ts.
func ValueLevelRMD(ts int64) []byte {
	return avrox.AppendLong(avrox.AppendLong(nil, valueLevelTag), ts)
}

// Resolve applies op to st per SEMANTICS §4–6 and returns the new state,
// or Applied=false with st repeated. It is a pure function of its inputs.
// st's byte slices are never modified; the Result may alias them.
func (r *Resolver) Resolve(st State, op Op) (Result, error) {
	return r.ResolveAppend(nil, st, op)
}

// ResolveAppend is Resolve writing a field-level result's value and RMD
// into dst's spare capacity when it is large enough (a leader can reuse one
// buffer per partition; the Result then aliases dst until dst is reused).
// dst must not alias st's or op's bytes.
func (r *Resolver) ResolveAppend(dst []byte, st State, op Op) (Result, error) {
	if st.Value == nil && !st.Tombstone && st.RMD != nil {
		return Result{}, errorf(ErrBadOp, "state has RMD but neither a value nor a tombstone")
	}
	switch op.Kind {
	case Put, Delete, Update:
	default:
		return Result{}, errorf(ErrBadOp, "unknown operation kind %d", op.Kind)
	}
	if r.mode == ValueLevel {
		return r.resolveValueLevel(st, op)
	}
	return r.resolveFieldLevel(dst, st, op)
}

// resolveValueLevel is SEMANTICS §4.
func (r *Resolver) resolveValueLevel(st State, op Op) (Result, error) {
	if op.Kind == Update {
		return Result{}, errorf(ErrMode, "an UPDATE needs field-level RMD; this store version keeps value-level RMD")
	}
	hasT := st.RMD != nil
	var T int64
	if hasT {
		tag, n, err := avrox.ReadLong(st.RMD)
		if err != nil {
			return Result{}, wrapf(ErrCorrupt, err, "stored RMD")
		}
		if tag != valueLevelTag {
			return Result{}, errorf(ErrMode, "stored RMD is field-level; this store version keeps value-level RMD")
		}
		t, m, err := avrox.ReadLong(st.RMD[n:])
		if err != nil || n+m != len(st.RMD) {
			return Result{}, errorf(ErrCorrupt, "stored value-level RMD")
		}
		T = t
	}
	if op.Kind == Delete {
		if hasT && op.TS < T {
			return unchanged(st), nil
		}
		if st.Tombstone && hasT && op.TS == T {
			return unchanged(st), nil
		}
		// The tombstone's schema id is the superset's, whatever value it
		// replaces, so that it does not depend on the order of arrival.
		sid, err := r.c.reg.SupersetID()
		if err != nil {
			return Result{}, fmt.Errorf("conflict: %w: superset id: %w", ErrUnknownSchema, err)
		}
		return Result{Applied: true, Tombstone: true, SchemaID: sid, RMD: ValueLevelRMD(op.TS)}, nil
	}
	si, err := r.c.info(op.SchemaID)
	if err != nil {
		return Result{}, err
	}
	if err := avrox.Validate(si.value, op.Value); err != nil {
		return Result{}, wrapf(ErrCorrupt, err, "put value (schema %d)", op.SchemaID)
	}
	put := Result{Applied: true, Value: op.Value, SchemaID: op.SchemaID, RMD: ValueLevelRMD(op.TS)}
	if !hasT || op.TS > T {
		return put, nil
	}
	if op.TS < T || st.Tombstone {
		return unchanged(st), nil // older, or a tie with a delete: deletes win ties
	}
	// Equal timestamps: the larger serialized bytes win; equal bytes of
	// different schemas: the larger schema id (so the tie has one answer).
	c := bytes.Compare(op.Value, st.Value)
	if c > 0 || (c == 0 && op.SchemaID > st.SchemaID) {
		return put, nil
	}
	return unchanged(st), nil
}

// fieldState is the stored state read in the superset schema S.
type fieldState struct {
	si     *schemaInfo
	absent bool
	val    []byte // record of S
	rmd    []byte // FieldTimestamps record of S
	vsp    []avrox.Span
	rsp    []avrox.Span
}

func (fs *fieldState) fieldVal(i int) []byte { return fs.val[fs.vsp[i].Start:fs.vsp[i].End] }
func (fs *fieldState) fieldRMD(i int) []byte { return fs.rmd[fs.rsp[i].Start:fs.rsp[i].End] }

// fieldTs is a field's timestamp: F for scalars, topTs for collections.
func (fs *fieldState) fieldTs(i int) int64 {
	t, _, _ := avrox.ReadLong(fs.fieldRMD(i))
	return t
}

// load reads st into the superset schema with field-level RMD (§3
// conversions; §5 "fields new to the stored value start at timestamp 0").
func (r *Resolver) load(st State, S *schemaInfo, s *scratch) (*fieldState, error) {
	fs := &s.fs
	*fs = fieldState{si: S, absent: st.Value == nil && !st.Tombstone}
	from := S
	if !fs.absent && st.SchemaID != S.id {
		a, err := r.c.info(st.SchemaID)
		if err != nil {
			return nil, err
		}
		from = a
	}
	if st.Value == nil {
		fs.val = S.pu.Defaults()
	} else if from == S {
		fs.val = st.Value
	} else {
		cv, err := r.c.conv(from, S)
		if err != nil {
			return nil, err
		}
		v, n, err := cv.value.Append(nil, st.Value)
		if err != nil {
			return nil, wrapf(ErrCorrupt, err, "stored value (schema %d)", from.id)
		}
		if n != len(st.Value) {
			return nil, errorf(ErrCorrupt, "stored value (schema %d): %d trailing bytes", from.id, len(st.Value)-n)
		}
		fs.val = v
	}
	var err error
	var n int
	fs.vsp, n, err = avrox.RecordSpans(S.rec, fs.val, s.vsp[:0])
	s.vsp = fs.vsp[:0]
	if err != nil {
		return nil, wrapf(ErrCorrupt, err, "stored value (schema %d)", from.id)
	}
	if n != len(fs.val) {
		return nil, errorf(ErrCorrupt, "stored value (schema %d): %d trailing bytes", from.id, len(fs.val)-n)
	}
	var T int64
	switch {
	case st.RMD == nil:
		fs.rmd, err = r.uniformRMD(fs, from, 0)
	default:
		tag, m, e := avrox.ReadLong(st.RMD)
		if e != nil {
			return nil, wrapf(ErrCorrupt, e, "stored RMD")
		}
		switch tag {
		case valueLevelTag:
			t, k, e := avrox.ReadLong(st.RMD[m:])
			if e != nil || m+k != len(st.RMD) {
				return nil, errorf(ErrCorrupt, "stored value-level RMD")
			}
			T = t
			fs.rmd, err = r.uniformRMD(fs, from, T)
		case fieldLevelTag:
			if err := from.fieldLevel(); err != nil {
				return nil, err
			}
			if from == S {
				fs.rmd = st.RMD[m:]
			} else {
				fs.rmd, err = r.convertRMD(fs, from, st.RMD[m:])
			}
		default:
			return nil, errorf(ErrCorrupt, "stored RMD: union branch %d", tag)
		}
	}
	if err != nil {
		return nil, err
	}
	fs.rsp, n, err = rmdSpans(S, fs.rmd, s.rsp[:0])
	s.rsp = fs.rsp[:0]
	if err != nil {
		return nil, wrapf(ErrCorrupt, err, "stored RMD")
	}
	if n != len(fs.rmd) {
		return nil, errorf(ErrCorrupt, "stored RMD: %d trailing bytes", len(fs.rmd)-n)
	}
	return fs, nil
}

// rmdSpans is avrox.RecordSpans for a FieldTimestamps record, specialised:
// varints are scanned without schema dispatch and only non-empty tombstone
// blocks are skipped with their schema.
func rmdSpans(S *schemaInfo, b []byte, dst []avrox.Span) ([]avrox.Span, int, error) {
	pos := 0
	varint := func() error {
		for k := 0; k < 10; k++ {
			if pos >= len(b) {
				return avrox.ErrTruncated
			}
			c := b[pos]
			pos++
			if c < 0x80 {
				return nil
			}
		}
		return avrox.ErrCorrupt
	}
	for i := range S.fields {
		start := pos
		if S.fields[i].Kind == partialupdate.Scalar {
			if err := varint(); err != nil {
				return dst, 0, wrapf(ErrCorrupt, err, "RMD field %q", S.fields[i].Name)
			}
			dst = append(dst, avrox.Span{Start: start, End: pos})
			continue
		}
		for k := 0; k < 3; k++ {
			if err := varint(); err != nil {
				return dst, 0, wrapf(ErrCorrupt, err, "RMD field %q", S.fields[i].Name)
			}
		}
		for _, items := range [2]avro.Schema{nil, S.tombItems[i]} {
			if pos < len(b) && b[pos] == 0 {
				pos++ // empty array: the common case
				continue
			}
			var n int
			var err error
			if items == nil {
				n, err = avrox.Skip(activeTsSchema, b[pos:])
			} else {
				n, err = avrox.Skip(S.tombArrays[i], b[pos:])
			}
			if err != nil {
				return dst, 0, wrapf(ErrCorrupt, err, "RMD field %q", S.fields[i].Name)
			}
			pos += n
		}
		dst = append(dst, avrox.Span{Start: start, End: pos})
	}
	return dst, pos, nil
}

var activeTsSchema = avro.NewArraySchema(longSchema)

// appendUniformFieldRMD appends field i's RMD for a value written at T with
// no finer metadata: scalars T; collections topTs T, topRegion -1,
// putOnlyLen = current size.
func appendUniformFieldRMD(dst []byte, fi *partialupdate.Field, v []byte, T int64) ([]byte, error) {
	dst = avrox.AppendLong(dst, T)
	if fi.Kind == partialupdate.Scalar {
		return dst, nil
	}
	_, items, err := splitValue(fi, v, new(scratch), nil)
	if err != nil {
		return nil, wrapf(ErrCorrupt, err, "field %q", fi.Name)
	}
	dst = avrox.AppendLong(dst, int64(noRegion))
	dst = avrox.AppendLong(dst, int64(len(items)))
	return append(dst, 0, 0), nil
}

// uniformRMD is the field-level RMD of a value of schema `from` (read in
// S) written at T: fields of S that `from` lacks start at 0 (§5).
func (r *Resolver) uniformRMD(fs *fieldState, from *schemaInfo, T int64) ([]byte, error) {
	var cv *conversion
	if from != fs.si {
		var err error
		if cv, err = r.c.conv(from, fs.si); err != nil {
			return nil, err
		}
		if cv.fromField == nil {
			return nil, errorf(ErrSchema, "schema %d has no fields to map into schema %d", from.id, fs.si.id)
		}
	}
	var dst []byte
	var err error
	for i := range fs.si.fields {
		t := T
		if cv != nil && cv.fromField[i] < 0 {
			t = 0
		}
		if dst, err = appendUniformFieldRMD(dst, &fs.si.fields[i], fs.fieldVal(i), t); err != nil {
			return nil, err
		}
	}
	return dst, nil
}

// convertRMD rewrites field-level RMD of schema `from` into S: fields are
// matched by name, tombstoned elements resolved into S's element type, and
// fields new to the stored value start at timestamp 0.
func (r *Resolver) convertRMD(fs *fieldState, from *schemaInfo, b []byte) ([]byte, error) {
	S := fs.si
	cv, err := r.c.conv(from, S)
	if err != nil {
		return nil, err
	}
	sp, n, err := avrox.RecordSpans(from.rmdFields, b, nil)
	if err != nil || n != len(b) {
		return nil, errorf(ErrCorrupt, "stored RMD (schema %d)", from.id)
	}
	var dst []byte
	for i := range S.fields {
		fi := &S.fields[i]
		j := cv.fromField[i]
		if j < 0 {
			if dst, err = appendUniformFieldRMD(dst, fi, fs.fieldVal(i), 0); err != nil {
				return nil, err
			}
			continue
		}
		fr := b[sp[j].Start:sp[j].End]
		if fi.Kind != partialupdate.List || cv.elemRes[i] == nil {
			dst = append(dst, fr...)
			continue
		}
		// List field with a different element encoding: re-encode the
		// tombstones. topTs, topRegion, putOnlyLen, activeTs are copied.
		pos := 0
		for k := 0; k < 3; k++ {
			_, m, err := avrox.ReadLong(fr[pos:])
			if err != nil {
				return nil, wrapf(ErrCorrupt, err, "stored RMD field %q", fi.Name)
			}
			pos += m
		}
		m, err := avrox.Skip(avro.NewArraySchema(longSchema), fr[pos:])
		if err != nil {
			return nil, wrapf(ErrCorrupt, err, "stored RMD field %q", fi.Name)
		}
		pos += m
		dst = append(dst, fr[:pos]...)
		items, _, err := avrox.ArrayItems(from.tombItems[j], fr[pos:], nil)
		if err != nil {
			return nil, wrapf(ErrCorrupt, err, "stored RMD field %q", fi.Name)
		}
		if len(items) > 0 {
			dst = avrox.AppendLong(dst, int64(len(items)))
			for _, it := range items {
				var k int
				if dst, k, err = cv.elemRes[i].Append(dst, it); err != nil {
					return nil, wrapf(ErrCorrupt, err, "stored RMD field %q", fi.Name)
				}
				dst = append(dst, it[k:]...) // the ts
			}
		}
		dst = append(dst, 0)
	}
	return dst, nil
}

// fieldOut locates the new value and RMD of one touched field in
// scratch.buf.
type fieldOut struct {
	touched        bool
	v0, v1, r0, r1 int
}

// resolveFieldLevel is SEMANTICS §5 and §6.
func (r *Resolver) resolveFieldLevel(dst []byte, st State, op Op) (Result, error) {
	sid, err := r.c.reg.SupersetID()
	if err != nil {
		return Result{}, fmt.Errorf("conflict: %w: superset id: %w", ErrUnknownSchema, err)
	}
	S, err := r.c.info(sid)
	if err != nil {
		return Result{}, err
	}
	if err := S.fieldLevel(); err != nil {
		return Result{}, err
	}
	s := getScratch()
	defer putScratch(s)
	fs, err := r.load(st, S, s)
	if err != nil {
		return Result{}, err
	}
	n := len(S.fields)
	if cap(s.outs) < n {
		s.outs = make([]fieldOut, n)
	}
	s.outs = s.outs[:n]
	clear(s.outs)
	s.buf = s.buf[:0]
	allDeleted := false
	switch op.Kind {
	case Put:
		err = r.fieldPut(fs, op, s)
	case Delete:
		allDeleted, err = r.fieldDelete(fs, op, s)
	case Update:
		err = r.fieldUpdate(fs, op, s)
	}
	if err != nil {
		if err == errIgnored {
			return unchanged(st), nil
		}
		return Result{}, err
	}
	// "changed" compares with the stored state read in S.
	changed := false
	vlen, rlen := len(fs.val), len(fs.rmd)
	for i := range s.outs {
		o := &s.outs[i]
		if !o.touched {
			continue
		}
		nv, nr := s.buf[o.v0:o.v1], s.buf[o.r0:o.r1]
		vlen += len(nv) - len(fs.fieldVal(i))
		rlen += len(nr) - len(fs.fieldRMD(i))
		if !changed && (!bytes.Equal(nv, fs.fieldVal(i)) || !bytes.Equal(nr, fs.fieldRMD(i))) {
			changed = true
		}
	}
	tomb := st.Tombstone
	switch {
	case op.Kind == Delete && allDeleted:
		tomb = true
	case changed:
		tomb = false
	}
	if !changed && !fs.absent && tomb == st.Tombstone {
		return unchanged(st), nil
	}
	// One buffer holds the new value and RMD.
	out := dst[len(dst):]
	if cap(out) < vlen+1+rlen {
		out = make([]byte, 0, vlen+1+rlen)
	}
	if !tomb {
		out = appendFields(out, fs.val, fs.vsp, s, true)
	}
	v := out[:len(out):len(out)]
	out = avrox.AppendLong(out, fieldLevelTag)
	out = appendFields(out, fs.rmd, fs.rsp, s, false)
	res := Result{Applied: true, Tombstone: tomb, SchemaID: S.id, RMD: out[len(v):]}
	if !tomb {
		res.Value = v
	}
	return res, nil
}

// appendFields appends the record: untouched fields copied from old in runs,
// touched ones from scratch.buf.
func appendFields(dst, old []byte, sp []avrox.Span, s *scratch, value bool) []byte {
	from := 0
	for i := range s.outs {
		o := &s.outs[i]
		if !o.touched {
			continue
		}
		dst = append(dst, old[from:sp[i].Start]...)
		if value {
			dst = append(dst, s.buf[o.v0:o.v1]...)
		} else {
			dst = append(dst, s.buf[o.r0:o.r1]...)
		}
		from = sp[i].End
	}
	return append(dst, old[from:]...)
}

type ignoredError struct{}

func (ignoredError) Error() string { return "ignored" }

// errIgnored signals "ignored outright"; never returned to callers.
var errIgnored error = ignoredError{}

// allNewer is the "ignored outright" test: every listed field's timestamp
// (topTs for collections) is strictly greater than ts; idx nil means every
// field.
func allNewer(fs *fieldState, idx []int, ts int64) bool {
	if idx == nil {
		for i := range fs.si.fields {
			if fs.fieldTs(i) <= ts {
				return false
			}
		}
		return true
	}
	for _, i := range idx {
		if fs.fieldTs(i) <= ts {
			return false
		}
	}
	return true
}

// scalarPut is the §5 PUT rule for one scalar field.
func scalarPut(t avro.Schema, cur []byte, F int64, nv []byte, ts int64) ([]byte, int64, error) {
	switch {
	case F < ts:
		return nv, ts, nil
	case F > ts:
		return cur, F, nil
	}
	c, err := avrox.Compare(t, nv, cur)
	if err != nil {
		return nil, 0, err
	}
	if c > 0 || (c == 0 && !asWritten.equalKeepsOld && bytes.Compare(nv, cur) > 0) {
		return nv, F, nil
	}
	return cur, F, nil
}

// asWritten switches back to the literal text of SEMANTICS.md where this
// package deviates from it to converge (doc.go, "Notes on SEMANTICS"). Only
// tests set it, to show that the literal text diverges.
var asWritten struct {
	setKeepsTombstonesAtTs bool // §6 set step 3: keep tombstones with ts >= the set's
	setDedupes             bool // §6 set step 3: de-duplicate L keeping the last occurrence
	deleteTieResets        bool // §5 DELETE: F <= ts resets the scalar even at F == ts
	equalKeepsOld          bool // §5: Avro-equal values with different bytes keep the old
}

// emitScalar records field i's new value and timestamp in scratch.buf.
func emitScalar(s *scratch, i int, v []byte, F int64) {
	o := &s.outs[i]
	o.touched = true
	o.v0 = len(s.buf)
	s.buf = append(s.buf, v...)
	o.v1, o.r0 = len(s.buf), len(s.buf)
	s.buf = avrox.AppendLong(s.buf, F)
	o.r1 = len(s.buf)
}

// emitColl records a collection field's new value and RMD in scratch.buf.
func emitColl(s *scratch, i int, c *coll) {
	o := &s.outs[i]
	o.touched = true
	o.v0 = len(s.buf)
	s.buf = c.appendValue(s.buf)
	o.v1, o.r0 = len(s.buf), len(s.buf)
	s.buf = c.appendRMD(s.buf)
	o.r1 = len(s.buf)
}

func (r *Resolver) setField(fs *fieldState, i int, nv []byte, ts int64, region int32, s *scratch) error {
	fi := &fs.si.fields[i]
	cur, fr := fs.fieldVal(i), fs.fieldRMD(i)
	if fi.Kind == partialupdate.Scalar {
		F, _, _ := avrox.ReadLong(fr)
		v, F2, err := scalarPut(fi.Type, cur, F, nv, ts)
		if err != nil {
			return wrapf(ErrCorrupt, err, "field %q", fi.Name)
		}
		emitScalar(s, i, v, F2)
		return nil
	}
	c, err := decodeColl(fi, fs.si.canon[i], cur, fr, s)
	if err != nil {
		return wrapf(ErrCorrupt, err, "field %q", fi.Name)
	}
	if _, err := c.set(nv, ts, region); err != nil {
		return wrapf(ErrCorrupt, err, "field %q", fi.Name)
	}
	emitColl(s, i, c)
	return nil
}

func (r *Resolver) fieldPut(fs *fieldState, op Op, s *scratch) error {
	S := fs.si
	if allNewer(fs, nil, op.TS) {
		return errIgnored
	}
	b := S
	if op.SchemaID != S.id {
		var err error
		if b, err = r.c.info(op.SchemaID); err != nil {
			return err
		}
	}
	pv := op.Value
	if b != S {
		cv, err := r.c.conv(b, S)
		if err != nil {
			return err
		}
		if err := avrox.Validate(b.value, op.Value); err != nil {
			return wrapf(ErrCorrupt, err, "put value (schema %d)", b.id)
		}
		if pv, _, err = cv.value.Append(nil, op.Value); err != nil {
			return wrapf(ErrCorrupt, err, "put value (schema %d)", b.id)
		}
	}
	sp, n, err := avrox.RecordSpans(S.rec, pv, s.psp[:0])
	s.psp = sp[:0]
	if err != nil || n != len(pv) {
		if err == nil {
			err = fmt.Errorf("%d trailing bytes", len(pv)-n)
		}
		return wrapf(ErrCorrupt, err, "put value (schema %d)", b.id)
	}
	for i := range S.fields {
		if err := r.setField(fs, i, pv[sp[i].Start:sp[i].End], op.TS, op.Region, s); err != nil {
			return err
		}
	}
	return nil
}

// fieldDelete is the §5 DELETE rule; it reports whether every field ended
// fully deleted.
func (r *Resolver) fieldDelete(fs *fieldState, op Op, s *scratch) (bool, error) {
	S := fs.si
	if allNewer(fs, nil, op.TS) {
		return false, errIgnored
	}
	all := true
	ts := op.TS
	for i := range S.fields {
		fi := &S.fields[i]
		cur, fr := fs.fieldVal(i), fs.fieldRMD(i)
		if fi.Kind == partialupdate.Scalar {
			F, _, _ := avrox.ReadLong(fr)
			v, deleted := cur, false
			switch {
			case F < ts:
				v, deleted = fi.Default, true
			case F == ts:
				// A delete at the field's own timestamp acts as a put of the
				// default at that timestamp, winning equal values (see
				// doc.go, "Notes on SEMANTICS", 1).
				c, err := avrox.Compare(fi.Type, fi.Default, cur)
				if err != nil {
					return false, wrapf(ErrCorrupt, err, "field %q", fi.Name)
				}
				if c > 0 || (c == 0 && bytes.Compare(fi.Default, cur) >= 0) || asWritten.deleteTieResets {
					v, deleted = fi.Default, true
				}
			}
			all = all && deleted
			emitScalar(s, i, v, max(F, ts))
			continue
		}
		c, err := decodeColl(fi, S.canon[i], cur, fr, s)
		if err != nil {
			return false, wrapf(ErrCorrupt, err, "field %q", fi.Name)
		}
		applied, err := c.set(fi.Default, ts, op.Region)
		if err != nil {
			return false, wrapf(ErrCorrupt, err, "field %q", fi.Name)
		}
		all = all && applied && c.putOnly()
		emitColl(s, i, c)
	}
	return all, nil
}

func (r *Resolver) decodeUpdate(op Op) (*partialupdate.Update, *schemaInfo, error) {
	b, err := r.c.info(op.SchemaID)
	if err != nil {
		return nil, nil, err
	}
	if err := b.fieldLevel(); err != nil {
		return nil, nil, err
	}
	u := op.Decoded
	if u == nil {
		if u, err = partialupdate.Decode(b.pu, op.Value); err != nil {
			return nil, nil, fmt.Errorf("conflict: %w: update (schema %d): %w", ErrCorrupt, op.SchemaID, err)
		}
		return u, b, nil
	}
	if us := u.Schema(); us != b.pu {
		uf := us.Fields()
		if len(uf) != len(b.fields) {
			return nil, nil, errorf(ErrBadOp, "decoded update's schema does not match schema %d", op.SchemaID)
		}
		for i := range uf {
			if uf[i].Name != b.fields[i].Name || uf[i].Kind != b.fields[i].Kind {
				return nil, nil, errorf(ErrBadOp, "decoded update's schema does not match schema %d (field %q)", op.SchemaID, uf[i].Name)
			}
		}
	}
	return u, b, nil
}

func (r *Resolver) fieldUpdate(fs *fieldState, op Op, s *scratch) error {
	S := fs.si
	u, b, err := r.decodeUpdate(op)
	if err != nil {
		return err
	}
	var cv *conversion
	if b != S {
		if cv, err = r.c.conv(b, S); err != nil {
			return err
		}
	}
	fus := u.Fields()
	var touchedBuf [16]int
	touched := touchedBuf[:0]
	target := func(j int) int {
		if cv == nil {
			return j
		}
		return S.byName[b.fields[j].Name] // S is the superset: every field of b is in it
	}
	for j := range fus {
		if fus[j].Op != partialupdate.OpNone {
			touched = append(touched, target(j))
		}
	}
	if len(touched) == 0 {
		return errorf(ErrBadOp, "update touches no field")
	}
	if allNewer(fs, touched, op.TS) {
		return errIgnored
	}
	for j := range fus {
		fu := &fus[j]
		if fu.Op == partialupdate.OpNone {
			continue
		}
		i := target(j)
		fi := &S.fields[i]
		var fieldRes, elemRes *avrox.Resolver
		if cv != nil {
			fieldRes, elemRes = cv.fieldRes[i], cv.elemRes[i]
		}
		switch fu.Op {
		case partialupdate.OpSet:
			nv := fu.Value
			if fieldRes != nil {
				if nv, _, err = fieldRes.Append(nil, fu.Value); err != nil {
					return wrapf(ErrCorrupt, err, "update field %q", fi.Name)
				}
			}
			if err := r.setField(fs, i, nv, op.TS, op.Region, s); err != nil {
				return err
			}
		case partialupdate.OpListOps, partialupdate.OpMapOps:
			if (fu.Op == partialupdate.OpListOps) != (fi.Kind == partialupdate.List) || fi.Kind == partialupdate.Scalar {
				return errorf(ErrBadOp, "field %q: %s on a %s field", fi.Name, fu.Op, fi.Kind)
			}
			conv := func(v []byte) ([]byte, error) {
				if elemRes == nil {
					return v, nil
				}
				out, _, err := elemRes.Append(nil, v)
				return out, err
			}
			add, rem := s.add[:0], s.rem[:0]
			if fu.Op == partialupdate.OpListOps {
				for _, x := range fu.Add {
					v, err := conv(x)
					if err != nil {
						return wrapf(ErrCorrupt, err, "update field %q", fi.Name)
					}
					add = append(add, elem{val: v})
				}
				for _, x := range fu.Remove {
					v, err := conv(x)
					if err != nil {
						return wrapf(ErrCorrupt, err, "update field %q", fi.Name)
					}
					rem = append(rem, elem{val: v})
				}
			} else {
				for _, e := range fu.Put {
					v, err := conv(e.Value)
					if err != nil {
						return wrapf(ErrCorrupt, err, "update field %q", fi.Name)
					}
					add = append(add, elem{key: e.Key, val: v})
				}
				for _, k := range fu.RemoveKeys {
					rem = append(rem, elem{key: k})
				}
			}
			s.add, s.rem = add[:0], rem[:0]
			c, err := decodeColl(fi, S.canon[i], fs.fieldVal(i), fs.fieldRMD(i), s)
			if err != nil {
				return wrapf(ErrCorrupt, err, "field %q", fi.Name)
			}
			if err := c.mergeOps(add, rem, op.TS); err != nil {
				return wrapf(ErrCorrupt, err, "field %q", fi.Name)
			}
			emitColl(s, i, c)
		}
	}
	return nil
}

// ToFieldLevel returns st read in the superset schema with field-level RMD:
// the §3 conversions (no RMD → T = 0; value-level T → every scalar T, every
// collection topTs T, topRegion -1, putOnlyLen = its size; fields new to
// st's schema at 0). A missing key stays missing; a tombstone keeps its
// (converted) RMD.
func (r *Resolver) ToFieldLevel(st State) (State, error) {
	if st.Value == nil && !st.Tombstone {
		if st.RMD != nil {
			return State{}, errorf(ErrBadOp, "state has RMD but neither a value nor a tombstone")
		}
		return st, nil
	}
	sid, err := r.c.reg.SupersetID()
	if err != nil {
		return State{}, fmt.Errorf("conflict: %w: superset id: %w", ErrUnknownSchema, err)
	}
	S, err := r.c.info(sid)
	if err != nil {
		return State{}, err
	}
	if err := S.fieldLevel(); err != nil {
		return State{}, err
	}
	s := getScratch()
	defer putScratch(s)
	fs, err := r.load(st, S, s)
	if err != nil {
		return State{}, err
	}
	out := State{Tombstone: st.Tombstone, SchemaID: S.id}
	if !st.Tombstone {
		out.Value = append([]byte(nil), fs.val...)
	}
	out.RMD = append(avrox.AppendLong(nil, fieldLevelTag), fs.rmd...)
	return out, nil
}
