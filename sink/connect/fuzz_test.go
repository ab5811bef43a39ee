package connect

import (
	"errors"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/sinktest"
)

// FuzzParseConfig: any file either parses into a Config or is reported as
// errors; nothing panics, and a config that parsed parses again the same.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		"name=a\ntopics=t\nrialto.store=s\n",
		`{"name":"a","config":{"topics.regex":"t.*","rialto.store":"s","tasks.max":2}}`,
		"name a\\\n  b\ntopics:x\\u0041\n# c\n",
		"errors.tolerance=all\nerrors.deadletterqueue.topic.name=d\nrialto.write.mode=update\nrialto.update.list.add=a:b,c\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		kv, err := ParseKeyValues(data)
		if err != nil {
			return
		}
		cfg, err := Parse(kv)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Parse error is not a ConfigError: %v", err)
			}
			return
		}
		again, err := Parse(kv)
		if err != nil || again.Name != cfg.Name || again.Mode != cfg.Mode {
			t.Fatalf("second parse differs: %v", err)
		}
	})
}

// FuzzJSONConverter: any value bytes either convert to a write whose bytes
// are valid for the store (a value of its schema, or a decodable update)
// or fail with a data error; nothing panics.
func FuzzJSONConverter(f *testing.F) {
	for _, s := range []string{
		`{"name":"Ada","clicks":3,"recent":["a"],"attrs":{"x":1}}`,
		`{"total":5,"item":["x","y"],"counters":{"a":1},"drop":"z","user":"u"}`,
		`{"clicks":"x"}`, `{"nope":1}`, `[1]`, `null`, `{"name":`, `{"item":{"a":1}}`,
		`{"counters":[1]}`, `{"total":1e400}`, `{"schema":{},"payload":{"name":"a"}}`,
	} {
		f.Add([]byte(s))
	}
	schema := avro.MustParse(sinktest.ProfileSchema)
	derived, err := partialupdate.Derive(schema)
	if err != nil {
		f.Fatal(err)
	}
	st := Store{Name: "profiles", KeySchema: avro.MustParse(`"string"`), ValueSchema: schema, ValueSchemaID: 1, UpdateSchemaID: 1}
	var mappers []*Mapper
	for _, kv := range []map[string]string{
		{},
		{"rialto.fields.unknown": "ignore", "value.converter.schemas.enable": "true"},
		{"rialto.write.mode": "update", "rialto.fields.mapping": "total:clicks,user:name", "rialto.update.list.add": "item:recent",
			"rialto.update.list.remove": "drop:recent", "rialto.update.map.put": "counters:attrs", "rialto.update.map.remove": "gone:attrs"},
	} {
		cfg, err := Parse(with(map[string]string{"name": "n", "topics": "t", "rialto.store": "profiles"}, flatten(kv)...))
		if err != nil {
			f.Fatal(err)
		}
		m, err := NewMapper(cfg, st)
		if err != nil {
			f.Fatal(err)
		}
		mappers = append(mappers, m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for i, m := range mappers {
			c, err := m.Value([]byte("k"), data)
			if err != nil {
				if sink.Classify(err) != sink.Data {
					t.Fatalf("mapper %d: %v is not a data error", i, err)
				}
				continue
			}
			switch c.kind {
			case sink.OpPutBytes:
				if err := avrox.Validate(schema, c.value); err != nil {
					t.Fatalf("mapper %d: invalid value for %q: %v", i, data, err)
				}
			case sink.OpUpdate:
				if _, err := partialupdate.Decode(derived, c.value); err != nil {
					t.Fatalf("mapper %d: undecodable update for %q: %v", i, data, err)
				}
			default:
				t.Fatalf("mapper %d: %+v for a non-null value", i, c)
			}
		}
	})
}

func flatten(m map[string]string) []string {
	var out []string
	for k, v := range m {
		out = append(out, k, v)
	}
	return out
}
