package connect

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/sinktest"
)

func TestParseProperties(t *testing.T) {
	kv, err := ParseKeyValues([]byte(`# a comment
! another
name = clicks
topics: a, b
rialto.store profiles
rialto.fields.mapping = total:clicks,\
    user:name
rialto.controller.url=http\://ctl\:7070
errors.log.enable=true
`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"name": "clicks", "topics": "a, b", "rialto.store": "profiles",
		"rialto.fields.mapping": "total:clicks,user:name", "rialto.controller.url": "http://ctl:7070", "errors.log.enable": "true"}
	for k, v := range want {
		if kv[k] != v {
			t.Errorf("%s = %q, want %q", k, kv[k], v)
		}
	}
	if len(kv) != len(want) {
		t.Errorf("got %v", kv)
	}
	cfg, err := Parse(kv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Group() != "connect-clicks" || len(cfg.Topics) != 2 || cfg.FieldMap["user"] != "name" || !cfg.LogErrors {
		t.Fatalf("%+v", cfg)
	}
	if _, err := ParseKeyValues([]byte("a=1\na=2\n")); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Fatalf("duplicate key: %v", err)
	}
}

func TestParseJSONConfig(t *testing.T) {
	for _, doc := range []string{
		`{"name":"c","config":{"topics":"t","rialto.store":"s","tasks.max":3,"errors.log.enable":true}}`,
		`{"name":"c","topics":"t","rialto.store":"s","tasks.max":"3","errors.log.enable":"true"}`,
	} {
		kv, err := ParseKeyValues([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := Parse(kv)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Name != "c" || cfg.TasksMax != 3 || !cfg.LogErrors {
			t.Fatalf("%s: %+v", doc, cfg)
		}
	}
}

// TestEveryProblemAtOnce: unknown and contradictory keys are all reported
// by one error.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := Parse(map[string]string{
		"topics": "a", "topics.regex": "a.*",
		"tasks.max":                         "0",
		"transforms":                        "x",
		"key.converter":                     "protobuf",
		"value.converter":                   "avro",
		"errors.tolerance":                  "some",
		"errors.deadletterqueue.topic.name": "a",
		"rialto.write.mode":                 "put",
		"rialto.update.list.add":            "item:recent",
		"rialto.fields.mapping":             "x:name,y:name",
		"rialto.fields.exclude":             "x",
		"rialto.timestamp.source":           "field",
	})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{
		"name: required", "rialto.store: required", "topics and topics.regex", "tasks.max", "transforms: unknown key",
		"key.converter=\"protobuf\"", "value.converter.schema.file: required", "errors.tolerance=\"some\"",
		"errors.deadletterqueue.topic.name: needs errors.tolerance=all", "is also a topic the sink reads",
		"rialto.update.list.add: collection merges need rialto.write.mode=update",
		"both map to \"name\"", "\"x\" is also in rialto.fields.exclude", "rialto.timestamp.field: required",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in:\n%v", want, err)
		}
	}
	if len(ce.Problems) < 14 {
		t.Errorf("%d problems", len(ce.Problems))
	}
}

func storeFor(t *testing.T, updates bool) Store {
	t.Helper()
	st := Store{Name: "profiles", KeySchema: avro.MustParse(`"string"`), ValueSchema: avro.MustParse(sinktest.ProfileSchema), ValueSchemaID: 1}
	if updates {
		st.UpdateSchemaID = 1
	}
	return st
}

// TestStoreProblemsAtOnce: what only the store's schema can tell is
// reported together too.
func TestStoreProblemsAtOnce(t *testing.T) {
	cfg, err := Parse(map[string]string{"name": "n", "topics": "t", "rialto.store": "profiles",
		"rialto.write.mode":      "update",
		"rialto.fields.mapping":  "a:nope",
		"rialto.update.list.add": "b:attrs",
		"rialto.update.map.put":  "c:missing",
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewMapper(cfg, storeFor(t, false))
	for _, want := range []string{"has no partial updates", `no field "nope"`, `"attrs" is a map, not a list`, `no field "missing"`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("missing %q in %v", want, err)
		}
	}
}

func TestLoadFileResolvesSchemaFiles(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "v.avsc"), []byte(sinktest.ProfileSchema), 0o644)
	os.WriteFile(filepath.Join(dir, "c.properties"), []byte("name=n\ntopics=t\nrialto.store=profiles\nvalue.converter=avro\nvalue.converter.schema.file=v.avsc\n"), 0o644)
	cfg, err := LoadFile(filepath.Join(dir, "c.properties"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMapper(cfg, storeFor(t, true))
	if err != nil {
		t.Fatal(err)
	}
	v, err := partialupdate.ValueFromJSON(avro.MustParse(sinktest.ProfileSchema), []byte(`{"name":"a","clicks":3}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := m.Value([]byte("k"), v)
	if err != nil || c.kind != sink.OpPutBytes || string(c.value) != string(v) {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := m.Value([]byte("k"), append(v, 1)); err == nil {
		t.Fatal("trailing bytes accepted")
	}
}

func TestConverters(t *testing.T) {
	base := map[string]string{"name": "n", "topics": "t", "rialto.store": "profiles"}
	mk := func(extra ...string) *Mapper {
		t.Helper()
		cfg, err := Parse(with(base, extra...))
		if err != nil {
			t.Fatal(err)
		}
		m, err := NewMapper(cfg, storeFor(t, true))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	// JSON keys and schemas.enable envelopes.
	m := mk("key.converter", "json", "key.converter.schemas.enable", "true", "value.converter.schemas.enable", "true")
	k, err := m.Key([]byte(`{"schema":{"type":"string"},"payload":"ada"}`))
	if err != nil || string(k) != "ada" {
		t.Fatalf("key %q %v", k, err)
	}
	c, err := m.Value(k, []byte(`{"schema":{},"payload":{"name":"Ada"}}`))
	if err != nil || c.kind != sink.OpPutBytes {
		t.Fatalf("%+v %v", c, err)
	}
	if _, err := m.Key(nil); err == nil {
		t.Fatal("null key accepted")
	}
	// Unknown fields: an error naming the field, or dropped when asked.
	m = mk()
	_, err = m.Value(k, []byte(`{"nickname":"x"}`))
	var de *sink.DataError
	if !errors.As(err, &de) || de.Stage != StageValue || !strings.Contains(err.Error(), "nickname") {
		t.Fatalf("unknown field: %v", err)
	}
	if sink.Classify(err) != sink.Data {
		t.Fatalf("class %s", sink.Classify(err))
	}
	m = mk("rialto.fields.unknown", "ignore")
	if _, err := m.Value(k, []byte(`{"nickname":"x","name":"y"}`)); err != nil {
		t.Fatal(err)
	}
	// Tombstones.
	if c, _ := mk().Value(k, nil); c.kind != sink.OpDelete {
		t.Fatalf("tombstone: %+v", c)
	}
	if c, _ := mk("rialto.tombstone", "ignore").Value(k, nil); !c.skip {
		t.Fatalf("ignored tombstone: %+v", c)
	}
	// Timestamps from a field.
	c, err = mk("rialto.timestamp.source", "field", "rialto.timestamp.field", "at", "rialto.fields.exclude", "at").
		Value(k, []byte(`{"name":"a","at":1700000000123}`))
	if err != nil || !c.hasTSFld || c.tsField != 1700000000123 {
		t.Fatalf("%+v %v", c, err)
	}
}

// TestExampleConfigsParse: the configs under examples/04-connect-sink are
// valid and fit the store its README creates (profile.avsc, partial
// updates on).
func TestExampleConfigsParse(t *testing.T) {
	const dir = "../../examples/04-connect-sink"
	files, _ := filepath.Glob(dir + "/*.properties")
	js, _ := filepath.Glob(dir + "/*.json")
	files = append(files, js...)
	if len(files) < 3 {
		t.Fatalf("found %v", files)
	}
	schema, err := avro.ParseFiles(dir + "/profile.avsc")
	if err != nil {
		t.Fatal(err)
	}
	st := Store{Name: "example_connect", KeySchema: avro.MustParse(`"string"`), ValueSchema: schema, ValueSchemaID: 1, UpdateSchemaID: 1}
	for _, f := range files {
		cfg, err := LoadFile(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if cfg.Store != st.Name {
			t.Errorf("%s: rialto.store=%s, want %s (the README's store)", f, cfg.Store, st.Name)
		}
		if _, err := NewMapper(cfg, st); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}
