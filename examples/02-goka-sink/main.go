// Command goka-sink is a goka processor that turns a click stream into
// per-user profiles in a Rialto store: the click counter is set as a field,
// recent items are added to (and aged out of) a list. See README.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"hash"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/storage"

	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/writer"
)

// Config is what the example needs to run.
type Config struct {
	Brokers    []string // Kafka seed brokers of the click stream (default: the store's region)
	Controller string   // Rialto controller URL
	Store      string   // the profiles store
	Input      string   // the click stream topic
	Group      string   // goka group (and its table topic "<group>-table")
	StorageDir string   // goka's local table storage; empty: in memory
	// Replication of the topics goka creates (1 on a one-broker cluster).
	Replication int
	Logger      *slog.Logger
	// wrap adjusts the sink's writer (tests inject failures with it).
	wrap func(sink.Writer) sink.Writer
}

func main() {
	var c Config
	var brokers string
	flag.StringVar(&brokers, "brokers", "", "Kafka seed brokers of the click stream, comma-separated (default: the store's region)")
	flag.StringVar(&c.Controller, "controller", client.DefaultURL, "Rialto controller URL")
	flag.StringVar(&c.Store, "store", "profiles", "the profiles store")
	flag.StringVar(&c.Input, "input", "clicks", "the click stream topic")
	flag.StringVar(&c.Group, "group", "profiles", "goka group")
	flag.StringVar(&c.StorageDir, "storage", filepath.Join(os.TempDir(), "goka-sink-example"), "goka table storage directory")
	flag.IntVar(&c.Replication, "replication", 1, "replication factor of the topics goka creates")
	flag.Parse()
	if brokers != "" {
		c.Brokers = strings.Split(brokers, ",")
	}
	c.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, c); err != nil {
		fmt.Fprintf(os.Stderr, "goka-sink: %v\n", err)
		os.Exit(1)
	}
}

// Run runs the processor until ctx ends (nil) or it fails.
func Run(ctx context.Context, c Config) error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	ctl := client.New(c.Controller)
	st, err := ctl.Store(ctx, c.Store)
	if err != nil {
		return err
	}
	cluster, err := ctl.Cluster(ctx)
	if err != nil {
		return err
	}
	var rtBrokers []string
	for _, r := range cluster.Regions {
		if r.ID == cluster.LocalRegion {
			rtBrokers = r.Brokers
		}
	}
	if len(rtBrokers) == 0 {
		return fmt.Errorf("the controller names no brokers for region %d", cluster.LocalRegion)
	}
	if len(c.Brokers) == 0 {
		c.Brokers = rtBrokers
	}
	rt := st.RTTopic
	if rt == "" {
		rt = st.Name + "_rt"
	}
	schemas := ctl.SchemaProvider(c.Store)
	w, err := writer.New(writer.Brokers(rtBrokers...), writer.Topic(rt), writer.Schemas(schemas), writer.Logger(c.Logger))
	if err != nil {
		return err
	}
	defer w.Close(context.Background())
	valueID, err := schemas.LatestValueSchemaID(ctx)
	if err != nil {
		return err
	}
	vs, err := schemas.ValueSchema(ctx, valueID)
	if err != nil {
		return err
	}
	var sw sink.Writer = sink.WriterOf(w)
	if c.wrap != nil {
		sw = c.wrap(sw)
	}
	s, err := sink.New(sw, sink.Logger(c.Logger))
	if err != nil {
		return err
	}
	defer s.Close(context.Background())
	p, err := NewProfiles(vs, s)
	if err != nil {
		return err
	}

	// goka with its defaults, except: the click stream is read from the
	// start, topics goka creates get c.Replication, keys are partitioned
	// like Kafka's default (murmur2, as Rialto does: ARCHITECTURE
	// invariant 7) rather than goka's FNV.
	newCfg := func() *sarama.Config {
		sc := goka.DefaultConfig()
		sc.Consumer.Offsets.Initial = sarama.OffsetOldest
		return sc
	}
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = c.Replication
	tmc.Stream.Replication = c.Replication
	sb := storage.MemoryBuilder()
	if c.StorageDir != "" {
		sb = storage.DefaultBuilder(c.StorageDir)
	}
	proc, err := goka.NewProcessor(c.Brokers, p.Graph(goka.Group(c.Group), goka.Stream(c.Input)),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithConfig(newCfg(), tmc)),
		goka.WithConsumerGroupBuilder(goka.ConsumerGroupBuilderWithConfig(newCfg())),
		goka.WithConsumerSaramaBuilder(goka.SaramaConsumerBuilderWithConfig(newCfg())),
		goka.WithProducerBuilder(goka.ProducerBuilderWithConfig(newCfg())),
		goka.WithStorageBuilder(sb),
		goka.WithHasher(newMurmur2),
		goka.WithLogger(log.New(io.Discard, "", 0)),
	)
	if err != nil {
		return err
	}
	c.Logger.Info("goka-sink: running", "input", c.Input, "group", c.Group, "store", c.Store, "rt", rt)
	return proc.Run(ctx)
}

// murmur2 is Kafka's default partitioner for goka.
type murmur2 struct{ buf []byte }

func newMurmur2() hash.Hash32 { return &murmur2{} }

func (h *murmur2) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *murmur2) Sum(b []byte) []byte {
	s := h.Sum32()
	return append(b, byte(s>>24), byte(s>>16), byte(s>>8), byte(s))
}
func (h *murmur2) Reset()         { h.buf = h.buf[:0] }
func (h *murmur2) Size() int      { return 4 }
func (h *murmur2) BlockSize() int { return 4 }
func (h *murmur2) Sum32() uint32  { return wire.Murmur2(h.buf) & 0x7fffffff }
