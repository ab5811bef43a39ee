package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "reads", Issue: 5, Run: runReadsBench})
}

const readsValueSchema = `{"type":"record","name":"Row","fields":[{"name":"b","type":"bytes","default":""}]}`

// runReadsBench: a version of N keys (16-B string keys, ~100-B values) is
// pushed through the writer into an in-process broker with a data
// directory, ingested by a server (default 512 MiB block cache) and made
// current; the server's HTTP API listens on loopback.
//
//   - single get: one goroutine reads random keys one at a time through
//     the Go client (binary Avro answer, keep-alive connection); the
//     baseline is Server.Get on the same keys in the same run (Pebble get,
//     decompression, no HTTP). The goal is absolute (p99 ≤ 1 ms), so the
//     ratio is p99 / 1 ms, at most 1.
//   - batch get: batches of 5 000 random keys through the Go client (one
//     POST, binary answer); the baseline is 5 000 Server.Get calls in a
//     loop. Ratio p99 / 10 ms, at most 1.
//   - JSON forms of both (plain JSON values rendered by the server) are
//     informational rows.
func runReadsBench(ctx context.Context, cfg Config) ([]Row, error) {
	n, singles, batches := 1_000_000, 50_000, 200
	if cfg.Quick {
		n, singles, batches = 50_000, 10_000, 50
	}
	const batchSize = 5000
	f, err := newReadsFixture(ctx, n)
	if err != nil {
		return nil, err
	}
	defer f.close()
	rng := rand.New(rand.NewPCG(5, 5))
	pick := func() []byte { return f.keys[rng.IntN(len(f.keys))] }

	// Warm up caches, connections and the client's routing table.
	for range 2000 {
		if _, err := f.cl.GetSerialized(ctx, "bench", pick()); err != nil {
			return nil, err
		}
	}

	// Single gets: direct, then over HTTP, alternating in blocks so that
	// both see the same machine state.
	direct := make([]time.Duration, 0, singles)
	overHTTP := make([]time.Duration, 0, singles)
	jsonHTTP := make([]time.Duration, 0, singles/5)
	hc := &http.Client{}
	for len(overHTTP) < singles {
		for range 1000 {
			k := pick()
			t0 := time.Now()
			v, ok, err := f.srv.Get("bench", 1, k)
			direct = append(direct, time.Since(t0))
			if err != nil || !ok || len(v.Bytes) == 0 {
				return nil, fmt.Errorf("direct get %s: found=%v err=%v", k, ok, err)
			}
		}
		for range 1000 {
			k := pick()
			t0 := time.Now()
			v, err := f.cl.GetSerialized(ctx, "bench", k)
			overHTTP = append(overHTTP, time.Since(t0))
			if err != nil || !v.Found {
				return nil, fmt.Errorf("HTTP get %s: found=%v err=%v", k, v.Found, err)
			}
		}
		for range 200 {
			k := pick()
			t0 := time.Now()
			resp, err := hc.Get(f.base + "/v1/stores/bench/keys/" + string(k))
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			jsonHTTP = append(jsonHTTP, time.Since(t0))
			if err != nil || resp.StatusCode != http.StatusOK {
				return nil, fmt.Errorf("JSON get %s: %d %v", k, resp.StatusCode, err)
			}
		}
	}

	// Batch gets.
	var batchDirect, batchHTTP, batchJSON []time.Duration
	keys := make([][]byte, batchSize)
	for range batches {
		for i := range keys {
			keys[i] = pick()
		}
		t0 := time.Now()
		for _, k := range keys {
			if _, ok, err := f.srv.Get("bench", 1, k); err != nil || !ok {
				return nil, fmt.Errorf("direct get %s: found=%v err=%v", k, ok, err)
			}
		}
		batchDirect = append(batchDirect, time.Since(t0))
		for i := range keys { // other keys: the direct pass warmed the block cache for its own
			keys[i] = pick()
		}
		t0 = time.Now()
		vs, err := f.cl.BatchGetSerialized(ctx, "bench", keys)
		batchHTTP = append(batchHTTP, time.Since(t0))
		if err != nil {
			return nil, err
		}
		for i, v := range vs {
			if !v.Found {
				return nil, fmt.Errorf("batch: %s not found", keys[i])
			}
		}
	}
	for range max(5, batches/5) {
		for i := range keys {
			keys[i] = pick()
		}
		body := []byte(`{"keys":[`)
		for i, k := range keys {
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, '"')
			body = append(body, k...)
			body = append(body, '"')
		}
		body = append(body, "]}"...)
		t0 := time.Now()
		resp, err := hc.Post(f.base+"/v1/stores/bench/batch-get", "application/json", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		batchJSON = append(batchJSON, time.Since(t0))
		if err != nil || resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("JSON batch: %d %v", resp.StatusCode, err)
		}
	}

	us := func(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	sd, sh, sj := quantiles(direct), quantiles(overHTTP), quantiles(jsonHTTP)
	bd, bh, bj := quantiles(batchDirect), quantiles(batchHTTP), quantiles(batchJSON)
	fmt.Fprintf(os.Stderr, "  single direct   p50 %6.1f µs  p99 %6.1f µs  p999 %6.1f µs\n", us(sd.p50), us(sd.p99), us(sd.p999))
	fmt.Fprintf(os.Stderr, "  single HTTP     p50 %6.1f µs  p99 %6.1f µs  p999 %6.1f µs  (binary, Go client)\n", us(sh.p50), us(sh.p99), us(sh.p999))
	fmt.Fprintf(os.Stderr, "  single JSON     p50 %6.1f µs  p99 %6.1f µs  p999 %6.1f µs\n", us(sj.p50), us(sj.p99), us(sj.p999))
	fmt.Fprintf(os.Stderr, "  batch  direct   p50 %6.2f ms  p99 %6.2f ms\n", ms(bd.p50), ms(bd.p99))
	fmt.Fprintf(os.Stderr, "  batch  HTTP     p50 %6.2f ms  p99 %6.2f ms  (binary, Go client)\n", ms(bh.p50), ms(bh.p99))
	fmt.Fprintf(os.Stderr, "  batch  JSON     p50 %6.2f ms  p99 %6.2f ms\n", ms(bj.p50), ms(bj.p99))

	info := func(r Row) Row {
		r.Goal, r.Pass = "(info)", true
		return r
	}
	keysName := fmt.Sprintf("%dk keys", n/1000)
	return []Row{
		AtMost(Row{
			Figure: fmt.Sprintf("single get p99 over HTTP, Go client, %s (ratio: p99 / 1 ms)", keysName),
			Value:  us(sh.p99), Unit: "µs", Baseline: "Server.Get p99 (no HTTP)", BaseValue: us(sd.p99), Ratio: ms(sh.p99) / 1,
		}, 1),
		info(Row{
			Figure: fmt.Sprintf("single get p50 over HTTP, Go client, %s (ratio: / 1 ms)", keysName),
			Value:  us(sh.p50), Unit: "µs", Baseline: "Server.Get p50 (no HTTP)", BaseValue: us(sd.p50), Ratio: ms(sh.p50) / 1,
		}),
		info(Row{
			Figure: fmt.Sprintf("single get p999 over HTTP, Go client, %s (ratio: / 1 ms)", keysName),
			Value:  us(sh.p999), Unit: "µs", Baseline: "Server.Get p999 (no HTTP)", BaseValue: us(sd.p999), Ratio: ms(sh.p999) / 1,
		}),
		info(Row{
			Figure: fmt.Sprintf("single get p99 over HTTP, JSON answer, %s (ratio: / 1 ms)", keysName),
			Value:  us(sj.p99), Unit: "µs", Baseline: "Server.Get p99 (no HTTP)", BaseValue: us(sd.p99), Ratio: ms(sj.p99) / 1,
		}),
		AtMost(Row{
			Figure: fmt.Sprintf("batch get of %d keys p99, Go client, %s (ratio: p99 / 10 ms)", batchSize, keysName),
			Value:  ms(bh.p99), Unit: "ms", Baseline: fmt.Sprintf("%d Server.Get calls p99 (no HTTP)", batchSize), BaseValue: ms(bd.p99), Ratio: ms(bh.p99) / 10,
		}, 1),
		info(Row{
			Figure: fmt.Sprintf("batch get of %d keys p50, Go client, %s (ratio: / 10 ms)", batchSize, keysName),
			Value:  ms(bh.p50), Unit: "ms", Baseline: fmt.Sprintf("%d Server.Get calls p50 (no HTTP)", batchSize), BaseValue: ms(bd.p50), Ratio: ms(bh.p50) / 10,
		}),
		info(Row{
			Figure: fmt.Sprintf("batch get of %d keys p99, JSON answer, %s (ratio: / 10 ms)", batchSize, keysName),
			Value:  ms(bj.p99), Unit: "ms", Baseline: fmt.Sprintf("%d Server.Get calls p99 (no HTTP)", batchSize), BaseValue: ms(bd.p99), Ratio: ms(bj.p99) / 10,
		}),
	}, nil
}

type readQuantiles struct{ p50, p99, p999 time.Duration }

func quantiles(ds []time.Duration) readQuantiles {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return readQuantiles{at(0.50), at(0.99), at(0.999)}
}

type readsFixture struct {
	dir    string
	broker *embedkafka.Broker
	srv    *server.Server
	cl     *client.Client
	base   string
	keys   [][]byte
	stop   func()
}

// newReadsFixture pushes n keys and serves them; close undoes it all.
func newReadsFixture(ctx context.Context, n int) (f *readsFixture, err error) {
	f = &readsFixture{}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	if f.dir, err = os.MkdirTemp("", "rialto-bench-reads-"); err != nil {
		return nil, err
	}
	if f.broker, err = embedkafka.Start(ctx, embedkafka.DataDir(f.dir+"/kafka")); err != nil {
		return nil, err
	}
	brokers := f.broker.Addrs()
	const partitions = 8
	topic := "bench_v1"
	adminCl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	resp, err := kadm.NewClient(adminCl).CreateTopic(ctx, partitions, 1, nil, topic)
	adminCl.Close()
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", topic, err)
	}

	schemas, err := writer.NewStaticSchemas(`"string"`, readsValueSchema)
	if err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	w, err := writer.New(writer.Brokers(brokers...), writer.Topic(topic), writer.Kind(writer.KindVersion), writer.Schemas(schemas), writer.Logger(quiet))
	if err != nil {
		return nil, err
	}
	if err := w.StartOfPush(ctx, false); err != nil {
		w.Close(ctx)
		return nil, err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var putErr atomic.Pointer[error]
	f.keys = make([][]byte, n)
	for i := range n {
		f.keys[i] = fmt.Appendf(nil, "member-%09d", i)
		payload := make([]byte, 96)
		for j := range payload {
			payload[j] = byte(rng.IntN(256))
		}
		v := avrox.AppendBytes(nil, payload) // the record's one bytes field
		if err := w.PutBytesAsync(ctx, f.keys[i], 1, v, func(_ writer.Result, err error) {
			if err != nil {
				putErr.CompareAndSwap(nil, &err)
			}
		}); err != nil {
			w.Close(ctx)
			return nil, err
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		w.Close(ctx)
		return nil, err
	}
	if err := w.Close(ctx); err != nil {
		return nil, err
	}
	if e := putErr.Load(); e != nil {
		return nil, *e
	}

	if f.srv, err = server.New(server.Config{Brokers: brokers, DataDir: f.dir + "/server", Logger: quiet}); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); f.srv.Run(runCtx) }()
	src, err := server.NewStaticSchemaSource(readsValueSchema)
	if err != nil {
		cancel()
		<-ran
		return nil, err
	}
	spec := server.VersionSpec{Store: "bench", Version: 1, Topic: topic, Partitions: partitions, KeySchema: schemas.Key, Schemas: src}
	if err := f.srv.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		cancel()
		<-ran
		return nil, err
	}
	h, err := f.srv.Handler(server.HTTPOptions{Logger: quiet})
	if err != nil {
		cancel()
		<-ran
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		<-ran
		return nil, err
	}
	served := make(chan struct{})
	go func() { defer close(served); server.Serve(runCtx, ln, h, 5*time.Second) }()
	f.stop = func() { cancel(); <-ran; <-served }
	f.base = "http://" + ln.Addr().String()

	deadline := time.Now().Add(10 * time.Minute)
	for {
		st := f.srv.Status()
		ready := len(st) == partitions
		for _, p := range st {
			ready = ready && p.ReadyToServe
		}
		if ready {
			break
		}
		if time.Now().After(deadline) {
			return nil, errors.New("the server did not become ready in 10 minutes")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	f.srv.SetCurrentVersion("bench", 1)
	if f.cl, err = client.New([]string{f.base}, client.Logger(quiet)); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *readsFixture) close() {
	if f.cl != nil {
		f.cl.Close()
	}
	if f.stop != nil {
		f.stop()
	}
	if f.srv != nil {
		f.srv.Close()
	}
	if f.broker != nil {
		f.broker.Close()
	}
	if f.dir != "" {
		os.RemoveAll(f.dir)
	}
}
