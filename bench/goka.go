package main

// The goka peer of rt-update-path (bench/server.go): a goka v1.1.17
// processor whose group table holds the same 20 000 records and whose input
// stream holds the same updates, keyed the same way, applied with the same
// byte-level code (partialupdate.Decode + partialupdate.Apply).

import (
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/partialupdate/putest"
	"github.com/rialtodb/rialto/writer"
)

type gokaRun struct {
	rate float64
	proc *goka.Processor
	stop func()
}

func (g *gokaRun) close() { g.stop() }

func (g *gokaRun) get(key string) ([]byte, error) {
	v, err := g.proc.Get(key)
	if err != nil {
		return nil, err
	}
	b, _ := v.([]byte)
	if b == nil {
		return nil, fmt.Errorf("goka table has no %s", key)
	}
	return b, nil
}

// kafkaHasher is Kafka's default partitioner for goka: murmur2 with the
// sign bit masked off. goka's default hasher is FNV-1a, so without this a
// goka emitter or processor would not be co-partitioned with topics keyed
// by the Java client, franz-go or the Rialto writer.
type kafkaHasher struct{ buf []byte }

func newKafkaHasher() hash.Hash32 { return &kafkaHasher{} }

func (h *kafkaHasher) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *kafkaHasher) Sum(b []byte) []byte {
	s := h.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (h *kafkaHasher) Reset()         { h.buf = h.buf[:0] }
func (h *kafkaHasher) Size() int      { return 4 }
func (h *kafkaHasher) BlockSize() int { return 4 }
func (h *kafkaHasher) Sum32() uint32  { return wire.Murmur2(h.buf) & 0x7fffffff }

// gokaRTUpdate: a new group per round; its table topic ("<group>-table",
// compacted) is seeded with the records, and the input stream (written
// once by produceRTInputs) holds the raw update bytes, both partitioned by
// murmur2 of the key like Rialto's topics. The processor (goka's defaults —
// LevelDB storage, sarama with snappy, acks from the partition leader — but
// Kafka's murmur2 partitioning, kafkaHasher) starts from the oldest input
// offset; the clock runs from the first callback (table recovery is not
// timed) until the last callback has run and the table topic holds every
// changelog record.
func gokaRTUpdate(ctx context.Context, env *srvEnv, in *rtUpdateInput, round int) (*gokaRun, error) {
	group := goka.Group(fmt.Sprintf("rtbench%d", round))
	table := goka.GroupTable(group)
	const input = goka.Stream(gokaInputTopic)
	compact := "compact"
	if err := env.createTopic(ctx, string(table), srvBenchPartitions, map[string]*string{"cleanup.policy": &compact}); err != nil {
		return nil, err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	var perr asyncErr
	rec := putest.Record()
	for _, k := range in.keys {
		prod.Produce(ctx, &kgo.Record{Topic: string(table), Key: k, Value: rec, Partition: wire.Partition(k, srvBenchPartitions)},
			func(_ *kgo.Record, err error) { perr.cb(writer.Result{}, err) })
	}
	err = prod.Flush(ctx)
	prod.Close()
	if err == nil {
		err = perr.err()
	}
	if err != nil {
		return nil, err
	}
	tableEnds, err := env.endOffsets(ctx, string(table))
	if err != nil {
		return nil, err
	}
	var seeded int64
	for _, o := range tableEnds {
		seeded += o
	}

	// goka with its defaults, except: the single broker needs replication
	// 1, and the input was produced before the processor started, so it
	// starts from the oldest offset.
	newCfg := func() *sarama.Config {
		c := goka.DefaultConfig()
		c.Consumer.Offsets.Initial = sarama.OffsetOldest
		return c
	}
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1
	quiet := log.New(io.Discard, "", 0)

	var (
		calls     atomic.Int64
		first     atomic.Int64 // unix ns of the first callback
		last      atomic.Int64 // unix ns of the latest callback
		cbErr     atomic.Pointer[error]
		n         = int64(len(in.seq))
		updSchema = in.schema
	)
	cb := func(gctx goka.Context, msg any) {
		now := time.Now().UnixNano()
		first.CompareAndSwap(0, now)
		defer func() { last.Store(time.Now().UnixNano()); calls.Add(1) }()
		u, err := partialupdate.Decode(updSchema, msg.([]byte))
		if err != nil {
			cbErr.CompareAndSwap(nil, &err)
			return
		}
		var out []byte
		if cur, _ := gctx.Value().([]byte); cur != nil {
			out, err = partialupdate.Apply(nil, u, cur)
		} else {
			out, err = partialupdate.ApplyMissing(nil, u)
		}
		if err != nil {
			cbErr.CompareAndSwap(nil, &err)
			return
		}
		gctx.SetValue(out)
	}
	gg := goka.DefineGroup(group,
		goka.Input(input, new(codec.Bytes), cb),
		goka.Persist(new(codec.Bytes)),
	)
	proc, err := goka.NewProcessor(env.brokers, gg,
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(newCfg(), tmc)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(newCfg())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(newCfg())),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(newCfg())),
		goka.WithStorageBuilder(storage.DefaultBuilder(filepath.Join(env.dir, fmt.Sprintf("goka-%d", round)))),
		goka.WithLogger(quiet),
		goka.WithHasher(newKafkaHasher),
	)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- proc.Run(runCtx) }()
	g := &gokaRun{proc: proc, stop: func() { cancel(); <-ran }}
	fail := func(err error) (*gokaRun, error) { g.stop(); return nil, err }

	done := func() bool {
		select {
		case err := <-ran:
			ran <- err
			return true
		default:
		}
		return calls.Load() >= n || cbErr.Load() != nil
	}
	if _, err := pollUntil(ctx, 10*time.Minute, 5*time.Millisecond, "goka processed the input", done); err != nil {
		return fail(err)
	}
	select {
	case err := <-ran:
		ran <- err
		return fail(fmt.Errorf("goka processor stopped: %v", err))
	default:
	}
	if e := cbErr.Load(); e != nil {
		return fail(*e)
	}
	// The changelog: every SetValue produced to the table topic.
	end, err := pollUntil(ctx, 5*time.Minute, 5*time.Millisecond, "goka changelog produced", func() bool {
		ends, err := env.endOffsets(ctx, string(table))
		if err != nil {
			return false
		}
		var total int64
		for _, o := range ends {
			total += o
		}
		return total >= seeded+n
	})
	if err != nil {
		return fail(err)
	}
	if l := time.Unix(0, last.Load()); l.After(end) {
		end = l
	}
	start := time.Unix(0, first.Load())
	if calls.Load() != n {
		return fail(errors.New("goka callback count mismatch"))
	}
	g.rate = float64(n) / end.Sub(start).Seconds()
	return g, nil
}
