package main

// Issue 5, server benchmarks other than reads (bench/reads.go):
//
//   - ingestion: a version topic of 1 M puts of 100 B ingested by a server,
//     against a bare franz-go consume + Pebble batch loop over the same topic.
//   - rt-update-path: a leader replaying partial updates from an RT topic
//     (resolve, produce the full put to the version topic, write Pebble),
//     against a goka processor doing the same read-modify-write on its group
//     table (bench/goka.go).
//   - freshness: write → readable on a leading server, against the bare
//     produce → consume latency through the same broker.
//
// Every case starts its own in-process broker with a data directory (kfake
// in memory keeps every byte) and measures Rialto and its baseline on the
// same topics in the same run.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/partialupdate/putest"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "ingestion", Issue: 5, Run: runIngestionBench})
	Register(Case{Name: "rt-update-path", Issue: 5, Run: runRTUpdateBench})
	Register(Case{Name: "freshness", Issue: 5, Run: runFreshnessBench})
}

const (
	srvBenchPartitions = 8
	// srvValueSchema is a record with one bytes field; a 98-byte payload
	// encodes as a 100-byte value.
	srvValueSchema = `{"type":"record","name":"Row","fields":[{"name":"b","type":"bytes","default":""}]}`
)

var srvQuiet = slog.New(slog.DiscardHandler)

// srvEnv is one case's broker and scratch directory.
type srvEnv struct {
	dir     string
	broker  *embedkafka.Broker
	brokers []string
	admin   *kadm.Client
	adminCl *kgo.Client
}

func newSrvEnv(ctx context.Context, name string) (e *srvEnv, err error) {
	e = &srvEnv{}
	defer func() {
		if err != nil {
			e.close()
		}
	}()
	if e.dir, err = os.MkdirTemp("", "rialto-bench-"+name+"-"); err != nil {
		return nil, err
	}
	if e.broker, err = embedkafka.Start(ctx, embedkafka.DataDir(filepath.Join(e.dir, "kafka"))); err != nil {
		return nil, err
	}
	e.brokers = e.broker.Addrs()
	if e.adminCl, err = kgo.NewClient(kgo.SeedBrokers(e.brokers...)); err != nil {
		return nil, err
	}
	e.admin = kadm.NewClient(e.adminCl)
	return e, nil
}

func (e *srvEnv) close() {
	if e.adminCl != nil {
		e.adminCl.Close()
	}
	if e.broker != nil {
		e.broker.Close()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

func (e *srvEnv) createTopic(ctx context.Context, topic string, partitions int32, configs map[string]*string) error {
	resp, err := e.admin.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", topic, err)
	}
	return nil
}

// endOffsets returns the end offset of every partition of topic.
func (e *srvEnv) endOffsets(ctx context.Context, topic string) (map[int32]int64, error) {
	ends, err := e.admin.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[int32]int64{}
	var ferr error
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err != nil {
			ferr = o.Err
		}
		out[o.Partition] = o.Offset
	})
	return out, ferr
}

// runningServer is a server with its Run goroutine.
type runningServer struct {
	srv  *server.Server
	stop func()
}

func startBenchServer(brokers []string, dir string) (*runningServer, error) {
	srv, err := server.New(server.Config{Brokers: brokers, DataDir: dir, Logger: srvQuiet})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); srv.Run(ctx) }()
	return &runningServer{srv: srv, stop: func() { cancel(); <-ran; srv.Close() }}, nil
}

// pollUntil calls cond every interval until it holds, ctx ends or timeout
// passes; it returns when cond first held.
func pollUntil(ctx context.Context, timeout, interval time.Duration, what string, cond func() bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%s: not done after %s", what, timeout)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(interval):
		}
	}
}

func allReady(st []server.PartitionStatus, n int) bool {
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

// asyncErr keeps the first error of asynchronous callbacks.
type asyncErr struct{ p atomic.Pointer[error] }

func (a *asyncErr) cb(_ writer.Result, err error) {
	if err != nil {
		a.p.CompareAndSwap(nil, &err)
	}
}

func (a *asyncErr) err() error {
	if e := a.p.Load(); e != nil {
		return *e
	}
	return nil
}

// ---------------------------------------------------------------------------
// ingestion

// runIngestionBench: the writer pushes SOP, N puts (16-B keys in random
// order, 100-B values), EOP into an 8-partition version topic once. Then,
// on that same topic:
//
//   - Rialto: a fresh server hosts all 8 partitions; the clock runs from the
//     Host call until every partition has committed every record (end-of-
//     push seen, caught up), polled every 2 ms. The compaction of the load
//     that follows before the partitions are ready to serve is reported on
//     its own row: the bare loop does not compact either.
//   - bare: one franz-go client consumes all partitions and writes each
//     record's key and value into a fresh Pebble (same options as the
//     server's: default options, 64 MiB cache) in batches of 1 000 with
//     NoSync; the clock runs from client creation to the last commit.
//
// The runs alternate bare, Rialto, Rialto, bare (full mode) and the best
// of each is kept.
func runIngestionBench(ctx context.Context, cfg Config) ([]Row, error) {
	n, rounds := 1_000_000, 2
	if cfg.Quick {
		n, rounds = 100_000, 1
	}
	env, err := newSrvEnv(ctx, "ingestion")
	if err != nil {
		return nil, err
	}
	defer env.close()
	const topic = "ingest_v1"
	if err := env.createTopic(ctx, topic, srvBenchPartitions, nil); err != nil {
		return nil, err
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, srvValueSchema)
	if err != nil {
		return nil, err
	}
	w, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(topic), writer.Kind(writer.KindVersion), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := pushRows(ctx, w, n, rand.New(rand.NewPCG(5, 1))); err != nil {
		w.Close(ctx)
		return nil, err
	}
	if err := w.Close(ctx); err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "  pushed %d puts in %s\n", n, time.Since(t0).Round(time.Millisecond))
	ends, err := env.endOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	var total int64
	for _, o := range ends {
		total += o
	}

	var bestRialto, bestBare float64
	var compactions []time.Duration
	runRialto := func(round int) error {
		rate, compaction, err := ingestWithServer(ctx, env, topic, n, fmt.Sprintf("server-%d", round))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  rialto server: %.0f rec/s, then %s of compaction until ready\n", rate, compaction.Round(time.Millisecond))
		bestRialto = max(bestRialto, rate)
		compactions = append(compactions, compaction)
		return nil
	}
	runBare := func(round int) error {
		rate, err := ingestBare(ctx, env, topic, total, n, fmt.Sprintf("bare-%d", round))
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "  bare loop:     %.0f rec/s\n", rate)
		bestBare = max(bestBare, rate)
		return nil
	}
	for round := range rounds {
		first, second := runBare, runRialto
		if round%2 == 1 {
			first, second = runRialto, runBare
		}
		if err := first(round); err != nil {
			return nil, err
		}
		if err := second(round); err != nil {
			return nil, err
		}
	}
	best := ""
	if rounds > 1 {
		best = fmt.Sprintf(", best of %d", rounds)
	}
	return []Row{
		AtLeast(Row{
			Figure: fmt.Sprintf("version-topic ingestion, %s puts of 100 B, random key order, 8 partitions%s", count(n), best),
			Value:  bestRialto, Unit: "rec/s",
			Baseline: "bare franz-go consume + Pebble batches of 1 000, NoSync (the server commits one batch per fetched partition, up to 10 000)", BaseValue: bestBare,
			Ratio: bestRialto / bestBare,
		}, 0.7),
		AtLeast(Row{
			Figure: fmt.Sprintf("version-topic ingestion, %s puts of 100 B, absolute (ratio: / 300 K rec/s)", count(n)),
			Value:  bestRialto, Unit: "rec/s",
			Baseline: "bare loop (for reference)", BaseValue: bestBare,
			Ratio: bestRialto / 300_000,
		}, 1),
		{
			Figure: fmt.Sprintf("(info) then the post-push compaction of the load until every partition is ready, %s keys, shortest", count(n)),
			Value:  float64(slices.Min(compactions).Milliseconds()), Unit: "ms",
			Baseline: "ingestion time at the best rate", BaseValue: float64(n) / bestRialto * 1000,
			Ratio: float64(slices.Min(compactions).Milliseconds()) / (float64(n) / bestRialto * 1000),
			Goal:  "(info)", Pass: true,
		},
	}, nil
}

func count(n int) string {
	if n >= 1_000_000 && n%1_000_000 == 0 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// pushRows writes SOP, n puts of 100-B values with 16-B keys in random
// order, EOP.
func pushRows(ctx context.Context, w *writer.Writer, n int, rng *rand.Rand) error {
	if err := w.StartOfPush(ctx, false); err != nil {
		return err
	}
	var ae asyncErr
	payload := make([]byte, 98)
	for _, i := range rng.Perm(n) {
		key := fmt.Appendf(nil, "member-%09d", i)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		v := avrox.AppendBytes(make([]byte, 0, 100), payload) // 2-byte length + 98 bytes
		if err := w.PutBytesAsync(ctx, key, 1, v, ae.cb); err != nil {
			return err
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		return err
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	return ae.err()
}

// ingestWithServer returns the rate at which a fresh server committed the
// topic's n puts, and how long the post-push compaction then took until
// every partition was ready to serve.
func ingestWithServer(ctx context.Context, env *srvEnv, topic string, n int, name string) (float64, time.Duration, error) {
	dir := filepath.Join(env.dir, name)
	defer os.RemoveAll(dir)
	rs, err := startBenchServer(env.brokers, dir)
	if err != nil {
		return 0, 0, err
	}
	defer rs.stop()
	src, err := server.NewStaticSchemaSource(srvValueSchema)
	if err != nil {
		return 0, 0, err
	}
	spec := server.VersionSpec{Store: "ingest", Version: 1, Topic: topic, Partitions: srvBenchPartitions, Schemas: src}
	start := time.Now()
	if err := rs.srv.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		return 0, 0, err
	}
	ingested, err := pollUntil(ctx, 10*time.Minute, 2*time.Millisecond, "server ingestion", func() bool {
		return allIngested(rs.srv.Status(), srvBenchPartitions)
	})
	if err != nil {
		return 0, 0, err
	}
	ready, err := pollUntil(ctx, 10*time.Minute, 2*time.Millisecond, "server readiness", func() bool {
		return allReady(rs.srv.Status(), srvBenchPartitions)
	})
	if err != nil {
		return 0, 0, err
	}
	var records int64
	for _, p := range rs.srv.Status() {
		records += p.Records
	}
	if records != int64(n) {
		return 0, 0, fmt.Errorf("server ingested %d records, want %d", records, n)
	}
	return float64(n) / ingested.Sub(start).Seconds(), ready.Sub(ingested), nil
}

// allIngested: every partition has committed its end-of-push and caught
// up with the topic (ready to serve but for the post-push compaction).
func allIngested(st []server.PartitionStatus, n int) bool {
	if len(st) != n {
		return false
	}
	for _, p := range st {
		if !p.EndOfPush || p.Lag != 0 || p.Failed != "" {
			return false
		}
	}
	return true
}

// ingestBare consumes total records of topic into a fresh Pebble; n of
// them are puts (the rate counts those, like the server's).
func ingestBare(ctx context.Context, env *srvEnv, topic string, total int64, n int, name string) (float64, error) {
	dir := filepath.Join(env.dir, name)
	defer os.RemoveAll(dir)
	cache := pebble.NewCache(64 << 20)
	defer cache.Unref()
	start := time.Now()
	db, err := pebble.Open(dir, storage.PebbleOptions(cache)) // the server's engine settings
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := bareConsumeInto(ctx, db, env.brokers, topic, total); err != nil {
		return 0, err
	}
	return float64(n) / time.Since(start).Seconds(), nil
}

// bareConsumeInto is the baseline loop: consume total records of topic and
// write each key and value into db in batches of 1 000, NoSync.
func bareConsumeInto(ctx context.Context, db *pebble.DB, brokers []string, topic string, total int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		return err
	}
	defer cl.Close()
	b := db.NewBatch()
	var seen int64
	for seen < total {
		fs := cl.PollRecords(ctx, 10_000)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errs := fs.Errors(); len(errs) > 0 {
			return errs[0].Err
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			if ferr != nil {
				return
			}
			if ferr = b.Set(r.Key, r.Value, nil); ferr == nil && b.Count() >= 1000 {
				ferr = b.Commit(pebble.NoSync)
				b.Close()
				b = db.NewBatch()
			}
		})
		if ferr != nil {
			return ferr
		}
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	return b.Close()
}

// ---------------------------------------------------------------------------
// rt-update-path

// rtUpdateInput is the shared input of both sides of rt-update-path.
type rtUpdateInput struct {
	keys    [][]byte
	schema  *partialupdate.Schema
	updates [][]byte // encoded updates, cycled through
	seq     []int32  // per input record: key index
}

func (in *rtUpdateInput) update(i int) []byte { return in.updates[i%len(in.updates)] }

func newRTUpdateInput(nKeys, nUpdates int) (*rtUpdateInput, error) {
	in := &rtUpdateInput{schema: putest.Schema()}
	for i := range nKeys {
		in.keys = append(in.keys, fmt.Appendf(nil, "member-%09d", i))
	}
	for _, c := range putest.Changes() {
		ub, err := c.Update.Encode()
		if err != nil {
			return nil, err
		}
		in.updates = append(in.updates, ub)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	in.seq = make([]int32, nUpdates)
	for i := range in.seq {
		in.seq[i] = int32(rng.IntN(nKeys))
	}
	return in, nil
}

// runRTUpdateBench: 20 000 keys hold the 10-field ~800-B benchmark record
// (putest); 200 000 partial updates (cycling through the 1-, 3- and
// 10-field updates of putest, random keys) are applied to them.
//
//   - Rialto: a version topic pushed with the records and a topic switch to
//     an RT topic holding the updates (writer.UpdateBytesAsync). A fresh
//     server hosts all partitions, catches up with the version topic, then
//     leads every partition; the clock runs from the Lead calls until every
//     partition's processed upstream offset reaches the RT topic's end
//     (resolved, produced to the version topic, acknowledged, committed to
//     Pebble), polled every 5 ms. Each round uses a new version (its own
//     version topic and server); the RT topic is shared.
//   - goka: bench/goka.go; each round a new group, table and LevelDB.
//
// Rounds alternate the order (full: 3, quick: 2); the best of each side is
// kept, and each round checks that both computed the same values.
func runRTUpdateBench(ctx context.Context, cfg Config) ([]Row, error) {
	nKeys, nUpdates, rounds := 20_000, 200_000, 3
	if cfg.Quick {
		nKeys, nUpdates, rounds = 2_000, 20_000, 2
	}
	in, err := newRTUpdateInput(nKeys, nUpdates)
	if err != nil {
		return nil, err
	}
	env, err := newSrvEnv(ctx, "rtupdate")
	if err != nil {
		return nil, err
	}
	defer env.close()
	rtEnds, err := produceRTInputs(ctx, env, in)
	if err != nil {
		return nil, err
	}

	var bestRialto, bestGoka float64
	for round := range rounds {
		var rs *runningServer
		var g *gokaRun
		runRialto := func() error {
			rate, s, err := rialtoRTUpdate(ctx, env, in, int32(round+1), rtEnds)
			if err != nil {
				return err
			}
			rs = s
			fmt.Fprintf(os.Stderr, "  rialto leader:  %.0f updates/s\n", rate)
			bestRialto = max(bestRialto, rate)
			return nil
		}
		runGoka := func() error {
			var err error
			if g, err = gokaRTUpdate(ctx, env, in, round); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "  goka processor: %.0f updates/s\n", g.rate)
			bestGoka = max(bestGoka, g.rate)
			return nil
		}
		first, second := runRialto, runGoka
		if round%2 == 1 {
			first, second = runGoka, runRialto
		}
		err := first()
		if err == nil {
			err = second()
		}
		if err == nil {
			err = crossCheck(rs, g, in, int32(round+1))
		}
		if rs != nil {
			rs.stop()
		}
		if g != nil {
			g.close()
		}
		if err != nil {
			return nil, err
		}
	}
	best := ""
	if rounds > 1 {
		best = fmt.Sprintf(", best of %d", rounds)
	}
	return []Row{AtLeast(Row{
		Figure: fmt.Sprintf("RT partial-update path, %s updates (1/3/10 of 10 fields) on %s keys of ~800 B, 8 partitions: resolve + produce full put to VT + Pebble%s",
			count(nUpdates), count(nKeys), best),
		Value: bestRialto, Unit: "upd/s",
		Baseline:  "goka processor, group table (LevelDB) read-modify-write with partialupdate.Decode+Apply, changelog produced",
		BaseValue: bestGoka, Ratio: bestRialto / bestGoka,
	}, 1.5)}, nil
}

// crossCheck compares a sample of keys: both sides must have computed the
// same values.
func crossCheck(rs *runningServer, g *gokaRun, in *rtUpdateInput, version int32) error {
	rng := rand.New(rand.NewPCG(9, 9))
	for range 200 {
		k := in.keys[rng.IntN(len(in.keys))]
		got, ok, err := rs.srv.Get("items", version, k)
		if err != nil || !ok {
			return fmt.Errorf("rialto %s: found=%v err=%v", k, ok, err)
		}
		want, err := g.get(string(k))
		if err != nil {
			return err
		}
		if !bytes.Equal(got.Bytes, want) {
			return fmt.Errorf("key %s: rialto and goka values differ (%d vs %d bytes)", k, len(got.Bytes), len(want))
		}
	}
	return nil
}

const (
	rtBenchTopic   = "items_rt"
	gokaInputTopic = "rtbench_updates"
)

// produceRTInputs writes the updates twice: framed by the writer to the RT
// topic, and as raw update bytes under the same keys (same partitions) to
// goka's input stream. It returns the RT topic's end offsets.
func produceRTInputs(ctx context.Context, env *srvEnv, in *rtUpdateInput) (map[int32]int64, error) {
	for _, t := range []string{rtBenchTopic, gokaInputTopic} {
		if err := env.createTopic(ctx, t, srvBenchPartitions, nil); err != nil {
			return nil, err
		}
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, putest.SchemaJSON)
	if err != nil {
		return nil, err
	}
	schemas.Updates[1] = 1
	rtw, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(rtBenchTopic), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return nil, err
	}
	err = func() error {
		defer rtw.Close(ctx)
		var ae asyncErr
		for i, k := range in.seq {
			if err := rtw.UpdateBytesAsync(ctx, in.keys[k], 1, 1, in.update(i), ae.cb); err != nil {
				return err
			}
		}
		if err := rtw.Flush(ctx); err != nil {
			return err
		}
		return ae.err()
	}()
	if err != nil {
		return nil, err
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return nil, err
	}
	var perr asyncErr
	for i, k := range in.seq {
		key := in.keys[k]
		prod.Produce(ctx, &kgo.Record{Topic: gokaInputTopic, Key: key, Value: in.update(i), Partition: wire.Partition(key, srvBenchPartitions)},
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
	return env.endOffsets(ctx, rtBenchTopic)
}

// rialtoRTUpdate runs the Rialto side on a new version (its own version
// topic, the shared RT topic) and returns its rate and the server, left
// running for the cross-check.
func rialtoRTUpdate(ctx context.Context, env *srvEnv, in *rtUpdateInput, version int32, rtEnds map[int32]int64) (float64, *runningServer, error) {
	vt := fmt.Sprintf("items_v%d", version)
	if err := env.createTopic(ctx, vt, srvBenchPartitions, nil); err != nil {
		return 0, nil, err
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, putest.SchemaJSON)
	if err != nil {
		return 0, nil, err
	}
	vtw, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return 0, nil, err
	}
	err = func() error {
		defer vtw.Close(ctx)
		if err := vtw.StartOfPush(ctx, false); err != nil {
			return err
		}
		var ae asyncErr
		rec := putest.Record()
		for _, k := range in.keys {
			if err := vtw.PutBytesAsync(ctx, k, 1, rec, ae.cb); err != nil {
				return err
			}
		}
		if err := vtw.EndOfPush(ctx); err != nil {
			return err
		}
		if err := vtw.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: env.brokers}}, Topic: rtBenchTopic, RewindStart: 0}); err != nil {
			return err
		}
		return ae.err()
	}()
	if err != nil {
		return 0, nil, err
	}

	rs, err := startBenchServer(env.brokers, filepath.Join(env.dir, fmt.Sprintf("server-%d", version)))
	if err != nil {
		return 0, nil, err
	}
	fail := func(err error) (float64, *runningServer, error) { rs.stop(); return 0, nil, err }
	src, err := server.NewStaticSchemaSource(putest.SchemaJSON)
	if err != nil {
		return fail(err)
	}
	spec := server.VersionSpec{Store: "items", Version: version, Topic: vt, Partitions: srvBenchPartitions, KeySchema: schemas.Key, Schemas: src}
	if err := rs.srv.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		return fail(err)
	}
	if _, err := pollUntil(ctx, 5*time.Minute, 5*time.Millisecond, "version topic ingested", func() bool {
		return allReady(rs.srv.Status(), srvBenchPartitions)
	}); err != nil {
		return fail(err)
	}
	start := time.Now()
	for p := range int32(srvBenchPartitions) {
		if err := rs.srv.Lead("items", version, p); err != nil {
			return fail(err)
		}
	}
	end, err := pollUntil(ctx, 10*time.Minute, 5*time.Millisecond, "RT replayed", func() bool {
		return replayedTo(rs.srv.Status(), rtEnds)
	})
	if err != nil {
		return fail(err)
	}
	var skipped int64
	for _, st := range rs.srv.Status() {
		skipped += st.Skipped
	}
	if skipped > 0 {
		return fail(fmt.Errorf("the leaders skipped %d RT records", skipped))
	}
	return float64(len(in.seq)) / end.Sub(start).Seconds(), rs, nil
}

// replayedTo reports whether every partition has processed its RT
// partition (region 0) up to ends.
func replayedTo(st []server.PartitionStatus, ends map[int32]int64) bool {
	if len(st) != len(ends) {
		return false
	}
	for _, p := range st {
		end := ends[p.Partition]
		if end == 0 {
			continue
		}
		done := false
		for _, u := range p.Upstream {
			if u.Region == 0 && u.Partition == p.Partition && u.Offset >= end {
				done = true
			}
		}
		if !done {
			return false
		}
	}
	return true
}

// ---------------------------------------------------------------------------
// freshness

// runFreshnessBench: a version of 1 000 keys is pushed and topic-switched
// to an RT topic; a server leads all 8 partitions. Each sample writes a
// fresh 100-B value with the writer — alternately a put and a partial
// update setting the field, each waiting for the broker's acknowledgement
// — and polls Server.Get in-process every 100 µs until the new value is
// read. The same is measured with a second writer whose franz-go client
// has ProducerLinger(0): franz-go's default 10 ms linger is what a
// synchronous writer call mostly waits for. The baseline sample produces a record with a plain
// franz-go client (ProduceSync) to another 8-partition topic and waits
// until an already-running franz-go consumer (same FetchMaxWait as the
// leader's RT consumer, 50 ms) has it. Samples alternate, one every 10 ms.
func runFreshnessBench(ctx context.Context, cfg Config) ([]Row, error) {
	samples := 1000
	if cfg.Quick {
		samples = 200
	}
	const nKeys = 1000
	env, err := newSrvEnv(ctx, "freshness")
	if err != nil {
		return nil, err
	}
	defer env.close()
	const vt, rt, plain = "fresh_v1", "fresh_rt", "fresh_plain"
	for _, t := range []string{vt, rt, plain} {
		if err := env.createTopic(ctx, t, srvBenchPartitions, nil); err != nil {
			return nil, err
		}
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, srvValueSchema)
	if err != nil {
		return nil, err
	}
	vtw, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return nil, err
	}
	if err := pushRows(ctx, vtw, nKeys, rand.New(rand.NewPCG(3, 3))); err != nil {
		vtw.Close(ctx)
		return nil, err
	}
	if err := vtw.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: env.brokers}}, Topic: rt, RewindStart: 0}); err != nil {
		vtw.Close(ctx)
		return nil, err
	}
	if err := vtw.Close(ctx); err != nil {
		return nil, err
	}

	rs, err := startBenchServer(env.brokers, filepath.Join(env.dir, "server"))
	if err != nil {
		return nil, err
	}
	defer rs.stop()
	src, err := server.NewStaticSchemaSource(srvValueSchema)
	if err != nil {
		return nil, err
	}
	spec := server.VersionSpec{Store: "fresh", Version: 1, Topic: vt, Partitions: srvBenchPartitions, KeySchema: schemas.Key, Schemas: src}
	if err := rs.srv.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		return nil, err
	}
	if _, err := pollUntil(ctx, time.Minute, 5*time.Millisecond, "version ingested", func() bool {
		return allReady(rs.srv.Status(), srvBenchPartitions)
	}); err != nil {
		return nil, err
	}
	for p := range int32(srvBenchPartitions) {
		if err := rs.srv.Lead("fresh", 1, p); err != nil {
			return nil, err
		}
	}
	if _, err := pollUntil(ctx, time.Minute, 5*time.Millisecond, "leading", func() bool {
		for _, st := range rs.srv.Status() {
			if !st.Leader {
				return false
			}
		}
		return true
	}); err != nil {
		return nil, err
	}
	schemas.Updates[1] = 1
	derived, err := partialupdate.Derive(schemas.Values[1])
	if err != nil {
		return nil, err
	}
	rtw, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(rt), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return nil, err
	}
	defer rtw.Close(context.Background())
	rtw0, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(rt), writer.Schemas(schemas), writer.Logger(srvQuiet),
		writer.KafkaOpts(kgo.ProducerLinger(0)))
	if err != nil {
		return nil, err
	}
	defer rtw0.Close(context.Background())

	// The baseline's producer and consumer.
	prod, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...), kgo.DefaultProduceTopic(plain))
	if err != nil {
		return nil, err
	}
	defer prod.Close()
	cons, err := kgo.NewClient(kgo.SeedBrokers(env.brokers...), kgo.ConsumeTopics(plain),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()), kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	got := make(chan uint64, 16)
	consCtx, stopCons := context.WithCancel(ctx)
	consDone := make(chan struct{})
	go func() {
		defer close(consDone)
		for {
			fs := cons.PollFetches(consCtx)
			if consCtx.Err() != nil {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				if len(r.Value) >= 8 {
					got <- binary.BigEndian.Uint64(r.Value)
				}
			})
		}
	}()
	defer func() { stopCons(); <-consDone; cons.Close() }()

	keys := make([][]byte, nKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "member-%09d", i)
	}
	rng := rand.New(rand.NewPCG(4, 4))
	var seq uint64
	var acks, acks0 []time.Duration
	payload := make([]byte, 98)
	rialtoSample := func(w *writer.Writer, acks *[]time.Duration) (time.Duration, error) {
		seq++
		k := keys[rng.IntN(nKeys)]
		binary.BigEndian.PutUint64(payload, seq)
		v := avrox.AppendBytes(nil, payload)
		var ub []byte
		if seq%2 == 0 { // every other sample is a partial update setting the field
			u, err := partialupdate.NewBuilder(derived).Set("b", slices.Clone(payload)).Build()
			if err == nil {
				ub, err = u.Encode()
			}
			if err != nil {
				return 0, err
			}
		}
		t0 := time.Now()
		var err error
		if ub != nil {
			_, err = w.UpdateBytes(ctx, k, 1, 1, ub)
		} else {
			_, err = w.PutBytes(ctx, k, 1, v)
		}
		if err != nil {
			return 0, err
		}
		*acks = append(*acks, time.Since(t0))
		for {
			cur, ok, err := rs.srv.Get("fresh", 1, k)
			if err != nil {
				return 0, err
			}
			if ok && bytes.Equal(cur.Bytes, v) {
				return time.Since(t0), nil
			}
			if time.Since(t0) > 30*time.Second {
				return 0, fmt.Errorf("write of %s not readable after 30 s", k)
			}
			time.Sleep(100 * time.Microsecond)
		}
	}
	baseSample := func() (time.Duration, error) {
		seq++
		k := keys[rng.IntN(nKeys)]
		binary.BigEndian.PutUint64(payload, seq)
		t0 := time.Now()
		if err := prod.ProduceSync(ctx, &kgo.Record{Key: k, Value: slices.Clone(payload)}).FirstErr(); err != nil {
			return 0, err
		}
		timeout := time.After(30 * time.Second)
		for {
			select {
			case s := <-got:
				if s == seq {
					return time.Since(t0), nil
				}
			case <-timeout:
				return 0, errors.New("baseline record not consumed after 30 s")
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	// Warm-up: connections, metadata, first fetches.
	for range 20 {
		if _, err := rialtoSample(rtw, &acks); err != nil {
			return nil, err
		}
		if _, err := rialtoSample(rtw0, &acks0); err != nil {
			return nil, err
		}
		if _, err := baseSample(); err != nil {
			return nil, err
		}
	}
	acks, acks0 = acks[:0], acks0[:0]
	var rialto, rialto0, base []time.Duration
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for len(rialto) < samples {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		d, err := rialtoSample(rtw, &acks)
		if err != nil {
			return nil, err
		}
		rialto = append(rialto, d)
		if d, err = rialtoSample(rtw0, &acks0); err != nil {
			return nil, err
		}
		rialto0 = append(rialto0, d)
		if d, err = baseSample(); err != nil {
			return nil, err
		}
		base = append(base, d)
	}
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	rq, rq0, bq := srvQuantiles(rialto), srvQuantiles(rialto0), srvQuantiles(base)
	aq, aq0 := srvQuantiles(acks), srvQuantiles(acks0)
	fmt.Fprintf(os.Stderr, "  rialto  write→readable  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (writer ack p50 %6.2f ms, p99 %6.2f ms)\n", ms(rq.p50), ms(rq.p99), ms(rq.max), ms(aq.p50), ms(aq.p99))
	fmt.Fprintf(os.Stderr, "  linger0 write→readable  p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms  (writer ack p50 %6.2f ms, p99 %6.2f ms)\n", ms(rq0.p50), ms(rq0.p99), ms(rq0.max), ms(aq0.p50), ms(aq0.p99))
	fmt.Fprintf(os.Stderr, "  bare    produce→consume p50 %6.2f ms  p99 %6.2f ms  max %6.2f ms\n", ms(bq.p50), ms(bq.p99), ms(bq.max))
	return []Row{
		AtMost(Row{
			Figure: fmt.Sprintf("freshness: writer put or update (acked) → Server.Get sees it, leading server, p99 of %d (ratio: p99 / 50 ms)", samples),
			Value:  ms(rq.p99), Unit: "ms",
			Baseline: "franz-go ProduceSync → running consumer has it, same broker, p99", BaseValue: ms(bq.p99),
			Ratio: ms(rq.p99) / 50,
		}, 1),
		{
			Figure: fmt.Sprintf("freshness p50 of %d (ratio: p50 / 50 ms)", samples),
			Value:  ms(rq.p50), Unit: "ms",
			Baseline: "franz-go ProduceSync → consumer, p50", BaseValue: ms(bq.p50),
			Ratio: ms(rq.p50) / 50, Goal: "(info)", Pass: true,
		},
		{
			Figure: fmt.Sprintf("freshness p99 of %d, writer with kgo.ProducerLinger(0) (franz-go's default linger is 10 ms; a sync Put waits it out) (ratio: / 50 ms)", samples),
			Value:  ms(rq0.p99), Unit: "ms",
			Baseline: "franz-go ProduceSync → consumer, p99", BaseValue: ms(bq.p99),
			Ratio: ms(rq0.p99) / 50, Goal: "(info)", Pass: true,
		},
		{
			Figure: fmt.Sprintf("freshness p50 of %d, writer with kgo.ProducerLinger(0) (ratio: / 50 ms)", samples),
			Value:  ms(rq0.p50), Unit: "ms",
			Baseline: "franz-go ProduceSync → consumer, p50", BaseValue: ms(bq.p50),
			Ratio: ms(rq0.p50) / 50, Goal: "(info)", Pass: true,
		},
	}, nil
}

type srvQ struct{ p50, p99, max time.Duration }

func srvQuantiles(ds []time.Duration) srvQ {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return srvQ{at(0.50), at(0.99), s[len(s)-1]}
}
