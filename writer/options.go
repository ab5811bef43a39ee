package writer

import (
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/kafkaconn"
)

// Defaults of the options below. Each option's doc repeats its default.
const (
	// DefaultMaxRecordBytes bounds key plus value of one Kafka record:
	// franz-go's default ProducerBatchMaxBytes (1 000 012) less room for
	// the record batch header and the record's own framing, so that one
	// record always fits one batch and Kafka's default 1 MiB
	// message.max.bytes.
	DefaultMaxRecordBytes = 1_000_012 - 4096
	// DefaultChunkThreshold: a put value (after compression) above this
	// size is chunked. 900 KiB leaves ~76 KB of DefaultMaxRecordBytes for
	// the chunk key (29 bytes + the user key) and the envelope (~45 bytes).
	DefaultChunkThreshold = 900 << 10
	// DefaultSegmentRecords: a segment ends after this many records. Two
	// control records per 10 000 is 0.02 % overhead; a corrupt record is
	// noticed at most 10 000 records later.
	DefaultSegmentRecords = 10_000
	// DefaultSegmentAge: a segment older than this ends at the next write
	// to its partition.
	DefaultSegmentAge = time.Minute
	// DefaultMaxBufferedBytes bounds the bytes handed to Kafka and not yet
	// acknowledged; writes block beyond it.
	DefaultMaxBufferedBytes = 128 << 20
	// DefaultMaxBufferedRecords bounds the records not yet acknowledged:
	// franz-go's own default (v1.22), so the writer keeps as much in
	// flight as a bare producer does. With one produce request in flight
	// per broker (idempotent producing), a smaller bound means smaller
	// batches: 10 000 cost the writer 2–3× its throughput on the bench.
	DefaultMaxBufferedRecords = 50_000
	// DefaultMetadataTimeout bounds New's lookup of the topic's partitions
	// and of the key schema.
	DefaultMetadataTimeout = 30 * time.Second
)

// TopicKind says what a topic is, which decides what may be written to it.
type TopicKind int

const (
	// KindAuto infers the kind from the topic name: "<store>_v<N>" is a
	// version topic, anything else a real-time topic.
	KindAuto TopicKind = iota
	// KindRT is a real-time buffer topic: puts, deletes and updates, never
	// compressed.
	KindRT
	// KindVersion is a version topic: puts, deletes and control messages
	// only (ARCHITECTURE invariant 3); values may be compressed.
	KindVersion
)

func (k TopicKind) String() string {
	switch k {
	case KindAuto:
		return "auto"
	case KindRT:
		return "rt"
	case KindVersion:
		return "version"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

var versionTopic = regexp.MustCompile(`_v[0-9]+$`)

// Opt configures a Writer. Options are validated together in New, which
// reports every problem at once.
type Opt func(*config)

type config struct {
	brokers        []string
	topic          string
	kind           TopicKind
	kafkaOpts      []kgo.Opt
	sec            kafkaconn.Config
	secSet         bool
	secOpts        []kgo.Opt // sec.Opts(), set by validate
	client         *kgo.Client
	schemas        SchemaProvider
	compression    wire.Compression
	dictionary     []byte
	chunkThreshold int
	maxRecordBytes int
	segmentRecords int
	segmentAge     time.Duration
	maxBufBytes    int64
	maxBufRecords  int64
	partitions     int32
	guid           wire.GUID
	guidSet        bool
	logger         *slog.Logger
	hooks          Hooks
	metaTimeout    time.Duration
}

func defaultConfig() config {
	return config{
		chunkThreshold: DefaultChunkThreshold,
		maxRecordBytes: DefaultMaxRecordBytes,
		segmentRecords: DefaultSegmentRecords,
		segmentAge:     DefaultSegmentAge,
		maxBufBytes:    DefaultMaxBufferedBytes,
		maxBufRecords:  DefaultMaxBufferedRecords,
		metaTimeout:    DefaultMetadataTimeout,
	}
}

// Brokers sets the seed brokers. Required unless Client is given.
func Brokers(seeds ...string) Opt {
	return func(c *config) { c.brokers = append([]string(nil), seeds...) }
}

// Topic sets the one topic the writer writes to: a real-time topic
// "<store>_rt" or a version topic "<store>_v<N>". Required.
func Topic(topic string) Opt { return func(c *config) { c.topic = topic } }

// Kind overrides what the topic name says the topic is (default KindAuto:
// "_v<N>" suffix → version topic, otherwise real-time).
func Kind(k TopicKind) Opt { return func(c *config) { c.kind = k } }

// KafkaOpts passes options to the franz-go client the writer builds,
// accumulating over several calls; they are applied after the writer's own
// (seed brokers, the manual partitioner, buffer limits), so they can
// override them — don't override the partitioner. Producer defaults are
// kept: idempotent, acks=all, unlimited retries of retriable errors. If you
// lower ProducerBatchMaxBytes, lower MaxRecordBytes too.
func KafkaOpts(opts ...kgo.Opt) Opt {
	return func(c *config) { c.kafkaOpts = append(c.kafkaOpts, opts...) }
}

// Security secures the connections of the client the writer builds with
// TLS and SASL as package kafkaconn describes (default none: plaintext
// without authentication). New reports its problems (an unreadable CA
// file, a missing password) with the other options', as
// "Security.sasl.password: …". Before anything else talks to Kafka, New
// runs sec.Check: when the brokers refuse the settings — a wrong password,
// an untrusted certificate, TLS on one side only — New fails at once with
// an error wrapping kafkaconn.ErrAuthentication or kafkaconn.ErrTLS that
// names the setting to look at, where without it the client's retries end
// in a bare EOF. A cluster that cannot be reached is not a refusal: New
// goes on as without the check. The zero Config is worth passing too: a
// broker that requires TLS or SASL is then named as such. KafkaOpts are
// applied after Security's options. Ignored with Client.
func Security(sec kafkaconn.Config) Opt {
	return func(c *config) { c.sec, c.secSet = sec, true }
}

// Client makes the writer produce through an existing client instead of
// building one (default: the writer builds and owns its client). The
// client must use kgo.RecordPartitioner(kgo.ManualPartitioner()) and must
// not be used to produce to the writer's topic by anyone else; the writer
// does not close it. Brokers and KafkaOpts are then ignored.
func Client(cl *kgo.Client) Opt { return func(c *config) { c.client = cl } }

// Schemas sets the schema provider (default none). Without one, only the
// raw-bytes operations (PutBytes, DeleteBytes, UpdateBytes) work and their
// schema ids are not checked.
func Schemas(p SchemaProvider) Opt { return func(c *config) { c.schemas = p } }

// Compression sets how put values are compressed (default
// wire.CompressionNone). Anything else needs a version topic; a real-time
// topic is never compressed. The writer announces the compression (and the
// dictionary) in the start-of-push it sends. dictionary is required for
// wire.CompressionZstdDict and must be empty otherwise.
func Compression(mode wire.Compression, dictionary []byte) Opt {
	return func(c *config) { c.compression, c.dictionary = mode, dictionary }
}

// ChunkThreshold sets the size above which a (compressed) put value is
// split into chunk records plus a manifest (default DefaultChunkThreshold,
// 900 KiB). 0 turns chunking off: a value whose record would exceed
// MaxRecordBytes then fails with ErrTooLarge.
func ChunkThreshold(n int) Opt { return func(c *config) { c.chunkThreshold = n } }

// MaxRecordBytes bounds key plus value of one Kafka record the writer
// produces (default DefaultMaxRecordBytes, just under franz-go's 1 MB batch
// limit). Must exceed ChunkThreshold by at least 1 KiB.
func MaxRecordBytes(n int) Opt { return func(c *config) { c.maxRecordBytes = n } }

// SegmentRecords ends a segment after n records (default
// DefaultSegmentRecords, 10 000); the next write starts a new one.
func SegmentRecords(n int) Opt { return func(c *config) { c.segmentRecords = n } }

// SegmentAge ends a segment at the first write after it has been open for
// d (default DefaultSegmentAge, 1 minute).
func SegmentAge(d time.Duration) Opt { return func(c *config) { c.segmentAge = d } }

// MaxBufferedBytes bounds the bytes written and not yet acknowledged
// (default DefaultMaxBufferedBytes, 128 MiB). A write that does not fit
// blocks until it does or its context ends; a single write larger than the
// bound waits until nothing else is buffered.
func MaxBufferedBytes(n int64) Opt { return func(c *config) { c.maxBufBytes = n } }

// MaxBufferedRecords bounds the records written and not yet acknowledged
// (default DefaultMaxBufferedRecords, 50 000, franz-go's default); writes
// block beyond it like with MaxBufferedBytes.
func MaxBufferedRecords(n int64) Opt { return func(c *config) { c.maxBufRecords = n } }

// Partitions sets the topic's partition count instead of reading it from
// the topic's metadata in New (default: read). The count is fixed for the
// writer's life; Rialto topics never grow.
func Partitions(n int32) Opt { return func(c *config) { c.partitions = n } }

// ProducerGUID sets the producer id that data integrity validation tracks
// (default: 16 random bytes). Two live writers must never share one.
func ProducerGUID(g wire.GUID) Opt { return func(c *config) { c.guid, c.guidSet = g, true } }

// Logger sets where the writer logs (default: nowhere). It logs segment
// abandonment and failed control messages at warn, segment rotation at
// debug.
func Logger(l *slog.Logger) Opt { return func(c *config) { c.logger = l } }

// WithHooks installs metric hooks (default none). See Hooks.
func WithHooks(h Hooks) Opt { return func(c *config) { c.hooks = h } }

// MetadataTimeout bounds what New waits for: the topic's partition count
// and the key schema (default DefaultMetadataTimeout, 30 s).
func MetadataTimeout(d time.Duration) Opt { return func(c *config) { c.metaTimeout = d } }

// validate reports every problem at once and resolves KindAuto.
func (c *config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.topic == "" {
		bad("Topic: required")
	}
	if c.client == nil && len(c.brokers) == 0 {
		bad("Brokers: required (or Client)")
	}
	if c.kind == KindAuto {
		c.kind = KindRT
		if versionTopic.MatchString(c.topic) {
			c.kind = KindVersion
		}
	}
	switch c.kind {
	case KindRT, KindVersion:
	default:
		bad("Kind(%d): unknown", int(c.kind))
	}
	switch c.compression {
	case wire.CompressionNone:
	case wire.CompressionGzip, wire.CompressionZstd, wire.CompressionZstdDict:
		if c.kind != KindVersion {
			bad("Compression(%s): only version topics are compressed; %q is a real-time topic", c.compression, c.topic)
		}
	default:
		bad("Compression(%s): unknown", c.compression)
	}
	if c.compression == wire.CompressionZstdDict && len(c.dictionary) == 0 {
		bad("Compression(zstd-dict): needs a dictionary")
	}
	if c.compression != wire.CompressionZstdDict && len(c.dictionary) > 0 {
		bad("Compression(%s): a dictionary is only for zstd-dict", c.compression)
	}
	if c.maxRecordBytes < 4096 {
		bad("MaxRecordBytes(%d): need at least 4096", c.maxRecordBytes)
	}
	if c.chunkThreshold < 0 {
		bad("ChunkThreshold(%d): negative", c.chunkThreshold)
	} else if c.chunkThreshold > 0 && c.chunkThreshold > c.maxRecordBytes-1024 {
		bad("ChunkThreshold(%d): must be at least 1 KiB below MaxRecordBytes(%d)", c.chunkThreshold, c.maxRecordBytes)
	}
	if c.segmentRecords < 2 {
		bad("SegmentRecords(%d): need at least 2", c.segmentRecords)
	}
	if c.segmentAge <= 0 {
		bad("SegmentAge(%s): must be positive", c.segmentAge)
	}
	if c.segmentRecords > 1<<30 {
		bad("SegmentRecords(%d): at most %d", c.segmentRecords, 1<<30)
	}
	if c.maxBufBytes <= 0 || c.maxBufBytes > maxBudgetByte/4 {
		bad("MaxBufferedBytes(%d): must be in 1..%d", c.maxBufBytes, int64(maxBudgetByte/4))
	}
	if c.maxBufRecords <= 0 || c.maxBufRecords > maxBudgetRecs/4 {
		bad("MaxBufferedRecords(%d): must be in 1..%d", c.maxBufRecords, maxBudgetRecs/4)
	}
	if c.partitions < 0 {
		bad("Partitions(%d): negative", c.partitions)
	}
	if c.metaTimeout <= 0 {
		bad("MetadataTimeout(%s): must be positive", c.metaTimeout)
	}
	if c.secSet && c.client == nil {
		opts, err := c.sec.Opts()
		errs = append(errs, kafkaconn.Problems(err, func(field string) string { return "Security." + field })...)
		c.secOpts = opts
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalidOption, errors.Join(errs...))
}
