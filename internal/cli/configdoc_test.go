package cli

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/config.md from the config structs")

// configSections are the configuration structs docs/config.md documents,
// read from their source so the reference says what the code's comments
// say.
var configSections = []struct {
	title, file, typeName, intro string
}{
	{"Server", "server/server.go", "Config",
		"`rialto server --config FILE`: a JSON object with these keys (unknown keys are errors; durations are strings such as `\"10s\"`). Flags `--brokers`, `--data-dir`, `--server-id`, `--http-addr` and `--admin-topic` override the file."},
	{"Server read API (`http`)", "server/http.go", "HTTPOptions",
		"The `http` object of the server's file."},
	{"Controller", "controller/controller.go", "Config",
		"`rialto controller --config FILE`: a JSON object with these keys (unknown keys are errors; durations are strings such as `\"500ms\"`). `--http-addr` overrides the file. Each entry of `regions` is `{\"id\": N, \"name\": \"…\", \"brokers\": [\"host:port\", …]}`; ids are small integers, the same in every region's configuration."},
	{"Kafka security (`kafka`)", "kafkaconn/kafkaconn.go", "Config",
		"The `kafka` object of the server's and the controller's files; the controller uses it for every region. Absent: plaintext without authentication. When it is set, the part checks at start that the brokers accept it and refuses to start on a wrong password or an untrusted certificate. The sink takes the same settings as `rialto.kafka.*` keys, and the CLI's commands that talk to Kafka the same object as the file of `--kafka-config` (docs/security.md)."},
	{"Kafka TLS (`kafka.tls`)", "kafkaconn/kafkaconn.go", "TLS",
		"Present, even as `{}`, turns TLS on (1.2 or later), verifying the brokers against `caFile` or the system roots."},
	{"Kafka SASL (`kafka.sasl`)", "kafkaconn/kafkaconn.go", "SASL",
		"Present, it authenticates every connection. The password never appears in logs, errors or printed configurations."},
	{"Store", "controller/api/api.go", "StoreConfig",
		"A store's configuration: `rialto store create` and `rialto store update` flags (`--partitions`, `--partial-update`, `--active-active`, `--hybrid-rewind`, `--hybrid-offset-lag`, `--replay-policy`, `--compression`, `--chunking`, `--versions-to-keep`, `--rt-retention`), the `config` object of the admin API. Defaults are `api.DefaultStoreConfig`: partitions 4, hybrid rewind 24h, hybrid offset lag 1000, replay policy end-of-push, compression none, chunking on, 2 versions kept, RT retention 72h."},
}

// renderConfigDoc renders docs/config.md.
func renderConfigDoc(root string) (string, error) {
	var b strings.Builder
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("Generated from the configuration structs' source comments by\n")
	b.WriteString("`go test ./internal/cli -run TestConfigDoc -update-docs`; a test fails when\n")
	b.WriteString("this file and the code disagree. Zero or missing values take the defaults\n")
	b.WriteString("each field states. `rialto dev` sets all of this itself (see `rialto dev --help`).\n")
	for _, s := range configSections {
		fields, err := structFields(filepath.Join(root, s.file), s.typeName)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n| key | type | meaning |\n|---|---|---|\n", s.title, s.intro)
		for _, f := range fields {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", f[0], f[1], strings.ReplaceAll(f[2], "|", `\|`))
		}
	}
	return b.String(), nil
}

// structFields returns (json key, type, doc) of each JSON field of a struct
// type declared in file.
func structFields(file, typeName string) ([][3]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.ParseComments)
	if err != nil {
		return nil, err
	}
	var st *ast.StructType
	ast.Inspect(f, func(n ast.Node) bool {
		if ts, ok := n.(*ast.TypeSpec); ok && ts.Name.Name == typeName {
			st, _ = ts.Type.(*ast.StructType)
		}
		return st == nil
	})
	if st == nil {
		return nil, fmt.Errorf("%s: no struct %s", file, typeName)
	}
	var out [][3]string
	for _, fld := range st.Fields.List {
		if fld.Tag == nil || len(fld.Names) == 0 {
			continue
		}
		tag := reflect.StructTag(strings.Trim(fld.Tag.Value, "`")).Get("json")
		key, _, _ := strings.Cut(tag, ",")
		if key == "" || key == "-" {
			continue
		}
		var typ bytes.Buffer
		printer.Fprint(&typ, fset, fld.Type)
		doc := strings.Join(strings.Fields(fld.Doc.Text()), " ")
		if doc == "" {
			doc = strings.Join(strings.Fields(fld.Comment.Text()), " ")
		}
		out = append(out, [3]string{key, jsonType(typ.String()), doc})
	}
	return out, nil
}

func jsonType(goType string) string {
	switch goType {
	case "time.Duration", "api.Duration", "Duration":
		return "duration string"
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "int", "int16", "int32", "int64":
		return "integer"
	case "[]string":
		return "array of strings"
	case "[]api.Region":
		return "array of regions"
	case "HTTPOptions", "kafkaconn.Config", "*TLS", "*SASL":
		return "object (below)"
	case "Secret":
		return "string"
	}
	return "`" + goType + "`"
}

func TestConfigDoc(t *testing.T) {
	root := filepath.Join("..", "..")
	got, err := renderConfigDoc(root)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(root, "docs", "config.md")
	if *updateDocs {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	have, err := os.ReadFile(path)
	if err != nil || string(have) != got {
		t.Fatalf("docs/config.md is out of date with the config structs (%v); run\n  go test ./internal/cli -run TestConfigDoc -update-docs", err)
	}
}
