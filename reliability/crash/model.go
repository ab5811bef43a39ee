package crash

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strconv"
	"strings"
)

// ValueSchema is the crash store's value schema: a scalar of each kind
// (string, long, nullable string) and a collection of each kind (list,
// map), so that puts, deletes, field sets and collection merges all have
// something to act on.
const ValueSchema = `{"type":"record","name":"Row","namespace":"rialto.crash","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"count","type":"long","default":0},
	{"name":"nick","type":["null","string"],"default":null},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"attrs","type":{"type":"map","values":"long"},"default":{}}
]}`

// KeySchema is the crash store's key schema; keys are written raw.
const KeySchema = `"string"`

// Element pools. Small pools make merges re-add, revive and remove
// elements that were there before, not only fresh ones.
const (
	tagPool  = 10
	attrPool = 6
)

// kv is one map entry.
type kv struct {
	k string
	v int64
}

// row is a value of ValueSchema with its collections flattened in the
// order they are stored (SEMANTICS §6: the put-only prefix, then the
// merged elements sorted by timestamp and element).
type row struct {
	name  string
	count int64
	nick  *string
	tags  []string
	attrs []kv
}

func (r row) String() string {
	nick := "null"
	if r.nick != nil {
		nick = strconv.Quote(*r.nick)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "{name:%q count:%d nick:%s tags:[%s] attrs:{", r.name, r.count, nick, strings.Join(r.tags, " "))
	for i, e := range r.attrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", e.k, e.v)
	}
	b.WriteString("}}")
	return b.String()
}

func (r row) equal(o row) bool {
	if r.name != o.name || r.count != o.count || (r.nick == nil) != (o.nick == nil) ||
		(r.nick != nil && *r.nick != *o.nick) {
		return false
	}
	return slices.Equal(r.tags, o.tags) && slices.Equal(r.attrs, o.attrs)
}

// opKind is what an operation does.
type opKind uint8

const (
	opPut opKind = iota + 1
	opDelete
	opUpdate
)

func (k opKind) String() string {
	switch k {
	case opPut:
		return "put"
	case opDelete:
		return "delete"
	case opUpdate:
		return "update"
	}
	return "op?"
}

// update is a partial update: per field at most one of set and merge.
type update struct {
	name  *string
	count *int64
	// nick: setNick says the field is set; nick nil sets null.
	setNick bool
	nick    *string
	// tags and attrs: set (whole field) or merge (adds/removes).
	setTags            bool
	tags               []string
	addTags, remTags   []string
	setAttrs           bool
	attrs              []kv
	putAttrs           []kv
	remAttrs           []string
	mergeTag, mergeMap bool
}

func (u *update) String() string {
	var parts []string
	if u.name != nil {
		parts = append(parts, fmt.Sprintf("name=%q", *u.name))
	}
	if u.count != nil {
		parts = append(parts, fmt.Sprintf("count=%d", *u.count))
	}
	if u.setNick {
		if u.nick == nil {
			parts = append(parts, "nick=null")
		} else {
			parts = append(parts, fmt.Sprintf("nick=%q", *u.nick))
		}
	}
	if u.setTags {
		parts = append(parts, fmt.Sprintf("tags=[%s]", strings.Join(u.tags, " ")))
	}
	if u.mergeTag {
		parts = append(parts, fmt.Sprintf("tags+[%s]-[%s]", strings.Join(u.addTags, " "), strings.Join(u.remTags, " ")))
	}
	if u.setAttrs {
		parts = append(parts, "attrs="+row{attrs: u.attrs}.attrsString())
	}
	if u.mergeMap {
		parts = append(parts, fmt.Sprintf("attrs+%s-[%s]", row{attrs: u.putAttrs}.attrsString(), strings.Join(u.remAttrs, " ")))
	}
	return strings.Join(parts, " ")
}

func (r row) attrsString() string {
	var b strings.Builder
	b.WriteByte('{')
	for i, e := range r.attrs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s:%d", e.k, e.v)
	}
	b.WriteByte('}')
	return b.String()
}

// op is one generated operation.
type op struct {
	seq    int   // position in the run, 0-based
	key    int   // key index
	region int   // index into the regions (0 or 1); -1 for batch data
	ts     int64 // logical timestamp; distinct and increasing with seq
	kind   opKind
	put    row     // opPut
	upd    *update // opUpdate
}

func (o op) String() string {
	switch o.kind {
	case opPut:
		return fmt.Sprintf("#%d ts=%d region=%d put %s", o.seq, o.ts, o.region, o.put)
	case opUpdate:
		return fmt.Sprintf("#%d ts=%d region=%d update %s", o.seq, o.ts, o.region, o.upd)
	}
	return fmt.Sprintf("#%d ts=%d region=%d %s", o.seq, o.ts, o.region, o.kind)
}

// KeyName is the store key of key index i.
func KeyName(i int) string { return fmt.Sprintf("key-%07d", i) }

// element is a merged collection element and the timestamp it was added at.
type element struct {
	ts  int64
	key string
	v   int64 // map values
}

// coll is one collection field in the model: the put-only prefix (the
// last whole-field set, minus what merges since removed or re-added) and
// the merged elements. Because every operation on a key has a newer
// timestamp than the ones before it, tombstones never decide anything and
// are not kept: a whole-field set or delete drops every older element and
// tombstone (SEMANTICS §6), an add revives any older tombstone.
type coll struct {
	prefix []element // ts unused
	merged []element // sorted by (ts, key)
}

func (c *coll) set(es []element) {
	c.prefix = append(c.prefix[:0], es...)
	c.merged = c.merged[:0]
}

func (c *coll) remove(k string) {
	c.prefix = slices.DeleteFunc(c.prefix, func(e element) bool { return e.key == k })
	c.merged = slices.DeleteFunc(c.merged, func(e element) bool { return e.key == k })
}

// add puts k (with value v for maps) into the merge part at ts: it moves
// out of the prefix, or to its new timestamp in the merge part.
func (c *coll) add(k string, v, ts int64) {
	c.remove(k)
	c.merged = append(c.merged, element{ts: ts, key: k, v: v})
	slices.SortStableFunc(c.merged, func(a, b element) int {
		if a.ts != b.ts {
			if a.ts < b.ts {
				return -1
			}
			return 1
		}
		return strings.Compare(a.key, b.key) // strings: Avro order is byte-wise
	})
}

func (c *coll) has(k string) bool {
	return slices.ContainsFunc(c.prefix, func(e element) bool { return e.key == k }) ||
		slices.ContainsFunc(c.merged, func(e element) bool { return e.key == k })
}

func (c *coll) all() []element { return append(slices.Clone(c.prefix), c.merged...) }

// keyState is the model of one key.
type keyState struct {
	live  bool
	name  string
	count int64
	nick  *string
	tags  coll
	attrs coll
}

// reset makes the state the record of defaults (SEMANTICS §5: a delete
// with a newer timestamp than everything stored resets every field; an
// update of a tombstone starts from the defaults).
func (s *keyState) reset() {
	s.name, s.count, s.nick = "", 0, nil
	s.tags.set(nil)
	s.attrs.set(nil)
}

// apply applies o, newer than everything applied to s before.
func (s *keyState) apply(o op) {
	switch o.kind {
	case opPut:
		s.live = true
		s.name, s.count, s.nick = o.put.name, o.put.count, o.put.nick
		s.tags.set(tagElems(o.put.tags))
		s.attrs.set(attrElems(o.put.attrs))
	case opDelete:
		s.live = false
		s.reset()
	case opUpdate:
		if !s.live {
			// A missing key or a tombstone: an update starts from the
			// defaults and always leaves a live value.
			s.reset()
			s.live = true
		}
		u := o.upd
		if u.name != nil {
			s.name = *u.name
		}
		if u.count != nil {
			s.count = *u.count
		}
		if u.setNick {
			s.nick = u.nick
		}
		if u.setTags {
			s.tags.set(tagElems(u.tags))
		}
		for _, t := range u.addTags {
			s.tags.add(t, 0, o.ts)
		}
		for _, t := range u.remTags {
			s.tags.remove(t)
		}
		if u.setAttrs {
			s.attrs.set(attrElems(u.attrs))
		}
		for _, e := range u.putAttrs {
			s.attrs.add(e.k, e.v, o.ts)
		}
		for _, k := range u.remAttrs {
			s.attrs.remove(k)
		}
	}
}

// value is the row a reader must see, and whether there is one.
func (s *keyState) value() (row, bool) {
	if !s.live {
		return row{}, false
	}
	r := row{name: s.name, count: s.count, nick: s.nick}
	for _, e := range s.tags.all() {
		r.tags = append(r.tags, e.key)
	}
	for _, e := range s.attrs.all() {
		r.attrs = append(r.attrs, kv{e.key, e.v})
	}
	return r, true
}

func tagElems(ts []string) []element {
	out := make([]element, len(ts))
	for i, t := range ts {
		out[i] = element{key: t}
	}
	return out
}

func attrElems(es []kv) []element {
	out := make([]element, len(es))
	for i, e := range es {
		out[i] = element{key: e.k, v: e.v}
	}
	return out
}

// model is the expected state of every key.
type model struct {
	keys []keyState
}

func newModel(keys int) *model { return &model{keys: make([]keyState, keys)} }

// generator produces the operations of a run from a seed, applying each
// to the model as it goes (an operation may depend on the key's state: a
// merge prefers to remove elements that are there).
type generator struct {
	rng     *rand.Rand
	m       *model
	regions int
	tsBase  int64
	seq     int
}

func newGenerator(seed int64, m *model, regions int, tsBase int64) *generator {
	return &generator{rng: rand.New(rand.NewSource(seed)), m: m, regions: regions, tsBase: tsBase}
}

// batch returns the rows of the batch push: every tenth key, at timestamps
// older than every nearline write (tsBase - 1 000 000 + key). They are
// applied to the model.
func (g *generator) batch() []op {
	var out []op
	for k := 0; k < len(g.m.keys); k += 10 {
		o := op{seq: -1, key: k, region: -1, ts: g.tsBase - 1_000_000 + int64(k), kind: opPut, put: g.randRow(int64(k))}
		g.m.keys[k].apply(o)
		out = append(out, o)
	}
	return out
}

// next returns the next nearline operation, already applied to the model.
// Its timestamp is tsBase + seq: distinct, and newer than every earlier
// operation on any key, whichever region it goes to.
func (g *generator) next() op {
	r := g.rng
	o := op{seq: g.seq, key: r.Intn(len(g.m.keys)), region: r.Intn(g.regions), ts: g.tsBase + int64(g.seq)}
	g.seq++
	s := &g.m.keys[o.key]
	switch p := r.Intn(100); {
	case p < 20:
		o.kind, o.put = opPut, g.randRow(o.ts)
	case p < 30:
		o.kind = opDelete
	default:
		o.kind, o.upd = opUpdate, g.randUpdate(s, o.ts)
	}
	s.apply(o)
	return o
}

// randRow is a whole value; tag lists have no duplicates, map keys are
// distinct, both in random order.
func (g *generator) randRow(ts int64) row {
	r := g.rng
	v := row{name: "n" + strconv.FormatInt(ts, 36), count: r.Int63n(1_000_000) - 500_000}
	if r.Intn(2) == 0 {
		n := "k" + strconv.FormatInt(ts, 36)
		v.nick = &n
	}
	v.tags = g.randTags(r.Intn(5))
	v.attrs = g.randAttrs(r.Intn(4))
	return v
}

func (g *generator) randTags(n int) []string {
	idx := g.rng.Perm(tagPool)[:n]
	out := make([]string, n)
	for i, j := range idx {
		out[i] = "t" + strconv.Itoa(j)
	}
	return out
}

func (g *generator) randAttrs(n int) []kv {
	idx := g.rng.Perm(attrPool)[:n]
	out := make([]kv, n)
	for i, j := range idx {
		out[i] = kv{"a" + strconv.Itoa(j), g.rng.Int63n(1000)}
	}
	return out
}

// randUpdate is a partial update: some scalar sets, some whole collection
// sets, some merges (adds and removes never name the same element, SEMANTICS
// §6 would cancel them). It is never empty.
func (g *generator) randUpdate(s *keyState, ts int64) *update {
	r := g.rng
	u := &update{}
	for u.empty() {
		if r.Intn(3) == 0 {
			n := "u" + strconv.FormatInt(ts, 36)
			u.name = &n
		}
		if r.Intn(4) == 0 {
			c := r.Int63n(1000)
			u.count = &c
		}
		if r.Intn(5) == 0 {
			u.setNick = true
			if r.Intn(3) > 0 {
				n := "x" + strconv.FormatInt(ts, 36)
				u.nick = &n
			}
		}
		switch p := r.Intn(10); {
		case p < 1:
			u.setTags, u.tags = true, g.randTags(r.Intn(4))
		case p < 7:
			u.mergeTag = true
			u.addTags, u.remTags = g.mergeOps(tagPool, "t", &s.tags)
		}
		switch p := r.Intn(10); {
		case p < 1:
			u.setAttrs, u.attrs = true, g.randAttrs(r.Intn(3))
		case p < 5:
			u.mergeMap = true
			var add []string
			add, u.remAttrs = g.mergeOps(attrPool, "a", &s.attrs)
			for _, k := range add {
				u.putAttrs = append(u.putAttrs, kv{k, r.Int63n(1000)})
			}
		}
	}
	return u
}

// mergeOps picks 0–2 elements to add and 0–2 to remove from a pool,
// disjoint and together at least one; removals prefer present elements.
func (g *generator) mergeOps(pool int, prefix string, c *coll) (add, rem []string) {
	r := g.rng
	perm := r.Perm(pool)
	na, nr := r.Intn(3), r.Intn(3)
	if na+nr == 0 {
		na = 1
	}
	for _, j := range perm {
		e := prefix + strconv.Itoa(j)
		switch {
		case len(rem) < nr && (c.has(e) || r.Intn(4) == 0):
			rem = append(rem, e)
		case len(add) < na:
			add = append(add, e)
		}
	}
	if len(add)+len(rem) == 0 { // nothing present to remove
		add = append(add, prefix+strconv.Itoa(perm[0]))
	}
	return add, rem
}

func (u *update) empty() bool {
	return u.name == nil && u.count == nil && !u.setNick && !u.setTags && !u.mergeTag && !u.setAttrs && !u.mergeMap
}

// Avro encoding of ValueSchema, written here rather than taken from
// Rialto's packages so the check does not share code with what it checks.
// Collections are one block (or none when empty), in the order given.

func appendLong(b []byte, v int64) []byte { return binary.AppendVarint(b, v) }

func appendString(b []byte, s string) []byte {
	return append(appendLong(b, int64(len(s))), s...)
}

// encodeTags is the Avro encoding of a tag list.
func encodeTags(tags []string) []byte {
	var b []byte
	if len(tags) > 0 {
		b = appendLong(b, int64(len(tags)))
		for _, t := range tags {
			b = appendString(b, t)
		}
	}
	return appendLong(b, 0)
}

// encodeAttrs is the Avro encoding of an attrs map, entries in order.
func encodeAttrs(es []kv) []byte {
	var b []byte
	if len(es) > 0 {
		b = appendLong(b, int64(len(es)))
		for _, e := range es {
			b = appendLong(appendString(b, e.k), e.v)
		}
	}
	return appendLong(b, 0)
}

// encodeRow is the Avro encoding of r.
func encodeRow(r row) []byte {
	b := appendString(nil, r.name)
	b = appendLong(b, r.count)
	if r.nick == nil {
		b = appendLong(b, 0)
	} else {
		b = appendString(appendLong(b, 1), *r.nick)
	}
	b = append(b, encodeTags(r.tags)...)
	return append(b, encodeAttrs(r.attrs)...)
}

var errShort = errors.New("value ends early")

// decoder reads Avro binary of ValueSchema, accepting any block layout
// (several blocks, negative counts with byte sizes) a writer may use.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) long() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.long()
	if d.err != nil {
		return ""
	}
	if n < 0 || int64(len(d.b)) < n {
		d.err = fmt.Errorf("string of %d bytes: %w", n, errShort)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// blocks calls item once per collection element.
func (d *decoder) blocks(item func()) {
	for d.err == nil {
		n := d.long()
		if n == 0 {
			return
		}
		if n < 0 {
			n = -n
			d.long() // the block's size in bytes
		}
		for ; n > 0 && d.err == nil; n-- {
			item()
		}
	}
}

// decodeRow reads a whole value; trailing bytes are an error.
func decodeRow(b []byte) (row, error) {
	d := &decoder{b: b}
	var r row
	r.name = d.string()
	r.count = d.long()
	switch d.long() {
	case 0:
	case 1:
		n := d.string()
		r.nick = &n
	default:
		if d.err == nil {
			d.err = errors.New("nick: bad union branch")
		}
	}
	d.blocks(func() { r.tags = append(r.tags, d.string()) })
	d.blocks(func() {
		k := d.string()
		r.attrs = append(r.attrs, kv{k, d.long()})
	})
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	return r, d.err
}

// batchJSON is the push input line of a batch row, in the plain JSON form
// of values (maps keep document order).
func batchJSON(o op) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"key":%q,"timestamp":%d,"value":{"name":%q,"count":%d,"nick":`, KeyName(o.key), o.ts, o.put.name, o.put.count)
	if o.put.nick == nil {
		b.WriteString("null")
	} else {
		fmt.Fprintf(&b, "%q", *o.put.nick)
	}
	b.WriteString(`,"tags":[`)
	for i, t := range o.put.tags {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q", t)
	}
	b.WriteString(`],"attrs":{`)
	for i, e := range o.put.attrs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%d", e.k, e.v)
	}
	b.WriteString("}}}\n")
	return b.String()
}
