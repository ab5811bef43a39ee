package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/controller/api"
)

const prefsSchema = `{"type":"record","name":"Prefs","fields":[
	{"name":"theme","type":"string","default":""},
	{"name":"langs","type":{"type":"array","items":"string"},"default":[]},
	{"name":"limits","type":{"type":"map","values":"long"},"default":{}}
]}`

// TestActiveActiveSameTimestamp writes the same key in both regions of
// `rialto dev --regions 2` at the same logical timestamp with different
// values. Both regions must serve the same value, and --meta must show the
// region that decided: the replication metadata records a region for a
// collection's whole-field write (topRegion; on a tie the larger region id
// wins, SEMANTICS §6), not for scalar fields, where the larger value wins a
// tie and the explanation leaves the region out.
func TestActiveActiveSameTimestamp(t *testing.T) {
	url := devController(t, "--regions", "2")
	mustRun(t, url, "store", "create", "--name", "prefs", "--key-schema", "string", "--value-schema", prefsSchema,
		"--partial-update", "--active-active", "--partitions", "2")

	const ts = "1700000000000"
	mustRun(t, url, "write", "put", "--store", "prefs", "--key", "u1", "--timestamp", ts, "--region", "region-1", "--wait",
		"--value", `{"theme":"dark","langs":["go"]}`)
	out := mustRun(t, url, "-o", "json", "write", "put", "--store", "prefs", "--key", "u1", "--timestamp", ts, "--region", "2", "--wait",
		"--value", `{"theme":"light","langs":["rust"]}`)
	var w writeOutput
	if err := json.Unmarshal([]byte(out), &w); err != nil || w.Region != "region-2" || len(w.Readable) != 2 {
		t.Fatalf("write output %s: %+v %v", out, w, err)
	}

	var values []string
	for _, region := range []string{"region-1", "region-2"} {
		out := mustRun(t, url, "-o", "json", "read", "get", "--store", "prefs", "--key", "u1", "--region", region, "--meta")
		var members map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &members); err != nil {
			t.Fatalf("%s: %v: %s", region, err, out)
		}
		if len(members) != 6 || members["meta"] == nil || string(members["found"]) != "true" || string(members["version"]) != "1" {
			t.Fatalf("%s: want exactly store, key, found, value, version, meta: %s", region, out)
		}
		var r readOutput
		json.Unmarshal([]byte(out), &r)
		values = append(values, string(r.Value))
		var ex conflict.Explanation
		if err := json.Unmarshal(r.Meta, &ex); err != nil {
			t.Fatal(err)
		}
		if ex.Metadata != conflict.MetadataFieldLevel {
			t.Fatalf("%s: metadata %q", region, ex.Metadata)
		}
		for _, f := range ex.Fields {
			switch f.Name {
			case "theme": // scalar tie: the larger value, no region recorded
				if string(f.Value) != `"light"` || f.Region != nil || f.TS != 1700000000000 {
					t.Errorf("%s: theme %s region %v ts %d", region, f.Value, f.Region, f.TS)
				}
			case "langs": // collection tie: the larger region id decides, and meta names it
				if string(f.Value) != `["rust"]` || f.Region == nil || *f.Region != 2 {
					t.Errorf("%s: langs %s decided by region %v, want [\"rust\"] by 2", region, f.Value, f.Region)
				}
			}
		}
		text := mustRun(t, url, "read", "get", "--store", "prefs", "--key", "u1", "--region", region, "--meta")
		if !strings.Contains(text, "langs") || !strings.Contains(text, "(not recorded)") {
			t.Errorf("%s: text meta:\n%s", region, text)
		}
	}
	if values[0] != values[1] || values[0] != `{"theme":"light","langs":["rust"],"limits":{}}` {
		t.Fatalf("regions disagree or wrong winner: %q", values)
	}
}

// TestBadInputChangesNothing runs every command with bad input: each must
// exit non-zero with exactly one line "rialto: <reason>" on stderr and
// nothing on stdout, and afterwards the store, its versions and its
// real-time topic are exactly as before.
func TestBadInputChangesNothing(t *testing.T) {
	url := devController(t)
	mustRun(t, url, "store", "create", "--name", "prefs", "--key-schema", "string", "--value-schema", prefsSchema,
		"--partial-update", "--partitions", "2")
	mustRun(t, url, "write", "put", "--store", "prefs", "--key", "u1", "--value", `{"theme":"dark"}`, "--wait")

	dir := t.TempDir()
	badJSON := filepath.Join(dir, "bad.json")
	os.WriteFile(badJSON, []byte(`{"brokers": [`), 0o644)
	unknownKey := filepath.Join(dir, "unknown.json")
	os.WriteFile(unknownKey, []byte(`{"localRegion": 1, "nosuch": 1}`), 0o644)
	keys := filepath.Join(dir, "keys.txt")
	os.WriteFile(keys, []byte("u1\n"), 0o644)

	snapshot := func() string {
		st := mustRun(t, url, "-o", "json", "store", "list")
		rt := mustRun(t, url, "-o", "json", "topic", "inspect", "--store", "prefs", "--rt")
		v := mustRun(t, url, "-o", "json", "read", "get", "--store", "prefs", "--key", "u1")
		return st + "\n" + rt + "\n" + v
	}
	before := snapshot()

	schemaNoDefault := `{"type":"record","name":"Prefs","fields":[{"name":"theme","type":"string","default":""},{"name":"langs","type":{"type":"array","items":"string"},"default":[]},{"name":"limits","type":{"type":"map","values":"long"},"default":{}},{"name":"age","type":"int"}]}`
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		// store
		{"create without name", []string{"store", "create", "--key-schema", "string", "--value-schema", prefsSchema}, "--name: required"},
		{"create bad JSON", []string{"store", "create", "--name", "x", "--key-schema", "string", "--value-schema", `{"type":"record",`}, "not valid JSON"},
		{"create existing", []string{"store", "create", "--name", "prefs", "--key-schema", "string", "--value-schema", prefsSchema}, "prefs"},
		{"create bad compression", []string{"store", "create", "--name", "x", "--key-schema", "string", "--value-schema", prefsSchema, "--compression", "lz4"}, `--compression "lz4"`},
		{"create unknown flag", []string{"store", "create", "--name", "x", "--shards", "2"}, "unknown flag: --shards"},
		{"describe missing store", []string{"store", "describe", "nosuch"}, `store "nosuch" does not exist`},
		{"describe no arg", []string{"store", "describe"}, "missing STORE"},
		{"update missing store", []string{"store", "update", "nosuch", "--partitions", "3"}, `store "nosuch" does not exist`},
		{"update nothing", []string{"store", "update", "prefs"}, "nothing to change"},
		{"update bad value", []string{"store", "update", "prefs", "--versions-to-keep", "0"}, "--versions-to-keep 0"},
		{"delete missing store", []string{"store", "delete", "nosuch"}, `store "nosuch" does not exist`},
		// schema
		{"schema add missing store", []string{"schema", "add", "--store", "nosuch", prefsSchema}, `store "nosuch" does not exist`},
		{"schema add bad JSON", []string{"schema", "add", "--store", "prefs", `{"type":`}, "not valid JSON"},
		{"schema add incompatible", []string{"schema", "add", "--store", "prefs", schemaNoDefault}, "age"},
		{"schema add no store flag", []string{"schema", "add", prefsSchema}, "--store: required"},
		// write
		{"put missing store", []string{"write", "put", "--store", "nosuch", "--key", "u1", "--value", `{}`}, `store "nosuch" does not exist`},
		{"put bad JSON", []string{"write", "put", "--store", "prefs", "--key", "u1", "--value", `{"theme":`}, "--value: not valid JSON"},
		{"put unknown field", []string{"write", "put", "--store", "prefs", "--key", "u1", "--value", `{"colour":"red"}`}, "colour"},
		{"put wrong type", []string{"write", "put", "--store", "prefs", "--key", "u1", "--value", `{"theme":7}`}, "theme"},
		{"put unknown flag", []string{"write", "put", "--store", "prefs", "--key", "u1", "--value", `{}`, "--ttl", "3"}, "unknown flag: --ttl"},
		{"put unknown region", []string{"write", "put", "--store", "prefs", "--key", "u1", "--value", `{}`, "--region", "mars"}, `--region "mars": no such region`},
		{"put without key", []string{"write", "put", "--store", "prefs", "--value", `{}`}, "--key: required"},
		{"update unknown field", []string{"write", "update", "--store", "prefs", "--key", "u1", "--set", `{"colour":"red"}`}, `field "colour"`},
		{"update add unknown field", []string{"write", "update", "--store", "prefs", "--key", "u1", "--add", `colours="red"`}, `field "colours"`},
		{"update add bad JSON", []string{"write", "update", "--store", "prefs", "--key", "u1", "--add", `langs=[go`}, "--add langs: not valid JSON"},
		{"update add to a scalar", []string{"write", "update", "--store", "prefs", "--key", "u1", "--add", `theme="x"`}, `field "theme"`},
		{"update put into a list", []string{"write", "update", "--store", "prefs", "--key", "u1", "--put", `langs={"a":"b"}`}, `field "langs"`},
		{"update put wrong type", []string{"write", "update", "--store", "prefs", "--key", "u1", "--put", `limits={"a":"b"}`}, `field "limits"`},
		{"update set and merge", []string{"write", "update", "--store", "prefs", "--key", "u1", "--set", `{"langs":[]}`, "--add", `langs="go"`}, `field "langs"`},
		{"update nothing", []string{"write", "update", "--store", "prefs", "--key", "u1"}, "nothing to update"},
		{"update no FIELD=", []string{"write", "update", "--store", "prefs", "--key", "u1", "--add", `"go"`}, "want FIELD=JSON"},
		{"update set not an object", []string{"write", "update", "--store", "prefs", "--key", "u1", "--set", `[1]`}, "want a JSON object"},
		{"update missing store", []string{"write", "update", "--store", "nosuch", "--key", "u1", "--set", `{"theme":"x"}`}, `store "nosuch" does not exist`},
		{"delete missing store", []string{"write", "delete", "--store", "nosuch", "--key", "u1"}, `store "nosuch" does not exist`},
		{"delete without key", []string{"write", "delete", "--store", "prefs"}, "--key: required"},
		{"delete negative timestamp", []string{"write", "delete", "--store", "prefs", "--key", "u1", "--timestamp", "-5"}, "--timestamp -5"},
		// read
		{"get missing store", []string{"read", "get", "--store", "nosuch", "--key", "u1"}, `store "nosuch" does not exist`},
		{"get without key", []string{"read", "get", "--store", "prefs"}, "--key: required"},
		{"get unknown flag", []string{"read", "get", "--store", "prefs", "--key", "u1", "--fresh"}, "unknown flag: --fresh"},
		{"get unknown region", []string{"read", "get", "--store", "prefs", "--key", "u1", "--region", "9"}, `--region "9"`},
		{"batch missing file", []string{"read", "batch", "--store", "prefs", "--keys", filepath.Join(dir, "nope.txt")}, "no such file"},
		{"batch missing store", []string{"read", "batch", "--store", "nosuch", "--keys", keys}, `store "nosuch" does not exist`},
		// versions and replay
		{"version list missing store", []string{"version", "list", "--store", "nosuch"}, `store "nosuch" does not exist`},
		{"swap to a missing version", []string{"version", "swap", "--store", "prefs", "--to", "9"}, "9"},
		{"swap without --to", []string{"version", "swap", "--store", "prefs"}, "--to"},
		{"rollback without backup", []string{"version", "rollback", "--store", "prefs"}, "backup"},
		{"kill a missing version", []string{"version", "kill", "--store", "prefs", "--version", "9"}, "9"},
		{"replay status missing store", []string{"replay", "status", "--store", "nosuch"}, `store "nosuch" does not exist`},
		{"replay status missing version", []string{"replay", "status", "--store", "prefs", "--version", "9"}, "no version 9"},
		{"replay plan missing store", []string{"replay", "plan", "--store", "nosuch"}, `store "nosuch" does not exist`},
		{"replay unknown subcommand", []string{"replay", "stats"}, `unknown command "stats"`},
		// topics
		{"inspect both", []string{"topic", "inspect", "--store", "prefs", "--rt", "--version", "1"}, "exactly one of --rt and --version"},
		{"inspect neither", []string{"topic", "inspect", "--store", "prefs"}, "exactly one of --rt and --version"},
		{"inspect missing store", []string{"topic", "inspect", "--store", "nosuch", "--rt"}, `store "nosuch" does not exist`},
		{"inspect missing version", []string{"topic", "inspect", "--store", "prefs", "--version", "9"}, "no version 9"},
		// push (the push command's own author tests its input; here: nothing changes)
		{"push missing store", []string{"push", "--store", "nosuch", "--input", keys}, "nosuch"},
		// the parts
		{"server without config", []string{"server"}, "--config: required"},
		{"server bad config", []string{"server", "--config", badJSON}, "server: config"},
		{"controller unknown key", []string{"controller", "--config", unknownKey}, `unknown field "nosuch"`},
		{"controller missing file", []string{"controller", "--config", filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, url, tc.args...)
			if code == 0 {
				t.Fatalf("exit 0; stdout %q", stdout)
			}
			if stdout != "" {
				t.Errorf("stdout not empty: %q", stdout)
			}
			if strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "rialto: ") {
				t.Errorf("stderr is not one line 'rialto: ...': %q", stderr)
			}
			if !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.want)
			}
		})
	}
	if after := snapshot(); after != before {
		t.Fatalf("bad input changed something:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var stores []api.Store
	json.Unmarshal([]byte(mustRun(t, url, "-o", "json", "store", "list")), &stores)
	if len(stores) != 1 || stores[0].Name != "prefs" || len(stores[0].Versions) != 1 {
		t.Fatalf("stores after bad input: %+v", stores)
	}
}

func TestParseControllerConfig(t *testing.T) {
	cfg, err := ParseControllerConfig([]byte(`{"regions":[{"id":1,"name":"us","brokers":["k:9092"]}],"localRegion":1,
		"httpAddr":"0.0.0.0:7070","monitorInterval":"250ms","versionCompactionLag":"48h"}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Regions) != 1 || cfg.Regions[0].Brokers[0] != "k:9092" || cfg.MonitorInterval.String() != "250ms" ||
		cfg.VersionCompactionLag.String() != "48h0m0s" || cfg.HTTPAddr != "0.0.0.0:7070" {
		t.Fatalf("%+v", cfg)
	}
	for _, bad := range []string{`{"monitorInterval": 5}`, `{"monitorInterval": "soon"}`, `{"regions": {}}`, `{"x": 1}`} {
		if _, err := ParseControllerConfig([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestUpdateDocument(t *testing.T) {
	doc, err := updateDocument(`{"name":"Ada"}`, []string{`tags=["a","b"]`, `tags="c"`, `other=[]`}, []string{`tags="x"`},
		[]string{`scores={"q1":1}`, `scores={"q2":2}`}, []string{`scores="q0"`})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"set":{"name":"Ada"},"add":{"tags":["a","b","c"],"other":[]},"remove":{"tags":["x"]},"put":{"scores":{"q1":1,"q2":2}},"removeKeys":{"scores":["q0"]}}`
	if string(doc) != want {
		t.Fatalf("got  %s\nwant %s", doc, want)
	}
	if _, err := updateDocument("", []string{"tags"}, nil, []string{`m=[1]`}, nil); err == nil ||
		!strings.Contains(err.Error(), "want FIELD=JSON") || !strings.Contains(err.Error(), "want a JSON object of entries") {
		t.Fatalf("every problem at once: %v", err)
	}
}

// TestEveryCommandHasExamples walks the command tree: every command's
// --help shows examples and the global flags.
func TestEveryCommandHasExamples(t *testing.T) {
	root := NewRoot(&App{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}, Getenv: func(string) string { return "" }})
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" {
			return
		}
		n++
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no examples", c.CommandPath())
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	for _, path := range [][]string{{"write", "update"}, {"read", "get"}, {"topic", "inspect"}, {"replay", "status"}} {
		var out strings.Builder
		code := Main(t.Context(), append(path, "--help"), &out, &out)
		if code != 0 || !strings.Contains(out.String(), "Examples:") || !strings.Contains(out.String(), "--controller") ||
			!strings.Contains(out.String(), "--output") {
			t.Errorf("%q --help: exit %d\n%s", path, code, out.String())
		}
	}
	if n < 25 {
		t.Errorf("only %d commands in the tree", n)
	}
}
