package controller

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/replay"
	"github.com/rialtodb/rialto/writer"
)

var storeNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$`)

// Store returns a store.
func (c *Controller) Store(name string) (api.Store, error) {
	txn := c.db.Txn(false)
	s, ok, err := getStore(txn, name)
	if err != nil {
		return api.Store{}, err
	}
	if !ok {
		return api.Store{}, errorf(http.StatusNotFound, "store %q does not exist", name)
	}
	return s, nil
}

// Stores lists every store.
func (c *Controller) Stores() ([]api.Store, error) { return listStores(c.db.Txn(false)) }

// Cluster describes the regions.
func (c *Controller) Cluster() api.Cluster {
	return api.Cluster{Regions: append([]api.Region(nil), c.cfg.Regions...), LocalRegion: c.cfg.LocalRegion}
}

// change runs one metadata change as the leader: fn edits a copy of the
// store (nil when it does not exist); the result is appended to the admin
// log of every region and then applied.
func (c *Controller) change(ctx context.Context, name string, fn func(s *api.Store, exists bool) error) (api.Store, error) {
	if !c.leader.Load() {
		return api.Store{}, ErrNotLeader
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, exists, err := getStore(c.db.Txn(false), name)
	if err != nil {
		return api.Store{}, err
	}
	if err := fn(&s, exists); err != nil {
		return api.Store{}, err
	}
	s.Revision = c.revision.Load() + 1
	rec := api.AdminRecord{Kind: "store", Store: &s}
	if err := c.appendLog(ctx, rec); err != nil {
		return api.Store{}, err
	}
	return s, c.apply(rec)
}

// changeStore is change for a store that must exist.
func (c *Controller) changeStore(ctx context.Context, name string, fn func(s *api.Store) error) (api.Store, error) {
	return c.change(ctx, name, func(s *api.Store, exists bool) error {
		if !exists {
			return errorf(http.StatusNotFound, "store %q does not exist", name)
		}
		return fn(s)
	})
}

// changeVersion is change for a version of a store, both of which must exist.
func (c *Controller) changeVersion(ctx context.Context, name string, n int32, fn func(s *api.Store, v *api.Version) error) (api.Store, error) {
	return c.changeStore(ctx, name, func(s *api.Store) error {
		v := findVersion(s, n)
		if v == nil {
			return errorf(http.StatusNotFound, "store %q has no version %d", name, n)
		}
		return fn(s, v)
	})
}

func validateConfig(cfg *api.StoreConfig) error {
	var problems []string
	if cfg.Partitions <= 0 {
		problems = append(problems, fmt.Sprintf("partitions must be positive, not %d", cfg.Partitions))
	}
	if _, err := wire.ParseCompression(cfg.Compression); err != nil {
		problems = append(problems, err.Error())
	}
	if cfg.ReplayPolicy != api.ReplayFromEndOfPush && cfg.ReplayPolicy != api.ReplayFromStartOfPush {
		problems = append(problems, fmt.Sprintf("replay policy %q (want %s or %s)", cfg.ReplayPolicy, api.ReplayFromEndOfPush, api.ReplayFromStartOfPush))
	}
	if cfg.VersionsToKeep < 1 {
		problems = append(problems, fmt.Sprintf("versions to keep must be at least 1, not %d", cfg.VersionsToKeep))
	}
	if cfg.HybridRewind < 0 || cfg.HybridOffsetLag < 0 || cfg.RTRetention < 0 {
		problems = append(problems, "hybrid rewind, offset lag and RT retention must not be negative")
	}
	if cfg.HybridRewind > 0 && time.Duration(cfg.RTRetention) < time.Duration(cfg.HybridRewind)+time.Hour {
		problems = append(problems, fmt.Sprintf("RT retention %s must exceed the hybrid rewind %s by at least 1h", time.Duration(cfg.RTRetention), time.Duration(cfg.HybridRewind)))
	}
	if cfg.ActiveActive && cfg.HybridRewind == 0 {
		problems = append(problems, "an active-active store takes nearline writes: it needs a hybrid rewind")
	}
	if len(problems) > 0 {
		return errorf(http.StatusBadRequest, "invalid store config: %s", joinProblems(problems))
	}
	return nil
}

func joinProblems(p []string) string {
	out := p[0]
	for _, s := range p[1:] {
		out += "; " + s
	}
	return out
}

// schemaEntry derives what a value schema implies for a store.
func schemaEntry(id int32, js string, cfg api.StoreConfig, registered []api.Schema) (api.Schema, error) {
	sch, err := avro.Parse(js)
	if err != nil {
		return api.Schema{}, errorf(http.StatusBadRequest, "value schema: %v", err)
	}
	text, err := avrox.SchemaJSON(sch) // keeps defaults; String() would drop them
	if err != nil {
		return api.Schema{}, errorf(http.StatusBadRequest, "value schema: %v", err)
	}
	out := api.Schema{ID: id, Schema: string(text)}
	if cfg.PartialUpdate {
		d, err := partialupdate.Derive(sch)
		if err != nil {
			return api.Schema{}, errorf(http.StatusBadRequest, "partial updates need a record schema whose fields all have defaults: %v", err)
		}
		out.UpdateSchema, out.UpdateSchemaID = d.UpdateJSON(), id
	}
	if cfg.ActiveActive {
		reg := &conflict.StaticRegistry{Schemas: map[int32]avro.Schema{id: sch}, Superset: id}
		for _, r := range registered {
			if s, err := avro.Parse(r.Schema); err == nil {
				reg.Schemas[r.ID] = s
			}
		}
		mode := conflict.ValueLevel
		if cfg.PartialUpdate {
			mode = conflict.FieldLevel
		}
		res, err := conflict.New(reg, mode)
		if err != nil {
			return api.Schema{}, errorf(http.StatusBadRequest, "replication metadata: %v", err)
		}
		_, rmdJSON, err := res.RMDSchema(id)
		if err != nil {
			return api.Schema{}, errorf(http.StatusBadRequest, "replication metadata schema: %v", err)
		}
		out.RMDSchema = rmdJSON
	}
	return out, nil
}

// CreateStore creates a store with an empty, current version 1.
func (c *Controller) CreateStore(ctx context.Context, req api.CreateStoreRequest) (api.Store, error) {
	if !storeNameRE.MatchString(req.Name) {
		return api.Store{}, errorf(http.StatusBadRequest, "store name %q: use letters, digits, '_' and '-' (at most 100)", req.Name)
	}
	cfg := api.DefaultStoreConfig
	if req.Config != nil {
		cfg = *req.Config
	}
	if err := validateConfig(&cfg); err != nil {
		return api.Store{}, err
	}
	key, err := avro.Parse(req.KeySchema)
	if err != nil {
		return api.Store{}, errorf(http.StatusBadRequest, "key schema: %v", err)
	}
	vs, err := schemaEntry(1, req.ValueSchema, cfg, nil)
	if err != nil {
		return api.Store{}, err
	}
	now := c.cfg.Now()
	return c.change(ctx, req.Name, func(s *api.Store, exists bool) error {
		if exists {
			return errorf(http.StatusConflict, "store %q already exists", req.Name)
		}
		*s = api.Store{Name: req.Name, KeySchema: key.String(), ValueSchemas: []api.Schema{vs}, SupersetID: 1, Config: cfg}
		if cfg.HybridRewind > 0 {
			s.RTTopic = req.Name + "_rt"
			for _, r := range c.regions {
				if err := c.ensureTopic(ctx, r, s.RTTopic, cfg.Partitions, map[string]*string{
					"retention.ms": ptr(strconv.FormatInt(time.Duration(cfg.RTRetention).Milliseconds(), 10)),
				}); err != nil {
					return fmt.Errorf("RT topic in %s: %w", r.region.Name, err)
				}
			}
		}
		v := c.newVersion(s, 1, nil, now)
		if err := c.createVersionTopics(ctx, v); err != nil {
			return err
		}
		// Version 1 is empty: start and end of push, then (hybrid) the
		// topic switch, and it is current at once.
		if err := c.writeControl(ctx, s, v, wire.Control{Type: wire.ControlStartOfPush}, wire.Control{Type: wire.ControlEndOfPush}); err != nil {
			return err
		}
		v.EndOfPushAt = now
		if s.RTTopic != "" {
			if err := c.topicSwitch(ctx, s, &v); err != nil {
				return err
			}
		}
		v.Status, v.Role, v.OnlineAt = api.StatusOnline, api.RoleCurrent, now
		s.Versions = []api.Version{v}
		s.CurrentVersion = 1
		return nil
	})
}

func (c *Controller) newVersion(s *api.Store, n int32, dictionary []byte, now time.Time) api.Version {
	return api.Version{
		Number: n, Status: api.StatusStarted, Role: api.RoleFuture,
		Topic:      fmt.Sprintf("%s_v%d", s.Name, n),
		Partitions: s.Config.Partitions, Compression: s.Config.Compression, Chunking: s.Config.Chunking,
		Dictionary: dictionary, CreatedAt: now, StartOfPushAt: now,
	}
}

func (c *Controller) createVersionTopics(ctx context.Context, v api.Version) error {
	for _, r := range c.regions {
		if err := c.ensureTopic(ctx, r, v.Topic, v.Partitions, map[string]*string{
			"cleanup.policy":        ptr("compact"),
			"min.compaction.lag.ms": ptr(strconv.FormatInt(c.cfg.VersionCompactionLag.Milliseconds(), 10)),
		}); err != nil {
			return fmt.Errorf("version topic %s in %s: %w", v.Topic, r.region.Name, err)
		}
	}
	return nil
}

// writeControl writes control messages to a version's topic in every
// region, each through its own writer (so each is DIV-framed).
func (c *Controller) writeControl(ctx context.Context, s *api.Store, v api.Version, msgs ...wire.Control) error {
	return c.writeControlIn(ctx, c.regions, v, msgs...)
}

func (c *Controller) writeControlIn(ctx context.Context, regions []*regionClients, v api.Version, msgs ...wire.Control) error {
	mode, _ := wire.ParseCompression(v.Compression)
	for _, r := range regions {
		opts := []writer.Opt{writer.Client(r.cl), writer.Topic(v.Topic), writer.Kind(writer.KindVersion), writer.Partitions(v.Partitions), writer.Logger(c.log)}
		if mode != wire.CompressionNone {
			opts = append(opts, writer.Compression(mode, v.Dictionary))
		}
		if !v.Chunking {
			opts = append(opts, writer.ChunkThreshold(0))
		}
		w, err := writer.New(opts...)
		if err != nil {
			return fmt.Errorf("version topic %s in %s: %w", v.Topic, r.region.Name, err)
		}
		for _, m := range msgs {
			if err = w.SendControl(ctx, m); err != nil {
				break
			}
		}
		if cerr := w.Close(ctx); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("control messages to %s in %s: %w", v.Topic, r.region.Name, err)
		}
	}
	return nil
}

// topicSwitch tells v's leaders (every region) to replay the RT topics.
// Active-active versions replay every region's RT topic; others their own.
func (c *Controller) topicSwitch(ctx context.Context, s *api.Store, v *api.Version) error {
	rs, err := replay.RewindStart(s.Config, *v)
	if err != nil {
		return err
	}
	// 0 means "no topic switch yet" in the metadata: replay from the very
	// start is 1 ms after the epoch, the same records.
	v.RewindStart = max(rs, 1)
	for _, r := range c.regions {
		var sources []wire.SourceRegion
		for _, src := range c.regions {
			if s.Config.ActiveActive || src == r {
				sources = append(sources, wire.SourceRegion{Region: src.region.ID, Name: src.region.Name, Brokers: src.region.Brokers})
			}
		}
		ts := wire.Control{Type: wire.ControlTopicSwitch, TopicSwitch: wire.TopicSwitch{Sources: sources, Topic: s.RTTopic, RewindStart: v.RewindStart}}
		if err := c.writeControlIn(ctx, []*regionClients{r}, *v, ts); err != nil {
			return err
		}
	}
	return nil
}

// UpdateStore replaces a store's configuration. Partitions, compression
// and chunking apply from the next full push; a hybrid store keeps its
// partition count (its RT topic is partitioned that way) and its hybrid
// setting.
func (c *Controller) UpdateStore(ctx context.Context, name string, cfg api.StoreConfig) (api.Store, error) {
	if err := validateConfig(&cfg); err != nil {
		return api.Store{}, err
	}
	return c.changeStore(ctx, name, func(s *api.Store) error {
		old := s.Config
		if (old.HybridRewind > 0) != (cfg.HybridRewind > 0) {
			return errorf(http.StatusBadRequest, "store %q: a store cannot switch between hybrid and batch-only", name)
		}
		if old.HybridRewind > 0 && cfg.Partitions != old.Partitions {
			return errorf(http.StatusBadRequest, "store %q: a hybrid store keeps %d partitions (its RT topic has them)", name, old.Partitions)
		}
		if old.ActiveActive != cfg.ActiveActive || old.PartialUpdate != cfg.PartialUpdate {
			return errorf(http.StatusBadRequest, "store %q: active-active and partial updates are fixed at creation", name)
		}
		s.Config = cfg
		return nil
	})
}

// AddSchema registers a value schema compatible with every registered one
// (each can read the other's data) and keeps the superset schema current.
func (c *Controller) AddSchema(ctx context.Context, name, js string) (api.Schema, error) {
	var added api.Schema
	_, err := c.changeStore(ctx, name, func(s *api.Store) error {
		sch, err := avro.Parse(js)
		if err != nil {
			return errorf(http.StatusBadRequest, "value schema: %v", err)
		}
		compat := avro.NewSchemaCompatibility()
		for _, r := range s.ValueSchemas {
			old := avro.MustParse(r.Schema)
			if old.Fingerprint() == sch.Fingerprint() {
				added = r
				return nil // already registered: idempotent
			}
			if err := compat.Compatible(sch, old); err != nil {
				return errorf(http.StatusBadRequest, "schema is not compatible with schema %d (it cannot read its data): %v", r.ID, err)
			}
			if err := compat.Compatible(old, sch); err != nil {
				return errorf(http.StatusBadRequest, "schema is not compatible with schema %d (it cannot read the new data): %v", r.ID, err)
			}
		}
		next := s.ValueSchemas[len(s.ValueSchemas)-1].ID + 1
		if added, err = schemaEntry(next, js, s.Config, s.ValueSchemas); err != nil {
			return err
		}
		s.ValueSchemas = append(s.ValueSchemas, added)
		// The superset: the registered schema containing every field.
		super, _ := avro.Parse(s.ValueSchemas[s.SupersetID-1].Schema)
		sr, ok1 := super.(*avro.RecordSchema)
		nr, ok2 := sch.(*avro.RecordSchema)
		if !ok1 || !ok2 {
			s.SupersetID = next
			return nil
		}
		merged, err := avrox.Superset(sr, nr)
		if err != nil {
			return errorf(http.StatusBadRequest, "no superset of schemas %d and the new one: %v", s.SupersetID, err)
		}
		switch merged.Fingerprint() {
		case nr.Fingerprint():
			s.SupersetID = next
		case sr.Fingerprint():
		default:
			// Neither contains the other: register the superset too.
			text, err := avrox.SchemaJSON(merged)
			if err != nil {
				return errorf(http.StatusBadRequest, "superset schema: %v", err)
			}
			sup, err := schemaEntry(next+1, string(text), s.Config, s.ValueSchemas)
			if err != nil {
				return err
			}
			s.ValueSchemas = append(s.ValueSchemas, sup)
			s.SupersetID = next + 1
		}
		return nil
	})
	return added, err
}

// DeleteStore deletes a store and every topic it has.
func (c *Controller) DeleteStore(ctx context.Context, name string) error {
	if !c.leader.Load() {
		return ErrNotLeader
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok, err := getStore(c.db.Txn(false), name)
	if err != nil {
		return err
	}
	if !ok {
		return errorf(http.StatusNotFound, "store %q does not exist", name)
	}
	topics := []string{}
	if s.RTTopic != "" {
		topics = append(topics, s.RTTopic)
	}
	for _, v := range s.Versions {
		if v.Role != api.RoleRetired {
			topics = append(topics, v.Topic)
		}
	}
	s.Revision = c.revision.Load() + 1
	rec := api.AdminRecord{Kind: "store", Store: &s, Deleted: true}
	if err := c.appendLog(ctx, rec); err != nil {
		return err
	}
	if err := c.apply(rec); err != nil {
		return err
	}
	return c.deleteTopics(ctx, topics...)
}

func findVersion(s *api.Store, n int32) *api.Version {
	for i := range s.Versions {
		if s.Versions[i].Number == n {
			return &s.Versions[i]
		}
	}
	return nil
}

// StartPush creates the next version (future) for a full push. Only one
// full push runs at a time per store.
func (c *Controller) StartPush(ctx context.Context, name string, req api.StartPushRequest) (api.Version, error) {
	var v api.Version
	_, err := c.changeStore(ctx, name, func(s *api.Store) error {
		var next int32 = 1
		for _, have := range s.Versions {
			if have.Status == api.StatusStarted || have.Status == api.StatusPushed {
				return errorf(http.StatusConflict, "store %q: version %d is being pushed (%s); kill it or wait", name, have.Number, have.Status)
			}
			next = max(next, have.Number+1)
		}
		if s.Config.Compression == "zstd-dict" && len(req.Dictionary) == 0 {
			return errorf(http.StatusBadRequest, "store %q compresses with zstd-dict: the push must bring its trained dictionary", name)
		}
		if s.Config.Compression != "zstd-dict" && len(req.Dictionary) > 0 {
			return errorf(http.StatusBadRequest, "store %q compresses with %s: a dictionary makes no sense", name, s.Config.Compression)
		}
		if replay.Hybrid(*s) && !req.IgnoreRetention {
			plan, err := c.ReplayPlan(ctx, s)
			if err != nil {
				return err
			}
			if !plan.Complete {
				return errorf(http.StatusConflict, "store %q: the RT topic no longer holds the rewind start in %s (retention deleted records the replay needs); push with ignoreRetention to accept the gap", name, missingPartitions(plan))
			}
		}
		v = c.newVersion(s, next, req.Dictionary, c.cfg.Now())
		if err := c.createVersionTopics(ctx, v); err != nil {
			return err
		}
		s.Versions = append(s.Versions, v)
		return nil
	})
	return v, err
}

// EndOfPush records that the push job wrote end-of-push; a hybrid store's
// version then gets its topic switch and starts replaying.
func (c *Controller) EndOfPush(ctx context.Context, name string, n int32) (api.Version, error) {
	var out api.Version
	_, err := c.changeVersion(ctx, name, n, func(s *api.Store, v *api.Version) error {
		if v.Status != api.StatusStarted {
			return errorf(http.StatusConflict, "store %q version %d is %s, not being pushed", name, n, v.Status)
		}
		v.Status, v.EndOfPushAt = api.StatusPushed, c.cfg.Now()
		if s.RTTopic != "" {
			if err := c.topicSwitch(ctx, s, v); err != nil {
				return err
			}
		}
		out = *v
		return nil
	})
	return out, err
}

// KillPush stops a push: the version is killed and its topics deleted.
func (c *Controller) KillPush(ctx context.Context, name string, n int32) (api.Version, error) {
	return c.endVersion(ctx, name, n, api.StatusKilled, "")
}

// endVersion retires a version being pushed with a final status.
func (c *Controller) endVersion(ctx context.Context, name string, n int32, status, why string) (api.Version, error) {
	var out api.Version
	_, err := c.changeVersion(ctx, name, n, func(s *api.Store, v *api.Version) error {
		if v.Status != api.StatusStarted && v.Status != api.StatusPushed {
			return errorf(http.StatusConflict, "store %q version %d is %s: only a push in flight can end so", name, n, v.Status)
		}
		v.Status, v.Role, v.Error = status, api.RoleRetired, why
		out = *v
		return nil
	})
	if err == nil {
		err = c.deleteTopics(ctx, out.Topic)
	}
	return out, err
}

// Swap makes version to current: a future version that is ready, or a
// backup (roll forward/back by number).
func (c *Controller) Swap(ctx context.Context, name string, to int32) (api.Store, error) {
	var retired []string
	s, err := c.changeVersion(ctx, name, to, func(s *api.Store, v *api.Version) error {
		switch {
		case v.Role == api.RoleCurrent:
			return errorf(http.StatusConflict, "store %q version %d is already current", name, to)
		case v.Role == api.RoleBackup:
		case v.Role == api.RoleFuture && v.Status == api.StatusPushed:
			ready, why, err := c.versionReady(ctx, s, *v)
			if err != nil {
				return err
			}
			if !ready {
				return errorf(http.StatusConflict, "store %q version %d is not ready to serve: %s", name, to, why)
			}
		default:
			return errorf(http.StatusConflict, "store %q version %d is %s (%s): it cannot serve", name, to, v.Status, v.Role)
		}
		retired = c.makeCurrent(s, to, api.StatusOnline)
		return nil
	})
	if err == nil && len(retired) > 0 {
		err = c.deleteTopics(ctx, retired...)
	}
	return s, err
}

// Rollback makes the newest backup older than the current version
// current, preferring one that was not itself rolled back from; the
// version it replaces stays as a backup marked rolled-back (swap can bring
// it back).
func (c *Controller) Rollback(ctx context.Context, name string) (api.Store, error) {
	return c.changeStore(ctx, name, func(s *api.Store) error {
		var older []*api.Version
		for i := range s.Versions {
			if v := &s.Versions[i]; v.Role == api.RoleBackup && v.Number < s.CurrentVersion {
				older = append(older, v)
			}
		}
		if len(older) == 0 {
			return errorf(http.StatusConflict, "store %q has no backup version to roll back to", name)
		}
		c.makeCurrent(s, slices.MinFunc(older, backupOrder).Number, api.StatusRolledBack)
		return nil
	})
}

// makeCurrent swaps roles: to becomes current, the old current a backup
// with oldStatus; backups beyond VersionsToKeep retire. It returns the
// topics of retired versions.
func (c *Controller) makeCurrent(s *api.Store, to int32, oldStatus string) []string {
	now := c.cfg.Now()
	for i := range s.Versions {
		v := &s.Versions[i]
		switch {
		case v.Number == to:
			v.Role, v.Status, v.OnlineAt = api.RoleCurrent, api.StatusOnline, now
		case v.Role == api.RoleCurrent:
			v.Role, v.Status = api.RoleBackup, oldStatus
		}
	}
	s.CurrentVersion = to
	// Keep the current version and the newest VersionsToKeep-1 backups,
	// those rolled back from last: after a rollback, the next push must
	// not retire the good version in favour of the bad one.
	var backups []*api.Version
	for i := range s.Versions {
		if v := &s.Versions[i]; v.Role == api.RoleBackup {
			backups = append(backups, v)
		}
	}
	slices.SortFunc(backups, backupOrder)
	var retired []string
	for i, v := range backups {
		if i >= s.Config.VersionsToKeep-1 {
			v.Role = api.RoleRetired
			retired = append(retired, v.Topic)
		}
	}
	return retired
}

// backupOrder ranks backups by how much they are worth keeping and
// rolling back to: those not rolled back from first, then the newest.
func backupOrder(a, b *api.Version) int {
	if ra, rb := a.Status == api.StatusRolledBack, b.Status == api.StatusRolledBack; ra != rb {
		if ra {
			return 1
		}
		return -1
	}
	return cmp.Compare(b.Number, a.Number)
}

// ReplayPlan is the dry run of the next replay of a hybrid store: per RT
// partition of every region, what a push finishing now would replay, and
// whether retention already deleted some of it.
func (c *Controller) ReplayPlan(ctx context.Context, s *api.Store) (api.ReplayPlan, error) {
	if !replay.Hybrid(*s) {
		return api.ReplayPlan{}, errorf(http.StatusBadRequest, "store %q is batch-only: nothing is replayed", s.Name)
	}
	start, err := replay.NextRewindStart(s.Config, c.cfg.Now())
	if err != nil {
		return api.ReplayPlan{}, err
	}
	var regions []replay.Region
	for _, r := range c.regions {
		if s.Config.ActiveActive || r == c.local {
			regions = append(regions, replay.Region{Name: r.region.Name, ID: r.region.ID, Admin: r.adm})
		}
	}
	return replay.PlanStore(ctx, *s, start, regions)
}

func missingPartitions(p api.ReplayPlan) string {
	var out []string
	for _, pp := range p.Partitions {
		if !pp.Available {
			out = append(out, fmt.Sprintf("%s partition %d", pp.Region, pp.Partition))
		}
	}
	return strings.Join(out, ", ")
}
