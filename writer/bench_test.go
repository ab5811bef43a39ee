package writer_test

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// benchKeys returns n distinct 16-byte keys.
func benchKeys(n int) [][]byte {
	keys := make([][]byte, n)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "member-%09d", i)
	}
	return keys
}

// cpuTimer reports the process's CPU time per operation (the in-process
// broker included) beside the wall-clock ns/op, which on a shared machine
// is the steadier of the two.
type cpuTimer struct{ start time.Duration }

func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU(b *testing.B) *cpuTimer {
	b.ResetTimer()
	return &cpuTimer{start: processCPU()}
}

func (c *cpuTimer) stop(b *testing.B) {
	b.StopTimer()
	b.ReportMetric(float64((processCPU()-c.start).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// benchValues returns 1024 distinct random values of size bytes, so that
// batches do not compress to nothing.
func benchValues(size int) [][]byte {
	vs := make([][]byte, 1024)
	for i := range vs {
		vs[i] = randomBytes(size, uint64(i+1))
	}
	return vs
}

// BenchmarkPutBytesAsync is the writer's hot path: raw value bytes, async,
// into an in-process broker with a data directory, 8 partitions. Compare
// with BenchmarkBareProducer (the same bytes through franz-go alone).
func BenchmarkPutBytesAsync(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			env := kafkatest.New(b, embedkafka.DataDir(b.TempDir()))
			topic := env.Topic(b, 8, nil)
			w := newWriter(b, env, topic)
			keys, values := benchKeys(4096), benchValues(size)
			ctx := context.Background()
			cb := func(_ writer.Result, err error) {
				if err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(size))
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				if err := w.PutBytesAsync(ctx, keys[i%len(keys)], 1, values[i%len(values)], cb); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			cpu.stop(b)
		})
	}
}

// BenchmarkPutStruct adds Avro serialization of a Go struct (hamba).
func BenchmarkPutStruct(b *testing.B) {
	env := kafkatest.New(b, embedkafka.DataDir(b.TempDir()))
	topic := env.Topic(b, 8, nil)
	w := newWriter(b, env, topic, writer.Schemas(schemas(b)))
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = fmt.Sprintf("member-%09d", i)
	}
	v := row{ID: 1, Name: "Ada Lovelace", Payload: randomBytes(64, 2)}
	ctx := context.Background()
	cpu := startCPU(b)
	for i := 0; i < b.N; i++ {
		if err := w.PutAsync(ctx, keys[i%len(keys)], v, nil); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	cpu.stop(b)
}

// BenchmarkBareProducer is the baseline: franz-go alone, same keys and
// values, same broker setup.
func BenchmarkBareProducer(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			env := kafkatest.New(b, embedkafka.DataDir(b.TempDir()))
			topic := env.Topic(b, 8, nil)
			cl := env.Client(b, kgo.DefaultProduceTopic(topic))
			keys, values := benchKeys(4096), benchValues(size)
			ctx := context.Background()
			promise := func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(size))
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				cl.Produce(ctx, &kgo.Record{Key: keys[i%len(keys)], Value: values[i%len(values)]}, promise)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			cpu.stop(b)
		})
	}
}

// BenchmarkBareFramed sends the writer's record bytes (key and envelope,
// encoded beforehand) through franz-go alone: the writer's own cost is
// the difference to BenchmarkPutBytesAsync.
func BenchmarkBareFramed(b *testing.B) {
	for _, size := range []int{100, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			env := kafkatest.New(b, embedkafka.DataDir(b.TempDir()))
			topic := env.Topic(b, 8, nil)
			cl := env.Client(b, kgo.DefaultProduceTopic(topic))
			keys, values := benchKeys(4096), benchValues(size)
			// Record i has the key and value BenchmarkPutBytesAsync's
			// record i has, so batches compress alike.
			var guid wire.GUID
			framed := make([]kgo.Record, len(keys))
			for i := range framed {
				e := wire.Envelope{Type: wire.TypePut}
				e.Producer = wire.Producer{GUID: guid, Segment: 3, Sequence: int32(1 + i), ProducerTimestamp: time.Now().UnixMilli()}
				e.Put = wire.Put{SchemaID: 1, Value: values[i%len(values)]}
				framed[i] = kgo.Record{Key: wire.AppendDataKey(nil, keys[i]), Value: wire.AppendValue(nil, &e)}
			}
			ctx := context.Background()
			promise := func(_ *kgo.Record, err error) {
				if err != nil {
					b.Error(err)
				}
			}
			b.SetBytes(int64(size))
			cpu := startCPU(b)
			for i := 0; i < b.N; i++ {
				f := &framed[i%len(framed)]
				cl.Produce(ctx, &kgo.Record{Key: f.Key, Value: f.Value}, promise)
			}
			if err := cl.Flush(ctx); err != nil {
				b.Fatal(err)
			}
			cpu.stop(b)
		})
	}
}
