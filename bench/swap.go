package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/controller"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "swap", Issue: 6, Run: runSwap})
}

const swapValueSchema = `{"type":"record","name":"V","fields":[{"name":"n","type":"long","default":0}]}`

// runSwap measures the time from "every partition of the new version is
// ready" (as the servers report it) to "the servers serve it": the
// controller's monitor noticing, the swap written to the admin log, and
// the servers following the log.
func runSwap(ctx context.Context, cfg Config) ([]Row, error) {
	pushes := 10
	if cfg.Quick {
		pushes = 4
	}
	dir, err := os.MkdirTemp("", "rialto-bench-swap-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	b, err := embedkafka.Start(ctx, embedkafka.DataDir(dir+"/kafka"))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctl, err := controller.New(controller.Config{Regions: []api.Region{{ID: 0, Name: "local", Brokers: b.Addrs()}},
		HTTPAddr: "127.0.0.1:0", ReplicationFactor: 1, Logger: quiet})
	if err != nil {
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go ctl.Run(rctx)
	defer ctl.Close()
	srv, err := server.New(server.Config{Brokers: b.Addrs(), DataDir: dir + "/server", Logger: quiet, ServerID: "s1",
		AdminTopic: "_rialto_admin", ReplicationFactor: 1, HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		return nil, err
	}
	go srv.Run(rctx)
	defer srv.Close()
	cl := client.New("http://" + ctl.Addr())
	for !ctl.Leader() {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		time.Sleep(20 * time.Millisecond)
	}
	scfg := api.DefaultStoreConfig
	scfg.Partitions, scfg.HybridOffsetLag = 4, 0
	if _, err := cl.CreateStore(ctx, api.CreateStoreRequest{Name: "swap", KeySchema: `"string"`, ValueSchema: swapValueSchema, Config: &scfg}); err != nil {
		return nil, err
	}
	schema := avro.MustParse(swapValueSchema)
	var gaps []time.Duration
	for i := 0; i < pushes; i++ {
		v, err := cl.StartPush(ctx, "swap", api.StartPushRequest{})
		if err != nil {
			return nil, err
		}
		w, err := writer.New(writer.Brokers(b.Addrs()...), writer.Topic(v.Topic), writer.Kind(writer.KindVersion), writer.Schemas(cl.SchemaProvider("swap")))
		if err != nil {
			return nil, err
		}
		w.StartOfPush(ctx, false)
		for k := 0; k < 100; k++ {
			val, _ := avro.Marshal(schema, map[string]any{"n": int64(k)})
			w.PutBytesAsync(ctx, []byte(fmt.Sprint("k", k)), 1, val, func(writer.Result, error) {})
		}
		w.EndOfPush(ctx)
		w.Close(ctx)
		if _, err := cl.EndOfPush(ctx, "swap", v.Number); err != nil {
			return nil, err
		}
		var ready time.Time
		deadline := time.Now().Add(time.Minute)
		for {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("version %d never became current", v.Number)
			}
			if ready.IsZero() && versionReady(srv, v.Number, 4) {
				ready = time.Now()
			}
			if cur, _ := srv.CurrentVersion("swap"); cur == v.Number {
				if ready.IsZero() {
					ready = time.Now()
				}
				gaps = append(gaps, time.Since(ready))
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	p50 := gaps[len(gaps)/2]
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	fmt.Fprintf(os.Stderr, "  caught up → serving: p50 %.1f ms, max %.1f ms over %d pushes\n", ms(p50), ms(gaps[len(gaps)-1]), len(gaps))
	return []Row{{
		Figure: fmt.Sprintf("time from every partition ready to the servers serving the new version, p50 of %d pushes", len(gaps)),
		Value:  ms(p50), Unit: "ms", Baseline: "the controller's monitor interval", BaseValue: 500,
		Ratio: ms(p50) / 500, Goal: "(info)", Pass: true,
	}}, nil
}

func versionReady(s *server.Server, version int32, partitions int) bool {
	n := 0
	for _, st := range s.Status() {
		if st.Store == "swap" && st.Version == version {
			if !st.ReadyToServe || (st.Leader && sumLag(st.ReplayLag) > 0) {
				return false
			}
			n++
		}
	}
	return n == partitions
}

func sumLag(m map[int32]int64) (t int64) {
	for _, v := range m {
		t += v
	}
	return t
}
