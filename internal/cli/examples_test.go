package cli

import (
	"context"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// TestExamples builds the numbered examples this package's docs point to
// and runs each against `rialto dev` (06 against two regions), checking
// what each says it shows.
func TestExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the examples; skipped with -short")
	}
	bin := t.TempDir()
	examples := []string{"01-writer", "03-partial-update", "05-push-replay-rollback", "06-active-active"}
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
		for _, e := range examples[:3] {
			out := run(t, e, "-controller", url, "-servers", servers[0])
			for _, want := range checks[e] {
				if !strings.Contains(out, want) {
					t.Errorf("%s: output lacks %q", e, want)
				}
			}
		}
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
