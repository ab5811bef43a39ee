package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

const testValueSchema = `{"type":"record","name":"V","fields":[{"name":"b","type":"bytes","default":""}]}`

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t *testing.T, brokers []string, dir string) *Server {
	t.Helper()
	s, err := New(Config{Brokers: brokers, DataDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return s
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func allReady(s *Server, n int) bool {
	st := s.Status()
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

// avroBytesValue encodes a record {b: bytes} by hand: a long length, then the bytes.
func avroBytesValue(b []byte) []byte {
	n := int64(len(b))
	u := uint64(n<<1) ^ uint64(n>>63)
	var hdr []byte
	for u >= 0x80 {
		hdr = append(hdr, byte(u)|0x80)
		u >>= 7
	}
	hdr = append(hdr, byte(u))
	return append(hdr, b...)
}

func TestBatchPushIsReadableExactly(t *testing.T) {
	env := kafkatest.New(t)
	const partitions = 4
	topic := env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	schemas, err := writer.NewStaticSchemas(`"string"`, testValueSchema)
	if err != nil {
		t.Fatal(err)
	}
	records := 100_000
	if testing.Short() {
		records = 10_000
	}
	ctx := context.Background()
	w, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(topic), writer.Schemas(schemas),
		writer.Kind(writer.KindVersion), writer.Compression(wire.CompressionZstd, nil), writer.ChunkThreshold(64<<10))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	want := make(map[string][]byte, records)
	for i := 0; i < records; i++ {
		key := fmt.Sprintf("key-%d", i)
		size := 20 + rng.Intn(200)
		if i%5000 == 0 {
			size = 300 << 10 // chunked (after compression of random bytes it stays large)
		}
		payload := make([]byte, size)
		rng.Read(payload)
		v := avroBytesValue(payload)
		want[key] = v
		if err := w.PutBytesAsync(ctx, []byte(key), 1, v, func(_ writer.Result, err error) {
			if err != nil {
				t.Errorf("put: %v", err)
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	// Overwrite and delete some keys within the push.
	for i := 0; i < 100; i++ {
		key := fmt.Sprintf("key-%d", i)
		if i%2 == 0 {
			v := avroBytesValue([]byte("second"))
			want[key] = v
			w.PutBytesAsync(ctx, []byte(key), 1, v, func(writer.Result, error) {})
		} else {
			delete(want, key)
			w.DeleteBytesAsync(ctx, []byte(key), func(writer.Result, error) {})
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, env.Brokers(), t.TempDir())
	spec := VersionSpec{Store: "users", Version: 1, Topic: topic, Partitions: partitions}
	if err := s.Host(ctx, spec, 0, 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Minute, "every partition ready", func() bool { return allReady(s, partitions) })

	for i := 0; i < records; i++ {
		key := fmt.Sprintf("key-%d", i)
		v, ok, err := s.Get("users", 1, []byte(key))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		exp, exists := want[key]
		if ok != exists {
			t.Fatalf("%s: found=%v, want %v", key, ok, exists)
		}
		if ok && (!bytes.Equal(v.Bytes, exp) || v.SchemaID != 1) {
			t.Fatalf("%s: value differs (%d bytes, want %d)", key, len(v.Bytes), len(exp))
		}
	}
	var applied int64
	for _, p := range s.Status() {
		applied += p.Records
		if len(p.Faults) > 0 {
			t.Errorf("partition %d: faults %v", p.Partition, p.Faults)
		}
	}
	if applied != int64(records+100) {
		t.Fatalf("applied %d records, want %d", applied, records+100)
	}
}
