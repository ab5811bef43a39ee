package server

// Benchmarks of the server's two write paths, for profiling (the ratios
// against baselines live in bench/server.go). Run one iteration each:
//
//	go test ./server -run '^$' -bench 'Leader|VersionIngest' -benchtime 1x -cpuprofile cpu.out

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate/putest"
	"github.com/rialtodb/rialto/writer"
)

const benchPartitions = 8

func benchEnv(b *testing.B) *kafkatest.Env {
	// A data directory: in memory, kfake keeps every byte.
	return kafkatest.New(b, embedkafka.DataDir(b.TempDir()))
}

func benchServer(b *testing.B, brokers []string) *Server {
	s, err := New(Config{Brokers: brokers, DataDir: b.TempDir(), Logger: quietLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done; s.Close() })
	return s
}

func benchWait(b *testing.B, d time.Duration, what string, cond func() bool) {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			b.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type benchAck struct{ b *testing.B }

func (a benchAck) cb(_ writer.Result, err error) {
	if err != nil {
		a.b.Error(err)
	}
}

// benchRowSchema is a record with one bytes field; a 98-byte payload
// encodes as a 100-byte value.
const benchRowSchema = `{"type":"record","name":"Row","fields":[{"name":"b","type":"bytes","default":""}]}`

// benchPushRows writes a version topic of n puts of 100 B (keys
// "member-%09d" in random order, raw bytes as a "string" key serializes)
// and returns the version's spec for store and the keys by index.
func benchPushRows(b *testing.B, env *kafkatest.Env, store string, n int) (VersionSpec, [][]byte) {
	ctx := context.Background()
	vt := env.Topic(b, benchPartitions, nil)
	schemas, err := writer.NewStaticSchemas(`"string"`, benchRowSchema)
	if err != nil {
		b.Fatal(err)
	}
	w, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
	if err != nil {
		b.Fatal(err)
	}
	if err := w.StartOfPush(ctx, false); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	payload := make([]byte, 98)
	keys := make([][]byte, n)
	for _, i := range rng.Perm(n) {
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		keys[i] = fmt.Appendf(nil, "member-%09d", i)
		if err := w.PutBytesAsync(ctx, keys[i], 1, avrox.AppendBytes(nil, payload), benchAck{b}.cb); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		b.Fatal(err)
	}
	src, err := NewStaticSchemaSource(benchRowSchema)
	if err != nil {
		b.Fatal(err)
	}
	return VersionSpec{Store: store, Version: 1, Topic: vt, Partitions: benchPartitions, Schemas: src}, keys
}

// BenchmarkVersionIngest: 500 000 puts of 100 B (random key order) in a
// version topic, ingested by a server hosting its 8 partitions.
func BenchmarkVersionIngest(b *testing.B) {
	const n = 500_000
	ctx := context.Background()
	env := benchEnv(b)
	spec, _ := benchPushRows(b, env, "ingest", n)
	for range b.N {
		s := benchServer(b, env.Brokers())
		b.ResetTimer()
		start := time.Now()
		if err := s.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
			b.Fatal(err)
		}
		benchWait(b, 5*time.Minute, "ingested", func() bool { return benchAllReady(s.Status(), benchPartitions) })
		b.ReportMetric(n/time.Since(start).Seconds(), "rec/s")
		b.StopTimer()
	}
}

func benchAllReady(st []PartitionStatus, n int) bool {
	if len(st) != n {
		return false
	}
	for _, p := range st {
		if !p.ReadyToServe {
			return false
		}
	}
	return true
}

// BenchmarkLeaderRTUpdates: 20 000 keys of the ~800-B putest record, then
// 200 000 partial updates (1, 3 and 10 of 10 fields, random keys) on the
// RT topic, replayed by leaders of all 8 partitions.
func BenchmarkLeaderRTUpdates(b *testing.B) {
	const nKeys, nUpdates = 20_000, 200_000
	ctx := context.Background()
	env := benchEnv(b)
	vt := env.Topic(b, benchPartitions, nil)
	rt := env.Topic(b, benchPartitions, nil)
	schemas, err := writer.NewStaticSchemas(`"string"`, putest.SchemaJSON)
	if err != nil {
		b.Fatal(err)
	}
	vtw, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
	if err != nil {
		b.Fatal(err)
	}
	if err := vtw.StartOfPush(ctx, false); err != nil {
		b.Fatal(err)
	}
	keys := make([][]byte, nKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "member-%09d", i)
		if err := vtw.PutBytesAsync(ctx, keys[i], 1, putest.Record(), benchAck{b}.cb); err != nil {
			b.Fatal(err)
		}
	}
	if err := vtw.EndOfPush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := vtw.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: env.Brokers()}}, Topic: rt}); err != nil {
		b.Fatal(err)
	}
	if err := vtw.Close(ctx); err != nil {
		b.Fatal(err)
	}
	var updates [][]byte
	for _, c := range putest.Changes() {
		ub, err := c.Update.Encode()
		if err != nil {
			b.Fatal(err)
		}
		updates = append(updates, ub)
	}
	schemas.Updates[1] = 1
	rtw, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(rt), writer.Schemas(schemas))
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	for i := range nUpdates {
		if err := rtw.UpdateBytesAsync(ctx, keys[rng.IntN(nKeys)], 1, 1, updates[i%len(updates)], benchAck{b}.cb); err != nil {
			b.Fatal(err)
		}
	}
	if err := rtw.Close(ctx); err != nil {
		b.Fatal(err)
	}
	ends, err := env.Admin(b).ListEndOffsets(ctx, rt)
	if err != nil {
		b.Fatal(err)
	}
	src, err := NewStaticSchemaSource(putest.SchemaJSON)
	if err != nil {
		b.Fatal(err)
	}
	spec := VersionSpec{Store: "items", Version: 1, Topic: vt, Partitions: benchPartitions, KeySchema: schemas.Key, Schemas: src}
	for range b.N {
		s := benchServer(b, env.Brokers())
		if err := s.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
			b.Fatal(err)
		}
		benchWait(b, 5*time.Minute, "version ingested", func() bool { return benchAllReady(s.Status(), benchPartitions) })
		b.ResetTimer()
		start := time.Now()
		for p := range int32(benchPartitions) {
			if err := s.Lead("items", 1, p); err != nil {
				b.Fatal(err)
			}
		}
		benchWait(b, 5*time.Minute, "RT replayed", func() bool {
			for _, st := range s.Status() {
				o, _ := ends.Lookup(rt, st.Partition)
				done := o.Offset == 0
				for _, u := range st.Upstream {
					done = done || (u.Region == 0 && u.Partition == st.Partition && u.Offset >= o.Offset)
				}
				if !done {
					return false
				}
			}
			return true
		})
		b.ReportMetric(nUpdates/time.Since(start).Seconds(), "upd/s")
		b.StopTimer()
	}
}
