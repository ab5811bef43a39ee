package writer_test

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// TestValidatorOnABrokerLog runs the validator over a real log that the
// broker damaged the three ways DIV exists for. A writer's stream is
// copied record by record into a second topic, as a broker would have
// stored it, except that in partition 0 one put is stored twice in a row
// (a non-idempotent retry after a lost acknowledgement), one put is
// missing (lost on an unclean leader election) and one put's value has a
// flipped byte that still decodes (bit rot). The validator must report
// exactly one duplicate (to drop), one missing record and one corrupt
// segment, each in the segment it happened in, and nothing in partition 1.
func TestValidatorOnABrokerLog(t *testing.T) {
	env := kafkatest.New(t)
	src := env.Topic(t, 2, nil)
	w := newWriter(t, env, src, writer.SegmentRecords(100))
	ctx := ctxT(t, time.Minute)
	for i := range 1000 {
		v := binary.BigEndian.AppendUint64(nil, uint64(i))
		if err := w.PutBytesAsync(ctx, binary.BigEndian.AppendUint32(nil, uint32(i)), 1, v, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	recs := consumeAll(t, env, src)

	// Pick three puts of partition 0 in three different segments, each in
	// the middle of its segment.
	type at struct{ segment, sequence int32 }
	var puts []int // indexes of mid-segment puts in recs[0]
	for i, r := range recs[0] {
		if e := decode(t, r); e.Type == wire.TypePut && e.Producer.Sequence == 10 {
			puts = append(puts, i)
		}
	}
	if len(puts) < 3 {
		t.Fatalf("partition 0 has %d segments with 10 puts; want 3", len(puts))
	}
	dupAt, gapAt, rotAt := puts[0], puts[1], puts[2]
	where := func(i int) at {
		e := decode(t, recs[0][i])
		return at{e.Producer.Segment, e.Producer.Sequence}
	}

	dst := env.Topic(t, 2, nil)
	cl := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	store := func(p int32, key, value []byte) {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: dst, Partition: p, Key: key, Value: value}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for p, rs := range recs {
		for i, r := range rs {
			switch {
			case p == 0 && i == gapAt:
				continue
			case p == 0 && i == rotAt:
				e := decode(t, r)
				e.Put.Value = append([]byte(nil), e.Put.Value...)
				e.Put.Value[len(e.Put.Value)-1] ^= 0x01
				store(p, r.Key, wire.AppendValue(nil, e))
				continue
			case p == 0 && i == dupAt:
				store(p, r.Key, r.Value)
			}
			store(p, r.Key, r.Value)
		}
	}

	got := map[int32]map[div.Verdict][]at{}
	for p, rs := range consumeAll(t, env, dst) {
		got[p] = map[div.Verdict][]at{}
		v := div.New(0)
		for _, r := range rs {
			e := new(wire.Envelope)
			res := v.ValidateRecord(r.Key, r.Value, e)
			if res.Verdict == div.OK {
				continue
			}
			if res.Drop() != (res.Verdict == div.Duplicate) {
				t.Errorf("p%d@%d: %s with Drop()=%v", p, r.Offset, res.Verdict, res.Drop())
			}
			got[p][res.Verdict] = append(got[p][res.Verdict], at{res.Segment, res.Sequence})
		}
	}
	if len(got[1]) != 0 {
		t.Errorf("partition 1 was copied intact, but the validator reports %v", got[1])
	}
	wantSegment := func(v div.Verdict, i int, exact bool) {
		t.Helper()
		w := where(i)
		if len(got[0][v]) != 1 {
			t.Errorf("%s: reported %v, want once in segment %d", v, got[0][v], w.segment)
			return
		}
		if g := got[0][v][0]; g.segment != w.segment || (exact && g.sequence != w.sequence) {
			t.Errorf("%s reported at segment %d sequence %d, want segment %d sequence %d", v, g.segment, g.sequence, w.segment, w.sequence)
		}
	}
	wantSegment(div.Duplicate, dupAt, true)
	wantSegment(div.Missing, gapAt, false) // reported on the record after the gap
	wantSegment(div.Corrupt, rotAt, false) // reported on the segment's end
	if n := len(got[0]); n != 3 {
		t.Errorf("partition 0 verdicts %v, want only one duplicate, missing and corrupt", got[0])
	}
}
