package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/kafkaconn"
)

// Config configures a controller.
type Config struct {
	// Regions are every region of the cluster, with their brokers.
	Regions []api.Region `json:"regions"`
	// LocalRegion is the id of this controller's region.
	LocalRegion int32 `json:"localRegion"`
	// AdminTopic is the compacted topic holding the metadata log, in every
	// region. Default "_rialto_admin".
	AdminTopic string `json:"adminTopic"`
	// Group elects one active controller per region. Default
	// "rialto-controller".
	Group string `json:"group"`
	// ServerGroup is the group the region's servers place partitions
	// through; the controller finds the servers in it. Default
	// "rialto-servers".
	ServerGroup string `json:"serverGroup"`
	// HTTPAddr is where the admin API listens. Default 127.0.0.1:7070.
	HTTPAddr string `json:"httpAddr"`
	// Token, when set, is required as a bearer token on every request.
	Token string `json:"token"`
	// MaxRequestBytes bounds a request body. Default 1 MiB.
	MaxRequestBytes int64 `json:"maxRequestBytes"`
	// ReplicationFactor of the topics the controller creates. Default -1
	// (the broker's default).
	ReplicationFactor int16 `json:"replicationFactor"`
	// VersionCompactionLag is min.compaction.lag.ms on version topics;
	// servers treat older gaps as compaction's. Default 24h.
	VersionCompactionLag time.Duration `json:"versionCompactionLag"`
	// MonitorInterval is how often pushes in flight are checked. Default 500ms.
	MonitorInterval time.Duration `json:"monitorInterval"`
	// Kafka secures every connection to Kafka, in every region, with TLS
	// and SASL (package kafkaconn); when set, New checks that each
	// region's brokers accept it. Absent: plaintext without
	// authentication.
	Kafka kafkaconn.Config `json:"kafka"`
	// KafkaOpts are extra franz-go options, applied after Kafka's.
	KafkaOpts []kgo.Opt    `json:"-"`
	Logger    *slog.Logger `json:"-"`
	// Now is the clock (tests). Default time.Now.
	Now func() time.Time `json:"-"`
}

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	if c.AdminTopic == "" {
		c.AdminTopic = "_rialto_admin"
	}
	if c.Group == "" {
		c.Group = "rialto-controller"
	}
	if c.ServerGroup == "" {
		c.ServerGroup = "rialto-servers"
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:7070"
	}
	if c.MaxRequestBytes == 0 {
		c.MaxRequestBytes = 1 << 20
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.VersionCompactionLag == 0 {
		c.VersionCompactionLag = 24 * time.Hour
	}
	if c.MonitorInterval == 0 {
		c.MonitorInterval = 500 * time.Millisecond
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports every problem with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Regions) == 0 {
		errs = append(errs, errors.New("regions: at least one region is required"))
	}
	ids, names := map[int32]bool{}, map[string]bool{}
	local := false
	for i, r := range c.Regions {
		if len(r.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("regions[%d]: brokers required", i))
		}
		if r.Name == "" {
			errs = append(errs, fmt.Errorf("regions[%d]: name required", i))
		}
		if ids[r.ID] || names[r.Name] {
			errs = append(errs, fmt.Errorf("regions[%d]: id %d or name %q used twice", i, r.ID, r.Name))
		}
		ids[r.ID], names[r.Name] = true, true
		local = local || r.ID == c.LocalRegion
	}
	if len(c.Regions) > 0 && !local {
		errs = append(errs, fmt.Errorf("localRegion: %d is not one of the regions", c.LocalRegion))
	}
	if c.MaxRequestBytes < 0 {
		errs = append(errs, fmt.Errorf("maxRequestBytes: %d is negative", c.MaxRequestBytes))
	}
	if c.MonitorInterval < 0 || c.VersionCompactionLag < 0 {
		errs = append(errs, errors.New("monitorInterval and versionCompactionLag must not be negative"))
	}
	errs = append(errs, kafkaconn.Problems(c.Kafka.Validate(), func(f string) string { return "kafka." + f })...)
	return errors.Join(errs...)
}

// regionClients are the Kafka clients of one region.
type regionClients struct {
	region api.Region
	cl     *kgo.Client
	adm    *kadm.Client
}

// Controller is the metadata service of a cluster.
type Controller struct {
	cfg     Config
	log     *slog.Logger
	db      *memdb.MemDB
	regions []*regionClients // in cfg.Regions order
	local   *regionClients
	ln      net.Listener

	leader   atomic.Bool
	mu       sync.Mutex // serializes metadata changes (leader only)
	revision atomic.Int64
	caught   chan struct{} // closed once the admin log was replayed on start
	applied  atomic.Int64  // the admin log offset the tail applies next

	life    context.Context // ends at Close
	cancel  context.CancelFunc
	runOnce sync.Once
	done    chan struct{}
	closed  atomic.Bool
}

// secureKafka puts the options of cfg.Kafka before cfg.KafkaOpts, so
// every client the controller builds uses them, and checks that every
// region's brokers accept them (each within kafkaconn.DefaultCheckTimeout):
// a wrong password or an untrusted certificate fails New at once instead
// of leaving the clients retrying.
func secureKafka(cfg *Config) error {
	if cfg.Kafka == (kafkaconn.Config{}) {
		return nil
	}
	kopts, err := cfg.Kafka.Opts()
	if err != nil {
		return fmt.Errorf("controller: invalid config: %w", err)
	}
	cfg.KafkaOpts = append(kopts, cfg.KafkaOpts...)
	for _, r := range cfg.Regions {
		if err := cfg.Kafka.Check(context.Background(), r.Brokers); kafkaconn.Refused(err) {
			return fmt.Errorf("controller: region %s: %w", r.Name, err)
		}
	}
	return nil // an unreachable cluster is retried as before
}

// New connects to every region and binds the admin API's listener.
func New(cfg Config) (*Controller, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("controller: invalid config: %w", err)
	}
	if err := secureKafka(&cfg); err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, log: cfg.Logger, db: newMetaDB(), caught: make(chan struct{}), done: make(chan struct{})}
	c.life, c.cancel = context.WithCancel(context.Background())
	for _, r := range cfg.Regions {
		// The manual partitioner: writers built on this client (control
		// messages to version topics) place records themselves, and the
		// admin log names its one partition.
		cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(r.Brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner())}, cfg.KafkaOpts...)...)
		if err != nil {
			c.closeClients()
			return nil, fmt.Errorf("controller: region %s: %w", r.Name, err)
		}
		rc := &regionClients{region: r, cl: cl, adm: kadm.NewClient(cl)}
		c.regions = append(c.regions, rc)
		if r.ID == cfg.LocalRegion {
			c.local = rc
		}
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		c.closeClients()
		return nil, fmt.Errorf("controller: listen %s: %w", cfg.HTTPAddr, err)
	}
	c.ln = ln
	return c, nil
}

// Addr is the admin API's address.
func (c *Controller) Addr() string { return c.ln.Addr().String() }

// Leader reports whether this controller is the region's active one.
func (c *Controller) Leader() bool { return c.leader.Load() }

func (c *Controller) closeClients() {
	for _, r := range c.regions {
		r.cl.Close()
	}
}

// Run creates the admin topics, replays the admin log, joins the election
// and serves the admin API until ctx ends or Close is called.
func (c *Controller) Run(ctx context.Context) error {
	started := false
	c.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("controller: Run called twice")
	}
	defer close(c.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(c.life, cancel)
	defer stop()
	for _, r := range c.regions {
		if err := c.ensureTopic(ctx, r, c.cfg.AdminTopic, 1, map[string]*string{"cleanup.policy": ptr("compact")}); err != nil {
			c.ln.Close()
			return fmt.Errorf("controller: admin topic in %s: %w", r.region.Name, err)
		}
	}
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	run := func(f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && ctx.Err() == nil {
				errc <- err
				cancel()
			}
		}()
	}
	run(c.tailAdminLog)
	run(c.elect)
	run(c.monitor)
	run(c.serveHTTP)
	wg.Wait()
	close(errc)
	return <-errc
}

// Close stops the controller and waits for it. Safe to call twice.
func (c *Controller) Close() {
	if !c.closed.CompareAndSwap(false, true) {
		return
	}
	c.cancel()
	ran := true
	c.runOnce.Do(func() { ran = false })
	if ran {
		<-c.done
	} else {
		c.ln.Close()
	}
	c.closeClients()
}

func ptr[T any](v T) *T { return &v }
