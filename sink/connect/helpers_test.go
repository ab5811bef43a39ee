package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/sink/sinktest"
)

// crashOn makes the sink stop like a killed process when ch closes: no
// drain, no commit, clients closed at once.
func crashOn(ch <-chan struct{}) Option { return func(o *options) { o.crash = ch } }

func baseProps(st *sinktest.Store, name, topic string) map[string]string {
	return map[string]string{
		"name":                     name,
		"topics":                   topic,
		"rialto.store":             st.Name,
		"rialto.controller.url":    st.ControllerURL,
		"offset.flush.interval.ms": "100",
	}
}

func with(kv map[string]string, more ...string) map[string]string {
	out := map[string]string{}
	for k, v := range kv {
		out[k] = v
	}
	for i := 0; i+1 < len(more); i += 2 {
		out[more[i]] = more[i+1]
	}
	return out
}

type running struct {
	s    *Sink
	done chan error
	stop context.CancelFunc
}

func startSink(t *testing.T, kv map[string]string, opts ...Option) *running {
	t.Helper()
	cfg, err := Parse(kv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, err := New(ctx, cfg, append([]Option{Logger(testLogger())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	r := &running{s: s, done: make(chan error, 1), stop: cancel}
	go func() { r.done <- s.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(time.Minute):
			t.Error("sink did not stop")
		}
	})
	return r
}

// stopGracefully cancels Run and returns its error.
func (r *running) stopGracefully(t *testing.T) error {
	t.Helper()
	r.stop()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(time.Minute):
		t.Fatal("sink did not stop")
	}
	return nil
}

// produce writes records (Topic filled in) and waits for the acks.
func produce(t testing.TB, env *kafkatest.Env, topic string, recs []*kgo.Record) {
	t.Helper()
	cl := env.Client(t)
	for _, r := range recs {
		r.Topic = topic
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func rec(key, value string, ts int64) *kgo.Record {
	r := &kgo.Record{Key: []byte(key), Timestamp: time.UnixMilli(ts)}
	if value != "\x00tombstone" {
		r.Value = []byte(value)
	}
	return r
}

func endOffsets(t testing.TB, env *kafkatest.Env, topic string) map[int32]int64 {
	t.Helper()
	ends, err := env.Admin(t).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// waitDone waits until the sink has done every record of topic.
func (r *running) waitDone(t testing.TB, env *kafkatest.Env, topic string) {
	t.Helper()
	ends := endOffsets(t, env, topic)
	sinktest.WaitFor(t, time.Minute, "sink done with "+topic, func() bool {
		select {
		case err := <-r.done:
			r.done <- err
			t.Fatalf("sink stopped: %v", err)
		default:
		}
		prog := r.s.Progress()[topic]
		for p, end := range ends {
			if end > 0 && prog[p] < end {
				return false
			}
		}
		return true
	})
}

func (r *running) waitStopped(t testing.TB, d time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(d):
		t.Fatal("the sink did not stop")
	}
	return errors.New("unreachable")
}

// consumeAll reads every record of a topic.
func consumeAll(t testing.TB, env *kafkatest.Env, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := env.Client(t, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records of %s", len(out), n, topic)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return fmt.Sprintf("<no %s>", k)
}

// testLogger logs to stderr with RIALTO_TEST_LOG set, nowhere otherwise.
func testLogger() *slog.Logger {
	if os.Getenv("RIALTO_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return sinktest.Quiet()
}
