package sink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// Op is one write to a Rialto store.
type Op struct {
	Kind OpKind
	// Key is the store key: a string or []byte for "string"/"bytes" key
	// schemas, a Go value of the key schema otherwise. PutBytes keys are
	// serialized bytes.
	Key any
	// Value is a Put's Go value (of the latest value schema).
	Value any
	// SchemaID and Bytes are a PutBytes' encoded value.
	SchemaID int32
	Bytes    []byte
	// Update is an Update's partial update.
	Update *partialupdate.Update
	// Timestamp is the logical timestamp (ms); negative: none, the
	// writer's clock orders the write.
	Timestamp int64
}

// OpKind is what an Op does.
type OpKind uint8

const (
	OpPut OpKind = iota
	OpPutBytes
	OpUpdate
	OpDelete
)

func (k OpKind) String() string {
	switch k {
	case OpPut, OpPutBytes:
		return "put"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Writer is what the goka sink writes through: WriterOf(*writer.Writer) in
// production, a Recorder in unit tests. WriteAsync follows the writer's
// contract: an error means nothing was written and cb is not called;
// otherwise cb is called exactly once, and must not block.
type Writer interface {
	WriteAsync(ctx context.Context, op Op, cb func(error)) error
}

// WriterOf adapts a Rialto writer.
func WriterOf(w *writer.Writer) Writer { return rialtoWriter{w} }

type rialtoWriter struct{ w *writer.Writer }

func (r rialtoWriter) WriteAsync(ctx context.Context, o Op, cb func(error)) error {
	var opts []writer.CallOpt
	if o.Timestamp >= 0 {
		opts = append(opts, writer.WithTimestamp(o.Timestamp))
	}
	wcb := func(_ writer.Result, err error) { cb(err) }
	switch o.Kind {
	case OpPut:
		return r.w.PutAsync(ctx, o.Key, o.Value, wcb, opts...)
	case OpPutBytes:
		k, ok := o.Key.([]byte)
		if !ok {
			return &DataError{Stage: "TASK_PUT", Err: fmt.Errorf("sink: PutBytes needs a []byte key, got %T", o.Key)}
		}
		return r.w.PutBytesAsync(ctx, k, o.SchemaID, o.Bytes, wcb, opts...)
	case OpUpdate:
		return r.w.UpdateAsync(ctx, o.Key, o.Update, wcb, opts...)
	case OpDelete:
		return r.w.DeleteAsync(ctx, o.Key, wcb, opts...)
	}
	return fmt.Errorf("sink: unknown operation %d", o.Kind)
}

// Defaults of the goka sink's options.
const (
	DefaultRetryTimeout  = time.Minute
	DefaultRetryDelayMax = 10 * time.Second
)

// Opt configures a Sink.
type Opt func(*config)

type config struct {
	dlq          DeadLetters
	retryTimeout time.Duration
	retryMax     time.Duration
	timestamp    func(goka.Context) int64
	logger       *slog.Logger
}

// DeadLetterQueue sends writes that fail permanently with a data error to
// d (e.g. KafkaDeadLetters) instead of failing the processor; the input
// offset is committed once d has the letter (default: none, the processor
// fails).
func DeadLetterQueue(d DeadLetters) Opt { return func(c *config) { c.dlq = d } }

// RetryTimeout bounds how long a write failing with a retriable error is
// retried (default DefaultRetryTimeout, 1 minute; 0: never retried). After
// that the processor fails.
func RetryTimeout(d time.Duration) Opt { return func(c *config) { c.retryTimeout = d } }

// RetryDelayMax caps the exponential back-off between retries, which
// starts at 100 ms (default DefaultRetryDelayMax, 10 s).
func RetryDelayMax(d time.Duration) Opt { return func(c *config) { c.retryMax = d } }

// TimestampFrom replaces the record timestamp the logical timestamp is
// derived from (default: the input record's timestamp, ctx.Timestamp(), in
// ms). f must be a pure function of the input record for replays to be
// idempotent; the per-key tie-break of the package doc still applies.
func TimestampFrom(f func(goka.Context) int64) Opt { return func(c *config) { c.timestamp = f } }

// Logger sets where the sink logs retries and dead letters (default:
// nowhere).
func Logger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// Sink writes to a Rialto store from goka callbacks. It is safe for
// concurrent use by every partition's callbacks of one processor (give
// each processor its own Sink: the clocks are per input partition).
type Sink struct {
	w   Writer
	cfg config
	log *slog.Logger

	mu    sync.Mutex
	parts map[partKey]*gokaPartition

	wg     sync.WaitGroup // retries and dead letters in flight
	closed atomic.Bool

	st struct {
		writes, acked, retries, deadLetters, failures atomic.Int64
	}
}

type partKey struct {
	topic     string
	partition int32
}

// gokaPartition holds one input partition's clock and the deferred commits
// of its records in offset order.
type gokaPartition struct {
	mu     sync.Mutex
	clock  *Clock
	q      []*pendingCommit
	failed bool
}

type pendingCommit struct {
	done   bool
	commit func(error)
}

// New returns a goka sink writing through w.
func New(w Writer, opts ...Opt) (*Sink, error) {
	cfg := config{retryTimeout: DefaultRetryTimeout, retryMax: DefaultRetryDelayMax}
	for _, o := range opts {
		o(&cfg)
	}
	var errs []error
	if w == nil {
		errs = append(errs, errors.New("sink: nil writer"))
	}
	if cfg.retryTimeout < 0 {
		errs = append(errs, fmt.Errorf("sink: RetryTimeout(%s): negative", cfg.retryTimeout))
	}
	if cfg.retryMax <= 0 {
		errs = append(errs, fmt.Errorf("sink: RetryDelayMax(%s): must be positive", cfg.retryMax))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	l := cfg.logger
	if l == nil {
		l = slog.New(slog.DiscardHandler)
	}
	return &Sink{w: w, cfg: cfg, log: l, parts: map[partKey]*gokaPartition{}}, nil
}

// GokaStats are the sink's cumulative counters.
type GokaStats struct {
	Writes      int64 // operations started
	Acked       int64 // operations the writer acknowledged
	Retries     int64 // retried attempts
	DeadLetters int64 // operations sent to the dead-letter queue
	Failures    int64 // operations that failed the processor
}

// Stats returns the sink's counters.
func (s *Sink) Stats() GokaStats {
	return GokaStats{s.st.writes.Load(), s.st.acked.Load(), s.st.retries.Load(), s.st.deadLetters.Load(), s.st.failures.Load()}
}

// Put writes value (a Go value of the store's latest value schema) as the
// whole value of key. See the package doc for when the input offset is
// committed and what a failure does.
func (s *Sink) Put(ctx goka.Context, key, value any) {
	s.write(ctx, Op{Kind: OpPut, Key: key, Value: value})
}

// PutBytes writes value bytes already encoded in value schema schemaID.
func (s *Sink) PutBytes(ctx goka.Context, key []byte, schemaID int32, value []byte) {
	s.write(ctx, Op{Kind: OpPutBytes, Key: key, SchemaID: schemaID, Bytes: value})
}

// Update writes a partial update of key (set fields, collection merges),
// built with partialupdate.NewBuilder for the store's latest value schema.
func (s *Sink) Update(ctx goka.Context, key any, u *partialupdate.Update) {
	s.write(ctx, Op{Kind: OpUpdate, Key: key, Update: u})
}

// Delete deletes key.
func (s *Sink) Delete(ctx goka.Context, key any) {
	s.write(ctx, Op{Kind: OpDelete, Key: key})
}

func (s *Sink) partition(ctx goka.Context) *gokaPartition {
	k := partKey{string(ctx.Topic()), ctx.Partition()}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.parts[k]
	if p == nil {
		p = &gokaPartition{clock: NewClock()}
		s.parts[k] = p
	}
	return p
}

// keyID is the identity the clock's per-key tie-break uses.
func keyID(key any) []byte {
	switch k := key.(type) {
	case string:
		return []byte(k)
	case []byte:
		return k
	}
	return fmt.Appendf(nil, "%T:%v", key, key)
}

func (s *Sink) write(gctx goka.Context, o Op) {
	if s.closed.Load() {
		gctx.Fail(fmt.Errorf("sink: %w", writer.ErrClosed))
		return
	}
	ts := int64(-1)
	if s.cfg.timestamp != nil {
		ts = s.cfg.timestamp(gctx)
	} else if t := gctx.Timestamp(); !t.IsZero() {
		ts = t.UnixMilli()
	}
	p := s.partition(gctx)
	p.mu.Lock()
	o.Timestamp, _ = p.clock.Stamp(gctx.Offset(), ts, keyID(o.Key))
	pc := &pendingCommit{commit: gctx.DeferCommit()}
	p.q = append(p.q, pc)
	p.mu.Unlock()
	s.st.writes.Add(1)

	a := &attempt{s: s, p: p, pc: pc, op: o, ctx: gctx.Context(),
		topic: string(gctx.Topic()), partition: gctx.Partition(), offset: gctx.Offset(), start: time.Now()}
	if err := a.submit(); err != nil {
		a.failed(err)
	}
}

// attempt is one operation until it is acknowledged or given up.
type attempt struct {
	s         *Sink
	p         *gokaPartition
	pc        *pendingCommit
	op        Op
	ctx       context.Context
	topic     string
	partition int32
	offset    int64
	start     time.Time
	tries     int
}

func (a *attempt) submit() error { return a.s.w.WriteAsync(a.ctx, a.op, a.cb) }

func (a *attempt) cb(err error) {
	if err != nil {
		a.failed(err)
		return
	}
	a.s.st.acked.Add(1)
	a.p.complete(a.pc, nil)
}

func (a *attempt) failed(err error) {
	s := a.s
	class := Classify(err)
	if class == Retriable && time.Since(a.start) < s.cfg.retryTimeout && !s.closed.Load() {
		a.tries++
		delay := min(s.cfg.retryMax, 100*time.Millisecond<<min(a.tries-1, 16))
		s.st.retries.Add(1)
		s.log.Warn("sink: retrying write", "topic", a.topic, "partition", a.partition, "offset", a.offset, "attempt", a.tries, "delay", delay, "err", err)
		s.wg.Add(1)
		time.AfterFunc(delay, func() {
			defer s.wg.Done()
			if err := a.submit(); err != nil {
				a.failed(err)
			}
		})
		return
	}
	rerr := &RecordError{Topic: a.topic, Partition: a.partition, Offset: a.offset, Err: err}
	if class == Data && s.cfg.dlq != nil {
		s.wg.Add(1)
		dl := DeadLetter{Topic: a.topic, Partition: a.partition, Offset: a.offset,
			Key: keyID(a.op.Key), Value: render(a.op), Err: err, Stage: "TASK_PUT"}
		s.log.Warn("sink: write sent to the dead-letter queue", "topic", a.topic, "partition", a.partition, "offset", a.offset, "err", err)
		s.cfg.dlq.Send(a.ctx, dl, func(dlErr error) {
			defer s.wg.Done()
			if dlErr != nil {
				s.st.failures.Add(1)
				a.p.complete(a.pc, fmt.Errorf("%w (and the dead-letter queue failed: %w)", rerr, dlErr))
				return
			}
			s.st.deadLetters.Add(1)
			a.p.complete(a.pc, nil)
		})
		return
	}
	s.st.failures.Add(1)
	a.p.complete(a.pc, rerr)
}

// render is the failed write as JSON, the value of its dead letter:
// {"op":…,"key":…,"value":… (a put's value as encoding/json renders it, or
// a PutBytes' bytes in base64 with "schemaId"), "update":… (the update's
// JSON form, package partialupdate)}.
func render(o Op) []byte {
	type out struct {
		Op       string          `json:"op"`
		Key      any             `json:"key"`
		Value    json.RawMessage `json:"value,omitempty"`
		SchemaID int32           `json:"schemaId,omitempty"`
		Update   json.RawMessage `json:"update,omitempty"`
	}
	r := out{Op: o.Kind.String(), Key: o.Key}
	if b, ok := o.Key.([]byte); ok {
		r.Key = string(b)
	}
	switch o.Kind {
	case OpPut:
		if b, err := json.Marshal(o.Value); err == nil {
			r.Value = b
		} else {
			r.Value, _ = json.Marshal(fmt.Sprintf("%v", o.Value))
		}
	case OpPutBytes:
		r.SchemaID = o.SchemaID
		r.Value, _ = json.Marshal(o.Bytes)
	case OpUpdate:
		if o.Update != nil {
			if b, err := o.Update.JSON(); err == nil {
				r.Update = b
			}
		}
	}
	b, err := json.Marshal(r)
	if err != nil {
		return []byte(`{"op":"` + o.Kind.String() + `"}`)
	}
	return b
}

// complete records the outcome of one operation and releases goka's
// deferred commits in offset order: a commit is called only when every
// earlier operation of the partition succeeded, so goka never marks an
// offset past a write that was not acknowledged. After a failure every
// later commit of the partition gets ErrEarlierFailed.
func (p *gokaPartition) complete(pc *pendingCommit, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.failed = true
		pc.commit(err)
		pc.done = true
		pc.commit = nil
	} else {
		pc.done = true
	}
	n := 0
	for n < len(p.q) && p.q[n].done {
		if c := p.q[n].commit; c != nil {
			if p.failed {
				c(ErrEarlierFailed)
			} else {
				c(nil)
			}
		}
		n++
	}
	if n > 0 {
		p.q = append(p.q[:0], p.q[n:]...)
	}
	if p.failed {
		// Later records must not commit past the failure either.
		for _, q := range p.q {
			if !q.done {
				continue
			}
			if q.commit != nil {
				q.commit(ErrEarlierFailed)
				q.commit = nil
			}
		}
	}
}

// Close stops taking writes and waits for retries and dead letters in
// flight (or ctx). It does not close the writer. Safe to call twice.
func (s *Sink) Close(ctx context.Context) error {
	s.closed.Store(true)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
