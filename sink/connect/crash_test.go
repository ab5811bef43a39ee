package connect

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink/sinktest"
)

// crashInput is a stream of updates, list adds and removes, map puts and
// tombstones over few keys, with many records of a key in the same
// millisecond and timestamps that sometimes go backwards.
func crashInput(rng *rand.Rand, n, keys int) ([]*kgo.Record, []string) {
	var recs []*kgo.Record
	for i := range n {
		key := fmt.Sprintf("k%d", rng.Intn(keys))
		ts := t0 + int64(i/7) - int64(rng.Intn(3))
		var v string
		switch rng.Intn(12) {
		case 0:
			v = "\x00tombstone"
		case 1:
			v = fmt.Sprintf(`{"drop":"i%d"}`, rng.Intn(i+1))
		case 2, 3:
			v = fmt.Sprintf(`{"total":%d}`, rng.Intn(1000))
		case 4:
			v = fmt.Sprintf(`{"counters":{"c%d":%d}}`, rng.Intn(4), i)
		case 5:
			v = fmt.Sprintf(`{"user":"name-%d","item":"i%d"}`, i, i)
		default:
			v = fmt.Sprintf(`{"item":"i%d"}`, i)
		}
		recs = append(recs, rec(key, v, ts))
	}
	ks := make([]string, keys)
	for i := range ks {
		ks[i] = fmt.Sprintf("k%d", i)
	}
	return recs, ks
}

func crashProps(st *sinktest.Store, name, topic string) map[string]string {
	return with(baseProps(st, name, topic),
		"rialto.write.mode", "update",
		"rialto.fields.mapping", "total:clicks,user:name",
		"rialto.update.list.add", "item:recent",
		"rialto.update.list.remove", "drop:recent",
		"rialto.update.map.put", "counters:attrs",
		"tasks.max", "2",
		"offset.flush.interval.ms", "5",
		"consumer.override.max.poll.records", "200",
	)
}

// TestKillAndRestart: a sink killed mid-stream (no drain, no commit) and
// restarted, twice, loses nothing and ends in exactly the state of one
// clean run, value for value.
func TestKillAndRestart(t *testing.T) {
	env := kafkatest.New(t)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	const n, keys = 6000, 40
	recs, ks := crashInput(rng, n, keys)
	in := env.Topic(t, 3, nil)
	produce(t, env, in, recs)

	clean := sinktest.NewStore(t, env, "clean", 2)
	r := startSink(t, crashProps(clean, "clean", in))
	r.waitDone(t, env, in)
	clean.WaitReplayed(t)
	want := clean.Snapshot(t, ks)

	crashy := sinktest.NewStore(t, env, "crashy", 2)
	props := crashProps(crashy, "crashy", in)
	for round, after := range []int64{int64(500 + rng.Intn(1500)), int64(500 + rng.Intn(1500))} {
		r := startSink(t, props, crashAfter(after))
		err := r.waitStopped(t, time.Minute)
		if !errors.Is(err, errCrashed) {
			t.Fatalf("round %d: Run returned %v, want the crash", round, err)
		}
		offs, err := env.Admin(t).FetchOffsets(t.Context(), "connect-crashy")
		if err != nil {
			t.Fatal(err)
		}
		var committed int64
		for _, ps := range offs {
			for _, o := range ps {
				committed += o.At
			}
		}
		t.Logf("round %d: crashed after %d acks; %d offsets committed", round, after, committed)
	}
	r = startSink(t, props)
	r.waitDone(t, env, in)
	crashy.WaitReplayed(t)
	got := crashy.Snapshot(t, ks)
	live := 0
	for _, k := range ks {
		if got[k] != want[k] {
			t.Errorf("%s:\n after crashes %s\n   clean run %s", k, got[k], want[k])
		}
		if want[k] != "" {
			live++
		}
	}
	if live == 0 {
		t.Fatal("the clean run left no values: the test proves nothing")
	}
}

func crashAfter(n int64) Option { return func(o *options) { o.crashAfter = n } }
