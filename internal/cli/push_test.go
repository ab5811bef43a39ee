package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/push/pushtest"
)

// pushEnv is a broker and a fake controller holding store "members".
type pushEnv struct {
	ctl *pushtest.Controller
	dir string
}

func newPushEnv(t *testing.T) *pushEnv {
	t.Helper()
	env := kafkatest.New(t)
	topics := map[int32]string{1: env.Topic(t, 2, nil), 2: env.Topic(t, 2, nil)}
	cfg := api.DefaultStoreConfig
	cfg.Partitions = 2
	st := api.Store{Name: "members", KeySchema: `"string"`, Config: cfg, RTTopic: env.Topic(t, 2, nil),
		ValueSchemas: []api.Schema{{ID: 1, Schema: pushtest.FeatureSchema}}}
	ctl := pushtest.NewController(env.Brokers(), st, func(n int32) string { return topics[n] })
	t.Cleanup(ctl.Close)
	return &pushEnv{ctl: ctl, dir: t.TempDir()}
}

func (e *pushEnv) file(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *pushEnv) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code = Main(ctx, append([]string{"--controller", e.ctl.URL}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

func TestPushCommand(t *testing.T) {
	e := newPushEnv(t)
	e.ctl.AutoSwap(true)
	good := e.file(t, "members.jsonl", pushtest.FeatureJSONL(1, 300, true, 1000))

	code, out, errs := e.run("push", "--store", "members", "--input", good, "--progress", "on", "--poll-interval", "10ms")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "store members: version 1 pushed: 300 records") || !strings.Contains(out, "now current") {
		t.Fatalf("stdout %q", out)
	}
	if !strings.Contains(errs, "done") || !strings.Contains(errs, "\r") || !strings.HasSuffix(errs, "\n") {
		t.Fatalf("no progress drawn on stderr: %q", errs)
	}

	// --no-wait, JSON output, no bar without a terminal.
	e.ctl.AutoSwap(false)
	code, out, errs = e.run("-o", "json", "push", "--store", "members", "-i", good, "--no-wait")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var res pushOutput
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Version != 2 || res.Records != 300 || res.Current {
		t.Fatalf("stdout %q: %+v %v", out, res, err)
	}

	// Incremental.
	code, out, errs = e.run("push", "--store", "members", "-i", good, "--incremental", "--push-id", "delta-1")
	if code != 0 || !strings.Contains(out, "incremental push delta-1 wrote 300 records") {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestPushCommandErrors(t *testing.T) {
	e := newPushEnv(t)
	lines := strings.Split(pushtest.FeatureJSONL(1, 5, false, 0), "\n")
	lines[2] = `{"key":"member-2","value":{"pymk_score_bucket":1.5}}`
	bad := e.file(t, "bad.jsonl", strings.Join(lines, "\n"))

	// A bad record in a file fails before the push creates anything.
	for _, extra := range [][]string{nil, {"--incremental"}} {
		code, _, errs := e.run(append([]string{"push", "--store", "members", "--input", bad}, extra...)...)
		if code != 1 || strings.Count(errs, "\n") != 1 || !strings.HasPrefix(errs, "rialto: ") ||
			!strings.Contains(errs, "bad.jsonl line 3") || !strings.Contains(errs, "pymk_score_bucket") || strings.Contains(errs, "killed") {
			t.Fatalf("%v: exit %d, stderr %q", extra, code, errs)
		}
	}
	if v, ok := e.ctl.Version(1); ok {
		t.Fatalf("a bad input file created version 1 (%s)", v.Status)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"push"}, 2, "--store: required; --input: required"},
		{[]string{"push", "--store", "members", "-i", bad, "--format", "csv"}, 2, "--format"},
		{[]string{"push", "--store", "members", "-i", bad, "--no-wait", "--incremental"}, 2, "--no-wait"},
		{[]string{"push", "--store", "members", "-i", bad, "--push-id", "x"}, 2, "--push-id"},
		{[]string{"push", "--store", "members", "-i", bad, "--progress", "maybe"}, 2, "--progress"},
		{[]string{"push", "--store", "members", "-i", filepath.Join(e.dir, "missing.jsonl")}, 1, "no such file"},
		{[]string{"push", "--store", "nope", "-i", bad}, 1, "not found"},
	} {
		code, _, errs := e.run(tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("%v: exit %d, stderr %q; want exit %d saying %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

func TestProgressRendering(t *testing.T) {
	for _, tc := range []struct {
		p    push.Progress
		want string
	}{
		{push.Progress{Phase: "writing", Records: 10, Bytes: 512, TotalBytes: 1024}, "[===============>              ]  50%  10 records  512 B / 1.0 KiB"},
		{push.Progress{Phase: "writing", Records: 10, Bytes: 2048}, "10 records  2.0 KiB"},
		{push.Progress{Phase: "training"}, "training a zstd dictionary"},
		{push.Progress{Phase: "done", Records: 3, Bytes: 3 << 20}, "done         3 records (3.0 MiB)"},
	} {
		if got := renderPush(tc.p, 0); !strings.HasPrefix(got, tc.want) {
			t.Errorf("renderPush(%+v) = %q, want prefix %q", tc.p, got, tc.want)
		}
	}
	rs := api.ReplayStatus{Partitions: []api.PartitionReplay{
		{Partition: 0, ReadyToServe: true, Lag: map[string]int64{"east": 0}},
		{Partition: 1, Lag: map[string]int64{"east": 1200, "west": 3}},
	}}
	if got, want := renderReplay(4, rs), "waiting for version 4: 1/2 partitions ready, replay lag east 1200, west 3"; got != want {
		t.Errorf("renderReplay = %q, want %q", got, want)
	}
	var buf bytes.Buffer
	b := newProgressBar(&buf, true)
	b.draw("long line here")
	b.draw("short")
	b.done()
	if got := buf.String(); got != "\rlong line here\rshort         \n" {
		t.Errorf("bar output %q", got)
	}
}
