package push

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// Controller is what a push needs of the controller; *client.Client
// implements it.
type Controller interface {
	Cluster(ctx context.Context) (api.Cluster, error)
	Store(ctx context.Context, name string) (api.Store, error)
	StartPush(ctx context.Context, store string, req api.StartPushRequest) (api.Version, error)
	EndOfPush(ctx context.Context, store string, version int32) (api.Version, error)
	KillPush(ctx context.Context, store string, version int32) (api.Version, error)
	ReplayStatus(ctx context.Context, store string, version int32) (api.ReplayStatus, error)
}

// Defaults of the options below.
const (
	// DefaultDictionarySamples: a zstd-dict push trains its dictionary on
	// the first 2 000 records. Training costs ~2.7 ms a sample on the
	// project machine (27 s for 10 000, LIMITS.md); 2 000 keep it to a few
	// seconds while a feature-like dataset still compresses to well under
	// 0.6× (push_test.go measures it).
	DefaultDictionarySamples = 2000
	// DefaultDictionarySize is the dictionary size aimed for: 16 KiB.
	DefaultDictionarySize = 16 << 10
	// DefaultProgressInterval: progress is reported at most this often.
	DefaultProgressInterval = 100 * time.Millisecond
	// killTimeout bounds the kill of a failed push's version, which runs
	// even when the push's context has ended.
	killTimeout = 30 * time.Second
)

// Progress is a push's progress so far.
type Progress struct {
	// Records read, validated and handed to the writer; Acked of them
	// acknowledged by Kafka.
	Records int64
	Acked   int64
	// Bytes of input consumed, of TotalBytes (0 when unknown).
	Bytes      int64
	TotalBytes int64
	// Phase is "validating" (a first pass over a file), "training" (a zstd
	// dictionary), "writing", "end-of-push" or "done".
	Phase string
}

// Opt configures a push.
type Opt func(*options)

type options struct {
	progress     func(Progress)
	interval     time.Duration
	samples      int
	dictSize     int
	schemaID     int32
	brokers      []string
	writerOpts   []writer.Opt
	logger       *slog.Logger
	pushID       string
	sorted       bool
	keepOnFailed bool
	noPrepass    bool
}

func defaultOptions() options {
	return options{
		interval: DefaultProgressInterval,
		samples:  DefaultDictionarySamples,
		dictSize: DefaultDictionarySize,
	}
}

// ValidateFirst (default true) reads an input that can be read twice (a
// file, anything with Seek) once before the push creates anything, so a
// bad record fails the push with its line and changes nothing: no version
// number is used up, no start-of-incremental-push is left without its
// end. It costs a second parse of the input. An input that cannot be rewound
// (standard input, a pipe) is validated as it is written, and a bad
// record then kills the version it was going into.
func ValidateFirst(b bool) Opt { return func(o *options) { o.noPrepass = !b } }

// OnProgress calls fn with the push's progress at most every
// ProgressInterval and once at the end of each phase (default: none). fn
// runs on the goroutine running the push and must not block for long.
func OnProgress(fn func(Progress)) Opt { return func(o *options) { o.progress = fn } }

// ProgressInterval sets how often OnProgress is called at most (default
// DefaultProgressInterval, 100 ms).
func ProgressInterval(d time.Duration) Opt { return func(o *options) { o.interval = d } }

// DictionarySamples sets how many records (the first ones) a zstd-dict
// push trains its dictionary on (default DefaultDictionarySamples, 2 000).
// They are held in memory until written.
func DictionarySamples(n int) Opt { return func(o *options) { o.samples = n } }

// DictionarySize sets the trained dictionary's size (default
// DefaultDictionarySize, 16 KiB).
func DictionarySize(n int) Opt { return func(o *options) { o.dictSize = n } }

// ValueSchemaID names the store value schema the input is in (default:
// the store's newest).
func ValueSchemaID(id int32) Opt { return func(o *options) { o.schemaID = id } }

// Brokers sets the Kafka seed brokers (default: the controller's local
// region's).
func Brokers(seeds ...string) Opt {
	return func(o *options) { o.brokers = append([]string(nil), seeds...) }
}

// WriterOpts passes extra options to the writer (after the push's own).
func WriterOpts(opts ...writer.Opt) Opt {
	return func(o *options) { o.writerOpts = append(o.writerOpts, opts...) }
}

// Logger sets where the push logs (default: nowhere).
func Logger(l *slog.Logger) Opt { return func(o *options) { o.logger = l } }

// PushID names an incremental push (default: "push-" and 8 random bytes
// in hex).
func PushID(id string) Opt { return func(o *options) { o.pushID = id } }

// Sorted announces in the start-of-push that the input is sorted by
// serialized key (default false). Nothing checks it; servers may load a
// sorted push faster.
func Sorted(b bool) Opt { return func(o *options) { o.sorted = b } }

func (o *options) validate() error {
	var errs []error
	if o.interval <= 0 {
		errs = append(errs, fmt.Errorf("ProgressInterval(%s): must be positive", o.interval))
	}
	if o.samples < 1 {
		errs = append(errs, fmt.Errorf("DictionarySamples(%d): need at least 1", o.samples))
	}
	if o.dictSize < 256 {
		errs = append(errs, fmt.Errorf("DictionarySize(%d): need at least 256", o.dictSize))
	}
	if o.schemaID < 0 {
		errs = append(errs, fmt.Errorf("ValueSchemaID(%d): negative", o.schemaID))
	}
	if len(errs) > 0 {
		return fmt.Errorf("push: invalid options: %w", errors.Join(errs...))
	}
	return nil
}

// Target is a topic to push into without asking the controller: a
// pre-created version topic (a full push) or an RT topic (an incremental
// push). Full and Incremental build one from the controller's answers.
type Target struct {
	Brokers []string
	// OtherRegions are the seed brokers of other regions whose copy of the
	// same topic gets the same records: a full push fills the version
	// topic of every region (each region's servers build the version from
	// their own cluster). Every record is acknowledged only once every
	// region acknowledged it.
	OtherRegions [][]string
	Topic        string
	// Partitions of the topic; 0 reads them from the topic's metadata.
	Partitions int32
	// Incremental makes Topic an RT topic written between
	// start-of-incremental-push and end-of-incremental-push; otherwise it is
	// a version topic written between start-of-push and end-of-push.
	Incremental bool
	// Compression of a version topic's values. For CompressionZstdDict
	// without a Dictionary, one is trained on the input's first records.
	Compression wire.Compression
	Dictionary  []byte
	// Chunking splits values above the writer's threshold into chunks.
	Chunking bool
	// KeySchema is the store's key schema (nil: raw string keys).
	KeySchema avro.Schema
	// ValueSchema is the schema input values are validated against and
	// written in, registered as ValueSchemaID.
	ValueSchema   avro.Schema
	ValueSchemaID int32
}

func (t *Target) validate() error {
	var errs []error
	if len(t.Brokers) == 0 {
		errs = append(errs, errors.New("Brokers: required"))
	}
	if t.Topic == "" {
		errs = append(errs, errors.New("Topic: required"))
	}
	if t.Partitions < 0 {
		errs = append(errs, fmt.Errorf("Partitions(%d): negative", t.Partitions))
	}
	if t.ValueSchema == nil {
		errs = append(errs, errors.New("ValueSchema: required"))
	} else if t.ValueSchema.Type() != avro.Record {
		errs = append(errs, fmt.Errorf("ValueSchema: a %s; want a record", t.ValueSchema.Type()))
	}
	if t.ValueSchemaID <= 0 {
		errs = append(errs, fmt.Errorf("ValueSchemaID(%d): want a registered id ≥ 1", t.ValueSchemaID))
	}
	if t.Incremental && t.Compression != wire.CompressionNone {
		errs = append(errs, fmt.Errorf("Compression(%s): an incremental push writes an RT topic, never compressed", t.Compression))
	}
	if len(errs) > 0 {
		return fmt.Errorf("push: invalid target: %w", errors.Join(errs...))
	}
	return nil
}

// Result describes a finished push.
type Result struct {
	Store   string `json:"store,omitempty"`
	Version int32  `json:"version,omitempty"` // 0 for an incremental push
	Topic   string `json:"topic"`
	PushID  string `json:"pushId,omitempty"` // incremental pushes
	// Records written, their uncompressed value bytes, and the input bytes.
	Records     int64  `json:"records"`
	ValueBytes  int64  `json:"valueBytes"`
	InputBytes  int64  `json:"inputBytes"`
	Compression string `json:"compression"`
	// DictionaryBytes is the size of the trained or given dictionary, and
	// Training how long training took (0 when none was trained).
	DictionaryBytes int           `json:"dictionaryBytes,omitempty"`
	Training        time.Duration `json:"training,omitempty"`
	Duration        time.Duration `json:"duration"`
}

// job is one push's input side: the source, the records held back for
// dictionary training, and progress.
type job struct {
	o      options
	src    source
	held   []Record // read ahead (dictionary samples), written first
	total  int64
	prog   Progress
	lastPg time.Time
	start  time.Time
}

// prepass validates every record of in before anything is created, when
// in can be rewound (see ValidateFirst), and rewinds it.
func prepass(in Input, keySchema, valueSchema avro.Schema, o options) error {
	sk, ok := in.Reader.(io.Seeker)
	if !ok || o.noPrepass {
		return nil
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not seekable after all (a pipe behind an *os.File)
	}
	j, err := newJob(in, keySchema, valueSchema, o)
	if err != nil {
		return err
	}
	for {
		if _, err := j.src.next(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		j.prog.Records++
		j.report("validating", false)
	}
	j.report("validating", true)
	if _, err := sk.Seek(start, io.SeekStart); err != nil {
		return fmt.Errorf("push: rewinding %s after validating it: %w", in.Name, err)
	}
	return nil
}

func newJob(in Input, keySchema, valueSchema avro.Schema, o options) (*job, error) {
	src, err := newSource(in, keySchema, valueSchema)
	if err != nil {
		return nil, err
	}
	j := &job{o: o, src: src, start: time.Now()}
	j.prog.TotalBytes = in.Size
	return j, nil
}

func (j *job) report(phase string, force bool) {
	if j.o.progress == nil {
		return
	}
	now := time.Now()
	if !force && now.Sub(j.lastPg) < j.o.interval {
		return
	}
	j.lastPg = now
	j.prog.Phase = phase
	j.prog.Bytes = j.src.consumed()
	j.o.progress(j.prog)
}

// train reads up to o.samples records ahead and trains a dictionary on
// their values.
func (j *job) train() ([]byte, time.Duration, error) {
	j.report("training", true)
	for len(j.held) < j.o.samples {
		rec, err := j.src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
		j.held = append(j.held, rec)
	}
	if len(j.held) == 0 {
		return nil, 0, errors.New("push: the input is empty; nothing to train a zstd dictionary on")
	}
	samples := make([][]byte, len(j.held))
	for i, r := range j.held {
		samples[i] = r.Value
	}
	start := time.Now()
	d, err := valuecomp.TrainDictionary(samples, j.o.dictSize)
	if err != nil {
		return nil, 0, fmt.Errorf("push: %w", err)
	}
	took := time.Since(start)
	if j.o.logger != nil {
		j.o.logger.Info("trained a zstd dictionary", "samples", len(samples), "bytes", len(d), "took", took)
	}
	return d, took, nil
}

// acks counts acknowledged writes and keeps the first failure.
type acks struct {
	n     atomic.Int64
	mu    sync.Mutex
	first error
}

func (a *acks) cb(_ writer.Result, err error) {
	if err != nil {
		a.mu.Lock()
		if a.first == nil {
			a.first = err
		}
		a.mu.Unlock()
		return
	}
	a.n.Add(1)
}

func (a *acks) err() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.first
}

// write sends every record (held ones first) through w. It stops at the
// first bad record or failed write.
func (j *job) write(ctx context.Context, w recordWriter, schemaID int32, res *Result) error {
	var a acks
	put := func(rec Record) error {
		var opts []writer.CallOpt
		if rec.HasTimestamp {
			opts = append(opts, writer.WithTimestamp(rec.Timestamp))
		}
		if err := w.PutBytesAsync(ctx, rec.Key, schemaID, rec.Value, a.cb, opts...); err != nil {
			return fmt.Errorf("push: write: %w", err)
		}
		j.prog.Records++
		res.Records++
		res.ValueBytes += int64(len(rec.Value))
		return nil
	}
	for i, rec := range j.held {
		if err := put(rec); err != nil {
			return err
		}
		j.held[i] = Record{}
	}
	j.held = nil
	for {
		if err := a.err(); err != nil {
			return fmt.Errorf("push: write: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rec, err := j.src.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := put(rec); err != nil {
			return err
		}
		j.prog.Acked = a.n.Load()
		j.report("writing", false)
	}
	if err := w.Flush(ctx); err != nil {
		return fmt.Errorf("push: flush: %w", err)
	}
	if err := a.err(); err != nil {
		return fmt.Errorf("push: write: %w", err)
	}
	j.prog.Acked = a.n.Load()
	res.InputBytes = j.src.consumed()
	j.report("writing", true)
	return nil
}

// Write pushes in into the target: start-of-push (or start-of-incremental-
// push), every record, end-of-push (or end-of-incremental-push). On a bad
// record or any failure it stops before the end control message, so a
// version topic never carries end-of-push for a partial push; the records
// already written stay in the topic (the caller kills the version).
func Write(ctx context.Context, in Input, t Target, opts ...Opt) (Result, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	if err := t.validate(); err != nil {
		return Result{}, err
	}
	j, err := newJob(in, t.KeySchema, t.ValueSchema, o)
	if err != nil {
		return Result{}, err
	}
	res := Result{Topic: t.Topic, Compression: t.Compression.String()}
	if t.Compression == wire.CompressionZstdDict && len(t.Dictionary) == 0 {
		if t.Dictionary, res.Training, err = j.train(); err != nil {
			return res, err
		}
	}
	return j.run(ctx, t, &res)
}

// run writes the target's topic once the dictionary (if any) is known.
func (j *job) run(ctx context.Context, t Target, res *Result) (Result, error) {
	res.DictionaryBytes = len(t.Dictionary)
	var dict []byte
	if t.Compression == wire.CompressionZstdDict {
		dict = t.Dictionary
	}
	kind := writer.KindVersion
	if t.Incremental {
		kind = writer.KindRT
	}
	schemas := &writer.StaticSchemas{Key: t.KeySchema, Values: map[int32]avro.Schema{t.ValueSchemaID: t.ValueSchema}}
	if schemas.Key == nil {
		schemas.Key = avro.NewPrimitiveSchema(avro.String, nil)
	}
	var fw fanout
	for _, brokers := range append([][]string{t.Brokers}, t.OtherRegions...) {
		wopts := []writer.Opt{
			writer.Brokers(brokers...), writer.Topic(t.Topic), writer.Kind(kind), writer.Schemas(schemas),
			writer.Compression(t.Compression, dict),
		}
		if !t.Chunking {
			wopts = append(wopts, writer.ChunkThreshold(0))
		}
		if t.Partitions > 0 {
			wopts = append(wopts, writer.Partitions(t.Partitions))
		}
		if j.o.logger != nil {
			wopts = append(wopts, writer.Logger(j.o.logger))
		}
		one, err := writer.New(append(wopts, j.o.writerOpts...)...)
		if err != nil {
			closeAll(ctx, fw)
			return *res, fmt.Errorf("push: %w", err)
		}
		fw = append(fw, one)
	}
	w := fw
	closeW := func() error { return closeAll(ctx, fw) }
	var err error
	fail := func(err error) (Result, error) {
		closeW() // the push already failed; closing only ends the segments
		return *res, err
	}
	if t.Incremental {
		if res.PushID == "" {
			res.PushID = j.o.pushID
		}
		if res.PushID == "" {
			var b [8]byte
			_, _ = rand.Read(b[:])
			res.PushID = "push-" + hex.EncodeToString(b[:])
		}
		err = w.StartOfIncrementalPush(ctx, res.PushID)
	} else {
		err = w.StartOfPush(ctx, j.o.sorted)
	}
	if err != nil {
		return fail(fmt.Errorf("push: %w", err))
	}
	if err := j.write(ctx, w, t.ValueSchemaID, res); err != nil {
		return fail(err)
	}
	j.report("end-of-push", true)
	if t.Incremental {
		err = w.EndOfIncrementalPush(ctx, res.PushID)
	} else {
		err = w.EndOfPush(ctx)
	}
	if err != nil {
		return fail(fmt.Errorf("push: %w", err))
	}
	if err := closeW(); err != nil {
		return *res, fmt.Errorf("push: close: %w", err)
	}
	res.Duration = time.Since(j.start)
	return *res, nil
}

// storeSchemas returns the store's key schema and the value schema a push
// writes in (id, or the newest when id is 0).
func storeSchemas(st api.Store, id int32) (avro.Schema, avro.Schema, int32, error) {
	key, err := avro.Parse(st.KeySchema)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("push: store %s: key schema: %w", st.Name, err)
	}
	var pick *api.Schema
	for i := range st.ValueSchemas {
		vs := &st.ValueSchemas[i]
		if (id == 0 && (pick == nil || vs.ID > pick.ID)) || vs.ID == id {
			pick = vs
		}
	}
	if pick == nil {
		if id == 0 {
			return nil, nil, 0, fmt.Errorf("push: store %s has no value schema", st.Name)
		}
		return nil, nil, 0, fmt.Errorf("push: store %s has no value schema %d", st.Name, id)
	}
	value, err := avro.Parse(pick.Schema)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("push: store %s: value schema %d: %w", st.Name, pick.ID, err)
	}
	return key, value, pick.ID, nil
}

// localBrokers returns the brokers of the controller's own region.
func localBrokers(ctx context.Context, ctl Controller, o *options) ([]string, error) {
	if len(o.brokers) > 0 {
		return o.brokers, nil
	}
	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return nil, fmt.Errorf("push: cluster: %w", err)
	}
	for _, r := range cl.Regions {
		if r.ID == cl.LocalRegion && len(r.Brokers) > 0 {
			return r.Brokers, nil
		}
	}
	return nil, fmt.Errorf("push: the controller names no brokers for its region %d", cl.LocalRegion)
}

// regionBrokers returns the local region's brokers and every other
// region's (none when Brokers overrides them).
func regionBrokers(ctx context.Context, ctl Controller, o *options) ([]string, [][]string, error) {
	local, err := localBrokers(ctx, ctl, o)
	if err != nil || len(o.brokers) > 0 {
		return local, nil, err
	}
	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("push: cluster: %w", err)
	}
	var others [][]string
	for _, r := range cl.Regions {
		if r.ID != cl.LocalRegion {
			others = append(others, r.Brokers)
		}
	}
	return local, others, nil
}

// Full runs a full push of in into a new version of store: it asks the
// controller for the version (with a dictionary trained on the first
// records when the store compresses with zstd-dict), writes start-of-push,
// the records and end-of-push into the version topic, and tells the
// controller end-of-push was written. A file input is validated first
// (ValidateFirst): a bad record then fails the push before a version
// exists. On any failure after the version was created — a bad record of
// a stream, a failed write, a cancelled context — it writes
// no end-of-push and kills the version, so nothing of a failed push ever
// becomes current; the error returned is the push's (a failed kill is
// joined to it).
func Full(ctx context.Context, ctl Controller, store string, in Input, opts ...Opt) (Result, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	st, err := ctl.Store(ctx, store)
	if err != nil {
		return Result{}, fmt.Errorf("push: store %s: %w", store, err)
	}
	key, value, schemaID, err := storeSchemas(st, o.schemaID)
	if err != nil {
		return Result{}, err
	}
	brokers, others, err := regionBrokers(ctx, ctl, &o)
	if err != nil {
		return Result{}, err
	}
	if err := prepass(in, key, value, o); err != nil {
		return Result{Store: store}, err
	}
	j, err := newJob(in, key, value, o)
	if err != nil {
		return Result{}, err
	}
	res := Result{Store: store}
	var dict []byte
	if st.Config.Compression == wire.CompressionZstdDict.String() {
		// Train before the version exists: a bad record among the samples
		// then creates nothing.
		if dict, res.Training, err = j.train(); err != nil {
			return res, err
		}
	}
	v, err := ctl.StartPush(ctx, store, api.StartPushRequest{Sorted: o.sorted, Dictionary: dict})
	if err != nil {
		return res, fmt.Errorf("push: start push of %s: %w", store, err)
	}
	res.Version, res.Topic, res.Compression = v.Number, v.Topic, v.Compression
	kill := func(cause error) (Result, error) {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
		defer cancel()
		if _, kerr := ctl.KillPush(kctx, store, v.Number); kerr != nil {
			return res, errors.Join(cause, fmt.Errorf("push: killing version %d of %s: %w", v.Number, store, kerr))
		}
		return res, fmt.Errorf("%w (version %d of %s killed)", cause, v.Number, store)
	}
	mode, err := wire.ParseCompression(v.Compression)
	if v.Compression == "" {
		mode, err = wire.CompressionNone, nil
	}
	if err != nil {
		return kill(fmt.Errorf("push: version %d: %w", v.Number, err))
	}
	t := Target{
		Brokers: brokers, OtherRegions: others, Topic: v.Topic, Partitions: v.Partitions,
		Compression: mode, Chunking: v.Chunking,
		KeySchema: key, ValueSchema: value, ValueSchemaID: schemaID,
	}
	if mode == wire.CompressionZstdDict {
		t.Dictionary = v.Dictionary
		if len(t.Dictionary) == 0 {
			t.Dictionary = dict
		}
		if len(t.Dictionary) == 0 {
			return kill(fmt.Errorf("push: version %d of %s is zstd-dict but has no dictionary", v.Number, store))
		}
	}
	if _, err := j.run(ctx, t, &res); err != nil {
		return kill(err)
	}
	if _, err := ctl.EndOfPush(ctx, store, v.Number); err != nil {
		return kill(fmt.Errorf("push: end-of-push of version %d of %s: %w", v.Number, store, err))
	}
	j.report("done", true)
	res.Duration = time.Since(j.start)
	return res, nil
}

// Incremental runs an incremental push of in into store: the records go
// to the store's RT topic between start- and end-of-incremental-push, and
// the leaders apply them to every live version (current, backup and
// future). A file input is validated first (ValidateFirst), so a bad
// record writes nothing. A failed incremental push writes no
// end-of-incremental-push; the records written before the failure stay
// applied (they are ordinary nearline writes).
func Incremental(ctx context.Context, ctl Controller, store string, in Input, opts ...Opt) (Result, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return Result{}, err
	}
	st, err := ctl.Store(ctx, store)
	if err != nil {
		return Result{}, fmt.Errorf("push: store %s: %w", store, err)
	}
	if st.RTTopic == "" {
		return Result{}, fmt.Errorf("push: store %s has no real-time topic (a batch-only store takes full pushes only)", store)
	}
	key, value, schemaID, err := storeSchemas(st, o.schemaID)
	if err != nil {
		return Result{}, err
	}
	brokers, err := localBrokers(ctx, ctl, &o)
	if err != nil {
		return Result{}, err
	}
	if err := prepass(in, key, value, o); err != nil {
		return Result{Store: store, Topic: st.RTTopic}, err
	}
	j, err := newJob(in, key, value, o)
	if err != nil {
		return Result{}, err
	}
	res := Result{Store: store, Topic: st.RTTopic, Compression: wire.CompressionNone.String()}
	t := Target{
		Brokers: brokers, Topic: st.RTTopic, Incremental: true, Chunking: st.Config.Chunking,
		KeySchema: key, ValueSchema: value, ValueSchemaID: schemaID,
	}
	if _, err := j.run(ctx, t, &res); err != nil {
		return res, err
	}
	j.report("done", true)
	return res, nil
}

// ErrVersionFailed is returned by Wait when the version will never become
// current (error, killed).
var ErrVersionFailed = errors.New("push: the version failed")

// Wait polls the controller every interval until version becomes the
// store's current version, calling fn (if not nil) with each replay status
// it reads. It returns ErrVersionFailed (wrapped, with the reason) when
// the version ends in error or killed, and ctx's error when it ends.
func Wait(ctx context.Context, ctl Controller, store string, version int32, interval time.Duration, fn func(api.ReplayStatus)) error {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := ctl.Store(ctx, store)
		if err != nil {
			return fmt.Errorf("push: waiting for version %d of %s: %w", version, store, err)
		}
		if st.CurrentVersion == version {
			return nil
		}
		for _, v := range st.Versions {
			if v.Number != version {
				continue
			}
			switch v.Status {
			case api.StatusError, api.StatusKilled:
				why := v.Error
				if why == "" {
					why = v.Status
				}
				return fmt.Errorf("%w: version %d of %s: %s", ErrVersionFailed, version, store, why)
			}
		}
		if fn != nil {
			if rs, err := ctl.ReplayStatus(ctx, store, version); err == nil {
				fn(rs)
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// recordWriter is what writing the records needs of the push's writers.
type recordWriter interface {
	PutBytesAsync(ctx context.Context, key []byte, schemaID int32, value []byte, cb func(writer.Result, error), opts ...writer.CallOpt) error
	Flush(ctx context.Context) error
}

// fanout writes the same records to the same topic in several regions.
// The first writer is the local region's; a record's callback fires once,
// after every region acknowledged it (with the local region's result), or
// with the first error.
type fanout []*writer.Writer

func (f fanout) PutBytesAsync(ctx context.Context, key []byte, schemaID int32, value []byte, cb func(writer.Result, error), opts ...writer.CallOpt) error {
	if len(f) == 1 {
		return f[0].PutBytesAsync(ctx, key, schemaID, value, cb, opts...)
	}
	var (
		mu    sync.Mutex
		left  = len(f)
		local writer.Result
		first error
	)
	done := func(i int) func(writer.Result, error) {
		return func(r writer.Result, err error) {
			mu.Lock()
			if i == 0 {
				local = r
			}
			if err != nil && first == nil {
				first = err
			}
			left--
			fire := left == 0
			mu.Unlock()
			if fire {
				cb(local, first)
			}
		}
	}
	for i, w := range f {
		if err := w.PutBytesAsync(ctx, key, schemaID, value, done(i), opts...); err != nil {
			if i == 0 {
				return err // nothing was accepted: no callback
			}
			// Writers 0..i-1 accepted it and will call back; the others
			// never will. The callback reports this error.
			mu.Lock()
			if first == nil {
				first = err
			}
			left -= len(f) - i
			fire := left == 0
			mu.Unlock()
			if fire {
				cb(local, first)
			}
			return nil
		}
	}
	return nil
}

func (f fanout) Flush(ctx context.Context) error {
	var errs []error
	for _, w := range f {
		errs = append(errs, w.Flush(ctx))
	}
	return errors.Join(errs...)
}

func (f fanout) control(fn func(w *writer.Writer) error) error {
	var errs []error
	for _, w := range f {
		errs = append(errs, fn(w))
	}
	return errors.Join(errs...)
}

func (f fanout) StartOfPush(ctx context.Context, sorted bool) error {
	return f.control(func(w *writer.Writer) error { return w.StartOfPush(ctx, sorted) })
}

func (f fanout) EndOfPush(ctx context.Context) error {
	return f.control(func(w *writer.Writer) error { return w.EndOfPush(ctx) })
}

func (f fanout) StartOfIncrementalPush(ctx context.Context, id string) error {
	return f.control(func(w *writer.Writer) error { return w.StartOfIncrementalPush(ctx, id) })
}

func (f fanout) EndOfIncrementalPush(ctx context.Context, id string) error {
	return f.control(func(w *writer.Writer) error { return w.EndOfIncrementalPush(ctx, id) })
}

func closeAll(ctx context.Context, f fanout) error {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
	defer cancel()
	return f.control(func(w *writer.Writer) error { return w.Close(cctx) })
}
