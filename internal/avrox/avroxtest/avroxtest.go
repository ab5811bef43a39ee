// Package avroxtest generates random Avro schemas and values for property
// tests of avrox and of the packages built on it (partialupdate, conflict).
// Everything is driven by the *rand.Rand passed in, so a logged seed
// reproduces a failure.
package avroxtest

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
)

// SchemaOpts shapes random schemas.
type SchemaOpts struct {
	// MaxDepth bounds nesting (default 3).
	MaxDepth int
	// MaxFields bounds the fields of each record (default 6).
	MaxFields int
	// NoFloats leaves out float and double (whose NaN and -0 make byte
	// equality differ from Avro equality).
	NoFloats bool
	// TopCollections makes about half of the top-level fields lists, maps
	// or nullable collections (for partial-update tests).
	TopCollections bool
	// OrderProps sets random "order" on record fields.
	OrderProps bool
}

type gen struct {
	rng   *rand.Rand
	opts  SchemaOpts
	names int
}

// RecordSchema returns a random record schema (as parsed and as JSON) whose
// every field has a default.
func RecordSchema(rng *rand.Rand, opts SchemaOpts) (*avro.RecordSchema, string) {
	if opts.MaxDepth == 0 {
		opts.MaxDepth = 3
	}
	if opts.MaxFields == 0 {
		opts.MaxFields = 6
	}
	g := &gen{rng: rng, opts: opts}
	js := g.record(0, true)
	s, err := avro.Parse(js)
	if err != nil {
		panic(fmt.Sprintf("avroxtest: generated schema does not parse: %v\n%s", err, js))
	}
	return s.(*avro.RecordSchema), js
}

func (g *gen) name(prefix string) string {
	g.names++
	return prefix + strconv.Itoa(g.names)
}

func (g *gen) record(depth int, top bool) string {
	n := 1 + g.rng.IntN(g.opts.MaxFields)
	var fields []string
	for i := 0; i < n; i++ {
		var t string
		if top && g.opts.TopCollections && g.rng.IntN(2) == 0 {
			t = g.collection(depth + 1)
		} else {
			t = g.typ(depth+1, false)
		}
		def := defaultJSON(t)
		f := fmt.Sprintf(`{"name":"f%d","type":%s,"default":%s`, i, t, def)
		if g.opts.OrderProps {
			switch g.rng.IntN(4) {
			case 0:
				f += `,"order":"descending"`
			case 1:
				f += `,"order":"ignore"`
			}
		}
		fields = append(fields, f+"}")
	}
	return fmt.Sprintf(`{"type":"record","name":%q,"namespace":"rt","fields":[%s]}`, g.name("R"), strings.Join(fields, ","))
}

func (g *gen) collection(depth int) string {
	var c string
	if g.rng.IntN(2) == 0 {
		c = fmt.Sprintf(`{"type":"array","items":%s}`, g.typ(depth+1, false))
	} else {
		c = fmt.Sprintf(`{"type":"map","values":%s}`, g.typ(depth+1, false))
	}
	if g.rng.IntN(3) == 0 {
		return `["null",` + c + `]`
	}
	return c
}

var primitives = []string{"boolean", "int", "long", "float", "double", "string", "bytes"}

func (g *gen) primitive() string {
	for {
		p := primitives[g.rng.IntN(len(primitives))]
		if g.opts.NoFloats && (p == "float" || p == "double") {
			continue
		}
		return strconv.Quote(p)
	}
}

func (g *gen) typ(depth int, inUnion bool) string {
	if depth >= g.opts.MaxDepth {
		return g.primitive()
	}
	switch g.rng.IntN(12) {
	case 0:
		return fmt.Sprintf(`{"type":"enum","name":%q,"symbols":["A","B","C"]}`, g.name("E"))
	case 1:
		return fmt.Sprintf(`{"type":"fixed","name":%q,"size":%d}`, g.name("X"), 1+g.rng.IntN(3))
	case 2:
		return g.record(depth, false)
	case 3:
		return fmt.Sprintf(`{"type":"array","items":%s}`, g.typ(depth+1, false))
	case 4:
		return fmt.Sprintf(`{"type":"map","values":%s}`, g.typ(depth+1, false))
	case 5, 6:
		if inUnion {
			return g.primitive()
		}
		// A union of null and up to two distinct other types.
		seen := map[string]bool{}
		var branches []string
		if g.rng.IntN(3) > 0 {
			branches = append(branches, `"null"`)
		}
		for len(branches) < 2+g.rng.IntN(2) {
			t := g.typ(depth+1, true)
			k := kindOf(t)
			if seen[k] {
				continue
			}
			seen[k] = true
			branches = append(branches, t)
		}
		if g.rng.IntN(2) == 0 {
			g.rng.Shuffle(len(branches), func(i, j int) { branches[i], branches[j] = branches[j], branches[i] })
		}
		return "[" + strings.Join(branches, ",") + "]"
	default:
		return g.primitive()
	}
}

// kindOf returns the union-uniqueness key of a type JSON. Records and maps
// share one key: both are JSON objects, and the plain JSON form cannot
// tell two object-shaped branches apart (a documented limitation), so a
// generated union holds at most one.
func kindOf(t string) string {
	if strings.HasPrefix(t, `"`) {
		return t
	}
	if strings.HasPrefix(t, `{"type":"array"`) {
		return "array"
	}
	if strings.HasPrefix(t, `{"type":"map"`) || strings.HasPrefix(t, `{"type":"record"`) {
		return "object"
	}
	return t // other named types have unique names
}

// defaultJSON builds a random-free default for a type: the "zero" of the
// type (first branch for unions).
func defaultJSON(t string) string {
	s, err := avro.Parse(t)
	if err != nil {
		panic(fmt.Sprintf("avroxtest: type does not parse: %v\n%s", err, t))
	}
	b := zeroValue(nil, s)
	js, _, err := avrox.ToJSON(s, b)
	if err != nil {
		panic(err)
	}
	return string(js)
}

func zeroValue(dst []byte, s avro.Schema) []byte {
	s = avrox.Deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return dst
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Float:
			return avrox.AppendFloat(dst, 0)
		case avro.Double:
			return avrox.AppendDouble(dst, 0)
		case avro.Null:
			return dst
		}
		return append(dst, 0) // false, 0, "", empty bytes
	case *avro.FixedSchema:
		return append(dst, make([]byte, s.Size())...)
	case *avro.EnumSchema:
		return append(dst, 0)
	case *avro.ArraySchema, *avro.MapSchema:
		return append(dst, 0)
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			dst = zeroValue(dst, f.Type())
		}
		return dst
	case *avro.UnionSchema:
		return zeroValue(append(dst, 0), s.Types()[0])
	}
	panic("avroxtest: unknown schema")
}

// ValueOpts shapes random values.
type ValueOpts struct {
	// Blocks writes arrays and maps with random block structure (several
	// blocks, negative counts with byte sizes) instead of the canonical one.
	Blocks bool
	// MaxItems bounds collections (default 4).
	MaxItems int
}

// Value returns a random valid encoding of a value of s. Values come from
// small domains so that equal values are common. Map keys are distinct and
// written in sorted order.
func Value(rng *rand.Rand, s avro.Schema, opts ValueOpts) []byte {
	if opts.MaxItems == 0 {
		opts.MaxItems = 4
	}
	return value(nil, rng, s, opts, 0)
}

var (
	strs    = []string{"", "a", "b", "ab", "ba", "abc"}
	floats  = []float64{0, 1.5, -2, 3, math.Copysign(0, -1), math.NaN(), math.Inf(1)}
	symbols = 3
)

func value(dst []byte, rng *rand.Rand, s avro.Schema, o ValueOpts, depth int) []byte {
	s = avrox.Deref(s)
	switch s := s.(type) {
	case *avro.NullSchema:
		return dst
	case *avro.PrimitiveSchema:
		switch s.Type() {
		case avro.Null:
			return dst
		case avro.Boolean:
			return append(dst, byte(rng.IntN(2)))
		case avro.Int, avro.Long:
			return avrox.AppendLong(dst, int64(rng.IntN(7)-3))
		case avro.Float:
			return avrox.AppendFloat(dst, float32(floats[rng.IntN(len(floats))]))
		case avro.Double:
			return avrox.AppendDouble(dst, floats[rng.IntN(len(floats))])
		case avro.String, avro.Bytes:
			return avrox.AppendString(dst, strs[rng.IntN(len(strs))])
		}
	case *avro.FixedSchema:
		for i := 0; i < s.Size(); i++ {
			dst = append(dst, byte('a'+rng.IntN(2)))
		}
		return dst
	case *avro.EnumSchema:
		return avrox.AppendLong(dst, int64(rng.IntN(min(symbols, len(s.Symbols())))))
	case *avro.RecordSchema:
		for _, f := range s.Fields() {
			dst = value(dst, rng, f.Type(), o, depth+1)
		}
		return dst
	case *avro.UnionSchema:
		i := rng.IntN(len(s.Types()))
		return value(avrox.AppendLong(dst, int64(i)), rng, s.Types()[i], o, depth+1)
	case *avro.ArraySchema:
		n := rng.IntN(o.MaxItems + 1)
		if depth > 4 {
			n = 0
		}
		items := make([][]byte, n)
		for i := range items {
			items[i] = value(nil, rng, s.Items(), o, depth+1)
		}
		return blocks(dst, rng, items, o)
	case *avro.MapSchema:
		n := rng.IntN(o.MaxItems + 1)
		if depth > 4 {
			n = 0
		}
		keys := map[string]bool{}
		for len(keys) < n {
			keys[strs[1+rng.IntN(len(strs)-1)]+strconv.Itoa(rng.IntN(3))] = true
		}
		sorted := make([]string, 0, n)
		for k := range keys {
			sorted = append(sorted, k)
		}
		slices.Sort(sorted)
		items := make([][]byte, n)
		for i, k := range sorted {
			items[i] = value(avrox.AppendString(nil, k), rng, s.Values(), o, depth+1)
		}
		return blocks(dst, rng, items, o)
	}
	panic("avroxtest: unknown schema " + s.String())
}

// blocks writes items as one canonical block, or as random blocks.
func blocks(dst []byte, rng *rand.Rand, items [][]byte, o ValueOpts) []byte {
	if !o.Blocks {
		return avrox.AppendArray(dst, items)
	}
	for len(items) > 0 {
		n := 1 + rng.IntN(len(items))
		blk := items[:n]
		items = items[n:]
		if rng.IntN(2) == 0 {
			dst = avrox.AppendLong(dst, int64(n))
			for _, it := range blk {
				dst = append(dst, it...)
			}
			continue
		}
		size := 0
		for _, it := range blk {
			size += len(it)
		}
		dst = avrox.AppendLong(dst, -int64(n))
		dst = avrox.AppendLong(dst, int64(size))
		for _, it := range blk {
			dst = append(dst, it...)
		}
	}
	return append(dst, 0)
}

// Float32 reads a little-endian float (for tests that inspect bytes).
func Float32(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
