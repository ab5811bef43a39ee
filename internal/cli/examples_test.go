package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestExamples builds the numbered examples this package's docs point to
// and runs each against `rialto dev` (06 against two regions), checking
// what each says it shows. 02-goka-sink has its own test beside it.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples; skipped with -short")
	}
	bin := t.TempDir()
	examples := []string{"01-writer", "03-partial-update", "04-connect-sink", "05-push-replay-rollback", "06-active-active"}
	oneRegion := []string{"01-writer", "03-partial-update", "05-push-replay-rollback"} // 04 runs below
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, e := range examples {
		args = append(args, "./examples/"+e)
	}
	build := exec.Command(goCmd(), args...)
	build.Dir = filepath.Join("..", "..")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	run := func(t *testing.T, name string, args ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(bin, name), args...).CombinedOutput()
		t.Logf("%s:\n%s", name, out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return string(out)
	}
	checks := map[string][]string{
		"01-writer":               {"read visitor-1: {\"page\":\"/home\",\"count\":1}", "read visitor-6: deleted"},
		"03-partial-update":       {`"name":"Ada","nickname":"ada","skills":["pebble","go","kafka"],"scores":{"q1":7.5}`, "refused:"},
		"05-push-replay-rollback": {"pushed version 2: 3 records", "version 2 is current", `"price":19.5`, "rolled back to version 1", `"price":99`},
	}

	t.Run("one region", func(t *testing.T) {
		url, servers := devEndpoints(t)
		for _, e := range oneRegion {
			out := run(t, e, "-controller", url, "-servers", servers[0])
			for _, want := range checks[e] {
				if !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q", e, want)
				}
			}
		}
		t.Run("04-connect-sink", func(t *testing.T) { runConnectExample(t, url, bin) })
	})
	t.Run("two regions", func(t *testing.T) {
		url, servers := devEndpoints(t, "--regions", "2")
		out := run(t, "06-active-active", "-controller", url, "-region-servers", strings.Join(servers, ","))
		if !strings.Contains(out, "both regions serve the same value") || !strings.Contains(out, "last set by region 2") {
			t.Errorf("06-active-active output:\n%s", out)
		}
	})
}

// devEndpoints starts rialto dev and returns the controller's URL and each
// region's server URL.
func devEndpoints(t *testing.T, extra ...string) (string, []string) {
	t.Helper()
	args := append([]string{"-o", "json", "dev", "--data-dir", t.TempDir(), "--controller-addr", "127.0.0.1:0", "--server-port", "0"}, extra...)
	d := startDev(t, args...)
	st := parseDevStatus(t, d.lines[0])
	var servers []string
	for _, r := range st.Regions {
		servers = append(servers, r.Server)
	}
	return st.Controller, servers
}

func goCmd() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// runConnectExample runs the session of examples/04-connect-sink/README.md
// against the rialto dev at url, its lines as written: the store create
// and every read through Main, the feeder (built into bin), `rialto sink`
// in-process through Main until everything landed, then Ctrl-C. The reads
// and the dead letters must print what the README shows.
func runConnectExample(t *testing.T, url, bin string) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "examples", "04-connect-sink", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var storeCreate, feeder, sinkCmd, deadLetters []string
	var reads [][]string
	for _, line := range shBlockCommands(string(readme)) {
		words, err := shellWords(line)
		if err != nil {
			t.Fatalf("README: %v", err)
		}
		switch {
		case line == "rialto dev":
		case strings.HasPrefix(line, "rialto store create "):
			storeCreate = words[1:]
		case strings.HasPrefix(line, "rialto sink "):
			sinkCmd = words[1:]
		case strings.HasPrefix(line, "rialto read get "):
			reads = append(reads, words[1:])
		case line == "go run ./examples/04-connect-sink":
			feeder = words[3:]
		case strings.HasPrefix(line, "go run ./examples/04-connect-sink -dead-letters"):
			deadLetters = words[3:]
		default:
			t.Fatalf("README: line %q: the test does not know how to run it", line)
		}
	}
	if storeCreate == nil || feeder == nil || sinkCmd == nil || deadLetters == nil || len(reads) == 0 {
		t.Fatalf("README lacks a step: store create %q, feeder %q, sink %q, reads %q, dead letters %q", storeCreate, feeder, sinkCmd, reads, deadLetters)
	}
	// What the README's reads print, by key; each line must be in the README.
	wantReads := map[string]string{
		"user-01": `{"name":"Ada Lovelace","clicks":42,"recent":[],"attrs":{}} (store example_connect, version 1)`,
		"user-02": `{"name":"Grace Hopper","clicks":0,"recent":[],"attrs":{}} (store example_connect, version 1)`,
		"user-07": `key "user-07" not found (store example_connect, version 1)`,
		"user-13": `{"name":"User 13","clicks":13,"recent":[],"attrs":{}} (store example_connect, version 1)`,
		"user-30": `{"name":"User 30","clicks":30,"recent":[],"attrs":{}} (store example_connect, version 1)`,
	}
	for k, want := range wantReads {
		if k != "user-30" && !strings.Contains(string(readme), want+"\n") {
			t.Errorf("README does not show the read of %s: %s", k, want)
		}
	}

	t.Chdir(root) // the README's paths are relative to the repository
	t.Setenv(ControllerEnv, url)
	mustRun(t, url, storeCreate...)
	feed := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, filepath.Join(bin, "04-connect-sink"), args...).CombinedOutput()
		return string(out), err
	}
	out, err := feed(feeder...)
	t.Logf("04-connect-sink:\n%s", out)
	if err != nil || !strings.Contains(out, "produced 34 records to profiles-json") {
		t.Fatalf("feeder: %v", err)
	}

	// The sink, as `rialto sink` runs it (metrics on a free port).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		c := Main(ctx, append(append([]string{"-o", "json"}, sinkCmd...), "--metrics-addr", "127.0.0.1:0"), pw, stderr)
		pw.Close()
		code <- c
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("rialto sink printed nothing; stderr %q", stderr.String())
	}
	go io.Copy(io.Discard, pr)
	var started struct{ Sink, Group, Store, Metrics string }
	if err := json.Unmarshal(sc.Bytes(), &started); err != nil || started.Store != "example_connect" || started.Metrics == "" {
		t.Fatalf("rialto sink: %q: %v", sc.Text(), err)
	}
	// waitFor polls cond until it holds; on timeout it fails with cond's
	// last report, what the sink said, and the store's RT and version
	// topics (which write was not applied).
	waitFor := func(what string, cond func() (bool, string)) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			ok, state := cond()
			if ok {
				return
			}
			if time.Now().After(deadline) {
				exited := "running"
				select {
				case c := <-code:
					exited = fmt.Sprintf("exited %d", c)
					code <- c
				default:
				}
				_, rt, _ := runCLI(t, url, "topic", "inspect", "--store", "example_connect", "--rt")
				_, vt, _ := runCLI(t, url, "topic", "inspect", "--store", "example_connect", "--version", "1")
				t.Fatalf("timed out waiting for %s: %s\nrialto sink (%s) stderr:\n%s\nRT topic:\n%s\nversion topic:\n%s", what, state, exited, stderr.String(), rt, vt)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// At least once: a rebalance may read a record again, so at least.
	waitFor("34 records read, 33 written, 1 skipped", func() (bool, string) {
		read := metricSum(t, started.Metrics, "sink_record_read_total")
		acked := metricSum(t, started.Metrics, "sink_record_ack_total")
		skipped := metricSum(t, started.Metrics, "total_records_skipped")
		return read >= 34 && acked >= 33 && skipped >= 1, fmt.Sprintf("read %v, acknowledged %v, skipped %v", read, acked, skipped)
	})

	// Nearline: every acknowledged write is readable once the server applied it.
	for _, args := range append(reads, []string{"read", "get", "--store", "example_connect", "--key", "user-30"}) {
		key := args[len(args)-1]
		want, ok := wantReads[key]
		if !ok {
			t.Fatalf("README reads %s: the test has no expected value", key)
		}
		waitFor("rialto "+strings.Join(args, " "), func() (bool, string) {
			c, stdout, errOut := runCLI(t, url, args...)
			got := strings.TrimSpace(stdout)
			return c == 0 && got == want, fmt.Sprintf("exit %d, %q %q, want %q", c, got, errOut, want)
		})
	}

	// The poison record is in the dead-letter topic, with why, as shown
	// (a record read again after a rebalance would be dead-lettered again).
	var dl string
	waitFor("the dead letter of user-13", func() (bool, string) {
		dl, err = feed(deadLetters...)
		return err == nil && strings.Contains(dl, "dead letter profiles-json-dlq/0@0: "), fmt.Sprintf("%v: %s", err, dl)
	})
	t.Logf("04-connect-sink -dead-letters:\n%s", dl)
	lines := strings.Split(strings.TrimSpace(dl), "\n")
	for _, l := range lines[:2] {
		if !strings.Contains(string(readme), l+"\n") {
			t.Errorf("README does not show the dead-letter line %q", l)
		}
	}
	if n := strings.Count(dl, `key user-13, value {"name":"Mallory","clicks":"lots"}`); n == 0 || n != strings.Count(dl, "dead letter ") ||
		!strings.Contains(dl, "stage VALUE_CONVERTER") || !strings.Contains(dl, fmt.Sprintf("dead letters in profiles-json-dlq: %d\n", n)) {
		t.Errorf("dead letters:\n%s", dl)
	}

	cancel() // Ctrl-C: drains, commits, exits 0
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("rialto sink: exit %d, stderr %q", c, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("rialto sink did not stop within 30s of Ctrl-C")
	}
}

// shBlockCommands returns the command lines of every ```sh block of a
// markdown text, comments and blank lines dropped, backslash continuations
// joined.
func shBlockCommands(md string) []string {
	var cmds []string
	for {
		_, after, ok := strings.Cut(md, "```sh\n")
		if !ok {
			return cmds
		}
		block, rest, _ := strings.Cut(after, "```")
		md = rest
		cmds = append(cmds, shCommands(block)...)
	}
}
