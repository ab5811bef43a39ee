package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/sinktest"
	"github.com/rialtodb/rialto/writer"
)

// Delivery guarantees of the Connect-style sink under broker faults:
// retries of retriable write errors, offsets held back by dead letters
// still on their way, and the drain of a graceful shutdown.

// fastMetadata lets franz-go refresh metadata soon after a NOT_LEADER
// answer (it waits MetadataMinAge, 5 s by default, between refreshes).
var fastMetadata = []kgo.Opt{kgo.MetadataMinAge(50 * time.Millisecond)}

// profilePuts are n good put records u0..u(n-1) with increasing
// timestamps (so every offset is a clean restart point).
func profilePuts(n int) []*kgo.Record {
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, rec(fmt.Sprintf("u%d", i), fmt.Sprintf(`{"name":"n%d","clicks":%d}`, i, i), t0+int64(i)))
	}
	return recs
}

// committedOffsets returns the group's committed offsets of topic.
func committedOffsets(t testing.TB, adm *kadm.Client, group, topic string) map[int32]int64 {
	t.Helper()
	offs, err := adm.FetchOffsets(context.Background(), group)
	if err != nil {
		t.Fatalf("fetching the offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil && o.At >= 0 {
			out[o.Partition] = o.At
		}
	})
	return out
}

// lastCleanPoints is, per partition of the records read back from a topic,
// the largest offset below limit[p] (every offset with no limit) that is a
// clean restart point of the logical-timestamp rule: what the sink commits
// once every record before limit[p] is done.
func lastCleanPoints(recs []*kgo.Record, limit map[int32]int64) map[int32]int64 {
	byPart := map[int32][]*kgo.Record{}
	for _, r := range recs {
		byPart[r.Partition] = append(byPart[r.Partition], r)
	}
	out := map[int32]int64{}
	for p, rs := range byPart {
		sort.Slice(rs, func(i, j int) bool { return rs[i].Offset < rs[j].Offset })
		c := sink.NewClock()
		for _, r := range rs {
			if l, ok := limit[p]; ok && r.Offset >= l {
				break
			}
			if _, clean := c.Stamp(r.Offset, r.Timestamp.UnixMilli(), r.Key); clean {
				out[p] = r.Offset
			}
		}
	}
	return out
}

// metricSums sums every series of each metric family of reg.
func metricSums(t testing.TB, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range mfs {
		for _, m := range f.Metric {
			out[f.GetName()] += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return out
}

// logCounter counts log messages.
type logCounter struct {
	mu   sync.Mutex
	msgs map[string]int
}

func newLogCounter() *logCounter { return &logCounter{msgs: map[string]int{}} }

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs[r.Message]++
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.msgs[msg]
}

// checkPuts checks that the server holds exactly the records of
// profilePuts(n) except the keys in missing.
func checkPuts(t *testing.T, st *sinktest.Store, n int, missing map[int]bool) {
	t.Helper()
	st.WaitReplayed(t)
	for i := range n {
		got := st.Get(t, fmt.Sprintf("u%d", i))
		want := fmt.Sprintf(`{"name":"n%d","clicks":%d,"recent":[],"attrs":{}}`, i, i)
		if missing[i] {
			want = ""
		}
		if got != want {
			t.Errorf("u%d: got %q, want %q", i, got, want)
		}
	}
}

// TestRetriableWriteErrorsAreRetried: while the store's RT topic answers
// every produce with NOT_LEADER_FOR_PARTITION, the sink retries with
// back-off (the retry metric and the log show it); once the fault is gone
// every record lands with its value, and nothing was dead-lettered or
// counted as a record error.
func TestRetriableWriteErrorsAreRetried(t *testing.T) {
	env := kafkatest.New(t)
	broker := env.RequireEmbedded(t)
	st := sinktest.NewStore(t, env, "profiles", 2)
	in := env.Topic(t, 2, nil)
	dlq := in + "-dlq"
	const n = 300
	produce(t, env, in, profilePuts(n))

	fault := broker.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: st.RT, Err: kerr.NotLeaderForPartition, Count: -1})
	defer fault.Remove()
	reg := prometheus.NewRegistry()
	logs := newLogCounter()
	r := startSink(t, with(baseProps(st, "retry", in),
		"errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", dlq,
		"errors.retry.timeout", "60000",
		"errors.retry.delay.max.ms", "200",
	), Registerer(reg), Logger(slog.New(logs)), WriterOpts(writer.KafkaOpts(fastMetadata...)))

	// The fault stays until the sink itself has retried a few times.
	sinktest.WaitFor(t, 30*time.Second, "the sink retrying writes", func() bool {
		return metricSums(t, reg)["total_retries"] >= 3
	})
	if a := r.s.Stats().Acked; a != 0 {
		t.Fatalf("%d writes acknowledged while every produce failed", a)
	}
	fault.Remove()
	r.waitDone(t, env, in)
	checkPuts(t, st, n, nil)

	m := metricSums(t, reg)
	t.Logf("%v retries, %v failed attempts, %d retry log lines", m["total_retries"], m["total_record_failures"], logs.count("sink: retrying write"))
	if m["total_record_failures"] < m["total_retries"] || logs.count("sink: retrying write") < 3 {
		t.Errorf("failures %v, retries %v, %d retry log lines", m["total_record_failures"], m["total_retries"], logs.count("sink: retrying write"))
	}
	for name, want := range map[string]float64{
		"sink_record_ack_total": n, "total_record_errors": 0, "total_records_skipped": 0,
		"deadletterqueue_produce_requests": 0, "sink_record_active_count": 0,
	} {
		if m[name] != want {
			t.Errorf("%s = %v, want %v", name, m[name], want)
		}
	}
	if ends := endOffsets(t, env, dlq); ends[0] != 0 {
		t.Errorf("%d dead letters for records that only met retriable errors", ends[0])
	}
	if err := r.stopGracefully(t); err != nil {
		t.Fatal(err)
	}
}

// TestRetryTimeoutStopsTheSink: a retriable fault that outlasts
// errors.retry.timeout stops the sink naming a record, with
// errors.tolerance=none and all alike (the record is not bad: it goes to
// no dead-letter topic, doc.go's guarantee 4), and nothing after it is
// committed; restarted without the fault, the sink writes every record.
func TestRetryTimeoutStopsTheSink(t *testing.T) {
	for _, tolerance := range []string{"none", "all"} {
		t.Run(tolerance, func(t *testing.T) {
			env := kafkatest.New(t)
			broker := env.RequireEmbedded(t)
			st := sinktest.NewStore(t, env, "profiles", 1)
			in := env.Topic(t, 1, nil)
			dlq := in + "-dlq"
			const n = 20
			produce(t, env, in, profilePuts(n))
			props := with(baseProps(st, "giveup", in),
				"errors.tolerance", tolerance,
				"errors.retry.timeout", "1000",
				"errors.retry.delay.max.ms", "100",
			)
			if tolerance == "all" {
				props = with(props, "errors.deadletterqueue.topic.name", dlq, "errors.deadletterqueue.context.headers.enable", "true")
			}

			fault := broker.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: st.RT, Err: kerr.NotLeaderForPartition, Count: -1})
			reg := prometheus.NewRegistry()
			r := startSink(t, props, Registerer(reg), WriterOpts(writer.KafkaOpts(fastMetadata...)))
			start := time.Now()
			err := r.waitStopped(t, 30*time.Second)
			t.Logf("stopped after %v: %v", time.Since(start).Round(time.Millisecond), err)
			var re *sink.RecordError
			if !errors.As(err, &re) || re.Topic != in || re.Partition != 0 || re.Offset < 0 || re.Offset >= n {
				t.Fatalf("Run: %v, want a RecordError naming a record of %s/0", err, in)
			}
			if !strings.Contains(err.Error(), "retries exhausted") || !writer.IsRetriable(err) {
				t.Fatalf("Run: %v, want retries exhausted on a retriable produce error", err)
			}
			m := metricSums(t, reg)
			t.Logf("%v retries, %v failed attempts", m["total_retries"], m["total_record_failures"])
			if m["total_retries"] < 1 || m["total_record_errors"] < 1 || m["sink_record_ack_total"] != 0 {
				t.Errorf("retries %v, record errors %v, acks %v", m["total_retries"], m["total_record_errors"], m["sink_record_ack_total"])
			}
			adm := env.Admin(t)
			if c, ok := committedOffsets(t, adm, "connect-giveup", in)[0]; ok && c > re.Offset {
				t.Fatalf("committed %d, past the record that failed (%d)", c, re.Offset)
			}
			if tolerance == "all" {
				if ends := endOffsets(t, env, dlq); ends[0] != 0 {
					t.Errorf("%d dead letters: a write that timed out is not a bad record", ends[0])
				}
			}

			// Without the fault a restart writes everything.
			fault.Remove()
			r = startSink(t, props, WriterOpts(writer.KafkaOpts(fastMetadata...)))
			r.waitDone(t, env, in)
			checkPuts(t, st, n, nil)
		})
	}
}

// TestOffsetsWaitForDeadLetters: with errors.tolerance=all, while the
// dead-letter topic refuses produces (a retriable error: the producer
// keeps trying) the group's commit stays at the first poison record even
// though every good record after it was acknowledged; a sink killed in
// that window and restarted re-reads from there, and once the dead
// letters go through every poison record is in the dead-letter topic,
// every good record in the store, and the commit moves on.
func TestOffsetsWaitForDeadLetters(t *testing.T) {
	env := kafkatest.New(t)
	broker := env.RequireEmbedded(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	dlq := in + "-dlq"
	const n = 10
	poison := map[int]string{2: `{"clicks":"many"}`, 6: `{"name":`}
	recs := profilePuts(n)
	for i, v := range poison {
		recs[i].Value = []byte(v)
	}
	produce(t, env, in, recs)
	adm := env.Admin(t)
	const group = "connect-dlqwait"
	committed := func() int64 {
		if c, ok := committedOffsets(t, adm, group, in)[0]; ok {
			return c
		}
		return -1
	}
	// stays checks that the commit is still at want after the commit loop
	// ran three more times and found nothing new to commit.
	stays := func(reg *prometheus.Registry, want int64) {
		t.Helper()
		skips := metricSums(t, reg)["offset_commit_skip_total"]
		sinktest.WaitFor(t, 30*time.Second, "three more commit rounds", func() bool {
			return metricSums(t, reg)["offset_commit_skip_total"] >= skips+3
		})
		if c := committed(); c != want {
			t.Fatalf("committed %d while the dead letter of offset %d is not written, want %d", c, want, want)
		}
	}

	fault := broker.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: dlq, Err: kerr.NotLeaderForPartition, Count: -1})
	defer fault.Remove()
	props := with(baseProps(st, "dlqwait", in),
		"errors.tolerance", "all",
		"errors.deadletterqueue.topic.name", dlq,
		"errors.deadletterqueue.context.headers.enable", "true",
	)
	crash := make(chan struct{})
	reg := prometheus.NewRegistry()
	r := startSink(t, props, Registerer(reg), crashOn(crash), KafkaOpts(fastMetadata...))
	sinktest.WaitFor(t, 30*time.Second, "the good records acknowledged and committed up to the first poison record", func() bool {
		return r.s.Stats().Acked == n-int64(len(poison)) && committed() == 2
	})
	if fault.Hits() == 0 {
		t.Fatal("no dead letter was attempted")
	}
	stays(reg, 2)
	if s := r.s.Stats(); s.InFlight != int64(len(poison)) {
		t.Fatalf("%d records in flight, want the %d poison records", s.InFlight, len(poison))
	}

	// Killed in that window (no drain, no commit) and restarted with the
	// dead-letter topic still failing: it resumes at the first poison
	// record, and the commit stays there.
	close(crash)
	if err := r.waitStopped(t, 30*time.Second); !errors.Is(err, errCrashed) {
		t.Fatalf("Run: %v, want the crash", err)
	}
	if c := committed(); c != 2 {
		t.Fatalf("committed %d after the kill, want 2", c)
	}
	reg = prometheus.NewRegistry()
	r = startSink(t, props, Registerer(reg), KafkaOpts(fastMetadata...))
	sinktest.WaitFor(t, 30*time.Second, "the re-read good records acknowledged", func() bool {
		return r.s.Stats().Acked == n-2-int64(len(poison)) // 3, 4, 5, 7, 8, 9
	})
	stays(reg, 2)

	// The dead-letter topic recovers.
	fault.Remove()
	r.waitDone(t, env, in)
	all := consumeAll(t, env, in, n)
	want := lastCleanPoints(all, nil)[0]
	sinktest.WaitFor(t, 30*time.Second, fmt.Sprintf("commit at %d", want), func() bool { return committed() == want })
	letters := consumeAll(t, env, dlq, len(poison))
	got := map[int]bool{}
	for _, l := range letters {
		var off int
		fmt.Sscan(header(l, sink.HeaderOffset), &off)
		got[off] = true
		if string(l.Value) != poison[off] || header(l, sink.HeaderTopic) != in || header(l, sink.HeaderConnector) != "dlqwait" {
			t.Errorf("dead letter %q=%q, offset header %d, headers %v", l.Key, l.Value, off, l.Headers)
		}
	}
	if len(got) != len(poison) {
		t.Fatalf("dead letters for offsets %v, want %v", got, poison)
	}
	checkPuts(t, st, n, map[int]bool{2: true, 6: true})
	if err := r.stopGracefully(t); err != nil {
		t.Fatal(err)
	}
}

// TestDeadLetterFailureStops: a dead letter Kafka refuses for good stops
// the sink naming the poison record, and the commit stays at it.
func TestDeadLetterFailureStops(t *testing.T) {
	env := kafkatest.New(t)
	broker := env.RequireEmbedded(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	dlq := in + "-dlq"
	recs := profilePuts(6)
	recs[3].Value = []byte(`{"clicks":"many"}`)
	produce(t, env, in, recs)
	broker.Cluster().Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: dlq, Err: kerr.TopicAuthorizationFailed, Count: -1})
	r := startSink(t, with(baseProps(st, "dlqfail", in), "errors.tolerance", "all", "errors.deadletterqueue.topic.name", dlq))
	err := r.waitStopped(t, 30*time.Second)
	var re *sink.RecordError
	if !errors.As(err, &re) || re.Topic != in || re.Offset != 3 || !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Run: %v, want a RecordError for %s/0@3 with the dead-letter topic's error", err, in)
	}
	if c := committedOffsets(t, env.Admin(t), "connect-dlqfail", in)[0]; c != 3 {
		t.Fatalf("committed %d, want 3 (the record whose dead letter failed)", c)
	}
}

// TestGracefulShutdownDrainsInFlight: cancelling Run while the records it
// read are not yet acknowledged (on the embedded broker the RT topic's
// produces are held until after the cancel) returns nil only once every
// one of them is acknowledged, with the commit at the last clean restart
// point of what was done; a restart re-reads exactly the suffix after it
// and the store equals one clean run.
func TestGracefulShutdownDrainsInFlight(t *testing.T) {
	env := kafkatest.New(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const n, keys = 3000, 40
	recs, ks := crashInput(rng, n, keys)
	in := env.Topic(t, 3, nil)
	produce(t, env, in, recs)
	all := consumeAll(t, env, in, n)
	ends := endOffsets(t, env, in)

	clean := sinktest.NewStore(t, env, "clean", 2)
	cr := startSink(t, crashProps(clean, "clean", in))
	cr.waitDone(t, env, in)
	clean.WaitReplayed(t)
	want := clean.Snapshot(t, ks)

	st := sinktest.NewStore(t, env, "drained", 2)
	release := func() {}
	held := false
	if b := env.Embedded(); b != nil {
		// Hold the sink's produces to the RT topic until released.
		held = true
		ch := make(chan struct{})
		var once sync.Once
		release = func() { once.Do(func() { close(ch) }) }
		t.Cleanup(release)
		tds, err := env.Admin(t).ListTopics(context.Background(), st.RT)
		if err != nil {
			t.Fatal(err)
		}
		rtID := tds[st.RT].ID // newer produce requests name topics by id
		c := b.Cluster()
		c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
			if !slices.ContainsFunc(req.(*kmsg.ProduceRequest).Topics, func(tp kmsg.ProduceRequestTopic) bool {
				return tp.Topic == st.RT || tp.TopicID == rtID
			}) {
				return nil, nil, false
			}
			c.SleepControl(func() { <-ch })
			return nil, nil, false
		})
	}
	reg := prometheus.NewRegistry()
	props := crashProps(st, "drained", in)
	r := startSink(t, props, Registerer(reg))
	if held {
		sinktest.WaitFor(t, 30*time.Second, "every record handed to the writer", func() bool {
			return metricSums(t, reg)["sink_record_send_total"] == n
		})
		if s := r.s.Stats(); s.Acked != 0 || s.InFlight != n {
			t.Fatalf("before the stop: %+v, want nothing acknowledged and %d in flight", s, n)
		}
	} else {
		sinktest.WaitFor(t, 30*time.Second, "records in flight", func() bool { return r.s.Stats().InFlight > 0 })
	}
	r.stop()
	release()
	if err := r.waitStopped(t, time.Minute); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	s := r.s.Stats()
	if s.InFlight != 0 || (held && s.Acked != n) {
		t.Fatalf("after the stop: %+v", s)
	}
	adm := env.Admin(t)
	got := committedOffsets(t, adm, "connect-drained", in)
	if held {
		// Everything was done: the commit is each partition's last clean
		// restart point.
		if want := lastCleanPoints(all, nil); !mapsEqual(got, want) {
			t.Fatalf("committed %v, want the last clean points %v", got, want)
		}
	} else {
		// Stopped at some point: each commit is a clean restart point.
		limit := map[int32]int64{}
		for p, c := range got {
			limit[p] = c + 1
		}
		clean := lastCleanPoints(all, limit)
		for p, c := range got {
			if clean[p] != c {
				t.Fatalf("committed %s/%d at %d, not a clean restart point (the last before it is %d)", in, p, c, clean[p])
			}
		}
	}

	// A restart re-reads only the suffix after the commit.
	var suffix int64
	for p, end := range ends {
		c, ok := got[p]
		if !ok {
			c = 0
		}
		suffix += end - c
	}
	r = startSink(t, props)
	r.waitDone(t, env, in)
	if read := r.s.Stats().Read; read != suffix {
		t.Errorf("the restart read %d records, want the %d after the commit %v", read, suffix, got)
	}
	t.Logf("%d of %d acknowledged when Run returned; commit %v; the restart re-read %d", s.Acked, n, got, suffix)
	st.WaitReplayed(t)
	after := st.Snapshot(t, ks)
	live := 0
	for _, k := range ks {
		if after[k] != want[k] {
			t.Errorf("%s:\n after the restart %s\n       clean run %s", k, after[k], want[k])
		}
		if want[k] != "" {
			live++
		}
	}
	if live == 0 {
		t.Fatal("the clean run left no values: the test proves nothing")
	}
	if err := r.stopGracefully(t); err != nil {
		t.Fatal(err)
	}
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestMetricsOverHTTP: every metric name the package documentation lists
// is served on /metrics (Connect's names with underscores for dashes), and
// the documented list is exactly what the sink registers.
func TestMetricsOverHTTP(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	sec := string(doc)
	i := strings.Index(sec, "// # Metrics")
	j := strings.Index(sec, "// # Cost")
	if i < 0 || j < i {
		t.Fatal("doc.go has no Metrics section before Cost")
	}
	documented := map[string]bool{}
	for _, name := range regexp.MustCompile(`\b[a-z]+(?:_[a-z]+)+\b`).FindAllString(sec[i:j], -1) {
		documented[name] = true
	}
	registered := map[string]bool{}
	for name := range metricHelp {
		if !strings.Contains(name, "-") {
			t.Errorf("metric %q is not named in Connect's dashed form", name)
		}
		registered[PrometheusName(name)] = true
	}
	for name := range documented {
		if !registered[name] {
			t.Errorf("doc.go lists %s, which the sink does not register", name)
		}
	}
	for name := range registered {
		if !documented[name] {
			t.Errorf("the sink registers %s, which doc.go does not list", name)
		}
	}
	// The names, in Connect's form.
	for _, c := range []string{"sink-record-read-total", "sink-record-send-total", "total-record-errors", "total-records-skipped", "deadletterqueue-produce-requests"} {
		if !registered[PrometheusName(c)] {
			t.Errorf("Connect's %s is not exported", c)
		}
	}

	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	const n = 5
	produce(t, env, in, profilePuts(n))
	reg := prometheus.NewRegistry()
	r := startSink(t, with(baseProps(st, "metrics", in), "tasks.max", "2"), Registerer(reg))
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	defer srv.Close()
	r.waitDone(t, env, in)

	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mfs, err := new(expfmt.TextParser).TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for name := range documented {
		mf, ok := mfs[name]
		if !ok {
			t.Errorf("/metrics has no %s", name)
			continue
		}
		for _, m := range mf.Metric {
			labels := map[string]string{}
			for _, l := range m.Label {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["connector"] != "metrics" {
				t.Errorf("%s: labels %v, want connector=metrics", name, labels)
			}
		}
	}
	sum := func(name string) (v float64) {
		if mf := mfs[name]; mf != nil {
			for _, m := range mf.Metric {
				v += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
		return v
	}
	if got := len(mfs["sink_record_read_total"].GetMetric()); got != 2 {
		t.Errorf("sink_record_read_total has %d series, want one per task (2)", got)
	}
	for name, want := range map[string]float64{"sink_record_read_total": n, "sink_record_send_total": n, "sink_record_ack_total": n, "partition_count": 1, "total_record_errors": 0} {
		if got := sum(name); got != want {
			t.Errorf("%s = %v over HTTP, want %v", name, got, want)
		}
	}
	if err := r.stopGracefully(t); err != nil {
		t.Fatal(err)
	}
}

// drainFor replaces DrainTimeout (test hook).
func drainFor(d time.Duration) Option { return func(o *options) { o.drain = d } }

// TestGracefulShutdownGivesUpAfterDrainTimeout: when the writes in flight
// never complete (the RT topic's produces are held), a graceful shutdown
// still returns after the drain timeout, with an error, having committed
// what was acknowledged before: the commit is at the first record not
// acknowledged.
func TestGracefulShutdownGivesUpAfterDrainTimeout(t *testing.T) {
	env := kafkatest.New(t)
	broker := env.RequireEmbedded(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	const acked, held = 5, 5
	recs := profilePuts(acked + held)
	produce(t, env, in, recs[:acked])
	reg := prometheus.NewRegistry()
	// No periodic commit: only the shutdown's counts.
	r := startSink(t, with(baseProps(st, "stuck", in), "offset.flush.interval.ms", "3600000"), Registerer(reg), drainFor(300*time.Millisecond))
	r.waitDone(t, env, in)

	tds, err := env.Admin(t).ListTopics(context.Background(), st.RT)
	if err != nil {
		t.Fatal(err)
	}
	rtID := tds[st.RT].ID
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	c := broker.Cluster()
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		if slices.ContainsFunc(req.(*kmsg.ProduceRequest).Topics, func(tp kmsg.ProduceRequestTopic) bool {
			return tp.Topic == st.RT || tp.TopicID == rtID
		}) {
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})
	produce(t, env, in, recs[acked:])
	sinktest.WaitFor(t, 30*time.Second, "the held records handed to the writer", func() bool {
		return metricSums(t, reg)["sink_record_send_total"] == acked+held
	})
	if c := committedOffsets(t, env.Admin(t), "connect-stuck", in); len(c) != 0 {
		t.Fatalf("committed %v before the shutdown", c)
	}
	r.stop()
	err = r.waitStopped(t, 8*time.Second) // 300 ms drain, and no other wait
	if err == nil || !strings.Contains(err.Error(), "still in flight") {
		t.Fatalf("Run: %v, want the drain's timeout", err)
	}
	if s := r.s.Stats(); s.Acked != acked || s.InFlight != held {
		t.Fatalf("after the stop: %+v", s)
	}
	if c := committedOffsets(t, env.Admin(t), "connect-stuck", in); c[0] != acked {
		t.Fatalf("committed %v, want %s/0 at %d (the first record not acknowledged)", c, in, acked)
	}
}
