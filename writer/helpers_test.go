package writer_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

const rowSchema = `{"type":"record","name":"Row","namespace":"rialto.test","fields":[
	{"name":"id","type":"long"},
	{"name":"name","type":"string"},
	{"name":"payload","type":"bytes"}
]}`

type row struct {
	ID      int64  `avro:"id"`
	Name    string `avro:"name"`
	Payload []byte `avro:"payload"`
}

func schemas(t testing.TB) *writer.StaticSchemas {
	t.Helper()
	s, err := writer.NewStaticSchemas(`"string"`, `"bytes"`, rowSchema)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// newWriter starts a writer on topic, closed (if the test did not) at the
// end of the test.
func newWriter(t testing.TB, env *kafkatest.Env, topic string, opts ...writer.Opt) *writer.Writer {
	t.Helper()
	w, err := writer.New(append([]writer.Opt{writer.Brokers(env.Brokers()...), writer.Topic(topic)}, opts...)...)
	if err != nil {
		t.Fatalf("writer.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = w.Close(ctx)
	})
	return w
}

// endOffsets returns every partition's end offset.
func endOffsets(t testing.TB, env *kafkatest.Env, topic string) map[int32]int64 {
	t.Helper()
	offs, err := env.Admin(t).ListEndOffsets(ctxT(t, 30*time.Second), topic)
	if err != nil {
		t.Fatalf("end offsets of %s: %v", topic, err)
	}
	out := map[int32]int64{}
	offs.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			t.Fatalf("end offset of %s/%d: %v", topic, o.Partition, o.Err)
		}
		out[o.Partition] = o.Offset
	})
	return out
}

// consumeAll reads every record of topic up to the current end offsets,
// per partition in offset order.
func consumeAll(t testing.TB, env *kafkatest.Env, topic string) map[int32][]*kgo.Record {
	t.Helper()
	ends := endOffsets(t, env, topic)
	starts := map[int32]kgo.Offset{}
	for p := range ends {
		starts[p] = kgo.NewOffset().AtStart()
	}
	cl := env.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: starts}), kgo.FetchMaxBytes(64<<20))
	out := map[int32][]*kgo.Record{}
	done := func() bool {
		for p, end := range ends {
			rs := out[p]
			if end > 0 && (len(rs) == 0 || rs[len(rs)-1].Offset < end-1) {
				return false
			}
		}
		return true
	}
	ctx := ctxT(t, 2*time.Minute)
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consuming %s: %v (have %s, want %v)", topic, err, counts(out), ends)
		}
		fs.EachError(func(_ string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", topic, p, err) })
		fs.EachRecord(func(r *kgo.Record) { out[r.Partition] = append(out[r.Partition], r) })
	}
	return out
}

func counts(m map[int32][]*kgo.Record) string {
	var ps []int
	for p := range m {
		ps = append(ps, int(p))
	}
	sort.Ints(ps)
	s := ""
	for _, p := range ps {
		s += fmt.Sprintf("%d:%d ", p, len(m[int32(p)]))
	}
	return s
}

// validation is what the DIV validator said about a topic.
type validation struct {
	verdicts map[div.Verdict]int
	reasons  []string
	// last is the last record of each (partition, producer, segment).
	lastOf   map[segKey]*wire.Envelope
	segments int
}

type segKey struct {
	partition int32
	guid      wire.GUID
	segment   int32
}

// validate runs one div.Validator per partition over recs.
func validate(t testing.TB, recs map[int32][]*kgo.Record) validation {
	t.Helper()
	v := validation{verdicts: map[div.Verdict]int{}, lastOf: map[segKey]*wire.Envelope{}}
	for p, rs := range recs {
		val := div.New(0)
		for _, r := range rs {
			e := new(wire.Envelope)
			res := val.ValidateRecord(r.Key, r.Value, e)
			v.verdicts[res.Verdict]++
			if res.Verdict != div.OK && len(v.reasons) < 20 {
				v.reasons = append(v.reasons, fmt.Sprintf("p%d@%d %s: %s", p, r.Offset, res.Verdict, res.Reason))
			}
			if res.Undecodable {
				continue
			}
			k := segKey{p, e.Producer.GUID, e.Producer.Segment}
			if _, ok := v.lastOf[k]; !ok {
				v.segments++
			}
			v.lastOf[k] = e
		}
	}
	return v
}

// faults counts every verdict but OK.
func (v validation) faults() int {
	n := 0
	for verdict, c := range v.verdicts {
		if verdict != div.OK {
			n += c
		}
	}
	return n
}

func isEOS(e *wire.Envelope) bool {
	return e.Type == wire.TypeControl && e.Control.Type == wire.ControlEndOfSegment
}

// decode decodes a record value or fails the test.
func decode(t testing.TB, r *kgo.Record) *wire.Envelope {
	t.Helper()
	e, err := wire.Decode(r.Value)
	if err != nil {
		t.Fatalf("decode %s/%d@%d: %v", r.Topic, r.Partition, r.Offset, err)
	}
	return e
}

// chunkStore keeps the chunk records seen, for wire.Reassemble.
type chunkStore map[string]wire.Chunk

func (s chunkStore) lookup(k []byte) (wire.Chunk, bool, error) {
	c, ok := s[string(k)]
	return c, ok, nil
}
