package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server/storage"
)

// TestServerProcess is not a test: TestKill9 runs the test binary again
// with RIALTO_SERVER_PROCESS set, and this function is then a server
// process that hosts and leads every partition, printing its status as
// JSON lines until it is killed.
func TestServerProcess(t *testing.T) {
	cfgJSON := os.Getenv("RIALTO_SERVER_PROCESS")
	if cfgJSON == "" {
		t.Skip("only runs as the child of TestKill9")
	}
	var c struct {
		Brokers    []string
		Dir, Topic string
		Partitions int32
	}
	if err := json.Unmarshal([]byte(cfgJSON), &c); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Brokers: c.Brokers, DataDir: c.Dir, Logger: quietLogger(), MaxPollRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	// SIGTERM stops it cleanly (the final round); SIGKILL is the crash.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	runDone := make(chan struct{})
	go func() { defer close(runDone); s.Run(ctx) }()
	src, _ := NewStaticSchemaSource(profileSchema)
	spec := VersionSpec{Store: "profiles", Version: 1, Topic: c.Topic, Partitions: c.Partitions, Schemas: src}
	all := make([]int32, c.Partitions)
	for i := range all {
		all[i] = int32(i)
	}
	if err := s.Host(context.Background(), spec, all...); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		s.Lead("profiles", 1, p)
	}
	out := json.NewEncoder(os.Stdout)
	for ctx.Err() == nil {
		out.Encode(s.Status())
		time.Sleep(50 * time.Millisecond)
	}
	<-runDone
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const partitions, keys = 3, 100
	f := newNearlineFixture(t, partitions, keys/2)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	dir := t.TempDir()
	cfg, _ := json.Marshal(map[string]any{"Brokers": f.env.Brokers(), "Dir": dir, "Topic": f.vt, "Partitions": partitions})

	// start runs a server process and returns a channel of its status lines.
	start := func() (*exec.Cmd, <-chan []PartitionStatus) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestServerProcess$", "-test.v=false")
		cmd.Env = append(os.Environ(), "RIALTO_SERVER_PROCESS="+string(cfg))
		cmd.Stderr = os.Stderr
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		statuses := make(chan []PartitionStatus, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for sc.Scan() {
				var st []PartitionStatus
				if json.Unmarshal(sc.Bytes(), &st) == nil {
					select {
					case <-statuses:
					default:
					}
					statuses <- st
				}
			}
			close(statuses)
		}()
		return cmd, statuses
	}
	kill := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
	}
	for round := 0; round < 5; round++ {
		cmd, _ := start()
		for i := 0; i < 300; i++ {
			f.randomWrite(t, rng, keys)
		}
		f.flush(t)
		time.Sleep(time.Duration(200+rng.Intn(600)) * time.Millisecond)
		kill(cmd)
	}
	// A last run to the end of the RT topic, then kill -9 once more.
	ends, err := f.env.Admin(t).ListEndOffsets(context.Background(), f.rt)
	if err != nil {
		t.Fatal(err)
	}
	cmd, statuses := start()
	deadline := time.After(time.Minute)
	var last []PartitionStatus
	for done := false; !done; {
		select {
		case st, ok := <-statuses:
			last = st
			if !ok {
				t.Fatal("server process exited")
			}
			done = len(st) == partitions
			for _, p := range st {
				o, _ := ends.Lookup(f.rt, p.Partition)
				if o.Offset > 0 && upstreamOf(p, 0) < o.Offset {
					done = false
				}
			}
		case <-deadline:
			kill(cmd)
			js, _ := json.MarshalIndent(last, "", " ")
			t.Fatalf("server process did not replay the RT topic (ends %v); last status:\n%s", ends, js)
		}
	}
	// Stop it cleanly: a killed process may lose the tail of Pebble's
	// write-ahead log (commits do not wait for the OS), which only means it
	// resumes from an earlier checkpoint next time — the rounds above.
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("server process did not stop cleanly: %v", err)
	}

	// What the process left on disk is the whole truth.
	db, err := storage.Open(dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < keys; i++ {
		key := fmt.Sprintf("user-%d", i)
		id := storage.PartitionID{Store: "profiles", Version: 1, Partition: wire.Partition([]byte(key), partitions)}
		rec, ok, err := db.Get(id, []byte(key))
		if err != nil {
			t.Fatal(err)
		}
		want, exists := f.model[key]
		got := ok && !rec.Tombstone()
		if got != exists {
			t.Fatalf("%s: found=%v, want %v", key, got, exists)
		}
		if got {
			ck, _, err := db.Checkpoint(id)
			if err != nil {
				t.Fatal(err)
			}
			var codec *valuecomp.Codec
			if sop := ck.StartOfPush; sop != nil && sop.Compression != wire.CompressionNone {
				if codec, err = valuecomp.New(sop.Compression, sop.Dictionary); err != nil {
					t.Fatal(err)
				}
			}
			v, err := decodeStored(rec, nil, codec)
			if err != nil || string(v) != string(want) {
				t.Fatalf("%s: stored value differs (%v)", key, err)
			}
		}
	}
}
