package sink_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/tester"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/writer"
)

const profileSchema = `{"type":"record","name":"Profile","fields":[
	{"name":"clicks","type":"long","default":0},
	{"name":"recent","type":{"type":"array","items":"string"},"default":[]}
]}`

func derived(t *testing.T) *partialupdate.Schema {
	t.Helper()
	s, err := partialupdate.Derive(avro.MustParse(profileSchema))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// processor builds the processor a user would write: every click adds the
// item to the user's recent list; "bad" messages put a value the store's
// schema rejects (the Recorder's Fail decides); "gone" deletes the user.
func processor(t *testing.T, tt *tester.Tester, s *sink.Sink) *goka.Processor {
	t.Helper()
	ds := derived(t)
	g := goka.DefineGroup("profiles",
		goka.Input("clicks", new(codec.String), func(ctx goka.Context, msg any) {
			item := msg.(string)
			switch item {
			case "gone":
				s.Delete(ctx, ctx.Key())
			case "bad":
				s.Put(ctx, ctx.Key(), map[string]any{"clicks": "not a number"})
			default:
				u, err := partialupdate.NewBuilder(ds).AddToList("recent", item).Build()
				if err != nil {
					ctx.Fail(err)
				}
				s.Update(ctx, ctx.Key(), u)
			}
		}),
	)
	p, err := goka.NewProcessor(nil, g, goka.WithTester(tt))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func run(t *testing.T, p *goka.Processor) (stop func(), done chan error) {
	ctx, cancel := context.WithCancel(context.Background())
	done = make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	return cancel, done
}

func TestGokaTesterRecordsOperations(t *testing.T) {
	tt := tester.New(t)
	rec := &sink.Recorder{}
	s, err := sink.New(rec)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := run(t, processor(t, tt, s))
	defer func() { stop(); <-done }()

	at := time.UnixMilli(1_700_000_000_000)
	tt.Consume("clicks", "ada", "a1", tester.WithTime(at))
	tt.Consume("clicks", "ada", "a2", tester.WithTime(at)) // same ms: one past
	tt.Consume("clicks", "bob", "b1", tester.WithTime(at))
	tt.Consume("clicks", "ada", "gone", tester.WithTime(at.Add(time.Second)))

	ops := rec.Ops()
	if len(ops) != 4 {
		t.Fatalf("got %d ops, want 4: %+v", len(ops), ops)
	}
	want := []struct {
		kind sink.OpKind
		key  string
		ts   int64
	}{
		{sink.OpUpdate, "ada", 1_700_000_000_000},
		{sink.OpUpdate, "ada", 1_700_000_000_001},
		{sink.OpUpdate, "bob", 1_700_000_000_000},
		{sink.OpDelete, "ada", 1_700_000_001_000},
	}
	for i, w := range want {
		if ops[i].Kind != w.kind || ops[i].Key != w.key || ops[i].Timestamp != w.ts {
			t.Errorf("op %d: got %s %v @%d, want %s %s @%d", i, ops[i].Kind, ops[i].Key, ops[i].Timestamp, w.kind, w.key, w.ts)
		}
	}
	if j, _ := ops[1].Update.JSON(); string(j) != `{"add":{"recent":["a2"]}}` {
		t.Errorf("update JSON %s", j)
	}
	if st := s.Stats(); st.Writes != 4 || st.Acked != 4 {
		t.Errorf("stats %+v", st)
	}
}

type memDLQ struct {
	mu  sync.Mutex
	got []sink.DeadLetter
}

func (m *memDLQ) Send(_ context.Context, dl sink.DeadLetter, done func(error)) {
	m.mu.Lock()
	m.got = append(m.got, dl)
	m.mu.Unlock()
	done(nil)
}

func badValue(op sink.Op) error {
	if op.Kind == sink.OpPut {
		return &writer.SchemaError{What: "value", Field: "clicks", Err: errors.New("not a long")}
	}
	return nil
}

func TestGokaDeadLetterKeepsGoing(t *testing.T) {
	tt := tester.New(t)
	rec := &sink.Recorder{Fail: badValue}
	dlq := &memDLQ{}
	s, err := sink.New(rec, sink.DeadLetterQueue(dlq))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := run(t, processor(t, tt, s))
	defer func() { stop(); <-done }()
	tt.Consume("clicks", "ada", "a1")
	tt.Consume("clicks", "ada", "bad")
	tt.Consume("clicks", "ada", "a2")
	if n := len(rec.Ops()); n != 2 {
		t.Fatalf("%d ops landed, want 2", n)
	}
	dlq.mu.Lock()
	defer dlq.mu.Unlock()
	if len(dlq.got) != 1 || dlq.got[0].Offset != 1 || !strings.Contains(string(dlq.got[0].Value), `"op":"put"`) {
		t.Fatalf("dead letters %+v", dlq.got)
	}
	if s.Stats().DeadLetters != 1 {
		t.Fatalf("stats %+v", s.Stats())
	}
}

func TestGokaPermanentFailureFailsProcessor(t *testing.T) {
	tt := tester.New(t)
	rec := &sink.Recorder{Fail: badValue}
	s, err := sink.New(rec)
	if err != nil {
		t.Fatal(err)
	}
	stop, done := run(t, processor(t, tt, s))
	defer stop()
	go tt.Consume("clicks", "ada", "bad") // never marked consumed
	select {
	case err := <-done:
		var re *sink.RecordError
		if !errors.As(err, &re) || re.Topic != "clicks" || re.Offset != 0 {
			t.Fatalf("Run returned %v, want a RecordError naming clicks@0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the processor did not fail")
	}
}

func TestGokaRetriesRetriableErrors(t *testing.T) {
	tt := tester.New(t)
	var mu sync.Mutex
	fails := 2
	rec := &sink.Recorder{Fail: func(sink.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if fails > 0 {
			fails--
			return &writer.ProduceError{Topic: "rt", Err: kerr.RequestTimedOut}
		}
		return nil
	}}
	s, err := sink.New(rec, sink.RetryDelayMax(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	stop, done := run(t, processor(t, tt, s))
	defer func() { stop(); <-done }()
	tt.Consume("clicks", "ada", "a1")
	if n := len(rec.Ops()); n != 1 {
		t.Fatalf("%d ops, want 1", n)
	}
	if st := s.Stats(); st.Retries != 2 || st.Acked != 1 {
		t.Fatalf("stats %+v", st)
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}
