package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/sinktest"
	"github.com/rialtodb/rialto/writer"
)

// crashing fails every write after the first n with a fatal error, the way
// a writer whose process is dying does: the processor stops, and nothing
// after the failure is committed.
type crashing struct {
	w    sink.Writer
	left atomic.Int64
}

func (c *crashing) WriteAsync(ctx context.Context, op sink.Op, cb func(error)) error {
	if c.left.Add(-1) < 0 {
		return writer.ErrClosed
	}
	return c.w.WriteAsync(ctx, op, cb)
}

func runUntilDone(t *testing.T, env *kafkatest.Env, c Config, input string) error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Run(ctx, c) }()
	ends, err := env.Admin(t).ListEndOffsets(ctx, input)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(90 * time.Second)
	for {
		select {
		case err := <-done:
			return err
		case <-deadline:
			t.Fatal("the processor did not catch up")
		case <-time.After(50 * time.Millisecond):
		}
		offs, err := env.Admin(t).FetchOffsets(ctx, c.Group)
		if err != nil {
			continue
		}
		caught := true
		ends.Each(func(o kadm.ListedOffset) {
			if c, _ := offs.Lookup(input, o.Partition); o.Offset > 0 && c.At < o.Offset {
				caught = false
			}
		})
		if caught {
			cancel()
			return <-done
		}
	}
}

// TestClicksToProfiles: the example end to end against kfake and a served
// store; a run that fails mid-stream and restarts loses nothing and ends
// in exactly the state of one clean run.
func TestClicksToProfiles(t *testing.T) {
	env := kafkatest.New(t)
	input := env.Topic(t, 2, nil)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const n, users = 400, 12
	var recs []*kgo.Record
	clicks := map[string]int{}
	t0 := time.Now().Add(-time.Hour)
	for i := range n {
		u := fmt.Sprintf("user-%d", rng.Intn(users))
		clicks[u]++
		recs = append(recs, &kgo.Record{Topic: input, Key: []byte(u), Timestamp: t0.Add(time.Duration(i/4) * time.Millisecond),
			Value: fmt.Appendf(nil, `{"user":%q,"item":"item-%d"}`, u, rng.Intn(9))})
	}
	if err := env.Client(t).ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	keys := make([]string, users)
	for i := range keys {
		keys[i] = fmt.Sprintf("user-%d", i)
	}

	clean := sinktest.NewStore(t, env, "clean", 2)
	cfg := Config{Controller: clean.ControllerURL, Store: "clean", Input: input, Group: "profiles-clean", Replication: 1, StorageDir: t.TempDir()}
	if err := runUntilDone(t, env, cfg, input); err != nil {
		t.Fatalf("clean run: %v", err)
	}
	clean.WaitReplayed(t)
	want := clean.Snapshot(t, keys)
	for u, c := range clicks {
		if !strings.Contains(want[u], fmt.Sprintf(`"clicks":%d,`, c)) {
			t.Fatalf("%s: %s, want %d clicks", u, want[u], c)
		}
	}

	crashy := sinktest.NewStore(t, env, "crashy", 2)
	cfg = Config{Controller: crashy.ControllerURL, Store: "crashy", Input: input, Group: "profiles-crashy", Replication: 1, StorageDir: t.TempDir()}
	for _, after := range []int64{int64(50 + rng.Intn(100)), int64(5 + rng.Intn(20))} {
		c := cfg
		c.wrap = func(w sink.Writer) sink.Writer {
			cw := &crashing{w: w}
			cw.left.Store(after)
			return cw
		}
		err := runUntilDone(t, env, c, input)
		if err == nil || !errors.Is(err, writer.ErrClosed) {
			t.Fatalf("crash after %d writes: Run returned %v", after, err)
		}
		t.Logf("failed after %d writes: %v", after, firstLine(err))
	}
	if err := runUntilDone(t, env, cfg, input); err != nil {
		t.Fatalf("last run: %v", err)
	}
	crashy.WaitReplayed(t)
	got := crashy.Snapshot(t, keys)
	for _, k := range keys {
		if got[k] != want[k] {
			t.Errorf("%s:\n after failures %s\n     clean run %s", k, got[k], want[k])
		}
	}
}

func firstLine(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
