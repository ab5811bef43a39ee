package cli

import (
	"encoding/json"
	"testing"
)

// TestWritesInANewSchemaAreKept: a value schema added while servers run
// is usable at once. The leader must not drop a write in the new schema
// that reaches it before its copy of the admin log has the schema, and
// reads must render values written in it, whether they came as puts or as
// partial updates of the new field.
func TestWritesInANewSchemaAreKept(t *testing.T) {
	url := devController(t)
	mustRun(t, url, "store", "create", "--name", "people", "--key-schema", "string", "--partial-update", "--value-schema",
		`{"type":"record","name":"P","fields":[{"name":"name","type":"string","default":""}]}`)
	mustRun(t, url, "write", "put", "--store", "people", "--key", "a", "--value", `{"name":"Ada"}`, "--wait")

	mustRun(t, url, "schema", "add", "--store", "people",
		`{"type":"record","name":"P","fields":[{"name":"name","type":"string","default":""},{"name":"age","type":"int","default":0}]}`)
	mustRun(t, url, "write", "put", "--store", "people", "--key", "b", "--value", `{"name":"Bob","age":5}`, "--wait")
	mustRun(t, url, "write", "update", "--store", "people", "--key", "a", "--set", `{"age":36}`, "--wait")

	for key, want := range map[string]string{"a": `{"age":36,"name":"Ada"}`, "b": `{"age":5,"name":"Bob"}`} {
		var r readOutput
		out := mustRun(t, url, "-o", "json", "read", "get", "--store", "people", "--key", key)
		if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Found {
			t.Fatalf("read %s: %v: %s", key, err, out)
		}
		var got map[string]any
		json.Unmarshal(r.Value, &got)
		gotJSON, _ := json.Marshal(got) // keys sorted
		if string(gotJSON) != want {
			t.Errorf("%s reads %s, want %s", key, gotJSON, want)
		}
	}
}
