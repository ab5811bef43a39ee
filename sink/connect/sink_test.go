package connect

import (
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/sinktest"
)

const t0 = int64(1_700_000_000_000)

// TestJSONTopicToStore: puts from one topic, partial updates with renamed
// fields, list adds and map puts from another, tombstones delete; the
// values are read back from the storage server.
func TestJSONTopicToStore(t *testing.T) {
	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 2)
	puts := env.Topic(t, 2, nil)
	events := env.Topic(t, 2, nil)

	produce(t, env, puts, []*kgo.Record{
		rec("ada", `{"name":"Ada","clicks":1,"recent":["p0"]}`, t0),
		rec("bob", `{"name":"Bob"}`, t0),
		rec("cy", `{"name":"Cy","clicks":9}`, t0),
	})
	produce(t, env, events, []*kgo.Record{
		rec("ada", `{"total":5,"item":"x1","counters":{"a":1},"ignored":true}`, t0+10),
		rec("ada", `{"item":["x2","x3"],"counters":{"b":2}}`, t0+11),
		rec("ada", `{"drop":"x1"}`, t0+12),
		rec("bob", `{"user":"Robert","total":2,"item":"y"}`, t0+10),
		rec("cy", "\x00tombstone", t0+20),
		rec("dee", `{"item":"z"}`, t0+5), // a key never put: starts from the defaults
	})

	p := startSink(t, with(baseProps(st, "puts", puts)))
	u := startSink(t, with(baseProps(st, "events", events),
		"rialto.write.mode", "update",
		"rialto.fields.mapping", "total:clicks, user:name",
		"rialto.fields.exclude", "ignored",
		"rialto.update.list.add", "item:recent",
		"rialto.update.list.remove", "drop:recent",
		"rialto.update.map.put", "counters:attrs",
		"tasks.max", "2",
	))
	p.waitDone(t, env, puts)
	u.waitDone(t, env, events)
	st.WaitReplayed(t)

	want := map[string]string{
		"ada": `{"name":"Ada","clicks":5,"recent":["p0","x2","x3"],"attrs":{"a":1,"b":2}}`,
		"bob": `{"name":"Robert","clicks":2,"recent":["y"],"attrs":{}}`,
		"cy":  ``,
		"dee": `{"name":"","clicks":0,"recent":["z"],"attrs":{}}`,
	}
	for k, w := range want {
		if got := st.Get(t, k); got != w {
			t.Errorf("%s:\n got %s\nwant %s", k, got, w)
		}
	}
	if err := u.stopGracefully(t); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
}

// TestPoisonRecordsToDeadLetterTopic: with errors.tolerance=all the good
// records land, the bad ones are in the dead-letter topic with Connect's
// context headers, and the sink keeps going.
func TestPoisonRecordsToDeadLetterTopic(t *testing.T) {
	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	dlq := in + "-dlq"
	bad := map[int]string{1: `{"name":`, 3: `{"clicks":"many"}`, 5: `{"nickname":"x"}`, 6: `[1,2]`}
	var recs []*kgo.Record
	for i := range 8 {
		v := fmt.Sprintf(`{"name":"u%d","clicks":%d}`, i, i)
		if b, ok := bad[i]; ok {
			v = b
		}
		r := rec(fmt.Sprintf("u%d", i), v, t0+int64(i))
		r.Headers = []kgo.RecordHeader{{Key: "trace", Value: []byte(fmt.Sprint(i))}}
		recs = append(recs, r)
	}
	produce(t, env, in, recs)
	reg := prometheus.NewRegistry()
	r := startSink(t, with(baseProps(st, "poison", in),
		"errors.tolerance", "all",
		"errors.log.enable", "true",
		"errors.log.include.messages", "true",
		"errors.deadletterqueue.topic.name", dlq,
		"errors.deadletterqueue.context.headers.enable", "true",
	), Registerer(reg))
	r.waitDone(t, env, in)
	st.WaitReplayed(t)
	for i := range 8 {
		got := st.Get(t, fmt.Sprintf("u%d", i))
		if _, isBad := bad[i]; isBad != (got == "") {
			t.Errorf("u%d: bad=%v but read %q", i, isBad, got)
		}
	}
	letters := consumeAll(t, env, dlq, len(bad))
	for _, l := range letters {
		var off int
		fmt.Sscan(header(l, sink.HeaderOffset), &off)
		if string(l.Value) != bad[off] || string(l.Key) != fmt.Sprintf("u%d", off) {
			t.Errorf("dead letter %q=%q at offset header %d", l.Key, l.Value, off)
		}
		if header(l, sink.HeaderTopic) != in || header(l, sink.HeaderPartition) != "0" || header(l, "trace") != fmt.Sprint(off) {
			t.Errorf("dead letter %d headers %v", off, l.Headers)
		}
		if header(l, sink.HeaderStage) != StageValue || header(l, sink.HeaderConnector) != "poison" {
			t.Errorf("dead letter %d: stage %s connector %s", off, header(l, sink.HeaderStage), header(l, sink.HeaderConnector))
		}
		if msg := header(l, sink.HeaderExceptionMsg); msg == "" || strings.HasPrefix(msg, "<no") {
			t.Errorf("dead letter %d: no exception message", off)
		}
	}
	if m := header(letters[0], sink.HeaderExceptionCls); m == "" {
		t.Error("no exception class")
	}
	// The sink keeps going: a good record after the poison lands too.
	produce(t, env, in, []*kgo.Record{rec("late", `{"name":"late"}`, t0+100)})
	r.waitDone(t, env, in)
	st.WaitReplayed(t)
	if got := st.Get(t, "late"); !strings.Contains(got, `"late"`) {
		t.Fatalf("late: %q", got)
	}
	// Connect's metric names, dashes turned to underscores.
	mf, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]float64{}
	for _, f := range mf {
		for _, m := range f.Metric {
			switch {
			case m.Counter != nil:
				vals[f.GetName()] += m.Counter.GetValue()
			case m.Gauge != nil:
				vals[f.GetName()] += m.Gauge.GetValue()
			}
		}
	}
	for name, want := range map[string]float64{
		"sink_record_read_total": 9, "sink_record_send_total": 5, "total_record_errors": 4, "total_records_skipped": 4,
		"deadletterqueue_produce_requests": 4, "total_errors_logged": 4, "deadletterqueue_produce_failures": 0, "sink_record_active_count": 0,
	} {
		if vals[name] != want {
			t.Errorf("%s = %v, want %v", name, vals[name], want)
		}
	}
}

// TestToleranceNoneStopsNamingTheRecord: the first bad record stops the
// sink with its coordinates; the records before it are committed.
func TestToleranceNoneStopsNamingTheRecord(t *testing.T) {
	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 1, nil)
	produce(t, env, in, []*kgo.Record{
		rec("a", `{"name":"a"}`, t0), rec("b", `{"name":"b"}`, t0+1),
		rec("c", `{"clicks":"NaN!"}`, t0+2), rec("d", `{"name":"d"}`, t0+3),
	})
	r := startSink(t, baseProps(st, "strict", in))
	err := r.waitStopped(t, time.Minute)
	var re *sink.RecordError
	if !errors.As(err, &re) || re.Topic != in || re.Partition != 0 || re.Offset != 2 {
		t.Fatalf("Run: %v, want a RecordError for %s/0@2", err, in)
	}
	if !strings.Contains(err.Error(), fmt.Sprintf("%s/0@2", in)) || !strings.Contains(err.Error(), "clicks") {
		t.Fatalf("error does not name the record and field: %v", err)
	}
	st.WaitReplayed(t)
	if st.Get(t, "a") == "" || st.Get(t, "b") == "" || st.Get(t, "d") != "" {
		t.Fatalf("a=%q b=%q d=%q", st.Get(t, "a"), st.Get(t, "b"), st.Get(t, "d"))
	}
	offs, err := env.Admin(t).FetchOffsets(t.Context(), "connect-strict")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := offs.Lookup(in, 0); o.At != 2 {
		t.Fatalf("committed %d, want 2 (the failed record)", o.At)
	}
}

// TestRandomBytesTopic: a topic of random bytes with errors.tolerance=all
// sends everything to the dead-letter topic without crashing.
func TestRandomBytesTopic(t *testing.T) {
	env := kafkatest.New(t)
	st := sinktest.NewStore(t, env, "profiles", 1)
	in := env.Topic(t, 2, nil)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const n = 400
	var recs []*kgo.Record
	for range n {
		r := &kgo.Record{Timestamp: time.UnixMilli(rng.Int63n(1 << 42))}
		if rng.Intn(10) > 0 {
			r.Key = randBytes(rng)
		}
		if rng.Intn(20) > 0 {
			r.Value = randBytes(rng)
		}
		recs = append(recs, r)
	}
	produce(t, env, in, recs)
	r := startSink(t, with(baseProps(st, "noise", in),
		"errors.tolerance", "all", "errors.deadletterqueue.topic.name", in+"-dlq",
		"rialto.tombstone", "fail"))
	r.waitDone(t, env, in)
	letters := consumeAll(t, env, in+"-dlq", int(n-r.s.Stats().Acked))
	if int64(len(letters))+r.s.Stats().Acked != n {
		t.Fatalf("%d dead letters + %d written != %d", len(letters), r.s.Stats().Acked, n)
	}
	if err := r.stopGracefully(t); err != nil {
		t.Fatal(err)
	}
}

func randBytes(rng *rand.Rand) []byte {
	b := make([]byte, rng.Intn(40))
	rng.Read(b)
	if len(b) > 0 && rng.Intn(4) == 0 {
		b[0] = '{'
	}
	return b
}
