package server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

// setCrashHook installs a crash hook for one test; it decides with a
// seeded random source how often each stage crashes.
func setCrashHook(t *testing.T, seed int64, prob map[string]float64) *atomic.Int64 {
	var mu sync.Mutex
	rng := rand.New(rand.NewSource(seed))
	var crashes atomic.Int64
	hook := func(stage string, _ storage.PartitionID) bool {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < prob[stage] {
			crashes.Add(1)
			t.Logf("crash at %s", stage)
			return true
		}
		return false
	}
	crashHook.Store(&hook)
	old := leaderRestartPause
	leaderRestartPause = 10 * time.Millisecond
	t.Cleanup(func() { crashHook.Store(nil); leaderRestartPause = old })
	return &crashes
}

// TestFollowerCrashesResumeExactly crashes version-topic ingestion between
// building a batch and committing it, restarts the server on the same
// data, and checks the end state against what was written: nothing lost,
// nothing applied twice (a re-applied older put would resurrect a value).
func TestFollowerCrashesResumeExactly(t *testing.T) {
	env := kafkatest.New(t)
	const partitions, keys, writes = 3, 300, 6000
	vt := env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	schemas, _ := writer.NewStaticSchemas(`"string"`, testValueSchema)
	ctx := context.Background()
	w, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
	if err != nil {
		t.Fatal(err)
	}
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	model := map[string][]byte{}
	w.StartOfPush(ctx, false)
	for i := 0; i < writes; i++ {
		key := fmt.Sprint("k", rng.Intn(keys))
		if rng.Intn(5) == 0 {
			delete(model, key)
			w.DeleteBytesAsync(ctx, []byte(key), func(writer.Result, error) {})
			continue
		}
		v := avroBytesValue([]byte(fmt.Sprint("v", i)))
		model[key] = v
		w.PutBytesAsync(ctx, []byte(key), 1, v, func(writer.Result, error) {})
	}
	w.EndOfPush(ctx)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	crashes := setCrashHook(t, seed, map[string]float64{"ingest-before-commit": 0.3})
	dir := t.TempDir()
	spec := VersionSpec{Store: "s", Version: 1, Topic: vt, Partitions: partitions}
	var s *Server
	for round := 0; ; round++ {
		before := crashes.Load()
		s, err = New(Config{Brokers: env.Brokers(), DataDir: dir, Logger: quietLogger(), MaxPollRecords: 100})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.Run(rctx) }()
		s.Host(rctx, spec, 0, 1, 2)
		deadline := time.Now().Add(time.Minute)
		for !allReady(s, partitions) && crashes.Load() == before && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		crashed := crashes.Load() != before
		if !crashed && !allReady(s, partitions) {
			t.Fatal("ingestion neither finished nor crashed")
		}
		if !crashed {
			defer func() { cancel(); <-done; s.Close() }()
			t.Logf("finished after %d crash-restarts", round)
			break
		}
		cancel()
		<-done
		s.Close()
		if round > 200 {
			t.Fatal("too many rounds")
		}
	}
	if crashes.Load() == 0 {
		t.Fatal("no crash was injected")
	}
	for i := 0; i < keys; i++ {
		key := fmt.Sprint("k", i)
		v, ok, err := s.Get("s", 1, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		want, exists := model[key]
		if ok != exists || (ok && !bytes.Equal(v.Bytes, want)) {
			t.Fatalf("%s: found=%v value=%q, want found=%v value=%q", key, ok, v.Bytes, exists, want)
		}
	}
}

// TestLeaderCrashesResumeExactly crashes the leader after the version topic
// acknowledged its writes but before the local commit (and sometimes the
// whole server), and checks every key against the reference model.
func TestLeaderCrashesResumeExactly(t *testing.T) {
	const partitions, keys = 3, 100
	f := newNearlineFixture(t, partitions, keys/2)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	crashes := setCrashHook(t, seed, map[string]float64{"leader-before-commit": 0.4, "ingest-before-commit": 0.15})
	spec := f.spec(t)
	dir := t.TempDir()
	ctx := context.Background()
	// started counts crashes when the current server started: a server
	// that crashed is dead until restarted, whether that happened during
	// this round's writes or before them.
	var started int64
	var stop func()
	start := func() *Server {
		started = crashes.Load()
		s, err := New(Config{Brokers: f.env.Brokers(), DataDir: dir, Logger: quietLogger(), MaxPollRecords: 50})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); s.Run(rctx) }()
		s.Host(rctx, spec, 0, 1, 2)
		for p := int32(0); p < partitions; p++ {
			s.Lead("profiles", 1, p)
		}
		stop = func() { cancel(); <-done; s.Close(); stop = nil }
		return s
	}
	// Runs before setCrashHook's cleanup, so no server outlives the hook.
	t.Cleanup(func() {
		if stop != nil {
			stop()
		}
	})
	s := start()
	for round := 0; round < 6; round++ {
		for i := 0; i < 400; i++ {
			f.randomWrite(t, rng, keys)
		}
		f.flush(t)
		// Wait until this round's server has reached a crash point: under the
		// race detector start-up alone can outlast a short random sleep, and
		// a round that never ingests tests nothing.
		deadline := time.Now().Add(time.Minute)
		for crashes.Load() == started && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if crashes.Load() == started {
			for _, st := range s.Status() {
				t.Logf("%+v", st)
			}
			t.Fatalf("round %d: no crash point reached within a minute", round)
		}
		time.Sleep(time.Duration(rng.Intn(300)) * time.Millisecond)
		stop() // a whole-server restart on top of the in-process leader crashes
		s = start()
	}
	// Let the last round finish without further crashes.
	crashHook.Store(nil)
	stop()
	s = start()
	f.waitReplayed(t, s)
	f.checkReads(t, s, keys)
	t.Logf("%d crashes injected", crashes.Load())
	if crashes.Load() == 0 {
		t.Fatal("no crash was injected")
	}
}
