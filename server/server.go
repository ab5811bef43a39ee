package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/server/storage"
)

// Config configures a server. Zero values take the defaults EnsureDefaults
// states; Validate reports every problem at once.
type Config struct {
	// Brokers are the seed brokers of this region's Kafka cluster.
	Brokers []string `json:"brokers"`
	// DataDir holds the Pebble database.
	DataDir string `json:"dataDir"`
	// CacheSize is Pebble's block cache in bytes. Default 512 MiB: enough
	// to keep a few million ~100-B values' blocks hot; a point read from
	// the cache costs ~4 µs on a 2-core machine, from the OS page cache ~7 µs.
	CacheSize int64 `json:"cacheSize"`
	// CompactionLag is the version topics' min.compaction.lag.ms: gaps in
	// version-topic records older than this are compaction's, not losses.
	// Default 24h, which is what the controller sets on version topics.
	CompactionLag time.Duration `json:"compactionLag"`
	// MaxPollRecords bounds one ingestion batch. Default 10 000.
	MaxPollRecords int `json:"maxPollRecords"`
	// ServerID is this server's stable identity in the placement group;
	// empty disables placement (partitions are then hosted by calling Host
	// and Lead directly).
	ServerID string `json:"serverId"`
	// AdvertiseAddr is the read address other parties reach this server at.
	AdvertiseAddr string `json:"advertiseAddr"`
	// Group is the consumer group the region's servers place partitions
	// through. Default "rialto-servers".
	Group string `json:"group"`
	// PlacementTopic is the (one-partition) topic the group subscribes to so
	// that Kafka manages its membership. Default "_rialto_placement".
	PlacementTopic string `json:"placementTopic"`
	// ReplicationFactor of topics the server creates. Default -1 (the
	// broker's default).
	ReplicationFactor int16 `json:"replicationFactor"`
	// SessionTimeout: how long a silent server keeps its partitions before
	// the group moves them. Default 10s.
	SessionTimeout time.Duration `json:"sessionTimeout"`
	// AdminTopic is the controller's admin log; when set (with ServerID)
	// the server follows it to learn which versions to host and which is
	// current. Empty: the caller uses SetCatalog and SetCurrentVersion.
	AdminTopic string `json:"adminTopic"`
	// Regions, when set, say where each region's Kafka is now (id, name
	// and brokers, as in the controller's configuration). A version
	// records its source regions' brokers when its replay starts; a
	// leader reads a region listed here through these brokers instead, so
	// replay goes on after a region's brokers move (or after `rialto dev`
	// restarts on new ports). Absent: the recorded brokers.
	Regions []api.Region `json:"regions"`
	// Replication is how many servers of the region hold each partition of
	// versions learned from the admin log. Default 1.
	Replication int `json:"replication"`
	// HTTPAddr is where reads, /metrics, /healthz and /readyz are served.
	// Empty (the default, also for `rialto server` without httpAddr or
	// --http-addr) opens no port: the server ingests but serves nothing.
	// `rialto dev` sets a loopback address.
	HTTPAddr string `json:"httpAddr"`
	// HTTP limits the read API.
	HTTP HTTPOptions `json:"http"`
	// Kafka secures every connection to Kafka with TLS and SASL (package
	// kafkaconn); when set, New checks that the brokers accept it. Absent:
	// plaintext without authentication.
	Kafka kafkaconn.Config `json:"kafka"`
	// KafkaOpts are extra franz-go options, applied after Kafka's.
	KafkaOpts []kgo.Opt `json:"-"`
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger `json:"-"`
}

// EnsureDefaults fills in zero fields.
func (c *Config) EnsureDefaults() {
	if c.CacheSize == 0 {
		c.CacheSize = 512 << 20
	}
	if c.CompactionLag == 0 {
		c.CompactionLag = 24 * time.Hour
	}
	if c.MaxPollRecords == 0 {
		c.MaxPollRecords = 10_000
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Group == "" {
		c.Group = "rialto-servers"
	}
	if c.PlacementTopic == "" {
		c.PlacementTopic = "_rialto_placement"
	}
	if c.ReplicationFactor == 0 {
		c.ReplicationFactor = -1
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = 10 * time.Second
	}
	if c.Replication == 0 {
		c.Replication = 1
	}
	c.HTTP.EnsureDefaults()
}

// Validate reports every problem with the configuration.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("brokers: at least one seed broker is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir: required"))
	}
	if c.CacheSize < 0 {
		errs = append(errs, fmt.Errorf("cacheSize: %d is negative", c.CacheSize))
	}
	if c.CompactionLag < 0 {
		errs = append(errs, fmt.Errorf("compactionLag: %s is negative", c.CompactionLag))
	}
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if c.AdminTopic != "" && c.ServerID == "" {
		errs = append(errs, errors.New("adminTopic: following the admin log needs a serverId (placement)"))
	}
	if c.SessionTimeout < 0 {
		errs = append(errs, fmt.Errorf("sessionTimeout: %s is negative", c.SessionTimeout))
	}
	if c.MaxPollRecords < 0 {
		errs = append(errs, fmt.Errorf("maxPollRecords: %d is negative", c.MaxPollRecords))
	}
	seen := map[int32]bool{}
	for i, r := range c.Regions {
		if seen[r.ID] {
			errs = append(errs, fmt.Errorf("regions[%d]: region id %d is listed twice", i, r.ID))
		}
		seen[r.ID] = true
		if len(r.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("regions[%d] (%s): brokers: at least one is required", i, r.Name))
		}
	}
	errs = append(errs, kafkaconn.Problems(c.Kafka.Validate(), func(f string) string { return "kafka." + f })...)
	return errors.Join(errs...)
}

// Server is a storage node: it ingests the version partitions it hosts and
// serves reads from them.
type Server struct {
	cfg Config
	db  *storage.DB
	vt  *kgo.Client
	in  *ingester
	log *slog.Logger

	pl placementState

	metrics *Metrics
	http    *HTTPHandler
	ln      net.Listener // nil without HTTPAddr

	// admin tracks how far the admin log is applied; storeSchemas holds
	// each store's schemas, shared by its hosted versions (both belong to
	// the admin-log goroutine, storeSchemas exclusively).
	admin        adminLogSync
	storeSchemas map[string]*storeSchemas

	mu       sync.RWMutex
	versions map[versionKey]*hostedVersion
	current  map[string]int32 // store → version reads go to by default

	// life ends when Close is called; every goroutine the server starts
	// (ingestion, leaders) stops with it and is waited for.
	life    context.Context
	cancel  context.CancelFunc
	tasks   sync.WaitGroup
	runOnce sync.Once
	done    chan struct{}
	closed  bool
}

type versionKey struct {
	store   string
	version int32
}

// VersionSpec describes a version a server hosts partitions of.
type VersionSpec struct {
	Store      string
	Version    int32
	Topic      string // the version topic, "<store>_v<N>"
	Partitions int32  // the version's partition count
	// KeySchema is the store's key schema (reads serialize keys with it).
	KeySchema avro.Schema
	// Schemas resolves value schema ids; required to lead and to render
	// values as JSON.
	Schemas SchemaSource
	// ActiveActive makes leaders resolve conflicts with replication
	// metadata (SEMANTICS §3–6); otherwise RT order decides (§2).
	ActiveActive bool
	// PartialUpdate keeps field-level RMD in an active-active store, so
	// partial updates and collection merges resolve per field; without it
	// RMD is value-level and partial updates are refused.
	PartialUpdate bool
}

type hostedVersion struct {
	spec    VersionSpec
	parts   map[int32]*partitionStats
	leaders map[int32]*leaderHandle
}

type leaderHandle struct {
	cancel context.CancelFunc
	done   chan struct{}
	placed bool // started by the placement plan (reconcile), not by Lead
	// discard is set when the partition's data is being dropped: the
	// leader then does not wait to end its version-topic segments (the
	// topic may be gone, and the wait held up every other hosting change).
	discard atomic.Bool
}

func (h *leaderHandle) stop() {
	h.cancel()
	<-h.done
}

// stopDiscarding stops a leader whose partition is being dropped.
func (h *leaderHandle) stopDiscarding() {
	h.discard.Store(true)
	h.stop()
}

// secureKafka puts the options of cfg.Kafka before cfg.KafkaOpts, so
// every client the server builds uses them, and checks that the brokers
// accept them: a wrong password or an untrusted certificate fails New at
// once instead of leaving the clients retrying.
func secureKafka(cfg *Config) error {
	if cfg.Kafka == (kafkaconn.Config{}) {
		return nil
	}
	kopts, err := cfg.Kafka.Opts()
	if err != nil {
		return fmt.Errorf("server: invalid config: %w", err)
	}
	cfg.KafkaOpts = append(kopts, cfg.KafkaOpts...)
	if err := cfg.Kafka.Check(context.Background(), cfg.Brokers); kafkaconn.Refused(err) {
		return fmt.Errorf("server: %w", err)
	}
	return nil // an unreachable cluster is retried as before
}

// New opens the server's storage and Kafka client. Call Run to ingest.
func New(cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("server: invalid config: %w", err)
	}
	if err := secureKafka(&cfg); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("server: %w", err)
	}
	db, err := storage.Open(cfg.DataDir, storage.Options{CacheSize: cfg.CacheSize})
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(100 * time.Millisecond),
		noFetchSessions,
	}, cfg.KafkaOpts...)
	vt, err := kgo.NewClient(opts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("server: kafka client: %w", err)
	}
	s := &Server{cfg: cfg, db: db, vt: vt, log: cfg.Logger, versions: map[versionKey]*hostedVersion{}, current: map[string]int32{}, storeSchemas: map[string]*storeSchemas{}, done: make(chan struct{})}
	s.life, s.cancel = context.WithCancel(context.Background())
	s.pl.wake = make(chan struct{}, 1)
	s.metrics = NewMetrics(s)
	if cfg.HTTPAddr != "" {
		hopts := cfg.HTTP
		hopts.Metrics, hopts.Logger = s.metrics, cfg.Logger
		if s.http, err = s.Handler(hopts); err != nil {
			vt.Close()
			db.Close()
			return nil, fmt.Errorf("server: %w", err)
		}
		if s.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			vt.Close()
			db.Close()
			return nil, fmt.Errorf("server: listen %s: %w", cfg.HTTPAddr, err)
		}
		if s.cfg.AdvertiseAddr == "" {
			s.cfg.AdvertiseAddr = "http://" + s.ln.Addr().String()
		}
	}
	s.in = newIngester(vt, db, cfg.Logger, cfg.CompactionLag, cfg.MaxPollRecords)
	return s, nil
}

// Run ingests until ctx ends or Close is called.
func (s *Server) Run(ctx context.Context) error {
	started := false
	s.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("server: Run called twice")
	}
	defer close(s.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.life, cancel)
	defer stop()
	var wg sync.WaitGroup
	var httpErr error
	if s.ln != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := Serve(ctx, s.ln, s.http, 5*time.Second); err != nil {
				httpErr = err
				cancel()
			}
		}()
	}
	var err error
	if s.cfg.ServerID == "" {
		s.in.run(ctx)
	} else {
		wg.Add(1)
		go func() { defer wg.Done(); s.in.run(ctx) }()
		if s.cfg.AdminTopic != "" {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := s.followAdminLog(ctx); err != nil {
					s.log.Error("admin log", "err", err)
				}
			}()
		}
		err = s.runPlacement(ctx)
		cancel()
	}
	wg.Wait()
	return errors.Join(err, httpErr)
}

// Addr is the address the HTTP API listens on ("" without HTTPAddr).
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Metrics is the server's Prometheus registry wrapper (served on /metrics).
func (s *Server) Metrics() *Metrics { return s.metrics }

// Close stops ingestion and leadership, waits for them, and closes
// storage. Safe to call twice.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	s.tasks.Wait()
	ran := true
	s.runOnce.Do(func() { ran = false })
	if ran {
		<-s.done
	}
	s.vt.Close()
	if s.ln != nil && !ran {
		s.ln.Close()
	}
	return s.db.Close()
}

// Lead makes this server the leader of a hosted partition: once the
// version topic's topic switch is consumed it replays the RT topics into
// the version. A leader that fails restarts from its checkpoint after a
// short pause.
func (s *Server) Lead(store string, version, partition int32) error {
	return s.lead(store, version, partition, false)
}

// lead is Lead; placed marks a leader the placement plan asked for, which
// stopLeading stops when the plan is suspended.
func (s *Server) lead(store string, version, partition int32, placed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("server: closed")
	}
	hv := s.versions[versionKey{store, version}]
	if hv == nil || hv.parts[partition] == nil {
		return fmt.Errorf("%w: %s v%d partition %d", ErrNotHosted, store, version, partition)
	}
	if hv.leaders[partition] != nil {
		return nil
	}
	if hv.spec.Schemas == nil {
		return fmt.Errorf("server: %s v%d: leading needs the store's schemas", store, version)
	}
	var m merger = newLastWriterMerger(hv.spec.Schemas)
	if hv.spec.ActiveActive {
		cm, err := newConflictMerger(hv.spec.Schemas, hv.spec.PartialUpdate)
		if err != nil {
			return fmt.Errorf("server: %s v%d: %w", store, version, err)
		}
		m = cm
	}
	ctx, cancel := context.WithCancel(s.life)
	h := &leaderHandle{cancel: cancel, done: make(chan struct{}), placed: placed}
	hv.leaders[partition] = h
	id := storage.PartitionID{Store: store, Version: version, Partition: partition}
	task := &leaderTask{s: s, spec: hv.spec, id: id, stats: hv.parts[partition], merger: m, discard: &h.discard,
		log: s.log.With("partition", id.String(), "role", "leader")}
	s.tasks.Add(1)
	go func() {
		defer s.tasks.Done()
		defer close(h.done)
		for ctx.Err() == nil {
			task.term++
			if err := task.run(ctx); err != nil && ctx.Err() == nil {
				task.log.Error("leader stopped; restarting from the checkpoint", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(leaderRestartPause):
				}
			}
		}
	}()
	return nil
}

// Unlead makes the partition a follower again; it returns once the leader
// has stopped and handed the partition back.
func (s *Server) Unlead(store string, version, partition int32) {
	s.unlead(store, version, partition, false)
}

// unlead is Unlead; discard tells the leader the partition's data is being
// dropped.
func (s *Server) unlead(store string, version, partition int32, discard bool) {
	s.mu.Lock()
	var h *leaderHandle
	if hv := s.versions[versionKey{store, version}]; hv != nil {
		h = hv.leaders[partition]
		delete(hv.leaders, partition)
	}
	s.mu.Unlock()
	switch {
	case h != nil && discard:
		h.stopDiscarding()
	case h != nil:
		h.stop()
	}
}

// Host makes the server ingest and serve the given partitions of a version.
func (s *Server) Host(ctx context.Context, v VersionSpec, partitions ...int32) error {
	if v.Partitions <= 0 {
		return fmt.Errorf("server: %s v%d: partition count %d", v.Store, v.Version, v.Partitions)
	}
	s.mu.Lock()
	hv := s.versions[versionKey{v.Store, v.Version}]
	if hv == nil {
		hv = &hostedVersion{spec: v, parts: map[int32]*partitionStats{}, leaders: map[int32]*leaderHandle{}}
		s.versions[versionKey{v.Store, v.Version}] = hv
	}
	var todo []int32
	for _, p := range partitions {
		if p < 0 || p >= v.Partitions {
			s.mu.Unlock()
			return fmt.Errorf("server: %s v%d: partition %d out of [0,%d)", v.Store, v.Version, p, v.Partitions)
		}
		if hv.parts[p] == nil {
			hv.parts[p] = &partitionStats{}
			todo = append(todo, p)
		}
	}
	s.mu.Unlock()
	for _, p := range todo {
		id := storage.PartitionID{Store: v.Store, Version: v.Version, Partition: p}
		if err := s.in.host(ctx, id, v.Topic, s.stats(id)); err != nil {
			return fmt.Errorf("server: host %s: %w", id, err)
		}
	}
	return nil
}

// DropVersion stops ingesting a version and deletes its data.
func (s *Server) DropVersion(ctx context.Context, store string, version int32) error {
	s.mu.Lock()
	hv := s.versions[versionKey{store, version}]
	delete(s.versions, versionKey{store, version})
	s.mu.Unlock()
	if hv != nil {
		for _, h := range hv.leaders {
			h.stopDiscarding() // hands the partition back to the ingester, dropped next
		}
		for p := range hv.parts {
			if err := s.in.drop(ctx, storage.PartitionID{Store: store, Version: version, Partition: p}, hv.spec.Topic); err != nil {
				return err
			}
		}
	}
	return s.db.DropVersion(store, version)
}

func (s *Server) stats(id storage.PartitionID) *partitionStats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if hv := s.versions[versionKey{id.Store, id.Version}]; hv != nil {
		return hv.parts[id.Partition]
	}
	return nil
}

// Status reports every hosted partition, ordered by store, version and
// partition.
func (s *Server) Status() []PartitionStatus {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []PartitionStatus
	for k, hv := range s.versions {
		for p, st := range hv.parts {
			out = append(out, st.snapshot(storage.PartitionID{Store: k.store, Version: k.version, Partition: p}, hv.spec.Topic))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Store != b.Store {
			return a.Store < b.Store
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Partition < b.Partition
	})
	return out
}

// SetCurrentVersion names the version reads of a store go to when they do
// not name one. The controller sets it when it swaps versions.
func (s *Server) SetCurrentVersion(store string, version int32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current[store] = version
}

// CurrentVersion returns the version reads of store go to, and false when
// none was set.
func (s *Server) CurrentVersion(store string) (int32, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.current[store]
	return v, ok
}

// Spec returns the spec of a hosted version.
func (s *Server) Spec(store string, version int32) (VersionSpec, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hv := s.versions[versionKey{store, version}]
	if hv == nil {
		return VersionSpec{}, false
	}
	return hv.spec, true
}

// noFetchSessions is set on every consuming client of the server. franz-go
// v1.22.2 kills a client's fetch session on Close while a fetch goroutine of
// a direct consumer may still be building a request from it (a data race
// the race detector reports). Our clients consume few partitions each, so
// sessions save little; without them Close has no session to kill.
var noFetchSessions = kgo.DisableFetchSessions()

// leaderRestartPause is how long a failed leader waits before resuming
// from its checkpoint (tests shorten it).
var leaderRestartPause = time.Second

// ErrNotHosted is returned for a read of a partition this server does not host.
var ErrNotHosted = errors.New("server: partition not hosted here")

// Value is a value read from storage, decompressed and reassembled.
type Value struct {
	SchemaID int32
	Bytes    []byte // Avro binary in the value schema SchemaID
	// Partition is where the key lives.
	Partition int32
}

// Get reads a key (serialized) from a version. A tombstone reads as not found.
func (s *Server) Get(store string, version int32, key []byte) (Value, bool, error) {
	id, st, err := s.hostedPartition(store, version, key)
	if err != nil {
		return Value{Partition: id.Partition}, false, err
	}
	rec, ok, err := s.db.Get(id, key)
	if err != nil || !ok || rec.Tombstone() {
		return Value{Partition: id.Partition}, false, err
	}
	return s.decodeValue(id, st, rec)
}

// hostedPartition finds where key lives in a hosted version.
func (s *Server) hostedPartition(store string, version int32, key []byte) (storage.PartitionID, *partitionStats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	hv := s.versions[versionKey{store, version}]
	if hv == nil {
		return storage.PartitionID{}, nil, fmt.Errorf("%w: %s v%d", ErrNotHosted, store, version)
	}
	p := wire.Partition(key, hv.spec.Partitions)
	id := storage.PartitionID{Store: store, Version: version, Partition: p}
	st := hv.parts[p]
	if st == nil {
		return id, nil, fmt.Errorf("%w: %s v%d partition %d", ErrNotHosted, store, version, p)
	}
	return id, st, nil
}

// decodeValue reassembles and decompresses a stored record.
func (s *Server) decodeValue(id storage.PartitionID, st *partitionStats, rec storage.Record) (Value, bool, error) {
	raw, err := decodeStored(rec, func(ck []byte) (wire.Chunk, bool, error) {
		data, ok, err := s.db.GetChunk(id, ck)
		if err != nil || !ok {
			return wire.Chunk{}, ok, err
		}
		rk, err := wire.ParseKey(ck)
		if err != nil {
			return wire.Chunk{}, false, err
		}
		return wire.Chunk{Index: rk.ChunkIndex, Data: data}, true, nil
	}, st.codec.Load())
	if err != nil {
		return Value{}, false, fmt.Errorf("server: %s: %w", id, err)
	}
	return Value{SchemaID: rec.SchemaID, Bytes: raw, Partition: id.Partition}, true, nil
}

// readSorted reads keys[i] for every i of idx, all in one partition and in
// ascending key order, through one forward-seeking iterator; the values
// it stores in vals live in arena.
func (s *Server) readSorted(store string, version, partition int32, keys [][]byte, idx []int, vals []Value, oks []bool, arena *storage.Arena) error {
	if len(idx) == 0 {
		return nil
	}
	id, st, err := s.hostedPartition(store, version, keys[idx[0]])
	if err != nil {
		return err
	}
	if id.Partition != partition {
		return fmt.Errorf("server: key routed to partition %d, read as %d", id.Partition, partition)
	}
	r, err := s.db.NewSortedReader(id, arena)
	if err != nil {
		return err
	}
	defer r.Close()
	for _, i := range idx {
		rec, ok, err := r.Get(keys[i])
		if err != nil {
			return err
		}
		if !ok || rec.Tombstone() {
			vals[i], oks[i] = Value{Partition: partition}, false
			continue
		}
		if vals[i], oks[i], err = s.decodeValue(id, st, rec); err != nil {
			return err
		}
	}
	return nil
}
