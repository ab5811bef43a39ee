package server

// Benchmarks of the read path, for profiling (the latency goals and their
// baselines live in bench/reads.go):
//
//	go test ./server -run '^$' -bench 'Get' -cpuprofile cpu.out

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/avrox"
)

// readBenchFixture is a server holding 1 M keys of 100 B in 8 partitions,
// current, with an HTTP handler.
type readBenchFixture struct {
	s    *Server
	h    http.Handler
	keys [][]byte
}

func newReadBenchFixture(b *testing.B) *readBenchFixture {
	env := benchEnv(b)
	spec, keys := benchPushRows(b, env, "reads", 1_000_000)
	s := benchServer(b, env.Brokers())
	if err := s.Host(context.Background(), spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		b.Fatal(err)
	}
	benchWait(b, 5*time.Minute, "ingested", func() bool { return benchAllReady(s.Status(), benchPartitions) })
	s.SetCurrentVersion("reads", 1)
	h, err := s.Handler(HTTPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	return &readBenchFixture{s: s, h: h, keys: keys}
}

// BenchmarkGet: Server.Get of random keys (no HTTP).
func BenchmarkGet(b *testing.B) {
	f := newReadBenchFixture(b)
	rng := rand.New(rand.NewPCG(2, 2))
	b.ResetTimer()
	for range b.N {
		if _, ok, err := f.s.Get("reads", 1, f.keys[rng.IntN(len(f.keys))]); err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
}

// BenchmarkBatchGet5000: the batch-get handler (in process, binary
// answer) for 5 000 random keys; ns/op is one whole batch.
func BenchmarkBatchGet5000(b *testing.B) {
	f := newReadBenchFixture(b)
	rng := rand.New(rand.NewPCG(3, 3))
	bodies := make([][]byte, 64) // the binary request the Go client sends
	for i := range bodies {
		body := avrox.AppendLong(nil, 0)
		body = avrox.AppendLong(body, 5000)
		for range 5000 {
			body = avrox.AppendBytes(body, f.keys[rng.IntN(len(f.keys))])
		}
		bodies[i] = body
	}
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest(http.MethodPost, "/v1/stores/reads/batch-get?format=avro", bytes.NewReader(bodies[i%len(bodies)]))
		req.Header.Set("Content-Type", ContentTypeKeys)
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/5000, "ns/key")
}
