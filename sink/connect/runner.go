package connect

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/writer"
)

// DrainTimeout bounds how long a graceful shutdown waits for the writes
// and dead letters in flight before it gives up (and commits only what
// was acknowledged).
const DrainTimeout = 30 * time.Second

// Option adjusts a Sink beyond its Config.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	registerer prometheus.Registerer
	controller string
	token      string
	writerOpts []writer.Opt
	kafkaOpts  []kgo.Opt
	crash      <-chan struct{} // test hook: crash when closed
	crashAfter int64           // test hook: crash when this many writes were acknowledged
	drain      time.Duration   // test hook: DrainTimeout when > 0
}

// Logger sets where the sink logs (default: nowhere).
func Logger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// Registerer registers the sink's metrics (default: none registered; the
// CLI passes the registry it serves on /metrics).
func Registerer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// Controller is the controller URL used when the config has no
// rialto.controller.url (default DefaultControllerURL).
func Controller(url string) Option { return func(o *options) { o.controller = url } }

// ControllerToken is the controller's bearer token used when the config
// has no rialto.controller.token (default none; the CLI passes --token).
func ControllerToken(token string) Option { return func(o *options) { o.token = token } }

// WriterOpts adds options to the Rialto writer the sink builds.
func WriterOpts(opts ...writer.Opt) Option {
	return func(o *options) { o.writerOpts = append(o.writerOpts, opts...) }
}

// KafkaOpts adds options to the source consumer and dead-letter producer.
func KafkaOpts(opts ...kgo.Opt) Option {
	return func(o *options) { o.kafkaOpts = append(o.kafkaOpts, opts...) }
}

// Sink is one running connector: a consumer group over the source topics,
// tasks.max workers converting records, a Rialto writer into the store's
// RT topic and, with errors.tolerance=all, a dead-letter producer.
type Sink struct {
	cfg    *Config
	o      options
	log    *slog.Logger
	mapper *Mapper
	store  api.Store
	w      *writer.Writer
	cl     *kgo.Client
	dlqCl  *kgo.Client
	dlq    sink.DeadLetters
	m      *metrics

	workers []chan []*kgo.Record

	mu    sync.Mutex
	parts map[tp]*partState

	inflight atomic.Int64 // records read and not done
	read     atomic.Int64
	acked    atomic.Int64

	writeCtx    context.Context // writes and dead letters; ends only on a crash or Close
	writeCancel context.CancelFunc
	stopping    atomic.Bool // a fatal error or a crash: workers stop taking records
	crashed     atomic.Bool
	closing     atomic.Bool // Run drained and committed (or crashed): revocations must not wait
	drainGaveUp atomic.Bool // Run's drain timed out: close must not wait for those writes again
	failMu      sync.Mutex
	failErr     error
	cancelRun   context.CancelCauseFunc
	retries     sync.WaitGroup
	closeOnce   sync.Once
	crashOnce   sync.Once
	ran         atomic.Bool
}

type tp struct {
	topic     string
	partition int32
}

// partState is one input partition: its clock (used by its worker only)
// and its tracker (shared with the writer's callbacks).
type partState struct {
	clock *sink.Clock
	tr    tracker
	task  int
}

// New connects to the controller, checks cfg against the store (every
// problem at once), and builds the writer, the consumer and the dead-letter
// producer. Run starts consuming.
func New(ctx context.Context, cfg *Config, opts ...Option) (*Sink, error) {
	o := options{controller: DefaultControllerURL}
	for _, f := range opts {
		f(&o)
	}
	log := o.logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("connector", cfg.Name)
	url := cfg.ControllerURL
	if url == "" {
		url = o.controller
	}
	token := string(cfg.ControllerToken)
	if token == "" {
		token = o.token
	}
	var copts []client.Option
	if token != "" {
		copts = append(copts, client.Token(token))
	}
	ctl := client.New(url, copts...)
	st, err := ctl.Store(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("sink %s: store %s: %w", cfg.Name, cfg.Store, err)
	}
	cluster, err := ctl.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("sink %s: cluster: %w", cfg.Name, err)
	}
	var problems []error
	region, err := pickRegion(cluster, cfg.Region)
	if err != nil {
		problems = append(problems, err)
	}
	ms, err := storeSchemas(st)
	if err != nil {
		problems = append(problems, err)
	}
	var mapper *Mapper
	if err == nil {
		mapper, err = NewMapper(cfg, ms)
		var ce *ConfigError
		if errors.As(err, &ce) {
			problems = append(problems, ce.Problems...)
		} else if err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		sortErrs(problems)
		return nil, &ConfigError{Problems: problems}
	}
	rt := st.RTTopic
	if rt == "" {
		rt = st.Name + "_rt"
	}
	source := cfg.BootstrapServers
	if len(source) == 0 {
		source = region.Brokers
	}
	if o, err = secureKafka(ctx, cfg, o, region.Brokers, source); err != nil {
		return nil, err
	}
	s := &Sink{cfg: cfg, o: o, log: log, mapper: mapper, store: st, parts: map[tp]*partState{}, m: newMetrics(cfg.Name, cfg.TasksMax)}
	if o.registerer != nil {
		if err := s.m.register(o.registerer); err != nil {
			return nil, fmt.Errorf("sink %s: metrics: %w", cfg.Name, err)
		}
	}
	wopts := []writer.Opt{writer.Brokers(region.Brokers...), writer.Topic(rt), writer.Kind(writer.KindRT),
		writer.Schemas(ctl.SchemaProvider(st.Name)), writer.Logger(log)}
	wopts = append(append(wopts, retryOpts(cfg.RetryTimeout)...), o.writerOpts...)
	if s.w, err = writer.New(wopts...); err != nil {
		return nil, fmt.Errorf("sink %s: writer for %s: %w", cfg.Name, rt, err)
	}
	if cfg.DLQTopic != "" {
		s.dlqCl, err = kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(source...)}, o.kafkaOpts...)...)
		if err == nil {
			err = ensureTopic(ctx, s.dlqCl, cfg.DLQTopic, cfg.DLQReplication)
		}
		if err != nil {
			s.w.Close(ctx)
			if s.dlqCl != nil {
				s.dlqCl.Close()
			}
			return nil, fmt.Errorf("sink %s: dead-letter topic %s: %w", cfg.Name, cfg.DLQTopic, err)
		}
		s.dlq = sink.KafkaDeadLetters(s.dlqCl, cfg.DLQTopic, cfg.DLQContextHeaders)
	}
	reset := kgo.NewOffset().AtStart()
	if cfg.ResetToLatest {
		reset = kgo.NewOffset().AtEnd()
	}
	kopts := []kgo.Opt{
		kgo.SeedBrokers(source...),
		kgo.ConsumerGroup(cfg.Group()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(reset),
		kgo.OnPartitionsAssigned(s.assigned),
		kgo.OnPartitionsRevoked(s.revoked),
		kgo.OnPartitionsLost(s.lost),
	}
	if cfg.TopicsRegex != nil {
		kopts = append(kopts, kgo.ConsumeRegex(), kgo.ConsumeTopics(cfg.TopicsRegex.String()))
	} else {
		kopts = append(kopts, kgo.ConsumeTopics(cfg.Topics...))
	}
	if s.cl, err = kgo.NewClient(append(kopts, o.kafkaOpts...)...); err != nil {
		s.w.Close(ctx)
		if s.dlqCl != nil {
			s.dlqCl.Close()
		}
		return nil, fmt.Errorf("sink %s: consumer: %w", cfg.Name, err)
	}
	s.writeCtx, s.writeCancel = context.WithCancel(context.Background())
	s.workers = make([]chan []*kgo.Record, cfg.TasksMax)
	for i := range s.workers {
		s.workers[i] = make(chan []*kgo.Record, 4)
	}
	return s, nil
}

// secureKafka puts the options of cfg.Kafka before the caller's, for the
// writer and for the consumer and dead-letter clients, and checks that the
// store's region and the source cluster accept them: a wrong password or
// an untrusted certificate fails New at once instead of leaving the
// clients retrying.
func secureKafka(ctx context.Context, cfg *Config, o options, clusters ...[]string) (options, error) {
	if cfg.Kafka == (kafkaconn.Config{}) {
		return o, nil
	}
	kopts, err := cfg.Kafka.Opts()
	if err != nil {
		return o, fmt.Errorf("sink %s: %w", cfg.Name, err)
	}
	o.kafkaOpts = append(kopts, o.kafkaOpts...)
	o.writerOpts = append([]writer.Opt{writer.KafkaOpts(kopts...)}, o.writerOpts...)
	checked := map[string]bool{}
	for _, brokers := range clusters {
		key := strings.Join(brokers, ",")
		if checked[key] {
			continue
		}
		checked[key] = true
		if err := cfg.Kafka.Check(ctx, brokers); kafkaconn.Refused(err) {
			return o, fmt.Errorf("sink %s: %w", cfg.Name, err)
		}
	}
	return o, nil // an unreachable cluster is retried as before
}

// writerRecordRetries is how often the writer's Kafka client tries a
// record before it reports a retriable error to the sink's own retries.
const writerRecordRetries = 3

// retryOpts bound the writer's Kafka client when errors.retry.timeout is
// set: franz-go retries retriable produce errors forever by default, so
// the writer would report none and the sink would neither back off nor
// ever give up (errors.retry.timeout bounded nothing). With 0 the client's
// unbounded retries stay.
func retryOpts(timeout time.Duration) []writer.Opt {
	if timeout == 0 {
		return nil
	}
	kopts := []kgo.Opt{kgo.RecordRetries(writerRecordRetries)}
	if timeout > 0 {
		// A backstop for what franz-go does not count as a try (it
		// allows no less than a second).
		kopts = append(kopts, kgo.RecordDeliveryTimeout(max(timeout, time.Second)))
	}
	return []writer.Opt{writer.KafkaOpts(kopts...)}
}

func pickRegion(c api.Cluster, want string) (api.Region, error) {
	if len(c.Regions) == 0 {
		return api.Region{}, errors.New("rialto.region: the controller knows no region")
	}
	for _, r := range c.Regions {
		if (want == "" && r.ID == c.LocalRegion) || (want != "" && (r.Name == want || strconv.Itoa(int(r.ID)) == want)) {
			if len(r.Brokers) == 0 {
				return r, fmt.Errorf("rialto.region: region %s has no brokers", r.Name)
			}
			return r, nil
		}
	}
	if want == "" {
		return c.Regions[0], nil
	}
	return api.Region{}, fmt.Errorf("rialto.region=%q: no such region", want)
}

func storeSchemas(st api.Store) (Store, error) {
	out := Store{Name: st.Name}
	var err error
	if out.KeySchema, err = avro.Parse(st.KeySchema); err != nil {
		return out, fmt.Errorf("store %s: key schema: %w", st.Name, err)
	}
	var latest api.Schema
	for _, vs := range st.ValueSchemas {
		if vs.ID > latest.ID {
			latest = vs
		}
	}
	if latest.ID == 0 {
		return out, fmt.Errorf("store %s: no value schema", st.Name)
	}
	if out.ValueSchema, err = avro.Parse(latest.Schema); err != nil {
		return out, fmt.Errorf("store %s: value schema %d: %w", st.Name, latest.ID, err)
	}
	out.ValueSchemaID, out.UpdateSchemaID = latest.ID, latest.UpdateSchemaID
	return out, nil
}

func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, rf int16) error {
	adm := kadm.NewClient(cl)
	td, err := adm.ListTopics(ctx, topic)
	if err != nil {
		return err
	}
	if d, ok := td[topic]; ok && d.Err == nil {
		return nil
	}
	resp, err := adm.CreateTopic(ctx, 1, rf, nil, topic)
	if err != nil {
		return err
	}
	if resp.Err != nil && !errors.Is(resp.Err, kerr.TopicAlreadyExists) {
		return resp.Err
	}
	return nil
}

// Stats are the sink's running totals (the metrics, for tests and the
// benchmark).
type Stats struct {
	Read     int64 // records read from the source topics
	Acked    int64 // writes the writer acknowledged
	InFlight int64 // records read and not yet done
}

// Progress returns, per topic and partition this sink holds, the offset
// before which every record is done (written and acknowledged,
// dead-lettered or skipped). Partitions with nothing done yet are left out.
func (s *Sink) Progress() map[string]map[int32]int64 {
	out := map[string]map[int32]int64{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, ps := range s.parts {
		ps.tr.mu.Lock()
		o := ps.tr.doneUpTo
		ps.tr.mu.Unlock()
		if o < 0 {
			continue
		}
		if out[k.topic] == nil {
			out[k.topic] = map[int32]int64{}
		}
		out[k.topic][k.partition] = o
	}
	return out
}

// Stats returns the running totals.
func (s *Sink) Stats() Stats {
	return Stats{Read: s.read.Load(), Acked: s.acked.Load(), InFlight: s.inflight.Load()}
}

// workerOf is the task of a partition: every record of a partition goes to
// one task, in order.
func (s *Sink) workerOf(topic string, partition int32) int {
	if s.cfg.TasksMax == 1 {
		return 0
	}
	h := fnv.New32a()
	h.Write([]byte(topic))
	return int((h.Sum32() + uint32(partition)) % uint32(s.cfg.TasksMax))
}

// Run consumes until ctx ends (a graceful shutdown: nil after draining and
// committing), a record fails with errors.tolerance=none (a
// *sink.RecordError naming it) or another fatal error. It may be called
// once; Close releases everything afterwards.
func (s *Sink) Run(ctx context.Context) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("sink: Run called twice")
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	s.cancelRun = cancel
	defer cancel(nil)
	var wg sync.WaitGroup
	for i, ch := range s.workers {
		wg.Go(func() { s.work(i, ch) })
	}
	commitDone := make(chan struct{})
	var cwg sync.WaitGroup
	cwg.Go(func() {
		t := time.NewTicker(s.cfg.OffsetFlushInterval)
		defer t.Stop()
		for {
			select {
			case <-commitDone:
				return
			case <-t.C:
				if err := s.commit(runCtx); err != nil && runCtx.Err() == nil {
					s.log.Warn("sink: offset commit failed", "err", err)
				}
			}
		}
	})
	if s.o.crash != nil {
		cwg.Go(func() {
			select {
			case <-s.o.crash:
				s.crashNow()
			case <-commitDone:
			}
		})
	}
	s.log.Info("sink: started", "group", s.cfg.Group(), "store", s.store.Name, "tasks", s.cfg.TasksMax)

	batches := make([][]*kgo.Record, len(s.workers))
poll:
	for runCtx.Err() == nil {
		fs := s.cl.PollRecords(runCtx, s.cfg.MaxPollRecords)
		if fs.IsClientClosed() {
			break
		}
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("sink: fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			i := s.workerOf(r.Topic, r.Partition)
			batches[i] = append(batches[i], r)
		})
		for i, b := range batches {
			if len(b) == 0 {
				continue
			}
			s.inflight.Add(int64(len(b)))
			s.read.Add(int64(len(b)))
			s.m.tasks[i].read.Add(float64(len(b)))
			s.m.tasks[i].active.Add(float64(len(b)))
			select {
			case s.workers[i] <- b:
			case <-runCtx.Done():
				s.inflight.Add(-int64(len(b)))
				s.m.tasks[i].active.Sub(float64(len(b)))
				break poll
			}
			batches[i] = nil
		}
		s.cl.AllowRebalance()
	}
	for _, ch := range s.workers {
		close(ch)
	}
	wg.Wait()
	err := s.failure()
	if !s.crashed.Load() {
		// Graceful, or a fatal error: let what was written finish, then
		// commit what was acknowledged.
		drainTimeout := DrainTimeout
		if s.o.drain > 0 {
			drainTimeout = s.o.drain
		}
		dctx, dcancel := context.WithTimeout(context.Background(), drainTimeout)
		if derr := s.drain(dctx); derr != nil {
			s.drainGaveUp.Store(true)
			if err == nil {
				err = fmt.Errorf("sink %s: draining: %w", s.cfg.Name, derr)
			}
		}
		dcancel()
		// A drain that timed out still commits what was acknowledged.
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		if cerr := s.commit(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("sink %s: final offset commit: %w", s.cfg.Name, cerr)
		}
		ccancel()
	}
	close(commitDone)
	cwg.Wait()
	s.close()
	if s.crashed.Load() {
		return errCrashed
	}
	if err != nil {
		return err
	}
	return nil
}

var errCrashed = errors.New("sink: crashed (test hook)")

// crashNow stops like a killed process: nothing more is written, drained
// or committed (test hook).
func (s *Sink) crashNow() {
	s.crashOnce.Do(func() {
		s.crashed.Store(true)
		s.stopping.Store(true)
		s.writeCancel()
		if s.cancelRun != nil {
			s.cancelRun(errCrashed)
		}
	})
}

// drain waits until every record read is done (written and acknowledged,
// dead-lettered or skipped), or the sink failed, or ctx ends.
func (s *Sink) drain(ctx context.Context) error {
	for s.inflight.Load() > 0 {
		if s.stopping.Load() {
			// Failed records stay in flight forever; wait for the writer
			// only.
			return s.w.Flush(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d records still in flight: %w", s.inflight.Load(), ctx.Err())
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}

// close releases the clients; safe to call twice.
func (s *Sink) close() {
	s.closeOnce.Do(func() {
		s.closing.Store(true)
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if s.crashed.Load() || s.drainGaveUp.Load() {
			// Crashed, or the drain gave up: waiting again for the
			// writes it gave up on would outlast DrainTimeout.
			cancel()
		}
		// Records may have been polled without AllowRebalance: plain Close
		// would wait for it.
		s.cl.CloseAllowingRebalance()
		s.w.Close(cctx)
		s.retries.Wait()
		if s.dlqCl != nil {
			if !s.crashed.Load() {
				s.dlqCl.Flush(cctx)
			}
			s.dlqCl.Close()
		}
		s.writeCancel()
	})
}

// Close releases a Sink whose Run was never called (Run closes it
// otherwise). Safe to call twice.
func (s *Sink) Close() {
	if s.ran.Load() {
		return
	}
	s.stopping.Store(true)
	s.close()
}

// fail records the first fatal error and stops the sink.
func (s *Sink) fail(err error) {
	s.failMu.Lock()
	first := s.failErr == nil
	if first {
		s.failErr = err
	}
	s.failMu.Unlock()
	if first {
		s.stopping.Store(true)
		s.log.Error("sink: stopping", "err", err)
		if s.cancelRun != nil {
			s.cancelRun(err)
		}
	}
}

func (s *Sink) failure() error {
	s.failMu.Lock()
	defer s.failMu.Unlock()
	return s.failErr
}

func (s *Sink) part(topic string, partition int32, task int) *partState {
	k := tp{topic, partition}
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.parts[k]
	if ps == nil {
		ps = &partState{clock: sink.NewClock(), task: task}
		ps.tr.init()
		s.parts[k] = ps
	}
	return ps
}

// work is one task: it converts its partitions' records in offset order
// and hands them to the writer.
func (s *Sink) work(task int, in <-chan []*kgo.Record) {
	var last *partState
	var lastTP tp
	for batch := range in {
		for _, r := range batch {
			if s.stopping.Load() {
				// Not done: never committed.
				continue
			}
			if last == nil || lastTP.topic != r.Topic || lastTP.partition != r.Partition {
				last, lastTP = s.part(r.Topic, r.Partition, task), tp{r.Topic, r.Partition}
			}
			s.process(task, last, r)
		}
	}
}

// write is one record on its way to the store.
type write struct {
	s     *Sink
	task  int
	ps    *partState
	r     *kgo.Record
	seq   uint64
	c     converted
	ts    int64
	start time.Time
	tries int
}

func (s *Sink) process(task int, ps *partState, r *kgo.Record) {
	key, err := s.mapper.Key(r.Key)
	clockKey := key
	if err != nil {
		clockKey = r.Key
	}
	var c converted
	if err == nil {
		c, err = s.mapper.Value(key, r.Value)
	}
	ts, clean := int64(-1), true
	if s.cfg.TimestampSource != TimestampNone {
		rts := r.Timestamp.UnixMilli()
		if c.hasTSFld {
			rts = c.tsField
		}
		ts, clean = ps.clock.Stamp(r.Offset, rts, clockKey)
	}
	seq := ps.tr.add(r.Offset, clean)
	w := &write{s: s, task: task, ps: ps, r: r, seq: seq, c: c, ts: ts, start: time.Now()}
	if err != nil {
		w.dataError(err)
		return
	}
	if c.skip {
		w.done()
		return
	}
	s.m.tasks[task].send.Inc()
	if err := w.submit(); err != nil {
		w.failed(err)
	}
}

func (w *write) submit() error {
	s := w.s
	var opts []writer.CallOpt
	if w.ts >= 0 {
		opts = append(opts, writer.WithTimestamp(w.ts))
	}
	switch w.c.kind {
	case sink.OpDelete:
		return s.w.DeleteBytesAsync(s.writeCtx, w.c.key, w.cb, opts...)
	case sink.OpUpdate:
		return s.w.UpdateBytesAsync(s.writeCtx, w.c.key, s.mapper.st.ValueSchemaID, s.mapper.st.UpdateSchemaID, w.c.value, w.cb, opts...)
	default:
		return s.w.PutBytesAsync(s.writeCtx, w.c.key, s.mapper.st.ValueSchemaID, w.c.value, w.cb, opts...)
	}
}

func (w *write) cb(_ writer.Result, err error) {
	if err != nil {
		w.failed(err)
		return
	}
	if n := w.s.acked.Add(1); n == w.s.o.crashAfter {
		w.s.crashNow()
		return
	}
	w.s.m.tasks[w.task].ack.Inc()
	w.done()
}

func (w *write) done() {
	w.ps.tr.done(w.seq)
	w.s.inflight.Add(-1)
	w.s.m.tasks[w.task].active.Dec()
}

func (w *write) recordErr(err error) *sink.RecordError {
	return &sink.RecordError{Topic: w.r.Topic, Partition: w.r.Partition, Offset: w.r.Offset, Err: err}
}

func (w *write) failed(err error) {
	s, m := w.s, w.s.m.tasks[w.task]
	if s.crashed.Load() {
		return
	}
	switch sink.Classify(err) {
	case sink.Data:
		w.dataError(err)
	case sink.Retriable:
		m.failures.Inc()
		if s.cfg.RetryTimeout >= 0 && time.Since(w.start) >= s.cfg.RetryTimeout || s.stopping.Load() {
			m.errors.Inc()
			m.lastError.Set(float64(time.Now().UnixMilli()))
			s.fail(w.recordErr(fmt.Errorf("retries exhausted (errors.retry.timeout=%s): %w", s.cfg.RetryTimeout, err)))
			return
		}
		w.tries++
		m.retries.Inc()
		delay := min(s.cfg.RetryDelayMax, 100*time.Millisecond<<min(w.tries-1, 20))
		s.log.Warn("sink: retrying write", "topic", w.r.Topic, "partition", w.r.Partition, "offset", w.r.Offset, "attempt", w.tries, "delay", delay, "err", err)
		s.retries.Add(1)
		time.AfterFunc(delay, func() {
			defer s.retries.Done()
			if s.stopping.Load() {
				return
			}
			if err := w.submit(); err != nil {
				w.failed(err)
			}
		})
	default:
		m.failures.Inc()
		m.errors.Inc()
		m.lastError.Set(float64(time.Now().UnixMilli()))
		s.fail(w.recordErr(err))
	}
}

// dataError handles a record that cannot be written: skip it (to the
// dead-letter topic when one is set) with errors.tolerance=all, stop the
// sink naming it otherwise.
func (w *write) dataError(err error) {
	s, m := w.s, w.s.m.tasks[w.task]
	m.errors.Inc()
	m.failures.Inc()
	m.lastError.Set(float64(time.Now().UnixMilli()))
	stage := StagePut
	var de *sink.DataError
	if errors.As(err, &de) && de.Stage != "" {
		stage = de.Stage
	}
	if !s.cfg.ErrorsToleranceAll {
		s.fail(w.recordErr(err))
		return
	}
	if s.cfg.LogErrors {
		m.logged.Inc()
		attrs := []any{"topic", w.r.Topic, "partition", w.r.Partition, "offset", w.r.Offset, "stage", stage, "err", err}
		if s.cfg.LogMessages {
			attrs = append(attrs, "key", describe(w.r.Key), "value", describe(w.r.Value))
		}
		s.log.Warn("sink: skipping record", attrs...)
	}
	m.skipped.Inc()
	if s.dlq == nil {
		w.done()
		return
	}
	m.dlqReq.Inc()
	dl := sink.DeadLetter{Topic: w.r.Topic, Partition: w.r.Partition, Offset: w.r.Offset, Key: w.r.Key, Value: w.r.Value,
		Headers: w.r.Headers, Err: err, Stage: stage, Connector: s.cfg.Name, Task: w.task}
	s.dlq.Send(s.writeCtx, dl, func(dlErr error) {
		if dlErr != nil {
			m.dlqFail.Inc()
			if !s.crashed.Load() {
				s.fail(w.recordErr(fmt.Errorf("%w (and %w)", err, dlErr)))
			}
			return
		}
		w.done()
	})
}

// assigned counts the partitions per task.
func (s *Sink) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	for t, ps := range assigned {
		for _, p := range ps {
			s.m.tasks[s.workerOf(t, p)].partitions.Inc()
		}
	}
}

// revoked drains what was read, commits it, and forgets the revoked
// partitions (their next owner starts from the commit with a fresh clock).
func (s *Sink) revoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	if s.crashed.Load() {
		return
	}
	if s.closing.Load() {
		// Leaving the group at close: Run has drained (at most
		// DrainTimeout) and committed; waiting here again would wait
		// for ever for writes that never complete.
		s.forget(revoked)
		return
	}
	if err := s.drain(ctx); err != nil {
		s.log.Warn("sink: draining before a rebalance", "err", err)
	}
	if err := s.commit(ctx); err != nil {
		s.log.Warn("sink: committing before a rebalance", "err", err)
	}
	s.forget(revoked)
}

// lost forgets partitions without committing: another member owns them.
func (s *Sink) lost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	if s.crashed.Load() {
		return
	}
	if s.closing.Load() {
		s.forget(lost)
		return
	}
	if err := s.drain(ctx); err != nil {
		s.log.Warn("sink: draining lost partitions", "err", err)
	}
	s.forget(lost)
}

func (s *Sink) forget(parts map[string][]int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for t, ps := range parts {
		for _, p := range ps {
			if st, ok := s.parts[tp{t, p}]; ok {
				s.m.tasks[st.task].partitions.Dec()
				delete(s.parts, tp{t, p})
			} else {
				s.m.tasks[s.workerOf(t, p)].partitions.Dec()
			}
		}
	}
}

// commit commits every partition's committable offset that moved.
func (s *Sink) commit(ctx context.Context) error {
	if s.crashed.Load() {
		return nil
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	type pending struct {
		ps  *partState
		off int64
	}
	var todo []pending
	s.mu.Lock()
	for k, ps := range s.parts {
		if off, ok := ps.tr.committable(); ok {
			if offsets[k.topic] == nil {
				offsets[k.topic] = map[int32]kgo.EpochOffset{}
			}
			offsets[k.topic][k.partition] = kgo.EpochOffset{Epoch: -1, Offset: off}
			todo = append(todo, pending{ps, off})
		}
	}
	s.mu.Unlock()
	if len(todo) == 0 {
		s.m.commitSkip.Inc()
		return nil
	}
	var cerr error
	s.cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if cerr != nil {
		s.m.commitFailed.Inc()
		return cerr
	}
	for _, p := range todo {
		p.ps.tr.committed(p.off)
	}
	s.m.commitDone.Inc()
	return nil
}

// tracker follows one partition's records from read to done and knows the
// offset that may be committed: the largest clean restart point (package
// sink, "Logical timestamps") with every record before it done.
type tracker struct {
	mu        sync.Mutex
	base      uint64    // sequence number of q[0]
	q         []trEntry // q[head:] are the records not yet released
	head      int
	commitOff int64 // committable offset; -1: none yet
	doneOff   int64 // last offset committed; -1: none
	doneUpTo  int64 // every record before this offset is done; -1: none
}

type trEntry struct {
	off         int64
	clean, done bool
}

func (t *tracker) init() { t.commitOff, t.doneOff, t.doneUpTo = -1, -1, -1 }

func (t *tracker) add(off int64, clean bool) uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	if clean && t.head == len(t.q) {
		t.commitOff = max(t.commitOff, off)
	}
	if t.head > 0 && t.head == len(t.q) {
		t.base += uint64(t.head)
		t.q, t.head = t.q[:0], 0
	}
	t.q = append(t.q, trEntry{off: off, clean: clean})
	return t.base + uint64(len(t.q)) - 1
}

func (t *tracker) done(seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.q[seq-t.base].done = true
	i := t.head
	for i < len(t.q) && t.q[i].done {
		i++
		// Every record before q[i] is done: q[i] may be committed if it
		// is a clean point.
		if i < len(t.q) && t.q[i].clean {
			t.commitOff = max(t.commitOff, t.q[i].off)
		}
	}
	if i > t.head {
		t.doneUpTo = t.q[i-1].off + 1
	}
	t.head = i
	if t.head > 1024 && t.head > len(t.q)/2 {
		n := copy(t.q, t.q[t.head:])
		t.base += uint64(t.head)
		t.q, t.head = t.q[:n], 0
	}
}

// committable returns the offset to commit if it moved since the last
// commit.
func (t *tracker) committable() (int64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.commitOff, t.commitOff > t.doneOff
}

func (t *tracker) committed(off int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.doneOff = max(t.doneOff, off)
}
