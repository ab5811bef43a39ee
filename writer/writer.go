package writer

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/partialupdate"
)

// Result says where a record landed. For a chunked value it is the
// manifest's position.
type Result struct {
	Partition int32
	Offset    int64
}

// Op names what a write did, for hooks.
type Op uint8

const (
	OpPut Op = iota
	OpDelete
	OpUpdate
	OpControl
)

func (o Op) String() string {
	switch o {
	case OpPut:
		return "put"
	case OpDelete:
		return "delete"
	case OpUpdate:
		return "update"
	case OpControl:
		return "control"
	}
	return fmt.Sprintf("op(%d)", uint8(o))
}

// Writer writes one topic. It is safe for concurrent use.
type Writer struct {
	cfg       config
	cl        *kgo.Client
	ownClient bool
	n         int32
	parts     []*partition
	guid      wire.GUID
	keySchema avro.Schema
	keyRaw    bool
	schemas   *schemaCache // nil without a provider
	codec     *valuecomp.Codec
	budget    *budget
	log       *slog.Logger
	promiseFn func(*kgo.Record, error)

	epoch     time.Time // latencies are measured from here (monotonic)
	closing   atomic.Bool
	closeDone chan struct{}

	st stats
}

// New builds a writer. It validates every option at once, reads the key
// schema, checks that the brokers accept the Security settings (when
// given), builds the franz-go client (unless Client gave one) and reads the
// topic's partition count (unless Partitions gave it), all within
// MetadataTimeout.
func New(opts ...Opt) (*Writer, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:       cfg,
		guid:      cfg.guid,
		log:       cfg.logger,
		budget:    newBudget(cfg.maxBufBytes, cfg.maxBufRecords),
		closeDone: make(chan struct{}),
		epoch:     time.Now(),
	}
	w.promiseFn = w.promise
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("topic", cfg.topic)
	if !cfg.guidSet {
		_, _ = rand.Read(w.guid[:]) // never fails (crypto/rand)
	}
	if cfg.compression != wire.CompressionNone {
		c, err := valuecomp.New(cfg.compression, cfg.dictionary)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidOption, err)
		}
		w.codec = c
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.metaTimeout)
	defer cancel()
	fail := func(err error) (*Writer, error) {
		if w.ownClient {
			w.cl.Close()
		}
		if w.codec != nil {
			w.codec.Close()
		}
		return nil, err
	}
	if cfg.schemas != nil {
		ks, err := cfg.schemas.KeySchema(ctx)
		if err != nil {
			return fail(fmt.Errorf("writer: key schema of %s: %w", cfg.topic, err))
		}
		w.keySchema, w.keyRaw = ks, rawKey(ks)
		w.schemas = &schemaCache{provider: cfg.schemas, values: map[int32]avro.Schema{}}
	}

	if cfg.client != nil {
		w.cl = cfg.client
	} else {
		kopts := []kgo.Opt{
			kgo.SeedBrokers(cfg.brokers...),
			kgo.RecordPartitioner(kgo.ManualPartitioner()),
			// The writer's own budget bounds what is buffered and honours
			// the caller's context; franz-go's bound sits above it (with
			// room for segment control records) so that Produce, called
			// under a partition lock, does not block.
			kgo.MaxBufferedRecords(int(2*cfg.maxBufRecords) + 1024),
			// No linger: franz-go's 10 ms default made every synchronous
			// write (and so write-to-readable freshness) wait ~11 ms; with
			// one request in flight per broker, batches still fill while
			// one is outstanding, and the writer bench showed no loss.
			// KafkaOpts(kgo.ProducerLinger(d)) brings a linger back.
			kgo.ProducerLinger(0),
		}
		if cfg.secSet {
			// A refusal otherwise ends the client's retries in a bare EOF.
			if err := cfg.sec.Check(ctx, cfg.brokers); kafkaconn.Refused(err) {
				return fail(fmt.Errorf("writer: topic %s: %w", cfg.topic, err))
			}
		}
		kopts = append(kopts, cfg.secOpts...)
		cl, err := kgo.NewClient(append(kopts, cfg.kafkaOpts...)...)
		if err != nil {
			return fail(fmt.Errorf("%w: kafka client: %w", ErrInvalidOption, err))
		}
		w.cl, w.ownClient = cl, true
	}

	w.n = cfg.partitions
	if w.n == 0 {
		tds, err := kadm.NewClient(w.cl).ListTopics(ctx, cfg.topic)
		if err == nil {
			td := tds[cfg.topic]
			err = td.Err
			w.n = int32(len(td.Partitions))
		}
		if err != nil {
			return fail(fmt.Errorf("writer: partitions of topic %s: %w", cfg.topic, err))
		}
		if w.n == 0 {
			return fail(fmt.Errorf("writer: topic %s has no partitions", cfg.topic))
		}
	}
	w.parts = make([]*partition, w.n)
	for i := range w.parts {
		p := &partition{id: int32(i)}
		p.broken.Store(-1)
		w.parts[i] = p
	}
	w.log.Debug("writer started", "partitions", w.n, "producer", w.guid, "kind", cfg.kind, "compression", cfg.compression)
	return w, nil
}

// GUID is the writer's producer id.
func (w *Writer) GUID() wire.GUID { return w.guid }

// Topic is the topic the writer writes.
func (w *Writer) Topic() string { return w.cfg.topic }

// Partitions is the topic's partition count.
func (w *Writer) Partitions() int32 { return w.n }

// PartitionOf returns the partition a serialized key goes to: murmur2 of
// the key bytes modulo the partition count, as Kafka's default
// partitioner computes it.
func (w *Writer) PartitionOf(serializedKey []byte) int32 { return wire.Partition(serializedKey, w.n) }

// SerializeKey returns the bytes a key is written as: raw for a "string"
// or "bytes" key schema, Avro binary otherwise.
func (w *Writer) SerializeKey(key any) ([]byte, error) { return w.serializeKey(key) }

// CallOpt adjusts one write.
type CallOpt func(*callOpts)

type callOpts struct {
	ts        int64
	hasTS     bool
	rmd       *wire.RMD
	leader    *wire.Leader
	part      int32
	hasPart   bool
	schemaID  int32
	hasSchema bool
}

// WithTimestamp gives the write a logical timestamp (ms since the epoch)
// that orders it instead of the producer's clock.
func WithTimestamp(ms int64) CallOpt {
	return func(o *callOpts) { o.ts, o.hasTS = ms, true }
}

// WithRMD attaches replication metadata to a put or delete.
func WithRMD(version int32, data []byte) CallOpt {
	return func(o *callOpts) { o.rmd = &wire.RMD{Version: version, Data: data} }
}

// WithLeader adds the leader footer: where a leader's resolved write came
// from.
func WithLeader(l wire.Leader) CallOpt {
	return func(o *callOpts) { o.leader = &l }
}

// ToPartition writes to partition p instead of the key's partition: a
// leader writes to the version-topic partition it consumes.
func ToPartition(p int32) CallOpt {
	return func(o *callOpts) { o.part, o.hasPart = p, true }
}

// WithSchemaID names the value schema: the schema Put serializes with
// (default the latest), or the schema a delete's RMD was derived from.
func WithSchemaID(id int32) CallOpt {
	return func(o *callOpts) { o.schemaID, o.hasSchema = id, true }
}

// op is one data operation, serialized.
type op struct {
	kind     wire.MessageType
	key      []byte // serialized user key
	schemaID int32
	updateID int32
	value    []byte // put value (compressed) or update bytes
	co       callOpts
}

// Put writes a whole value of key, serialized with the latest value schema
// (or WithSchemaID's), and waits for Kafka to acknowledge it.
func (w *Writer) Put(ctx context.Context, key, value any, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error { return w.PutAsync(ctx, key, value, cb, opts...) })
}

// PutAsync is Put without waiting. If it returns an error nothing was
// written and cb is not called; otherwise cb is called exactly once (see
// the package doc for when and where).
func (w *Writer) PutAsync(ctx context.Context, key, value any, cb func(Result, error), opts ...CallOpt) error {
	if w.schemas == nil {
		return ErrNoSchemas
	}
	o := op{kind: wire.TypePut}
	o.co = applyOpts(opts)
	k, err := w.serializeKey(key)
	if err != nil {
		return err
	}
	o.key = k
	o.schemaID = o.co.schemaID
	if !o.co.hasSchema {
		if o.schemaID, err = w.cfg.schemas.LatestValueSchemaID(ctx); err != nil {
			return &SchemaError{Topic: w.cfg.topic, What: "value", Err: err}
		}
	}
	v, err := w.serializeValue(ctx, o.schemaID, value)
	if err != nil {
		return err
	}
	o.value = v
	return w.submit(ctx, &o, cb)
}

// PutBytes writes value bytes already serialized in value schema
// schemaID, and waits. The bytes are not decoded; with a SchemaProvider
// the schema id must exist.
func (w *Writer) PutBytes(ctx context.Context, key []byte, schemaID int32, value []byte, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error {
		return w.PutBytesAsync(ctx, key, schemaID, value, cb, opts...)
	})
}

// PutBytesAsync is PutBytes without waiting; cb as for PutAsync.
func (w *Writer) PutBytesAsync(ctx context.Context, key []byte, schemaID int32, value []byte, cb func(Result, error), opts ...CallOpt) error {
	if key == nil {
		return ErrNilKey
	}
	if value == nil {
		return ErrNilValue
	}
	if err := w.checkSchemaID(ctx, schemaID); err != nil {
		return err
	}
	o := op{kind: wire.TypePut, key: key, schemaID: schemaID, value: value}
	o.co = applyOpts(opts)
	return w.submit(ctx, &o, cb)
}

// Delete removes key and waits.
func (w *Writer) Delete(ctx context.Context, key any, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error { return w.DeleteAsync(ctx, key, cb, opts...) })
}

// DeleteAsync is Delete without waiting; cb as for PutAsync.
func (w *Writer) DeleteAsync(ctx context.Context, key any, cb func(Result, error), opts ...CallOpt) error {
	k, err := w.serializeKey(key)
	if err != nil {
		return err
	}
	return w.DeleteBytesAsync(ctx, k, cb, opts...)
}

// DeleteBytes removes a serialized key and waits.
func (w *Writer) DeleteBytes(ctx context.Context, key []byte, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error { return w.DeleteBytesAsync(ctx, key, cb, opts...) })
}

// DeleteBytesAsync is DeleteBytes without waiting; cb as for PutAsync.
func (w *Writer) DeleteBytesAsync(ctx context.Context, key []byte, cb func(Result, error), opts ...CallOpt) error {
	if key == nil {
		return ErrNilKey
	}
	o := op{kind: wire.TypeDelete, key: key}
	o.co = applyOpts(opts)
	if o.co.hasSchema {
		if err := w.checkSchemaID(ctx, o.co.schemaID); err != nil {
			return err
		}
		o.schemaID = o.co.schemaID
	}
	return w.submit(ctx, &o, cb)
}

// Update writes a partial update of key, built with package partialupdate
// (partialupdate.NewBuilder(schema)…Build()). The update must be derived
// from the value schema the write names: the latest one, or WithSchemaID's;
// otherwise a *SchemaError says so and nothing is written. Only real-time
// topics take updates. It waits.
func (w *Writer) Update(ctx context.Context, key any, u *partialupdate.Update, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error {
		return w.UpdateAsync(ctx, key, u, cb, opts...)
	})
}

// UpdateAsync is Update without waiting: cb gets the result.
func (w *Writer) UpdateAsync(ctx context.Context, key any, u *partialupdate.Update, cb func(Result, error), opts ...CallOpt) error {
	if w.schemas == nil {
		return ErrNoSchemas
	}
	if u == nil {
		return &SchemaError{Topic: w.cfg.topic, What: "update", Err: errors.New("nil update")}
	}
	k, err := w.serializeKey(key)
	if err != nil {
		return err
	}
	co := applyOpts(opts)
	schemaID := co.schemaID
	if !co.hasSchema {
		if schemaID, err = w.cfg.schemas.LatestValueSchemaID(ctx); err != nil {
			return &SchemaError{Topic: w.cfg.topic, What: "update", Err: err}
		}
	}
	vs, err := w.schemas.value(ctx, schemaID)
	if err != nil {
		return &SchemaError{Topic: w.cfg.topic, What: "update", SchemaID: schemaID, Err: err}
	}
	if got, want := u.Schema().Value().Fingerprint(), vs.Fingerprint(); got != want {
		return &SchemaError{Topic: w.cfg.topic, What: "update", SchemaID: schemaID,
			Err: fmt.Errorf("the update was built for another value schema (%s), not schema %d", u.Schema().Value().FullName(), schemaID)}
	}
	uid, err := w.cfg.schemas.UpdateSchemaID(ctx, schemaID)
	if err != nil {
		return &SchemaError{Topic: w.cfg.topic, What: "update", SchemaID: schemaID, Err: err}
	}
	return w.UpdateBytesAsync(ctx, k, schemaID, uid, u.AppendEncode(nil), cb, opts...)
}

// UpdateBytes writes a partial update of a serialized key with explicit
// schema ids, and waits.
func (w *Writer) UpdateBytes(ctx context.Context, key []byte, schemaID, updateSchemaID int32, update []byte, opts ...CallOpt) (Result, error) {
	return w.wait(ctx, func(cb func(Result, error)) error {
		return w.UpdateBytesAsync(ctx, key, schemaID, updateSchemaID, update, cb, opts...)
	})
}

// UpdateBytesAsync is UpdateBytes without waiting; cb as for PutAsync.
func (w *Writer) UpdateBytesAsync(ctx context.Context, key []byte, schemaID, updateSchemaID int32, update []byte, cb func(Result, error), opts ...CallOpt) error {
	if w.cfg.kind == KindVersion {
		return fmt.Errorf("%w: update into version topic %s (leaders turn updates into puts)", ErrNotAllowed, w.cfg.topic)
	}
	if key == nil {
		return ErrNilKey
	}
	if update == nil {
		return ErrNilValue
	}
	if err := w.checkSchemaID(ctx, schemaID); err != nil {
		return err
	}
	o := op{kind: wire.TypeUpdate, key: key, schemaID: schemaID, updateID: updateSchemaID, value: update}
	o.co = applyOpts(opts)
	if o.co.rmd != nil {
		return fmt.Errorf("%w: an update carries no replication metadata", ErrNotAllowed)
	}
	return w.submit(ctx, &o, cb)
}

// applyOpts folds the call options. Without options it allocates
// nothing (the options' closures make co escape, so it is only declared
// when there are some).
func applyOpts(opts []CallOpt) callOpts {
	if len(opts) == 0 {
		return callOpts{}
	}
	var co callOpts
	for _, o := range opts {
		o(&co)
	}
	return co
}

// checkSchemaID fails for a value schema id the provider does not know.
func (w *Writer) checkSchemaID(ctx context.Context, id int32) error {
	if w.schemas == nil {
		return nil
	}
	if _, err := w.schemas.value(ctx, id); err != nil {
		return &SchemaError{Topic: w.cfg.topic, What: "value", SchemaID: id, Err: err}
	}
	return nil
}

// wait runs an async write and waits for its callback or ctx.
func (w *Writer) wait(ctx context.Context, start func(func(Result, error)) error) (Result, error) {
	type outcome struct {
		r   Result
		err error
	}
	ch := make(chan outcome, 1)
	if err := start(func(r Result, err error) { ch <- outcome{r, err} }); err != nil {
		return Result{}, err
	}
	select {
	case o := <-ch:
		return o.r, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Flush waits until every record written before the call is acknowledged
// or failed (and its callback has run), or ctx ends.
func (w *Writer) Flush(ctx context.Context) error {
	return w.cl.Flush(ctx)
}

// Close ends every open segment with a final end-of-segment, waits until
// everything written is acknowledged or ctx ends, and closes the client the
// writer built. Writes after Close began fail with ErrClosed; writes
// blocked for buffer space are released with ErrClosed. A second Close
// waits for the first and returns nil. If ctx ends first, the client is
// closed anyway and records still buffered fail with
// kgo.ErrClientClosed.
func (w *Writer) Close(ctx context.Context) error {
	if !w.closing.CompareAndSwap(false, true) {
		select {
		case <-w.closeDone:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	defer close(w.closeDone)
	w.budget.close()
	g := newGroup(nil)
	now := time.Now()
	for _, p := range w.parts {
		p.mu.Lock()
		p.closed = true
		if p.open && p.broken.Load() < p.segment {
			g.add(1)
			w.endSegmentLocked(p, now, true, g)
		}
		p.open = false
		p.mu.Unlock()
	}
	err := w.cl.Flush(ctx)
	if err == nil {
		err = g.err()
	}
	if err == nil {
		g.mu.Lock()
		if g.remaining > 0 {
			err = errGroupIncomplete
		}
		g.mu.Unlock()
	}
	if err != nil {
		w.log.Warn("closing: final end-of-segment not acknowledged", "err", err)
	}
	if w.ownClient {
		w.cl.Close()
	}
	if w.codec != nil {
		w.codec.Close()
	}
	return err
}

// Stats are cumulative counters; BufferedBytes and BufferedRecords are
// the current amounts.
type Stats struct {
	Records         int64 // records acknowledged (data, chunk and control)
	Bytes           int64 // key plus value bytes of acknowledged records
	Puts            int64 // acknowledged puts (a chunked value counts once)
	Deletes         int64 // acknowledged deletes
	Updates         int64 // acknowledged updates
	Chunks          int64 // acknowledged chunk records
	Segments        int64 // segments started
	Abandoned       int64 // segments abandoned after a failed produce
	Errors          int64 // records that failed
	BufferedBytes   int64 // bytes written, not yet acknowledged
	BufferedRecords int64 // records written, not yet acknowledged (control records of segments excluded)
}

// stats are the counters kept on the producing side; the delivery side's
// live in the budget, under its tally's lock.
type stats struct {
	segments, abandoned atomic.Int64
}

// Stats returns the writer's counters.
func (w *Writer) Stats() Stats {
	b, r := w.budget.used()
	return Stats{
		Records:         w.budget.count(cRecords),
		Bytes:           w.budget.count(cBytes),
		Puts:            w.budget.count(cPuts),
		Deletes:         w.budget.count(cDeletes),
		Updates:         w.budget.count(cUpdates),
		Chunks:          w.budget.count(cChunks),
		Segments:        w.st.segments.Load(),
		Abandoned:       w.st.abandoned.Load(),
		Errors:          w.budget.count(cErrors),
		BufferedBytes:   b,
		BufferedRecords: r,
	}
}

// Hooks receive metrics events. Every field is optional. Hooks run on
// franz-go's delivery goroutine (OnWrite) or under a partition's lock
// (OnSegment): they must be quick and must not call the writer.
type Hooks struct {
	// OnWrite is called once per operation (a put, delete or update; a
	// control message once per partition) when Kafka acknowledged or
	// failed it.
	OnWrite func(WriteInfo)
	// OnSegment is called when a segment starts, ends or is abandoned.
	OnSegment func(SegmentInfo)
}

// WriteInfo describes a finished operation.
type WriteInfo struct {
	Op        Op
	Partition int32
	Offset    int64
	Records   int // Kafka records: 1, or chunks + manifest
	Bytes     int // key plus value bytes of those records
	Latency   time.Duration
	Err       error
}

// SegmentEvent is what happened to a segment.
type SegmentEvent uint8

const (
	SegmentStarted SegmentEvent = iota
	SegmentEnded
	SegmentAbandoned
)

// SegmentInfo describes a segment event.
type SegmentInfo struct {
	Event     SegmentEvent
	Partition int32
	Segment   int32
	Records   int32 // sequence numbers used (ended or abandoned segments)
	Final     bool
}

// group joins the records of one operation (chunks and manifest, or a
// control message over several partitions) into one outcome.
type group struct {
	mu        sync.Mutex
	remaining int
	first     error
	result    Result
	bytes     int
	records   int
	cb        func(Result, error)
}

func newGroup(cb func(Result, error)) *group { return &group{cb: cb} }

func (g *group) add(n int) {
	g.mu.Lock()
	g.remaining += n
	g.mu.Unlock()
}

// finish records one record's outcome and calls the group's callback when
// it was the last one outstanding.
func (g *group) finish(r Result, bytes int, last bool, err error) {
	if g.done(r, bytes, last, err) && g.cb != nil {
		g.mu.Lock()
		res, first := g.result, g.first
		g.mu.Unlock()
		g.cb(res, first)
	}
}

// done records one record's outcome; it reports whether the group is
// complete.
func (g *group) done(r Result, bytes int, last bool, err error) (complete bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.remaining--
	g.records++
	g.bytes += bytes
	if err != nil && g.first == nil {
		g.first = err
	}
	if last {
		g.result = r
	}
	return g.remaining == 0
}

func (g *group) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.first
}

var errGroupIncomplete = errors.New("writer: not every record was acknowledged")
