package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink/sinktest"
)

func TestSinkBadConfigReportsEveryProblem(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.properties")
	os.WriteFile(path, []byte("topics=a\ntopics.regex=b\ntasks.max=zero\nrialto.write.mode=upsert\ntransforms=x\n"), 0o644)
	var stdout, stderr syncBuffer
	code := Main(context.Background(), []string{"sink", "--config", path}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	line := stderr.String()
	if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "rialto: ") {
		t.Fatalf("want one line, got %q", line)
	}
	for _, want := range []string{"name: required", "rialto.store: required", "topics and topics.regex", "tasks.max", "rialto.write.mode", "transforms: unknown key"} {
		if !strings.Contains(line, want) {
			t.Errorf("missing %q in %q", want, line)
		}
	}
	code = Main(context.Background(), []string{"sink"}, &stdout, &stderr)
	if code != 2 {
		t.Fatalf("no --config: exit %d", code)
	}
}

// TestSinkRunsAndDrains runs `rialto sink` in-process against a served
// store: records land, /metrics shows Connect's names, Ctrl-C exits 0.
func TestSinkRunsAndDrains(t *testing.T) {
	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 2)
	in := env.Topic(t, 2, nil)
	cl := env.Client(t)
	for i := range 3 {
		r := &kgo.Record{Topic: in, Key: []byte(fmt.Sprintf("u%d", i)), Value: []byte(fmt.Sprintf(`{"name":"n%d","clicks":%d}`, i, i))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(path, []byte(fmt.Sprintf(`{"name":"cli","config":{"topics":%q,"rialto.store":"profiles","offset.flush.interval.ms":50}}`, in)), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	stderr := &syncBuffer{}
	code := make(chan int, 1)
	go func() {
		c := Main(ctx, []string{"--controller", st.ControllerURL, "--output", "json", "sink", "--config", path, "--metrics-addr", "127.0.0.1:0"}, pw, stderr)
		pw.Close()
		code <- c
	}()
	sc := bufio.NewScanner(pr)
	if !sc.Scan() {
		t.Fatalf("no output; stderr %q", stderr.String())
	}
	go io.Copy(io.Discard, pr)
	var out struct{ Sink, Group, Store, Metrics string }
	if err := json.Unmarshal(sc.Bytes(), &out); err != nil || out.Group != "connect-cli" || out.Metrics == "" {
		t.Fatalf("output %q: %v", sc.Text(), err)
	}
	sinktest.WaitFor(t, time.Minute, "3 records acknowledged", func() bool {
		return metricSum(t, out.Metrics, "sink_record_ack_total") == 3
	})
	if v := metricSum(t, out.Metrics, "sink_record_read_total"); v != 3 {
		t.Errorf("sink_record_read_total %v", v)
	}
	st.WaitReplayed(t)
	if got := st.Get(t, "u2"); !strings.Contains(got, `"name":"n2","clicks":2`) {
		t.Fatalf("u2: %q", got)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit %d, stderr %q", c, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("rialto sink did not stop")
	}
}

func metricSum(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	mfs, err := new(expfmt.TextParser).TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	if mf, ok := mfs[name]; ok {
		for _, m := range mf.Metric {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}
