package writer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// TestHundredThousandRecords: 100 000 puts over 8 partitions from four
// goroutines arrive, in order per key, in the key's murmur2 partition, with
// zero DIV faults, and every segment ends final after Close.
func TestHundredThousandRecords(t *testing.T) {
	const (
		total   = 100_000
		writers = 4
		keys    = 4000
	)
	env := kafkatest.New(t)
	topic := env.Topic(t, 8, nil)
	var segStarted, segEnded atomic.Int64
	w := newWriter(t, env, topic, writer.Schemas(schemas(t)), writer.WithHooks(writer.Hooks{
		OnSegment: func(s writer.SegmentInfo) {
			switch s.Event {
			case writer.SegmentStarted:
				segStarted.Add(1)
			case writer.SegmentEnded:
				segEnded.Add(1)
			}
		},
	}))
	ctx := ctxT(t, 3*time.Minute)

	type landed struct {
		res writer.Result
		id  int64
	}
	var (
		mu      sync.Mutex
		lastAck = map[string]landed{} // key → the highest id acknowledged
		failed  atomic.Int64
		wg      sync.WaitGroup
	)
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < total; i += writers {
				key := fmt.Sprintf("member-%d", i%keys) // key i%keys belongs to goroutine i%writers
				id := int64(i)
				v := row{ID: id, Name: key, Payload: []byte("payload")}
				err := w.PutAsync(ctx, key, v, func(r writer.Result, err error) {
					if err != nil {
						failed.Add(1)
						return
					}
					mu.Lock()
					if l, ok := lastAck[key]; !ok || l.id < id {
						lastAck[key] = landed{r, id}
					}
					mu.Unlock()
				})
				if err != nil {
					t.Errorf("PutAsync: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if failed.Load() != 0 {
		t.Fatalf("%d writes failed", failed.Load())
	}
	st := w.Stats()
	if st.Puts != total || st.Errors != 0 || st.BufferedBytes != 0 || st.BufferedRecords != 0 {
		t.Fatalf("stats %+v", st)
	}

	recs := consumeAll(t, env, topic)
	rs := avro.MustParse(rowSchema)
	lastID := map[string]int64{}
	byOffset := map[writer.Result][]byte{}
	puts := 0
	for p, prs := range recs {
		for _, r := range prs {
			e := decode(t, r)
			if e.Producer.GUID != w.GUID() {
				t.Fatalf("record from producer %s, want %s", e.Producer.GUID, w.GUID())
			}
			if e.Type != wire.TypePut {
				continue
			}
			puts++
			k, err := wire.ParseKey(r.Key)
			if err != nil || k.Kind != wire.KeyData {
				t.Fatalf("put key %x: %v", r.Key, err)
			}
			if want := wire.Partition(k.Key, 8); want != p {
				t.Fatalf("key %q in partition %d, murmur2 says %d", k.Key, p, want)
			}
			var v row
			if err := avro.Unmarshal(rs, e.Put.Value, &v); err != nil {
				t.Fatal(err)
			}
			if v.Name != string(k.Key) {
				t.Fatalf("value %+v under key %q", v, k.Key)
			}
			if prev, ok := lastID[v.Name]; ok && prev >= v.ID {
				t.Fatalf("key %s: id %d after %d, order lost", v.Name, v.ID, prev)
			}
			lastID[v.Name] = v.ID
			byOffset[writer.Result{Partition: p, Offset: r.Offset}] = r.Key[1:]
		}
	}
	if puts != total {
		t.Fatalf("%d puts arrived, want %d", puts, total)
	}
	// Each key's last acknowledged write is where its callback said.
	for key, l := range lastAck {
		if got := byOffset[l.res]; string(got) != key || lastID[key] != l.id {
			t.Fatalf("key %s: callback said %+v (id %d), the log has key %q there and last id %d", key, l.res, l.id, got, lastID[key])
		}
	}

	v := validate(t, recs)
	if v.faults() != 0 {
		t.Fatalf("validator faults %v: %v", v.verdicts, v.reasons)
	}
	// Rotation by count (10 000 per segment) gave more than one segment per
	// partition, and every segment ended; the last of each partition final.
	if v.segments <= 8 || int64(v.segments) != segStarted.Load() || segEnded.Load() != segStarted.Load() {
		t.Fatalf("%d segments in the log, %d started, %d ended", v.segments, segStarted.Load(), segEnded.Load())
	}
	finals := 0
	for k, last := range v.lastOf {
		if !isEOS(last) {
			t.Fatalf("segment %+v ends with %s, not an end-of-segment", k, last.Type)
		}
		if last.Control.EndOfSegment.Final {
			finals++
		}
	}
	if finals != 8 {
		t.Fatalf("%d final end-of-segments, want one per partition", finals)
	}
}

// TestFraming checks the records of a small run one by one: sequences,
// rotation by count and by age, call options, updates and deletes,
// control broadcast, Close twice.
func TestFraming(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 3, nil)
	w := newWriter(t, env, topic, writer.Schemas(schemas(t)), writer.SegmentRecords(6), writer.SegmentAge(time.Hour))
	ctx := ctxT(t, time.Minute)

	if _, err := w.Put(ctx, "k", row{ID: 1, Name: "a"}, writer.WithTimestamp(1234), writer.ToPartition(1),
		writer.WithRMD(3, []byte("rmd")), writer.WithLeader(wire.Leader{UpstreamRegion: 2, UpstreamPartition: 5, UpstreamOffset: 77, LeaderTerm: 9})); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Delete(ctx, "k", writer.ToPartition(1), writer.WithSchemaID(1), writer.WithRMD(3, []byte("tomb"))); err != nil {
		t.Fatal(err)
	}
	res, err := w.UpdateBytes(ctx, []byte("k"), 1, 1001, []byte{0x02, 0x04}, writer.ToPartition(1))
	if err != nil {
		t.Fatal(err)
	}
	if res.Partition != 1 {
		t.Fatalf("update landed in partition %d, want 1", res.Partition)
	}
	if err := w.StartOfIncrementalPush(ctx, "push-1"); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := w.PutBytes(ctx, []byte("k"), 1, []byte{byte(i)}, writer.ToPartition(1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndOfPush(ctx); !errors.Is(err, writer.ErrNotAllowed) {
		t.Fatalf("end-of-push into an RT topic: %v, want ErrNotAllowed", err)
	}
	if err := w.SendControl(ctx, wire.Control{Type: wire.ControlEndOfSegment}); !errors.Is(err, writer.ErrNotAllowed) {
		t.Fatalf("end-of-segment by hand: %v, want ErrNotAllowed", err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := w.PutBytes(ctx, []byte("k"), 1, []byte{1}); !errors.Is(err, writer.ErrClosed) {
		t.Fatalf("put after Close: %v, want ErrClosed", err)
	}
	if err := w.VersionSwap(ctx, 1, 2); !errors.Is(err, writer.ErrClosed) {
		t.Fatalf("control after Close: %v, want ErrClosed", err)
	}

	recs := consumeAll(t, env, topic)
	// Partition 1: SOS, put, delete, update, SOIP, put, (seq 6 would
	// exceed 6 records) EOS; SOS, put×4, EOS(final).
	type want struct {
		typ     string
		seg, sq int32
	}
	wants := []want{
		{"start-of-segment", 0, 0}, {"put", 0, 1}, {"delete", 0, 2}, {"update", 0, 3}, {"start-of-incremental-push", 0, 4},
		{"end-of-segment", 0, 5},
		{"start-of-segment", 1, 0}, {"put", 1, 1}, {"put", 1, 2}, {"put", 1, 3}, {"put", 1, 4},
		{"end-of-segment", 1, 5},
		{"start-of-segment", 2, 0}, {"put", 2, 1}, {"end-of-segment", 2, 2},
	}
	got := recs[1]
	if len(got) != len(wants) {
		for _, r := range got {
			e := decode(t, r)
			t.Logf("%s seg %d seq %d", describe(e), e.Producer.Segment, e.Producer.Sequence)
		}
		t.Fatalf("partition 1 has %d records, want %d", len(got), len(wants))
	}
	for i, r := range got {
		e := decode(t, r)
		if d := describe(e); d != wants[i].typ || e.Producer.Segment != wants[i].seg || e.Producer.Sequence != wants[i].sq {
			t.Fatalf("record %d: %s segment %d sequence %d, want %+v", i, d, e.Producer.Segment, e.Producer.Sequence, wants[i])
		}
		switch i {
		case 1:
			if !e.Producer.HasLogicalTimestamp || e.Producer.LogicalTimestamp != 1234 || e.Put.RMD == nil ||
				string(e.Put.RMD.Data) != "rmd" || e.Put.RMD.Version != 3 || e.Leader == nil || e.Leader.UpstreamOffset != 77 || e.Put.SchemaID != 2 {
				t.Fatalf("put lost its options: %+v leader %+v", e.Put, e.Leader)
			}
		case 2:
			if e.Delete.SchemaID != 1 || e.Delete.RMD == nil || string(e.Delete.RMD.Data) != "tomb" || !bytes.Equal(r.Key, append([]byte{0}, 'k')) {
				t.Fatalf("delete %+v key %x", e.Delete, r.Key)
			}
		case 3:
			if e.Update.SchemaID != 1 || e.Update.UpdateSchemaID != 1001 || !bytes.Equal(e.Update.Update, []byte{2, 4}) || r.Key[0] != byte(wire.KeyUpdate) {
				t.Fatalf("update %+v key %x", e.Update, r.Key)
			}
		case 4:
			if e.Control.IncrementalPush.PushID != "push-1" {
				t.Fatalf("incremental push %+v", e.Control)
			}
		case 14:
			if !e.Control.EndOfSegment.Final {
				t.Fatalf("last end-of-segment not final")
			}
		}
	}
	// The broadcast reached the other partitions, each in its own segment
	// that Close ended final.
	for _, p := range []int32{0, 2} {
		var ds []string
		for _, r := range recs[p] {
			ds = append(ds, describe(decode(t, r)))
		}
		if fmt.Sprint(ds) != "[start-of-segment start-of-incremental-push end-of-segment]" {
			t.Fatalf("partition %d: %v", p, ds)
		}
	}
	if v := validate(t, recs); v.faults() != 0 {
		t.Fatalf("validator: %v %v", v.verdicts, v.reasons)
	}
}

func describe(e *wire.Envelope) string {
	if e.Type == wire.TypeControl {
		return e.Control.Type.String()
	}
	return e.Type.String()
}

// TestSegmentAge: a segment older than SegmentAge ends at the next write.
func TestSegmentAge(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 1, nil)
	w := newWriter(t, env, topic, writer.SegmentAge(50*time.Millisecond))
	ctx := ctxT(t, time.Minute)
	for range 3 {
		if _, err := w.PutBytes(ctx, []byte("k"), 1, []byte("v")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(60 * time.Millisecond)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	v := validate(t, consumeAll(t, env, topic))
	if v.faults() != 0 || v.segments != 3 {
		t.Fatalf("%d segments (want 3), verdicts %v %v", v.segments, v.verdicts, v.reasons)
	}
}

// TestBadInputProducesNothing: every kind of bad input returns its typed
// error and leaves the topic's end offsets where they were.
func TestBadInputProducesNothing(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 4, nil)
	w := newWriter(t, env, topic, writer.Schemas(schemas(t)), writer.ChunkThreshold(0), writer.MaxRecordBytes(64<<10))
	ctx := ctxT(t, time.Minute)
	// One good write per partition opens the segments.
	for p := range int32(4) {
		if _, err := w.Put(ctx, "good", row{ID: 1, Name: "g"}, writer.ToPartition(p)); err != nil {
			t.Fatal(err)
		}
	}
	before := endOffsets(t, env, topic)

	var schemaErr *writer.SchemaError
	cases := []struct {
		name  string
		do    func() error
		check func(error) bool
		field string
	}{
		{"nil key", func() error { _, err := w.Put(ctx, nil, row{}); return err }, is(writer.ErrNilKey), ""},
		{"nil []byte key", func() error { _, err := w.Put(ctx, []byte(nil), row{}); return err }, is(writer.ErrNilKey), ""},
		{"nil key bytes", func() error { _, err := w.PutBytes(ctx, nil, 1, []byte{0}); return err }, is(writer.ErrNilKey), ""},
		{"nil delete key", func() error { _, err := w.DeleteBytes(ctx, nil); return err }, is(writer.ErrNilKey), ""},
		{"nil value", func() error { _, err := w.Put(ctx, "k", nil); return err }, is(writer.ErrNilValue), ""},
		{"key of wrong type", func() error { _, err := w.Put(ctx, 42, row{}); return err }, as(&schemaErr), ""},
		{"field of wrong type", func() error {
			_, err := w.Put(ctx, "k", map[string]any{"id": "not a long", "name": "x", "payload": []byte{}})
			return err
		}, as(&schemaErr), "id"},
		{"missing field", func() error {
			_, err := w.Put(ctx, "k", map[string]any{"id": int64(1), "payload": []byte{}})
			return err
		}, as(&schemaErr), "name"},
		{"unknown field", func() error {
			_, err := w.Put(ctx, "k", map[string]any{"id": int64(1), "name": "x", "payload": []byte{}, "nmae": "typo"})
			return err
		}, as(&schemaErr), "nmae"},
		{"struct for another schema", func() error {
			_, err := w.Put(ctx, "k", struct {
				Name string `avro:"name"`
			}{"x"}, writer.WithSchemaID(2))
			return err
		}, as(&schemaErr), "id"},
		{"unknown schema id", func() error { _, err := w.PutBytes(ctx, []byte("k"), 99, []byte{0}); return err }, is(writer.ErrUnknownSchema), ""},
		{"oversized value", func() error { _, err := w.PutBytes(ctx, []byte("k"), 1, make([]byte, 100<<10)); return err }, is(writer.ErrTooLarge), ""},
		{"oversized update", func() error { _, err := w.UpdateBytes(ctx, []byte("k"), 1, 1001, make([]byte, 100<<10)); return err }, is(writer.ErrTooLarge), ""},
		{"partition out of range", func() error { _, err := w.PutBytes(ctx, []byte("k"), 1, []byte{0}, writer.ToPartition(4)); return err }, is(writer.ErrPartition), ""},
		{"update with RMD", func() error {
			_, err := w.UpdateBytes(ctx, []byte("k"), 1, 1001, []byte{0}, writer.WithRMD(1, nil))
			return err
		}, is(writer.ErrNotAllowed), ""},
		{"canceled context", func() error {
			c, cancel := context.WithCancel(ctx)
			cancel()
			_, err := w.Put(c, "k", row{ID: 1, Name: "x"})
			return err
		}, is(context.Canceled), ""},
	}
	for _, c := range cases {
		err := c.do()
		if !c.check(err) {
			t.Errorf("%s: got %v", c.name, err)
			continue
		}
		if c.field != "" && (schemaErr == nil || schemaErr.Field != c.field) {
			t.Errorf("%s: %v names field %q, want %q", c.name, err, schemaErr.Field, c.field)
		}
		t.Logf("%s: %v", c.name, err)
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if after := endOffsets(t, env, topic); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("bad input moved end offsets from %v to %v", before, after)
	}

	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	closed := endOffsets(t, env, topic)
	if _, err := w.Put(ctx, "k", row{ID: 1, Name: "x"}); !errors.Is(err, writer.ErrClosed) {
		t.Fatalf("put after Close: %v", err)
	}
	if err := w.PutBytesAsync(ctx, []byte("k"), 1, []byte{0}, func(writer.Result, error) { t.Error("callback after an error return") }); !errors.Is(err, writer.ErrClosed) {
		t.Fatalf("async put after Close: %v", err)
	}
	if after := endOffsets(t, env, topic); fmt.Sprint(after) != fmt.Sprint(closed) {
		t.Fatalf("write after Close moved end offsets from %v to %v", closed, after)
	}
	// No sequence number was spent on bad input: the validator sees no gap.
	if v := validate(t, consumeAll(t, env, topic)); v.faults() != 0 {
		t.Fatalf("validator: %v %v", v.verdicts, v.reasons)
	}
}

func is(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }

func as(target **writer.SchemaError) func(error) bool {
	return func(err error) bool { return errors.As(err, target) }
}

// TestVersionTopicRules: updates never go into version topics, and only
// version topics compress.
func TestVersionTopicRules(t *testing.T) {
	env := kafkatest.New(t)
	vt := env.Topic(t, 1, nil)
	w := newWriter(t, env, vt, writer.Kind(writer.KindVersion))
	ctx := ctxT(t, time.Minute)
	if _, err := w.UpdateBytes(ctx, []byte("k"), 1, 2, []byte{0}); !errors.Is(err, writer.ErrNotAllowed) {
		t.Fatalf("update into a version topic: %v", err)
	}
	_, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic("members_rt"), writer.Compression(wire.CompressionZstd, nil))
	if !errors.Is(err, writer.ErrInvalidOption) {
		t.Fatalf("compressed RT writer: %v", err)
	}
	_, err = writer.New(writer.Topic(""), writer.SegmentRecords(1), writer.ChunkThreshold(2<<20), writer.MaxBufferedBytes(-1))
	if !errors.Is(err, writer.ErrInvalidOption) {
		t.Fatalf("bad options: %v", err)
	}
	for _, want := range []string{"Topic", "Brokers", "SegmentRecords", "ChunkThreshold", "MaxBufferedBytes"} {
		if !bytes.Contains([]byte(err.Error()), []byte(want)) {
			t.Errorf("New's error does not report %s: %v", want, err)
		}
	}
	if _, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(vt+"-missing"), writer.MetadataTimeout(5*time.Second)); err == nil {
		t.Fatalf("New on a missing topic succeeded")
	}
}

// TestStats: counters and the OnWrite hook.
func TestStats(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 2, nil)
	var ops atomic.Int64
	w := newWriter(t, env, topic, writer.WithHooks(writer.Hooks{OnWrite: func(i writer.WriteInfo) {
		if i.Op != writer.OpControl && i.Err == nil && i.Records >= 1 && i.Bytes > 0 {
			ops.Add(1)
		}
	}}))
	ctx := ctxT(t, time.Minute)
	for i := range 10 {
		if _, err := w.PutBytes(ctx, fmt.Appendf(nil, "k%d", i), 1, []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.DeleteBytes(ctx, []byte("k1")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.UpdateBytes(ctx, []byte("k1"), 1, 2, []byte("u")); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if st.Puts != 10 || st.Deletes != 1 || st.Updates != 1 || st.Segments != 2 || st.Records != 14 || st.Bytes == 0 || st.BufferedRecords != 0 {
		t.Fatalf("stats %+v", st)
	}
	if ops.Load() != 12 {
		t.Fatalf("OnWrite saw %d successful operations, want 12", ops.Load())
	}
	if n, want := w.PartitionOf([]byte("k1")), wire.Partition([]byte("k1"), 2); n != want {
		t.Fatalf("PartitionOf %d, want %d", n, want)
	}
	_ = div.OK
}

// TestSharedClient: a writer on a caller's client (Client, Partitions)
// does not look up metadata, frames as usual, and leaves the client open.
func TestSharedClient(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 4, nil)
	cl := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	w, err := writer.New(writer.Client(cl), writer.Topic(topic), writer.Partitions(4))
	if err != nil {
		t.Fatal(err)
	}
	ctx := ctxT(t, time.Minute)
	value := []byte("reused buffer")
	res, err := w.PutBytes(ctx, []byte("k"), 1, value)
	if err != nil {
		t.Fatal(err)
	}
	copy(value, "overwritten!!") // the writer copied the value before returning
	if err := w.VersionSwap(ctx, 1, 2); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("the shared client was closed: %v", err)
	}
	recs := consumeAll(t, env, topic)
	var got []byte
	for _, r := range recs[res.Partition] {
		if r.Offset == res.Offset {
			got = decode(t, r).Put.Value
		}
	}
	if string(got) != "reused buffer" {
		t.Fatalf("value at %+v is %q", res, got)
	}
	swaps := 0
	for _, rs := range recs {
		for _, r := range rs {
			if e := decode(t, r); e.Type == wire.TypeControl && e.Control.Type == wire.ControlVersionSwap && e.Control.VersionSwap.NewVersion == 2 {
				swaps++
			}
		}
	}
	if swaps != 4 {
		t.Fatalf("version swap reached %d partitions, want 4", swaps)
	}
	if v := validate(t, recs); v.faults() != 0 {
		t.Fatalf("validator: %v %v", v.verdicts, v.reasons)
	}
}
