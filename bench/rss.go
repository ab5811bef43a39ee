package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

func init() {
	Register(Case{Name: "rss", Issue: 9, Run: runRSSBench})
}

// rssChildEnv, when set, makes the bench binary a child process of the
// rss case instead of the harness: its value is a JSON rssJob.
const rssChildEnv = "RIALTO_BENCH_RSS_CHILD"

// rssCache is the block cache both children get: the server's default.
const rssCache = 512 << 20

// rssJob tells a child what to ingest and read.
type rssJob struct {
	Kind    string // "server" or "pebble"
	Brokers []string
	Topic   string
	Dir     string
	Keys    int   // puts in the topic
	Total   int64 // records in the topic (puts plus control messages)
	Reads   int
}

// rssReport is the child's one line of output.
type rssReport struct {
	PeakKiB   int64   `json:"peakKiB"` // VmHWM after ingesting and reading
	IngestSec float64 `json:"ingestSec"`
	Err       string  `json:"err,omitempty"`
}

// runRSSBench: a version topic of N puts (16-B keys, 100-B values, 8
// partitions) is pushed once; then two child processes ingest it in turn
// and read random keys, and each reports its peak resident set (VmHWM):
//
//   - the server: server.New with its defaults (512 MiB block cache),
//     hosting every partition, ingesting until ready, then Server.Get of
//     the random keys;
//   - the baseline: bare franz-go consume + Pebble batches into a Pebble
//     with the same block cache and bloom filters, then Pebble gets of the
//     same keys.
//
// Children keep the measurement clear of the harness's own memory (the
// in-process broker holds the whole topic). The ratio is server peak /
// bare peak; the goal says the server's bookkeeping (DIV state,
// checkpoints, RMD space, read path) stays a small overhead over the
// storage engine itself, at 1 M keys and at 10 M.
func runRSSBench(ctx context.Context, cfg Config) ([]Row, error) {
	sizes := []int{1_000_000, 10_000_000}
	if cfg.Quick {
		sizes = []int{100_000}
	}
	var rows []Row
	for _, n := range sizes {
		srv, bare, err := rssAt(ctx, n)
		if err != nil {
			return nil, err
		}
		rows = append(rows, AtMost(Row{
			Figure: fmt.Sprintf("server peak RSS, %s keys of 100 B ingested (8 partitions, default 512 MiB cache) then 200k random gets (ingest %.1fs)",
				count(n), srv.IngestSec),
			Value: float64(srv.PeakKiB) / 1024, Unit: "MiB",
			Baseline:  fmt.Sprintf("bare consume + Pebble batches, same cache and filters, same gets (ingest %.1fs)", bare.IngestSec),
			BaseValue: float64(bare.PeakKiB) / 1024,
			Ratio:     float64(srv.PeakKiB) / float64(bare.PeakKiB),
		}, 1.5))
	}
	return rows, nil
}

func rssAt(ctx context.Context, n int) (srv, bare rssReport, err error) {
	env, err := newSrvEnv(ctx, "rss")
	if err != nil {
		return srv, bare, err
	}
	defer env.close()
	topic := fmt.Sprintf("rss-%d", n)
	if err := env.createTopic(ctx, topic, srvBenchPartitions, nil); err != nil {
		return srv, bare, err
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, srvValueSchema)
	if err != nil {
		return srv, bare, err
	}
	w, err := writer.New(writer.Brokers(env.brokers...), writer.Topic(topic), writer.Kind(writer.KindVersion), writer.Schemas(schemas), writer.Logger(srvQuiet))
	if err != nil {
		return srv, bare, err
	}
	err = pushRows(ctx, w, n, rand.New(rand.NewPCG(9, uint64(n))))
	if cerr := w.Close(ctx); err == nil {
		err = cerr
	}
	if err != nil {
		return srv, bare, err
	}
	ends, err := env.endOffsets(ctx, topic)
	if err != nil {
		return srv, bare, err
	}
	var total int64
	for _, o := range ends {
		total += o
	}
	job := rssJob{Brokers: env.brokers, Topic: topic, Keys: n, Total: total, Reads: 200_000}
	for _, kind := range []string{"server", "pebble"} {
		job.Kind, job.Dir = kind, filepath.Join(env.dir, kind)
		rep, err := runRSSChild(ctx, job)
		if err != nil {
			return srv, bare, fmt.Errorf("%s child: %w", kind, err)
		}
		if kind == "server" {
			srv = rep
		} else {
			bare = rep
		}
		os.RemoveAll(job.Dir)
	}
	return srv, bare, nil
}

func runRSSChild(ctx context.Context, job rssJob) (rssReport, error) {
	exe, err := os.Executable()
	if err != nil {
		return rssReport{}, err
	}
	spec, _ := json.Marshal(job)
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), rssChildEnv+"="+string(spec))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return rssReport{}, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	var rep rssReport
	if err := json.Unmarshal(bytes.TrimSpace(out), &rep); err != nil {
		return rssReport{}, fmt.Errorf("child answered %q: %w", out, err)
	}
	if rep.Err != "" {
		return rssReport{}, errors.New(rep.Err)
	}
	return rep, nil
}

// rssChildMain runs a child job from the environment and exits; it returns
// only when this process is not a child.
func rssChildMain() {
	spec := os.Getenv(rssChildEnv)
	if spec == "" {
		return
	}
	var job rssJob
	rep := rssReport{}
	err := json.Unmarshal([]byte(spec), &job)
	if err == nil {
		start := time.Now()
		switch job.Kind {
		case "server":
			err = rssServerChild(job, start, &rep)
		case "pebble":
			err = rssPebbleChild(job, start, &rep)
		default:
			err = fmt.Errorf("unknown child kind %q", job.Kind)
		}
	}
	if err == nil {
		rep.PeakKiB, err = peakRSSKiB()
	}
	if err != nil {
		rep.Err = err.Error()
	}
	json.NewEncoder(os.Stdout).Encode(rep)
	os.Exit(0)
}

func rssServerChild(job rssJob, start time.Time, rep *rssReport) error {
	ctx := context.Background()
	rs, err := startBenchServer(job.Brokers, job.Dir)
	if err != nil {
		return err
	}
	defer rs.stop()
	src, err := server.NewStaticSchemaSource(srvValueSchema)
	if err != nil {
		return err
	}
	spec := server.VersionSpec{Store: "rss", Version: 1, Topic: job.Topic, Partitions: srvBenchPartitions, Schemas: src}
	if err := rs.srv.Host(ctx, spec, 0, 1, 2, 3, 4, 5, 6, 7); err != nil {
		return err
	}
	if _, err := pollUntil(ctx, 30*time.Minute, 10*time.Millisecond, "server ingestion", func() bool {
		return allReady(rs.srv.Status(), srvBenchPartitions)
	}); err != nil {
		return err
	}
	rep.IngestSec = time.Since(start).Seconds()
	rng := rand.New(rand.NewPCG(3, 3))
	for range job.Reads {
		key := fmt.Appendf(nil, "member-%09d", rng.IntN(job.Keys))
		if _, ok, err := rs.srv.Get("rss", 1, key); err != nil || !ok {
			return fmt.Errorf("get %s: found=%v err=%v", key, ok, err)
		}
	}
	return nil
}

func rssPebbleChild(job rssJob, start time.Time, rep *rssReport) error {
	ctx := context.Background()
	cache := pebble.NewCache(rssCache)
	defer cache.Unref()
	db, err := pebble.Open(job.Dir, storage.PebbleOptions(cache)) // the server's engine settings
	if err != nil {
		return err
	}
	defer db.Close()
	if err := bareConsumeInto(ctx, db, job.Brokers, job.Topic, job.Total); err != nil {
		return err
	}
	rep.IngestSec = time.Since(start).Seconds()
	// The bare loop stored the topic's record keys: the data-key kind byte
	// then the user key.
	rng := rand.New(rand.NewPCG(3, 3))
	for range job.Reads {
		key := wire.AppendDataKey(nil, fmt.Appendf(nil, "member-%09d", rng.IntN(job.Keys)))
		v, closer, err := db.Get(key)
		if err != nil {
			return fmt.Errorf("pebble get %q: %w", key, err)
		}
		_ = v
		closer.Close()
	}
	return nil
}

// peakRSSKiB reads this process's peak resident set (VmHWM) in KiB.
func peakRSSKiB() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS needs Linux /proc: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmHWM in /proc/self/status")
}
