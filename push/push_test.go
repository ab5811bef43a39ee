package push_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/push/pushtest"
	"github.com/rialtodb/rialto/server"
)

const partitions = 4

// fixture is a broker, a fake controller for store "members" and the
// version topics its pushes write (created up front).
type fixture struct {
	env    *kafkatest.Env
	ctl    *pushtest.Controller
	cl     *client.Client
	topics map[int32]string
	rt     string
	key    avro.Schema
	value  avro.Schema
}

func newFixture(t *testing.T, compression string) *fixture {
	t.Helper()
	env := kafkatest.New(t)
	f := &fixture{env: env, topics: map[int32]string{}}
	for v := int32(1); v <= 2; v++ {
		f.topics[v] = env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	}
	f.rt = env.Topic(t, partitions, nil)
	cfg := api.DefaultStoreConfig
	cfg.Partitions, cfg.Compression = partitions, compression
	st := api.Store{
		Name: "members", KeySchema: `"string"`, Config: cfg, RTTopic: f.rt,
		ValueSchemas: []api.Schema{{ID: 1, Schema: pushtest.FeatureSchema}}, SupersetID: 1,
	}
	f.ctl = pushtest.NewController(env.Brokers(), st, func(n int32) string { return f.topics[n] })
	t.Cleanup(f.ctl.Close)
	f.cl = client.New(f.ctl.URL)
	var err error
	if f.key, err = avro.Parse(`"string"`); err != nil {
		t.Fatal(err)
	}
	if f.value, err = avro.Parse(pushtest.FeatureSchema); err != nil {
		t.Fatal(err)
	}
	return f
}

func jsonlInput(s string) push.Input {
	return push.Input{Reader: strings.NewReader(s), Name: "members.jsonl", Size: int64(len(s))}
}

// expected parses the JSONL the way a push must: key → value bytes.
func expected(t *testing.T, f *fixture, jsonl string) map[string][]byte {
	t.Helper()
	want := map[string][]byte{}
	for line := range strings.SplitSeq(strings.TrimSpace(jsonl), "\n") {
		rec, err := push.ParseLine(f.key, f.value, []byte(line))
		if err != nil {
			t.Fatal(err)
		}
		want[string(rec.Key)] = rec.Value
	}
	return want
}

// readBack hosts a version on a fresh server and checks every key reads
// exactly as wanted.
func readBack(t *testing.T, f *fixture, version int32, topic string, want map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	s, err := server.New(server.Config{Brokers: f.env.Brokers(), DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); s.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	src, err := server.NewStaticSchemaSource(pushtest.FeatureSchema)
	if err != nil {
		t.Fatal(err)
	}
	spec := server.VersionSpec{Store: "members", Version: version, Topic: topic, Partitions: partitions, KeySchema: f.key, Schemas: src}
	if err := s.Host(ctx, spec, 0, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for !allReady(s.Status()) {
		if time.Now().After(deadline) {
			t.Fatalf("version %d not ready to serve: %+v", version, s.Status())
		}
		time.Sleep(20 * time.Millisecond)
	}
	for k, v := range want {
		got, ok, err := s.Get("members", version, []byte(k))
		if err != nil || !ok {
			t.Fatalf("key %s: found=%v err=%v", k, ok, err)
		}
		if got.SchemaID != 1 || !bytes.Equal(got.Bytes, v) {
			t.Fatalf("key %s: schema %d, %d bytes; want schema 1, %d bytes", k, got.SchemaID, len(got.Bytes), len(v))
		}
	}
	var applied int64
	for _, st := range s.Status() {
		applied += st.Records
		if len(st.Faults) > 0 {
			t.Errorf("partition %d: data integrity faults %v", st.Partition, st.Faults)
		}
	}
	if applied != int64(len(want)) {
		t.Fatalf("server applied %d records, want %d", applied, len(want))
	}
}

func allReady(st []server.PartitionStatus) bool {
	if len(st) != partitions {
		return false
	}
	for _, p := range st {
		if !p.ReadyToServe {
			return false
		}
	}
	return true
}

// topicRecords reads every record of topic up to its current end.
func topicRecords(t *testing.T, env *kafkatest.Env, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := env.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := env.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (left %v)", topic, err, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			out = append(out, r)
			if r.Offset+1 >= left[r.Partition] {
				delete(left, r.Partition)
			}
		})
	}
	return out
}

// envelopes decodes a topic's records: the data ones by key, and the
// control types in log order per partition.
func envelopes(t *testing.T, env *kafkatest.Env, topic string) (puts map[string]*wire.Envelope, controls map[int32][]wire.ControlType) {
	t.Helper()
	puts, controls = map[string]*wire.Envelope{}, map[int32][]wire.ControlType{}
	for _, r := range topicRecords(t, env, topic) {
		k, err := wire.ParseKey(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		e, err := wire.Decode(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		switch e.Type {
		case wire.TypeControl:
			if c := e.Control.Type; c != wire.ControlStartOfSegment && c != wire.ControlEndOfSegment {
				controls[r.Partition] = append(controls[r.Partition], c)
			}
		case wire.TypePut:
			puts[string(k.Key)] = e
		}
	}
	return puts, controls
}

func TestFullPushJSONLReadBackExactly(t *testing.T) {
	f := newFixture(t, "gzip")
	n := 5000
	if testing.Short() {
		n = 1000
	}
	const base = 1_700_000_000_000
	jsonl := pushtest.FeatureJSONL(7, n, true, base)
	var last push.Progress
	var calls int
	var phases []string
	res, err := push.Full(context.Background(), f.cl, "members", jsonlInput(jsonl), push.OnProgress(func(p push.Progress) {
		calls++
		if p.Phase == "validating" && last.Phase == "validating" || p.Phase != "validating" && last.Phase != "validating" {
			if p.Records < last.Records || p.Bytes < last.Bytes {
				t.Errorf("progress went back: %+v after %+v", p, last)
			}
		}
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
		last = p
	}))
	// The file is read twice: validated, then written.
	if want := []string{"validating", "writing", "end-of-push", "done"}; !slices.Equal(phases, want) {
		t.Errorf("phases %v, want %v", phases, want)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 1 || res.Records != int64(n) || res.InputBytes != int64(len(jsonl)) {
		t.Fatalf("result %+v", res)
	}
	if last.Phase != "done" || last.Records != int64(n) || last.Acked != int64(n) || last.Bytes != int64(len(jsonl)) || last.TotalBytes != int64(len(jsonl)) || calls < 3 {
		t.Fatalf("last progress %+v after %d calls", last, calls)
	}
	v, _ := f.ctl.Version(1)
	if v.Status != api.StatusPushed {
		t.Fatalf("version 1 is %s, want %s", v.Status, api.StatusPushed)
	}
	calls2 := f.ctl.Calls()
	if !slices.Contains(calls2, "POST /v1/stores/members/versions/1/end-of-push") || slices.Contains(calls2, "POST /v1/stores/members/versions/1/kill") {
		t.Fatalf("controller calls %v", calls2)
	}

	want := expected(t, f, jsonl)
	readBack(t, f, 1, f.topics[1], want)

	// Every put carries its line's logical timestamp; every partition is
	// start-of-push … end-of-push.
	puts, controls := envelopes(t, f.env, f.topics[1])
	if len(puts) != n {
		t.Fatalf("%d puts in the version topic, want %d", len(puts), n)
	}
	for i := range n {
		e := puts[fmt.Sprintf("member-%d", i)]
		if e == nil || !e.Producer.HasLogicalTimestamp || e.Producer.LogicalTimestamp != base+int64(i) {
			t.Fatalf("member-%d: envelope %+v, want logical timestamp %d", i, e, base+int64(i))
		}
	}
	for p := range int32(partitions) {
		if got := controls[p]; !slices.Equal(got, []wire.ControlType{wire.ControlStartOfPush, wire.ControlEndOfPush}) {
			t.Fatalf("partition %d controls %v", p, got)
		}
	}
}

// TestMalformedLineChangesNothing: a file (an input that can be read
// twice) is validated before the push creates anything, so a bad line
// fails a full or an incremental push without a version or an RT record.
func TestMalformedLineChangesNothing(t *testing.T) {
	f := newFixture(t, "none")
	lines := strings.Split(strings.TrimSpace(pushtest.FeatureJSONL(1, 50, false, 0)), "\n")
	lines[36] = `{"key":"member-36","value":{"member_industry_category":"X","pymk_score_bucket":"high"}}`
	jsonl := strings.Join(lines, "\n") + "\n"
	for _, incremental := range []bool{false, true} {
		run := push.Full
		if incremental {
			run = push.Incremental
		}
		var phases []string
		_, err := run(context.Background(), f.cl, "members", jsonlInput(jsonl), push.OnProgress(func(p push.Progress) {
			if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
				phases = append(phases, p.Phase)
			}
		}))
		var re *push.RecordError
		if !errors.As(err, &re) || re.Line != 37 || !strings.Contains(err.Error(), "pymk_score_bucket") || strings.Contains(err.Error(), "killed") {
			t.Fatalf("incremental=%v: error %v, want a RecordError at line 37 and nothing killed", incremental, err)
		}
		if !slices.Equal(phases, []string{"validating"}) {
			t.Errorf("incremental=%v: phases %v, want only validating", incremental, phases)
		}
	}
	for _, c := range f.ctl.Calls() {
		if strings.HasPrefix(c, "POST ") {
			t.Errorf("the controller was asked to change something: %s", c)
		}
	}
	if _, ok := f.ctl.Version(1); ok {
		t.Error("a version was created")
	}
	if puts, controls := envelopes(t, f.env, f.rt); len(puts)+len(controls) != 0 {
		t.Errorf("the RT topic holds %d puts and control messages %v", len(puts), controls)
	}
}

// TestMalformedLineKillsVersion: a stream (an input that cannot be read
// twice) is validated as it is written; a bad line kills the version.
func TestMalformedLineKillsVersion(t *testing.T) {
	f := newFixture(t, "none")
	lines := strings.Split(strings.TrimSpace(pushtest.FeatureJSONL(1, 50, false, 0)), "\n")
	lines[36] = `{"key":"member-36","value":{"member_industry_category":"X","pymk_score_bucket":"high"}}`
	jsonl := strings.Join(lines, "\n") + "\n"
	stream := push.Input{Reader: struct{ io.Reader }{strings.NewReader(jsonl)}, Name: "members.jsonl"}
	_, err := push.Full(context.Background(), f.cl, "members", stream)
	var re *push.RecordError
	if !errors.As(err, &re) || re.Line != 37 || !errors.Is(err, push.ErrBadRecord) {
		t.Fatalf("error %v, want a RecordError at line 37", err)
	}
	for _, want := range []string{"members.jsonl line 37", "pymk_score_bucket", "version 1 of members killed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if v, _ := f.ctl.Version(1); v.Status != api.StatusKilled {
		t.Fatalf("version 1 is %s, want killed", v.Status)
	}
	calls := f.ctl.Calls()
	if slices.Contains(calls, "POST /v1/stores/members/versions/1/end-of-push") || !slices.Contains(calls, "POST /v1/stores/members/versions/1/kill") {
		t.Fatalf("controller calls %v", calls)
	}
	_, controls := envelopes(t, f.env, f.topics[1])
	for p, cs := range controls {
		if slices.Contains(cs, wire.ControlEndOfPush) {
			t.Fatalf("partition %d has an end-of-push: %v", p, cs)
		}
	}

	// ValidateFirst(false) makes a file behave like the stream.
	if _, err := push.Full(context.Background(), f.cl, "members", jsonlInput(jsonl), push.ValidateFirst(false)); !errors.As(err, &re) ||
		!strings.Contains(err.Error(), "version 2 of members killed") {
		t.Fatalf("a file without the first pass: %v, want version 2 killed at line 37", err)
	}
	if v, _ := f.ctl.Version(2); v.Status != api.StatusKilled {
		t.Fatalf("version 2 is %s, want killed", v.Status)
	}

	// A store that does not exist creates nothing.
	if _, err := push.Full(context.Background(), f.cl, "nope", jsonlInput(jsonl)); !client.NotFound(err) {
		t.Fatalf("push to a missing store: %v", err)
	}
}

// TestZstdDictRatio pushes a feature-like dataset into a zstd-dict store:
// the dictionary rides in the start-of-push request and message, the
// stored values are at most 0.6× the uncompressed ones, and the server
// reads every key back exactly.
func TestZstdDictRatio(t *testing.T) {
	f := newFixture(t, "zstd-dict")
	n := 10_000
	if testing.Short() {
		n = 3000
	}
	jsonl := pushtest.FeatureJSONL(3, n, false, 0)
	res, err := push.Full(context.Background(), f.cl, "members", jsonlInput(jsonl))
	if err != nil {
		t.Fatal(err)
	}
	v, _ := f.ctl.Version(1)
	if len(v.Dictionary) == 0 || res.DictionaryBytes != len(v.Dictionary) || v.Compression != "zstd-dict" {
		t.Fatalf("version %+v, result %+v: the dictionary did not reach the controller", v, res)
	}
	puts, _ := envelopes(t, f.env, f.topics[1])
	var stored int64
	for _, e := range puts {
		stored += int64(len(e.Put.Value))
	}
	ratio := float64(stored) / float64(res.ValueBytes)
	t.Logf("zstd-dict: %d records, %d value bytes → %d stored (ratio %.3f); dictionary %d B trained on %d samples in %s",
		n, res.ValueBytes, stored, ratio, res.DictionaryBytes, push.DefaultDictionarySamples, res.Training)
	if ratio > 0.6 {
		t.Fatalf("stored/uncompressed = %.3f, want ≤ 0.6", ratio)
	}
	readBack(t, f, 1, f.topics[1], expected(t, f, jsonl))
}

// ocfFile writes records into an Avro object container file whose value
// schema is an older one: the store's schema without its last two fields.
func ocfFile(t *testing.T, n int) ([]byte, map[string][]byte) {
	t.Helper()
	const oldValue = `{"type":"record","name":"MemberFeatures","namespace":"com.example.features","fields":[
		{"name":"member_industry_category","type":"string"},
		{"name":"member_seniority_bucket","type":"string"},
		{"name":"pymk_score_bucket","type":"int"}]}`
	fileSchema := `{"type":"record","name":"PushRecord","fields":[{"name":"key","type":"string"},{"name":"value","type":` +
		oldValue + `},{"name":"timestamp","type":["null","long"],"default":null}]}`
	storeValue, err := avro.Parse(pushtest.FeatureSchema)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(fileSchema, &buf, ocf.WithCodec(ocf.Deflate), ocf.WithBlockLength(100))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for i := range n {
		key := fmt.Sprintf("member-%d", i)
		rec := map[string]any{
			"key": key,
			"value": map[string]any{
				"member_industry_category": "INDUSTRY_RETAIL", "member_seniority_bucket": fmt.Sprintf("S%d", i%7), "pymk_score_bucket": i % 20,
			},
			"timestamp": nil,
		}
		if i%2 == 0 {
			rec["timestamp"] = int64(1000 + i)
		}
		if err := enc.Encode(rec); err != nil {
			t.Fatal(err)
		}
		// What the store's schema makes of it: the missing fields take
		// their defaults.
		js := fmt.Sprintf(`{"member_industry_category":"INDUSTRY_RETAIL","member_seniority_bucket":"S%d","pymk_score_bucket":%d}`, i%7, i%20)
		if want[key], err = partialupdate.ValueFromJSON(storeValue, []byte(js)); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), want
}

// TestAvroPushIntoPrecreatedVersion writes an Avro container file into a
// version topic without a controller (push.Write with a Target) and reads
// it back.
func TestAvroPushIntoPrecreatedVersion(t *testing.T) {
	f := newFixture(t, "zstd")
	data, want := ocfFile(t, 3000)
	res, err := push.Write(context.Background(), push.Input{Reader: bytes.NewReader(data), Name: "members.avro"}, push.Target{
		Brokers: f.env.Brokers(), Topic: f.topics[1], Partitions: partitions,
		Compression: wire.CompressionZstd, Chunking: true,
		KeySchema: f.key, ValueSchema: f.value, ValueSchemaID: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3000 || res.InputBytes != int64(len(data)) {
		t.Fatalf("result %+v (input %d bytes)", res, len(data))
	}
	readBack(t, f, 1, f.topics[1], want)
	puts, _ := envelopes(t, f.env, f.topics[1])
	for i := range 3000 {
		e := puts[fmt.Sprintf("member-%d", i)]
		if has := i%2 == 0; e.Producer.HasLogicalTimestamp != has || (has && e.Producer.LogicalTimestamp != int64(1000+i)) {
			t.Fatalf("member-%d: logical timestamp %v %d", i, e.Producer.HasLogicalTimestamp, e.Producer.LogicalTimestamp)
		}
	}
}

func TestAvroBadRecordIndex(t *testing.T) {
	f := newFixture(t, "none")
	// A file whose value has a field the store's schema lacks and cannot
	// default: resolution fails before anything is written.
	fileSchema := `{"type":"record","name":"R","fields":[{"name":"key","type":"string"},{"name":"value","type":{"type":"record","name":"MemberFeatures","namespace":"com.example.features","fields":[{"name":"pymk_score_bucket","type":"string"}]}}]}`
	var buf bytes.Buffer
	enc, err := ocf.NewEncoder(fileSchema, &buf)
	if err != nil {
		t.Fatal(err)
	}
	enc.Encode(map[string]any{"key": "a", "value": map[string]any{"pymk_score_bucket": "x"}})
	enc.Close()
	_, err = push.Full(context.Background(), f.cl, "members", push.Input{Reader: &buf, Name: "bad.avro"})
	if err == nil || !strings.Contains(err.Error(), "pymk_score_bucket") {
		t.Fatalf("error %v, want one naming pymk_score_bucket", err)
	}
	if len(f.ctl.Store().Versions) != 0 {
		t.Fatalf("a version was created: %+v", f.ctl.Store().Versions)
	}
}

func TestIncrementalPushThroughRT(t *testing.T) {
	f := newFixture(t, "zstd-dict") // the RT topic is never compressed
	jsonl := pushtest.FeatureJSONL(5, 500, true, 42)
	res, err := push.Incremental(context.Background(), f.cl, "members", jsonlInput(jsonl), push.PushID("inc-1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.PushID != "inc-1" || res.Records != 500 || res.Version != 0 || res.Topic != f.rt {
		t.Fatalf("result %+v", res)
	}
	if len(f.ctl.Store().Versions) != 0 {
		t.Fatal("an incremental push created a version")
	}
	puts, controls := envelopes(t, f.env, f.rt)
	want := expected(t, f, jsonl)
	if len(puts) != len(want) {
		t.Fatalf("%d puts in the RT topic, want %d", len(puts), len(want))
	}
	for k, v := range want {
		if e := puts[k]; e == nil || !bytes.Equal(e.Put.Value, v) || !e.Producer.HasLogicalTimestamp {
			t.Fatalf("key %s: %+v", k, e)
		}
	}
	for p := range int32(partitions) {
		if got := controls[p]; !slices.Equal(got, []wire.ControlType{wire.ControlStartOfIncrementalPush, wire.ControlEndOfIncrementalPush}) {
			t.Fatalf("partition %d controls %v", p, got)
		}
	}
}

func TestWaitUntilCurrent(t *testing.T) {
	f := newFixture(t, "none")
	f.ctl.AutoSwap(true)
	res, err := push.Full(context.Background(), f.cl, "members", jsonlInput(pushtest.FeatureJSONL(1, 10, false, 0)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := push.Wait(ctx, f.cl, "members", res.Version, 10*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	// A killed version fails the wait (a stream: a file would be refused
	// before a version exists).
	lines := "{\"key\":\"a\"}\n"
	if _, err := push.Full(ctx, f.cl, "members", push.Input{Reader: struct{ io.Reader }{strings.NewReader(lines)}}); err == nil {
		t.Fatal("a line without value pushed")
	}
	if err := push.Wait(ctx, f.cl, "members", 2, 10*time.Millisecond, nil); !errors.Is(err, push.ErrVersionFailed) {
		t.Fatalf("wait for a killed version: %v", err)
	}
}

func TestCancelledPushKillsVersion(t *testing.T) {
	f := newFixture(t, "none")
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(pushtest.FeatureJSONL(1, 20, false, 0)))
		cancel() // the push is cancelled while it waits for more input
		pw.Write([]byte(pushtest.FeatureJSONL(2, 20, false, 0)))
		pw.Close()
	}()
	_, err := push.Full(ctx, f.cl, "members", push.Input{Reader: pr, Name: "pipe", Format: push.FormatJSONL})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if v, _ := f.ctl.Version(1); v.Status != api.StatusKilled {
		t.Fatalf("version 1 is %s, want killed", v.Status)
	}
}

// TestFullPushFillsEveryRegion: with two regions, a full push writes the
// same records (framed by start and end of push) into the version topic of
// each region's cluster.
func TestFullPushFillsEveryRegion(t *testing.T) {
	f := newFixture(t, "none")
	other := kafkatest.New(t)
	ctx := context.Background()
	if _, err := other.Admin(t).CreateTopic(ctx, partitions, 1, map[string]*string{"cleanup.policy": ptrTo("compact")}, f.topics[1]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Admin(t).DeleteTopics(context.Background(), f.topics[1]) })
	f.ctl.SetCluster(api.Cluster{LocalRegion: 0, Regions: []api.Region{
		{ID: 0, Name: "east", Brokers: f.env.Brokers()},
		{ID: 1, Name: "west", Brokers: other.Brokers()},
	}})
	const n = 300
	jsonl := pushtest.FeatureJSONL(11, n, false, 0)
	if _, err := push.Full(ctx, f.cl, "members", jsonlInput(jsonl)); err != nil {
		t.Fatal(err)
	}
	for _, env := range []*kafkatest.Env{f.env, other} {
		puts, controls := envelopes(t, env, f.topics[1])
		if len(puts) != n {
			t.Fatalf("%d puts in a region's version topic, want %d", len(puts), n)
		}
		for p := range int32(partitions) {
			if got := controls[p]; !slices.Equal(got, []wire.ControlType{wire.ControlStartOfPush, wire.ControlEndOfPush}) {
				t.Fatalf("partition %d controls %v", p, got)
			}
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
