package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "writer", Issue: 2, Run: runWriterBench})
}

// runWriterBench: N puts of 100 B and of 1 KiB random values through the
// writer (PutBytesAsync from one goroutine, franz-go defaults underneath:
// idempotent, acks=all, snappy batches) against a bare franz-go producer
// (Produce with a promise, same defaults) sending the same record bytes —
// the Rialto key and envelope the writer produces, encoded beforehand — to
// the same in-process broker with a data directory, 8 partitions, a fresh
// topic per run. A run ends when every record is acknowledged (Flush).
// Runs alternate (five rounds; one in quick mode); each figure is the
// median of its rounds.
//
// A second, informational row compares the writer with a bare producer
// sending only the user's key and value: the price of the envelope's
// bytes (producer GUID, segment, sequence, timestamps, schema id; ~55
// bytes a record) on top of the writer's own work.
func runWriterBench(ctx context.Context, cfg Config) ([]Row, error) {
	n, rounds := 1_000_000, 5
	if cfg.Quick {
		n, rounds = 100_000, 1
	}
	dir, err := os.MkdirTemp("", "rialto-bench-writer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := embedkafka.Start(ctx, embedkafka.DataDir(dir))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	admCl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		return nil, err
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "member-%09d", i) // 16 bytes
	}
	var guid wire.GUID
	copy(guid[:], "bench-writer-guid")
	var rows []Row
	topicSeq := 0
	for _, size := range []int{100, 1024} {
		// Distinct random values, so that batches do not compress to
		// nothing (franz-go compresses with snappy by default).
		values := make([][]byte, 4096)
		rng := rand.New(rand.NewPCG(uint64(size), 1))
		for i := range values {
			values[i] = make([]byte, size)
			for j := range values[i] {
				values[i][j] = byte(rng.IntN(256))
			}
		}
		// The writer's record bytes for the framed baseline: record i has
		// the key and value the writer's record i has (the pools cycle
		// together every len(keys) records), with a realistic sequence
		// number and clock, so both sides send batches of the same
		// bytes, equally compressible.
		framed := make([]*kgo.Record, len(keys))
		now := time.Now().UnixMilli()
		for i := range framed {
			e := wire.Envelope{Type: wire.TypePut}
			e.Producer = wire.Producer{GUID: guid, Segment: 3, Sequence: int32(1 + i%10_000), ProducerTimestamp: now}
			e.Put = wire.Put{SchemaID: 1, Value: values[i%len(values)]}
			framed[i] = &kgo.Record{Key: wire.AppendDataKey(nil, keys[i]), Value: wire.AppendValue(nil, &e)}
		}
		rates := map[string][]float64{}
		for range rounds {
			for _, mode := range []string{"framed", "writer", "raw"} {
				topicSeq++
				topic := fmt.Sprintf("bench_writer_%d", topicSeq)
				if err := createTopic(ctx, adm, topic); err != nil {
					return nil, err
				}
				var ru0, ru1 syscall.Rusage
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
				var rate float64
				switch mode {
				case "writer":
					rate, err = writerRun(ctx, b.Addrs(), topic, keys, values, n)
				case "framed":
					rate, err = bareRun(ctx, b.Addrs(), topic, n, func(i int) ([]byte, []byte) {
						r := framed[i%len(framed)]
						return r.Key, r.Value
					})
				case "raw":
					rate, err = bareRun(ctx, b.Addrs(), topic, n, func(i int) ([]byte, []byte) {
						return keys[i%len(keys)], values[i%len(values)]
					})
				}
				if err != nil {
					return nil, fmt.Errorf("%d B, %s: %w", size, mode, err)
				}
				_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
				cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
				fmt.Fprintf(os.Stderr, "  %-6s %4d B: %8.0f rec/s, %5.0f ns CPU/rec (whole process, broker included)\n", mode, size, rate, float64(cpu.Nanoseconds())/float64(n))
				rates[mode] = append(rates[mode], rate)
				// Drop the data so the directory does not grow by a GB a run.
				if _, err := adm.DeleteTopics(ctx, topic); err != nil {
					return nil, err
				}
			}
		}
		w, framedRate, raw := writerMedian(rates["writer"]), writerMedian(rates["framed"]), writerMedian(rates["raw"])
		rows = append(rows, AtLeast(Row{
			Figure:    fmt.Sprintf("writer PutBytesAsync, %s values, %d records", sizeName(size), n),
			Value:     w,
			Unit:      "rec/s",
			Baseline:  "bare franz-go producer, same record bytes",
			BaseValue: framedRate,
			Ratio:     w / framedRate,
		}, 0.85))
		rows = append(rows, Row{
			Figure:    fmt.Sprintf("(info) same, vs the user's key and value alone, %s", sizeName(size)),
			Value:     w,
			Unit:      "rec/s",
			Baseline:  "bare franz-go producer, key and value without envelope",
			BaseValue: raw,
			Ratio:     w / raw,
			Goal:      "none",
			Pass:      true,
		})
	}
	return rows, nil
}

func sizeName(n int) string {
	if n >= 1024 {
		return fmt.Sprintf("%d KiB", n/1024)
	}
	return fmt.Sprintf("%d B", n)
}

func writerMedian(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func createTopic(ctx context.Context, adm *kadm.Client, topic string) error {
	resp, err := adm.CreateTopic(ctx, 8, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

func bareRun(ctx context.Context, seeds []string, topic string, n int, rec func(int) (key, value []byte)) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if err := warm(ctx, cl, topic); err != nil {
		return 0, err
	}
	var failed atomic.Int64
	var firstErr atomic.Value
	promise := func(_ *kgo.Record, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	start := time.Now()
	for i := range n {
		k, v := rec(i)
		cl.Produce(ctx, &kgo.Record{Key: k, Value: v}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	el := time.Since(start)
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d records failed, first: %v", failed.Load(), firstErr.Load())
	}
	return float64(n) / el.Seconds(), nil
}

func writerRun(ctx context.Context, seeds []string, topic string, keys, values [][]byte, n int) (float64, error) {
	w, err := writer.New(writer.Brokers(seeds...), writer.Topic(topic))
	if err != nil {
		return 0, err
	}
	defer w.Close(ctx)
	var failed atomic.Int64
	var firstErr atomic.Value
	cb := func(_ writer.Result, err error) {
		if err != nil && failed.Add(1) == 1 {
			firstErr.Store(err)
		}
	}
	start := time.Now()
	for i := range n {
		if err := w.PutBytesAsync(ctx, keys[i%len(keys)], 1, values[i%len(values)], cb); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return 0, err
	}
	el := time.Since(start)
	if failed.Load() > 0 {
		return 0, fmt.Errorf("%d records failed, first: %v", failed.Load(), firstErr.Load())
	}
	if st := w.Stats(); st.Puts != int64(n) {
		return 0, fmt.Errorf("writer acknowledged %d puts, want %d", st.Puts, n)
	}
	return float64(n) / el.Seconds(), nil
}

// warm makes the bare client load the topic's metadata before the clock
// starts, as writer.New does.
func warm(ctx context.Context, cl *kgo.Client, topic string) error {
	tds, err := kadm.NewClient(cl).ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	if td := tds[topic]; td.Err != nil || len(td.Partitions) == 0 {
		return errors.Join(td.Err, fmt.Errorf("topic %s not ready", topic))
	}
	return nil
}
