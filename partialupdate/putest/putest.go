// Package putest holds the fixtures of the partial-update benchmark: a
// 10-field, ~800-byte record (a 128-float embedding, a map, a list and
// scalars), updates touching 1, 3 and all 10 fields, and the naive baseline
// that decodes into map[string]any, modifies and re-encodes with hamba/avro.
// The Go benchmarks, the bench program and the conflict benchmark share it so
// that their numbers are comparable.
package putest

import (
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// SchemaJSON is the benchmark record's schema.
const SchemaJSON = `{"type":"record","name":"Item","namespace":"bench","fields":[
	{"name":"id","type":"long","default":0},
	{"name":"name","type":"string","default":""},
	{"name":"email","type":["null","string"],"default":null},
	{"name":"score","type":"double","default":0},
	{"name":"active","type":"boolean","default":false},
	{"name":"updatedAt","type":"long","default":0},
	{"name":"embedding","type":{"type":"array","items":"float"},"default":[]},
	{"name":"attrs","type":{"type":"map","values":"string"},"default":{}},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"version","type":"int","default":0}]}`

var (
	once   sync.Once
	schema *partialupdate.Schema
	record []byte
)

func setup() {
	raw := avro.MustParse(SchemaJSON)
	var err error
	if schema, err = partialupdate.Derive(raw); err != nil {
		panic(err)
	}
	attrs := map[string]any{}
	for i := 0; i < 8; i++ {
		attrs["attribute-"+strconv.Itoa(i)] = "value-" + strconv.Itoa(i*7)
	}
	v := map[string]any{
		"id":        int64(123456789),
		"name":      "Ada Lovelace the First",
		"email":     "ada@analytical.engine",
		"score":     42.5,
		"active":    true,
		"updatedAt": int64(1_700_000_000_000),
		"embedding": embedding(1),
		"attrs":     attrs,
		"tags":      []any{"math", "poetry", "engines", "notes", "bernoulli", "science"},
		"version":   7,
	}
	b, err := avrox.AppendGo(nil, raw, v)
	if err != nil {
		panic(err)
	}
	record = b
}

func embedding(seed float32) []any {
	out := make([]any, 128)
	for i := range out {
		out[i] = seed * float32(i) / 128
	}
	return out
}

// Schema returns the derived schema of the benchmark record.
func Schema() *partialupdate.Schema { once.Do(setup); return schema }

// Record returns the encoded benchmark record (do not modify it).
func Record() []byte { once.Do(setup); return record }

// Change is one benchmarked update: the Rialto update and the same change
// applied by the naive baseline to a generic map.
type Change struct {
	Name    string // e.g. "1 of 10 fields"
	Touched int
	Update  *partialupdate.Update
	Naive   func(m map[string]any)
}

// Changes returns updates touching 1, 3 and all 10 fields.
func Changes() []Change {
	s := Schema()
	build := func(b *partialupdate.Builder) *partialupdate.Update {
		u, err := b.Build()
		if err != nil {
			panic(err)
		}
		return u
	}
	newEmb := embedding(2)
	addTag := func(m map[string]any) {
		tags := m["tags"].([]any)
		if !slices.Contains(tags, any("new-tag")) {
			m["tags"] = append(tags, "new-tag")
		}
	}
	return []Change{
		{
			Name: "1 of 10 fields", Touched: 1,
			Update: build(partialupdate.NewBuilder(s).Set("score", 99.5)),
			Naive:  func(m map[string]any) { m["score"] = 99.5 },
		},
		{
			Name: "3 of 10 fields", Touched: 3,
			Update: build(partialupdate.NewBuilder(s).Set("score", 99.5).
				AddToList("tags", "new-tag").PutEntry("attrs", "attribute-9", "fresh")),
			Naive: func(m map[string]any) {
				m["score"] = 99.5
				addTag(m)
				m["attrs"].(map[string]any)["attribute-9"] = "fresh"
			},
		},
		{
			Name: "10 of 10 fields", Touched: 10,
			Update: build(partialupdate.NewBuilder(s).Set("id", int64(1)).Set("name", "Grace").
				Set("email", "grace@cobol.org").Set("score", 99.5).Set("active", false).
				Set("updatedAt", int64(1_800_000_000_000)).Set("embedding", newEmb).
				PutEntry("attrs", "attribute-9", "fresh").AddToList("tags", "new-tag").Set("version", 8)),
			Naive: func(m map[string]any) {
				m["id"] = int64(1)
				m["name"] = "Grace"
				m["email"] = map[string]any{"string": "grace@cobol.org"}
				m["score"] = 99.5
				m["active"] = false
				m["updatedAt"] = int64(1_800_000_000_000)
				emb := make([]any, len(newEmb))
				for i, f := range newEmb {
					emb[i] = f
				}
				m["embedding"] = emb
				m["attrs"].(map[string]any)["attribute-9"] = "fresh"
				addTag(m)
				m["version"] = 8
			},
		},
	}
}

// Naive applies a change the way a generic pipeline would: hamba decode into
// map[string]any, modify, hamba encode.
func Naive(c Change, stored []byte) ([]byte, error) {
	raw := Schema().Value()
	var m map[string]any
	if err := avro.Unmarshal(raw, stored, &m); err != nil {
		return nil, fmt.Errorf("naive decode: %w", err)
	}
	c.Naive(m)
	return avro.Marshal(raw, m)
}
