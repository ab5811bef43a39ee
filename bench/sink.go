package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink/connect"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "sink", Issue: 7, Run: runSinkBench})
}

// sinkValueSchema: a JSON record of ~100 bytes ({"name":"user-0000042",
// "clicks":…,"city":"…","score":…,"tags":[…]}) encodes as ~45 Avro bytes.
const sinkValueSchema = `{"type":"record","name":"Member","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"clicks","type":"long","default":0},
	{"name":"city","type":"string","default":""},
	{"name":"score","type":"double","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]}
]}`

const sinkBenchPartitions = 8

// runSinkBench: N JSON records (1 M; quick 100 k), keyed by member id,
// written to a store in put mode two ways in the same run, each into a
// fresh RT topic of the same in-process broker (with a data directory):
//
//   - sink: the Connect-style sink (package sink/connect, tasks.max=1, the
//     defaults otherwise) consuming an input topic that holds the records
//     (produced before the clock starts); the clock runs from the sink's
//     first record read to its last write acknowledged, so consumer-group
//     joining is not timed;
//   - writer: one goroutine feeding the writer the same records directly,
//     from memory: the same JSON → Avro conversion
//     (partialupdate.ValueFromJSON) and PutBytesAsync with the same
//     logical timestamp, then Flush.
//
// Both use the same writer defaults. The input is read once by a bare
// consumer before the first round, so that no round pays for the broker
// settling after the big produce. Rounds alternate (five; one in quick
// mode); each figure is the median of its rounds.
func runSinkBench(ctx context.Context, cfg Config) ([]Row, error) {
	n, rounds := 1_000_000, 5
	if cfg.Quick {
		n, rounds = 100_000, 1
	}
	env, err := newSrvEnv(ctx, "sink")
	if err != nil {
		return nil, err
	}
	defer env.close()
	schema := avro.MustParse(sinkValueSchema)

	keys := make([][]byte, n)
	values := make([][]byte, n)
	cities := []string{"Oslo", "Lima", "Pune", "Kyiv", "Cork", "Baku"}
	for i := range n {
		keys[i] = fmt.Appendf(nil, "member-%07d", i%200_000)
		values[i] = fmt.Appendf(nil, `{"name":"user-%07d","clicks":%d,"city":"%s","score":%d.%d,"tags":["t%d","t%d"]}`,
			i, i*7%10_000, cities[i%len(cities)], i%100, i%10, i%13, i%17)
	}
	ts0 := time.Now().Add(-time.Hour).UnixMilli()
	tsOf := func(i int) int64 { return ts0 + int64(i/50) } // 50 records a millisecond

	in := "bench_sink_in"
	if err := env.createTopic(ctx, in, sinkBenchPartitions, nil); err != nil {
		return nil, err
	}
	if err := produceSinkInput(ctx, env.brokers, in, keys, values, tsOf); err != nil {
		return nil, err
	}
	if err := consumeSinkInput(ctx, env.brokers, in, n); err != nil {
		return nil, err
	}

	var rtName atomic.Value
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v1/cluster":
			json.NewEncoder(w).Encode(api.Cluster{Regions: []api.Region{{ID: 0, Name: "local", Brokers: env.brokers}}})
		case "/v1/stores/members":
			json.NewEncoder(w).Encode(api.Store{Name: "members", KeySchema: `"string"`,
				ValueSchemas: []api.Schema{{ID: 1, Schema: sinkValueSchema}}, SupersetID: 1, RTTopic: rtName.Load().(string)})
		default:
			http.NotFound(w, r)
		}
	}))
	defer ctl.Close()

	rates := map[string][]float64{}
	for round := range rounds {
		for _, mode := range []string{"writer", "sink"} {
			rt := fmt.Sprintf("bench_sink_rt_%s_%d", mode, round)
			if err := env.createTopic(ctx, rt, sinkBenchPartitions, nil); err != nil {
				return nil, err
			}
			rtName.Store(rt)
			var rate float64
			if mode == "writer" {
				rate, err = sinkBaseline(ctx, env.brokers, rt, schema, keys, values, tsOf)
			} else {
				rate, err = sinkRun(ctx, ctl.URL, in, round, n)
			}
			if err != nil {
				return nil, fmt.Errorf("sink bench, %s: %w", mode, err)
			}
			fmt.Fprintf(os.Stderr, "  %-6s %8.0f rec/s\n", mode, rate)
			rates[mode] = append(rates[mode], rate)
			if _, err := env.admin.DeleteTopics(ctx, rt); err != nil {
				return nil, err
			}
		}
	}
	s, w := writerMedian(rates["sink"]), writerMedian(rates["writer"])
	return []Row{AtLeast(Row{
		Figure:    fmt.Sprintf("Connect-style sink, %d JSON records (~100 B) → puts", n),
		Value:     s,
		Unit:      "rec/s",
		Baseline:  "writer fed the same records directly (same JSON→Avro conversion, same timestamps)",
		BaseValue: w,
		Ratio:     s / w,
	}, 0.8)}, nil
}

func produceSinkInput(ctx context.Context, brokers []string, topic string, keys, values [][]byte, tsOf func(int) int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return err
	}
	defer cl.Close()
	var perr asyncErr
	for i := range keys {
		cl.Produce(ctx, &kgo.Record{Key: keys[i], Value: values[i], Timestamp: time.UnixMilli(tsOf(i))},
			func(_ *kgo.Record, err error) { perr.cb(writer.Result{}, err) })
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	return perr.err()
}

func consumeSinkInput(ctx context.Context, brokers []string, topic string, n int) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	for seen := 0; seen < n; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		seen += fs.NumRecords()
	}
	return nil
}

func sinkBaseline(ctx context.Context, brokers []string, rt string, schema avro.Schema, keys, values [][]byte, tsOf func(int) int64) (float64, error) {
	schemas, err := writer.NewStaticSchemas(`"string"`, sinkValueSchema)
	if err != nil {
		return 0, err
	}
	w, err := writer.New(writer.Brokers(brokers...), writer.Topic(rt), writer.Schemas(schemas))
	if err != nil {
		return 0, err
	}
	defer w.Close(ctx)
	var perr asyncErr
	start := time.Now()
	for i := range keys {
		v, err := partialupdate.ValueFromJSON(schema, values[i])
		if err != nil {
			return 0, err
		}
		if err := w.PutBytesAsync(ctx, keys[i], 1, v, perr.cb, writer.WithTimestamp(tsOf(i))); err != nil {
			return 0, err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return 0, err
	}
	el := time.Since(start)
	if err := perr.err(); err != nil {
		return 0, err
	}
	return float64(len(keys)) / el.Seconds(), nil
}

func sinkRun(ctx context.Context, controller, in string, round, n int) (float64, error) {
	cfg, err := connect.Parse(map[string]string{
		"name":                  fmt.Sprintf("bench-%d", round), // a new group: from the start
		"topics":                in,
		"rialto.store":          "members",
		"rialto.controller.url": controller,
	})
	if err != nil {
		return 0, err
	}
	s, err := connect.New(ctx, cfg)
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(rctx) }()
	defer func() { cancel(); <-done }()
	var start time.Time
	deadline := time.Now().Add(10 * time.Minute)
	for {
		st := s.Stats()
		if start.IsZero() && st.Read > 0 {
			start = time.Now()
		}
		if st.Acked >= int64(n) {
			break
		}
		select {
		case err := <-done:
			done <- err
			return 0, fmt.Errorf("sink stopped after %d writes: %v", st.Acked, err)
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("sink wrote %d of %d records in 10 minutes", st.Acked, n)
		}
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
