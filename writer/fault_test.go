package writer_test

import (
	"context"
	"encoding/binary"
	"errors"
	"github.com/twmb/franz-go/pkg/kgo"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// TestFaults writes a stream while the broker answers some produce
// requests with a retriable error, one with a non-retriable error, and
// restarts (with a data directory) mid-stream. Every acknowledged write is
// in the log where its callback said; failed writes got a *ProduceError;
// the validator finds nothing but duplicates, which it drops, and no gap
// outside segments the writer abandoned.
func TestFaults(t *testing.T) {
	const total = 30_000
	env := kafkatest.New(t, embedkafka.DataDir(t.TempDir()))
	broker := env.RequireEmbedded(t)
	topic := env.Topic(t, 4, nil)
	w := newWriter(t, env, topic, writer.SegmentRecords(2000),
		// A retriable NOT_LEADER makes franz-go refresh metadata, which it
		// does at most every MetadataMinAge (5 s by default).
		writer.KafkaOpts(kgo.MetadataMinAge(50*time.Millisecond)))
	ctx := ctxT(t, 3*time.Minute)

	var (
		mu        sync.Mutex
		acked     = map[int64]writer.Result{}
		failed    = map[int64]error{}
		retriable int
	)
	value := func(i int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }
	var handles []*kfake.FaultHandle
	for i := range int64(total) {
		switch i {
		case 5_000:
			handles = append(handles, broker.Cluster().Fault(kfake.Fault{
				Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Err: kerr.NotLeaderForPartition, Count: 5,
			}))
		case 12_000:
			handles = append(handles, broker.Cluster().Fault(kfake.Fault{
				Keys: []kmsg.Key{kmsg.Produce}, Topic: topic, Partitions: []int32{1}, Err: kerr.InvalidRecord, Count: 1,
			}))
		case 20_000:
			// Records 12 000.. are on their way; let the faults answer
			// them before the restart drops the faults.
			for j, h := range handles {
				if err := h.Wait(ctx, 1); err != nil {
					t.Fatalf("fault %d never hit: %v", j, err)
				}
			}
			if err := broker.Restart(ctx); err != nil {
				t.Fatal(err)
			}
		}
		key := []byte{byte(i % 251), byte(i % 13)}
		err := w.PutBytesAsync(ctx, key, 1, value(i), func(r writer.Result, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				var pe *writer.ProduceError
				if !errors.As(err, &pe) {
					t.Errorf("write %d failed with %T %v, want a *ProduceError", i, err, err)
				}
				if pe.Retriable() {
					retriable++
				}
				failed[i] = err
				return
			}
			acked[i] = r
		})
		if err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A write after the failures still goes through, in a new segment.
	if _, err := w.PutBytes(ctx, []byte("after"), 1, value(total)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d acknowledged, %d failed (%d retriable), stats %+v", len(acked), len(failed), retriable, w.Stats())
	if len(acked)+len(failed) != total {
		t.Fatalf("%d callbacks for %d writes", len(acked)+len(failed), total)
	}
	if len(failed) == 0 {
		t.Fatalf("the non-retriable fault failed nothing")
	}
	if retriable != 0 {
		t.Fatalf("%d failures marked retriable; franz-go retries those itself", retriable)
	}

	recs := consumeAll(t, env, topic)
	// Every acknowledged write is in the log at its offset.
	at := map[writer.Result]int64{}
	for p, rs := range recs {
		for _, r := range rs {
			if e := decode(t, r); e.Type == wire.TypePut {
				at[writer.Result{Partition: p, Offset: r.Offset}] = int64(binary.BigEndian.Uint64(e.Put.Value))
			}
		}
	}
	for i, r := range acked {
		if got, ok := at[r]; !ok || got != i {
			t.Fatalf("acknowledged write %d: callback said %+v, the log has %d there (present %v)", i, r, got, ok)
		}
	}

	// Per (producer, segment, sequence) records are unique, or the
	// validator calls the repeat a duplicate. A gap may only appear in a
	// segment the writer abandoned after a failure.
	abandoned := map[segKey]bool{}
	for p, rs := range recs {
		ended := map[int32]bool{}
		for _, r := range rs {
			if e := decode(t, r); isEOS(e) {
				ended[e.Producer.Segment] = true
			}
		}
		for _, r := range rs {
			e := decode(t, r)
			if !ended[e.Producer.Segment] {
				abandoned[segKey{p, e.Producer.GUID, e.Producer.Segment}] = true
			}
		}
	}
	// The writer abandons the segment a failure hit. Whether any of it is in
	// the log depends on where the failed batch fell: when it held the
	// segment's first records, nothing of that segment was ever written.
	if w.Stats().Abandoned == 0 {
		t.Fatalf("no segment was abandoned after a failed write")
	}
	verdicts := map[div.Verdict]int{}
	defer func() { t.Logf("verdicts %v over %d abandoned segments", verdicts, len(abandoned)) }()
	for p, rs := range recs {
		val := div.New(0)
		seen := map[[3]int64]bool{}
		for _, r := range rs {
			e := new(wire.Envelope)
			res := val.ValidateRecord(r.Key, r.Value, e)
			verdicts[res.Verdict]++
			id := [3]int64{int64(e.Producer.Segment), int64(e.Producer.Sequence)}
			repeat := seen[id]
			seen[id] = true
			switch res.Verdict {
			case div.OK:
				if repeat {
					t.Fatalf("p%d@%d: segment %d sequence %d repeated but not called a duplicate", p, r.Offset, e.Producer.Segment, e.Producer.Sequence)
				}
			case div.Duplicate:
				if !repeat {
					t.Fatalf("p%d@%d: called a duplicate but first of its kind: %s", p, r.Offset, res.Reason)
				}
			case div.Missing:
				if !abandoned[segKey{p, e.Producer.GUID, e.Producer.Segment}] {
					t.Fatalf("p%d@%d: gap in a segment that was not abandoned: %s", p, r.Offset, res.Reason)
				}
			default:
				t.Fatalf("p%d@%d: %s: %s", p, r.Offset, res.Verdict, res.Reason)
			}
		}
	}
}

// TestCloseReleasesBlockedWriters: a writer blocked on a full buffer is
// released by its context, and by Close with ErrClosed.
func TestCloseReleasesBlockedWriters(t *testing.T) {
	env := kafkatest.New(t)
	broker := env.RequireEmbedded(t)
	topic := env.Topic(t, 1, nil)
	w := newWriter(t, env, topic, writer.MaxBufferedRecords(2))
	ctx := ctxT(t, time.Minute)
	// Hold every produce request until the test lets go.
	release := make(chan struct{})
	broker.Cluster().ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		broker.Cluster().KeepControl()
		<-release
		return nil, nil, false
	})
	for i := range 2 {
		if err := w.PutBytesAsync(ctx, []byte{byte(i)}, 1, []byte("v"), func(writer.Result, error) {}); err != nil {
			t.Fatal(err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := w.PutBytesAsync(short, []byte("x"), 1, []byte("v"), func(writer.Result, error) {}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("write into a full buffer: %v, want the context's deadline", err)
	}
	if st := w.Stats(); st.BufferedRecords != 2 {
		t.Fatalf("buffered %d records, want 2", st.BufferedRecords)
	}
	blocked := make(chan error)
	go func() {
		blocked <- w.PutBytesAsync(ctx, []byte("y"), 1, []byte("v"), func(writer.Result, error) {})
	}()
	time.Sleep(50 * time.Millisecond)
	closed := make(chan error)
	go func() { closed <- w.Close(ctx) }()
	if err := <-blocked; !errors.Is(err, writer.ErrClosed) {
		t.Fatalf("blocked write released with %v, want ErrClosed", err)
	}
	close(release)
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if v := validate(t, consumeAll(t, env, topic)); v.faults() != 0 || v.segments != 1 {
		t.Fatalf("validator: %v %v, %d segments", v.verdicts, v.reasons, v.segments)
	}
}
