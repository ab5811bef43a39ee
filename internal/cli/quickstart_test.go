package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// devController starts `rialto dev` in-process on a scratch data directory
// and a free controller port and returns the controller's URL.
func devController(t *testing.T, extra ...string) string {
	t.Helper()
	args := append([]string{"-o", "json", "dev", "--data-dir", t.TempDir(), "--controller-addr", "127.0.0.1:0", "--server-port", "0"}, extra...)
	d := startDev(t, args...)
	return parseDevStatus(t, d.lines[0]).Controller
}

func parseDevStatus(t *testing.T, line string) devStatus {
	t.Helper()
	var st devStatus
	if err := json.Unmarshal([]byte(line), &st); err != nil {
		t.Fatalf("dev's first line is not JSON: %v: %q", err, line)
	}
	return st
}

// runCLI runs one command line in-process against the controller at url.
func runCLI(t *testing.T, url string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code = Main(ctx, append([]string{"--controller", url}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// mustRun runs a command that must succeed and returns its stdout.
func mustRun(t *testing.T, url string, args ...string) string {
	t.Helper()
	code, out, errs := runCLI(t, url, args...)
	if code != 0 {
		t.Fatalf("rialto %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

// quickstartCommands returns the command lines of the README's quickstart
// session: the first ```sh block after "## Quickstart", comments and blank
// lines dropped, backslash continuations joined.
func quickstartCommands(readme string) ([]string, error) {
	_, after, ok := strings.Cut(readme, "\n## Quickstart\n")
	if !ok {
		return nil, fmt.Errorf("no \"## Quickstart\" section")
	}
	_, block, ok := strings.Cut(after, "```sh\n")
	if !ok {
		return nil, fmt.Errorf("no ```sh block in the quickstart section")
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		return nil, fmt.Errorf("unterminated ```sh block")
	}
	return shCommands(block), nil
}

// shCommands returns the command lines of a shell block: comments and
// blank lines dropped, backslash continuations joined.
func shCommands(block string) []string {
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if c, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(c + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmds = append(cmds, cur.String())
		cur.Reset()
	}
	return cmds
}

// shellWords splits a command line the way sh does for the quoting the
// README uses: single quotes literal, double quotes with backslash escapes,
// words split on blanks. Anything else sh would interpret (pipes,
// redirections, variables, globs) is refused so the README stays runnable
// verbatim here.
func shellWords(line string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated ' in %q", line)
			}
			w.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte("\"\\$`", line[i+1]) >= 0 {
					i++
				} else if line[i] == '$' || line[i] == '`' {
					return nil, fmt.Errorf("expansion inside \"\" in %q: keep the README literal", line)
				}
				w.WriteByte(line[i])
			}
			if i >= len(line) {
				return nil, fmt.Errorf("unterminated \" in %q", line)
			}
			inWord = true
		case strings.IndexByte("|&;<>()$`*?[~", c) >= 0:
			return nil, fmt.Errorf("%q needs a shell (%c): keep the README's session to plain commands", line, c)
		case c == '\\' && i+1 < len(line):
			i++
			w.WriteByte(line[i])
			inWord = true
		default:
			w.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`rialto read get --store s --key k`, []string{"rialto", "read", "get", "--store", "s", "--key", "k"}},
		{`rialto write put --value '{"a": [1, 2]}'`, []string{"rialto", "write", "put", "--value", `{"a": [1, 2]}`}},
		{`rialto write update --add tags='"x"'`, []string{"rialto", "write", "update", "--add", `tags="x"`}},
		{`a "b \"c\" d" e\ f`, []string{"a", `b "c" d`, "e f"}},
	} {
		got, err := shellWords(tc.in)
		if err != nil || strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("shellWords(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`a | b`, `a > f`, `echo $HOME`, `a 'b`, `a "$(x)"`} {
		if _, err := shellWords(bad); err == nil {
			t.Errorf("shellWords(%q): no error", bad)
		}
	}
}

// TestReadmeQuickstart runs the README's quickstart session verbatim
// against `rialto dev`, one command line after the other through Main, the
// way a newcomer pastes it, and checks what the session promises.
func TestReadmeQuickstart(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds, err := quickstartCommands(string(readme))
	if err != nil {
		t.Fatalf("README.md: %v", err)
	}
	if len(cmds) < 8 {
		t.Fatalf("README quickstart has only %d commands: %q", len(cmds), cmds)
	}
	url := devController(t)
	t.Setenv(ControllerEnv, url) // the README relies on the default controller
	t.Chdir(filepath.Join("..", ".."))

	var outputs []string
	for _, line := range cmds {
		words, err := shellWords(line)
		if err != nil {
			t.Fatal(err)
		}
		if len(words) == 0 || words[0] != "rialto" {
			t.Fatalf("README quickstart line %q does not run rialto", line)
		}
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		start := time.Now()
		code := Main(ctx, words[1:], &stdout, &stderr)
		cancel()
		t.Logf("$ %s  (%s)\n%s", line, time.Since(start).Round(time.Millisecond), stdout.String())
		if code != 0 {
			t.Fatalf("%s\nexit %d\nstderr: %s", line, code, stderr.String())
		}
		outputs = append(outputs, stdout.String())
	}

	// What the session shows: the partial updates merged, the meta
	// explanation, member-2 served by the pushed version and gone after the
	// rollback, member-1's nearline writes replayed into version 2.
	all := strings.Join(outputs, "\n")
	for _, want := range []string{
		`"name":"Ada Lovelace","tags":["go","avro"],"scores":{"q1":7.5}`,
		"meta: field-level",
		"store members: version 2 pushed: 3 records",
		`{"name":"Grace","tags":["cobol"],"scores":{"q1":9.5}} (store members, version 2)`,
		`{"name":"Ada Lovelace","tags":["go","avro"],"scores":{"q1":7.5}} (store members, version 2)`,
		"rolled back from version 2 to version 1",
		`key "member-2" not found (store members, version 1)`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("the session's output lacks %q:\n%s", want, all)
		}
	}
}
