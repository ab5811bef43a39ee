package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// devRun is `rialto dev` running in-process.
type devRun struct {
	lines  []string // stdout up to and including "ready"
	stderr *syncBuffer
	cancel context.CancelFunc
	code   chan int
}

// startDev runs Main with args and waits for the line "ready".
func startDev(t *testing.T, args ...string) *devRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	d := &devRun{stderr: &syncBuffer{}, cancel: cancel, code: make(chan int, 1)}
	go func() {
		code := Main(ctx, args, pw, d.stderr)
		pw.Close()
		d.code <- code
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-d.code:
		case <-time.After(30 * time.Second):
			t.Error("rialto dev did not stop within 30s of cancel")
		}
	})

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			lines <- sc.Text()
		}
		io.Copy(io.Discard, pr) // keep Main from blocking on stdout
	}()
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("stdout closed before ready; stdout %q, stderr %q", d.lines, d.stderr.String())
			}
			d.lines = append(d.lines, l)
			if l == "ready" {
				go func() {
					for range lines {
					}
				}()
				return d
			}
		case <-timeout:
			t.Fatalf("no ready within 60s; stdout %q, stderr %q", d.lines, d.stderr.String())
		}
	}
}

// stop cancels the context, as SIGINT does, and returns the exit code.
func (d *devRun) stop(t *testing.T) int {
	t.Helper()
	d.cancel()
	select {
	case code := <-d.code:
		d.code <- code // for the cleanup
		return code
	case <-time.After(30 * time.Second):
		t.Fatal("rialto dev did not stop within 30s of cancel")
		return -1
	}
}

func TestDevReadyThenCleanExit(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, "dev", "--data-dir", dir, "--kafka-port", "0", "--controller-addr", "127.0.0.1:0", "--server-port", "0")

	if n := strings.Count(strings.Join(d.lines, "\n"), "ready"); n != 1 {
		t.Errorf("%d lines say ready: %q", n, d.lines)
	}
	var addr string
	for _, l := range d.lines {
		if a, ok := strings.CutPrefix(l, "region 1 (region-1): kafka "); ok {
			addr, _, _ = strings.Cut(a, ",")
		}
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("no region 1 kafka endpoint on loopback in %q", d.lines)
	}
	out := strings.Join(d.lines, "\n")
	if !strings.Contains(out, "controller: http://127.0.0.1:") || !strings.Contains(out, ", server http://127.0.0.1:") {
		t.Errorf("output lacks the controller's and the server's endpoints: %q", d.lines)
	}

	// The printed endpoint serves.
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("ping %s: %v", addr, err)
	}

	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d after cancel; stderr %q", code, d.stderr.String())
	}
}

func TestDevTwoRegionsJSONAndStateSurvives(t *testing.T) {
	dir := t.TempDir()
	d := startDev(t, "--output", "json", "dev", "--data-dir", dir, "--regions", "2", "--controller-addr", "127.0.0.1:0", "--server-port", "0")
	if len(d.lines) != 2 {
		t.Fatalf("want one JSON line and ready, got %q", d.lines)
	}
	var st devStatus
	if err := json.Unmarshal([]byte(d.lines[0]), &st); err != nil {
		t.Fatalf("first line is not JSON: %v: %s", err, d.lines[0])
	}
	if len(st.Regions) != 2 || !strings.HasPrefix(st.Controller, "http://127.0.0.1:") || st.DataDir != dir {
		t.Fatalf("status %+v", st)
	}
	if st.Regions[0].Kafka[0] == st.Regions[1].Kafka[0] {
		t.Fatalf("regions share a broker: %+v", st.Regions)
	}
	for i, r := range st.Regions {
		if want := filepath.Join(dir, "region-"+string(rune('1'+i))); r.DataDir != want {
			t.Errorf("region %d data dir %s, want %s", r.Region, r.DataDir, want)
		}
	}

	// A topic created in region 2 is there after dev restarts on the same
	// data dir, and so is a store, which keeps taking nearline writes in
	// both regions (its version recorded the brokers' old ports).
	createTopic(t, st.Regions[1].Kafka, "survivor")
	const schema = `{"type":"record","name":"V","fields":[{"name":"n","type":"long","default":0}]}`
	mustRun(t, st.Controller, "store", "create", "--name", "kept", "--key-schema", "string", "--value-schema", schema, "--active-active")
	mustRun(t, st.Controller, "write", "put", "--store", "kept", "--key", "before", "--value", `{"n":1}`, "--wait")
	if code := d.stop(t); code != 0 {
		t.Fatalf("exit code %d; stderr %q", code, d.stderr.String())
	}
	d2 := startDev(t, "-o", "json", "dev", "--data-dir", dir, "--regions", "2", "--controller-addr", "127.0.0.1:0", "--server-port", "0")
	var st2 devStatus
	if err := json.Unmarshal([]byte(d2.lines[0]), &st2); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(st2.Regions[1].Kafka...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	topics, err := kadm.NewClient(cl).ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !topics.Has("survivor") {
		t.Fatalf("topic lost across restart; have %v", topics.Names())
	}
	for _, region := range []string{"region-1", "region-2"} {
		mustRun(t, st2.Controller, "write", "put", "--store", "kept", "--key", "after-"+region, "--value", `{"n":2}`,
			"--region", region, "--wait", "--wait-timeout", "30s")
	}
	for _, region := range []string{"region-1", "region-2"} {
		for _, key := range []string{"before", "after-region-1", "after-region-2"} {
			var r readOutput
			out := mustRun(t, st2.Controller, "-o", "json", "read", "get", "--store", "kept", "--key", key, "--region", region)
			if err := json.Unmarshal([]byte(out), &r); err != nil || !r.Found {
				t.Errorf("after the restart, %s reads %s in %s (%v)", key, out, region, err)
			}
		}
	}
}

func TestDevDataDirInUse(t *testing.T) {
	dir := t.TempDir()
	startDev(t, "dev", "--data-dir", dir, "--controller-addr", "127.0.0.1:0", "--server-port", "0")
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), []string{"dev", "--data-dir", dir, "--controller-addr", "127.0.0.1:0", "--server-port", "0"}, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "in use") || strings.Count(stderr.String(), "\n") != 1 {
		t.Fatalf("second dev on %s: exit %d, stderr %q", dir, code, stderr.String())
	}
}

func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown flag", []string{"dev", "--bogus"}, "unknown flag: --bogus"},
		{"unknown global flag", []string{"--nope", "dev"}, "unknown flag: --nope"},
		{"unknown command", []string{"dve"}, `unknown command "dve" for "rialto"; did you mean "dev"?`},
		{"positional arg", []string{"dev", "extra"}, "takes no arguments"},
		{"bad int", []string{"dev", "--regions", "many"}, `invalid argument "many" for "--regions"`},
		{"every problem at once", []string{"dev", "--regions", "0", "--kafka-port", "70000", "--controller-addr", "nohost"},
			`--regions 0: want 1 to 8; --kafka-port 70000: not a TCP port; --controller-addr "nohost": want HOST:PORT`},
		{"too many regions", []string{"dev", "--regions", "9"}, "--regions 9: want 1 to 8"},
		{"ports past 65535", []string{"dev", "--regions", "3", "--kafka-port", "65534"}, "need ports up to 65536"},
		{"bad output", []string{"--output", "yaml", "dev"}, `--output "yaml": want text or json`},
		{"bad log level", []string{"--log-level", "loud", "dev"}, `--log-level "loud"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := Main(context.Background(), tc.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout not empty: %q", stdout.String())
			}
			got := stderr.String()
			if strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "rialto: ") {
				t.Errorf("stderr is not one line 'rialto: ...': %q", got)
			}
			if !strings.Contains(got, tc.want) {
				t.Errorf("stderr %q does not contain %q", got, tc.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"dev", "--help"}, {"help", "dev"}, {}} {
		var stdout, stderr bytes.Buffer
		if code := Main(context.Background(), args, &stdout, &stderr); code != 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Examples:") {
			t.Errorf("%q: help without examples:\n%s", args, stdout.String())
		}
	}
	var stdout bytes.Buffer
	Main(context.Background(), []string{"dev", "--help"}, &stdout, io.Discard)
	for _, flag := range []string{"--data-dir", "--regions", "--controller-addr", "--kafka-port", "--controller", "--output"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("dev --help lacks %s", flag)
		}
	}
}

func TestControllerFromEnv(t *testing.T) {
	env := map[string]string{ControllerEnv: "http://ctl:9"}
	root := NewRoot(&App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(k string) string { return env[k] }})
	if got := root.PersistentFlags().Lookup("controller").DefValue; got != "http://ctl:9" {
		t.Errorf("--controller default with %s set = %q", ControllerEnv, got)
	}
	root = NewRoot(&App{Stdout: io.Discard, Stderr: io.Discard, Getenv: func(string) string { return "" }})
	if got := root.PersistentFlags().Lookup("controller").DefValue; got != DefaultController {
		t.Errorf("--controller default = %q, want %q", got, DefaultController)
	}
}

func TestDefaultDataDir(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_DATA_HOME": "/x", "HOME": "/h"}, "/x/rialto/dev"},
		{map[string]string{"XDG_DATA_HOME": "relative", "HOME": "/h"}, "/h/.local/share/rialto/dev"},
		{map[string]string{"HOME": "/h"}, "/h/.local/share/rialto/dev"},
		{map[string]string{}, "rialto-data"},
	} {
		if got := defaultDataDir(func(k string) string { return tc.env[k] }); got != tc.want {
			t.Errorf("env %v: %s, want %s", tc.env, got, tc.want)
		}
	}
}

func createTopic(t *testing.T, seeds []string, name string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(context.Background(), 1, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatal(err)
	}
}
