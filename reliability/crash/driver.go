package crash

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	rclient "github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/controller/api"
	ctlclient "github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/placement"
	"github.com/rialtodb/rialto/writer"
)

// Config sizes and places one run. Zero fields take the defaults named.
type Config struct {
	// Binary is the rialto binary the controller and servers run
	// (BuildBinary). Required.
	Binary string
	// Dir holds the data directories, configuration files and process
	// logs. Required.
	Dir string
	// Seed drives the operations, the kill moments, the victims and the
	// restart delays.
	Seed int64
	// Ops is how many nearline operations are written. Default 20 000.
	Ops int
	// Keys is how many distinct keys they touch. Default Ops/10.
	Keys int
	// Kills is how many times a server is killed with SIGKILL and
	// restarted. Default 3.
	Kills int
	// Rate paces the writes, in operations per second; 0 writes as fast as
	// the writers go. The kills happen at random operations, so pacing
	// spreads them in time.
	Rate float64
	// ServersPerRegion: default 2 (each holding every partition).
	ServersPerRegion int
	// Partitions of the store. Default 4.
	Partitions int32
	// RealBrokers, when set, puts region 1 on this Kafka cluster (region 2
	// stays embedded); every topic and group name is unique to the run and
	// deleted afterwards.
	RealBrokers []string
	// CatchUpTimeout bounds the wait for every region to apply every
	// write once the writes and kills are done. Default 3m.
	CatchUpTimeout time.Duration
	// Logf receives progress lines. Default: none.
	Logf func(format string, args ...any)
}

func (c *Config) ensureDefaults() {
	if c.Ops == 0 {
		c.Ops = 20_000
	}
	if c.Keys == 0 {
		c.Keys = max(c.Ops/10, 1)
	}
	if c.Kills == 0 {
		c.Kills = 3
	}
	if c.ServersPerRegion == 0 {
		c.ServersPerRegion = 2
	}
	if c.Partitions == 0 {
		c.Partitions = 4
	}
	if c.CatchUpTimeout == 0 {
		c.CatchUpTimeout = 3 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Binary == "" {
		errs = append(errs, errors.New("crash: Binary is required"))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("crash: Dir is required"))
	}
	if c.Ops < 0 || c.Keys < 1 || c.Kills < 0 || c.Rate < 0 || c.ServersPerRegion < 1 || c.Partitions < 1 {
		errs = append(errs, fmt.Errorf("crash: bad sizes: ops %d keys %d kills %d rate %g servers %d partitions %d",
			c.Ops, c.Keys, c.Kills, c.Rate, c.ServersPerRegion, c.Partitions))
	}
	return errors.Join(errs...)
}

// Regions is how many regions a run has.
const Regions = 2

// Result is what reading every key through one path found.
type Result struct {
	// Region is the region's name; Via is "region" for the client over
	// every server of the region, or one server's address.
	Region, Via string
	// Keys read; Live of them exist in the model.
	Keys, Live int
	// Lost: in the model, not found. Extra: found, not in the model.
	// Mismatched: found in both with different values.
	Lost, Extra, Mismatched int
	// Examples describe the first differences.
	Examples []string
}

// OK reports whether nothing differed.
func (r Result) OK() bool { return r.Lost == 0 && r.Extra == 0 && r.Mismatched == 0 }

func (r Result) String() string {
	return fmt.Sprintf("%s via %s: keys=%d live=%d lost=%d extra=%d mismatched=%d", r.Region, r.Via, r.Keys, r.Live, r.Lost, r.Extra, r.Mismatched)
}

// Report is the outcome of a run.
type Report struct {
	Seed       int64
	Ops, Kills int
	// Killed lists the kills: victim and restart delay.
	Killed []string
	// Results: per region through its client first, then per server.
	Results []Result
	// Problems are failures other than differences: processes that exited
	// by themselves, failed partitions, writes that failed, timeouts.
	Problems []string
	// Faults totals the servers' data integrity counters (by kind) at the
	// end; duplicates are expected after a crash, other kinds are not.
	Faults map[string]int64
	// Overlaps lists, per region, version-topic ranges where two leaders
	// of one partition produced at once: the usual cause of mismatches.
	Overlaps []string
	// Phase durations.
	Setup, Write, CatchUp, Verify, Total time.Duration
}

// OK reports whether every key matched everywhere and nothing else failed.
func (r *Report) OK() bool {
	if len(r.Problems) > 0 || len(r.Results) == 0 {
		return false
	}
	for _, res := range r.Results {
		if !res.OK() {
			return false
		}
	}
	return true
}

// Summary is the report as text: one `lost=N extra=N mismatched=N` line
// per region and per server, then problems and examples.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "seed %d: %d ops, %d kills; setup %s, write %s, catch-up %s, verify %s, total %s\n",
		r.Seed, r.Ops, r.Kills, r.Setup.Round(time.Millisecond), r.Write.Round(time.Millisecond),
		r.CatchUp.Round(time.Millisecond), r.Verify.Round(time.Millisecond), r.Total.Round(time.Millisecond))
	for _, k := range r.Killed {
		fmt.Fprintf(&b, "  %s\n", k)
	}
	for _, res := range r.Results {
		fmt.Fprintf(&b, "%s\n", res)
	}
	if len(r.Faults) > 0 {
		kinds := make([]string, 0, len(r.Faults))
		for k, n := range r.Faults {
			kinds = append(kinds, fmt.Sprintf("%s=%d", k, n))
		}
		sort.Strings(kinds)
		fmt.Fprintf(&b, "integrity counters at the end: %s\n", strings.Join(kinds, " "))
	}
	for _, o := range r.Overlaps {
		fmt.Fprintf(&b, "two leaders at once: %s\n", o)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "PROBLEM: %s\n", p)
	}
	for _, res := range r.Results {
		for _, e := range res.Examples {
			fmt.Fprintf(&b, "%s via %s: %s\n", res.Region, res.Via, e)
		}
	}
	return b.String()
}

// region is one region of the run.
type region struct {
	id      int32
	name    string
	brokers []string
	broker  *embedkafka.Broker // nil on a real cluster
	servers []*proc
}

// run is the state of one Run.
type run struct {
	cfg     Config
	rep     *Report
	names   names
	regions []*region
	ctl     *proc
	api     *ctlclient.Client
	store   api.Store
	tsBase  int64 // the first nearline operation's timestamp
	log     func(string, ...any)
}

// names are the run's topic, group and store names, unique per run so a
// shared real cluster can hold several runs.
type names struct {
	store, adminTopic, ctlGroup, serverGroup, placementTopic string
}

func newNames() names {
	var b [4]byte
	rand.Read(b[:])
	sfx := hex.EncodeToString(b[:])
	return names{
		store:          "crash_" + sfx,
		adminTopic:     "_rialto_admin_crash_" + sfx,
		ctlGroup:       "rialto-controller-crash-" + sfx,
		serverGroup:    "rialto-servers-crash-" + sfx,
		placementTopic: "_rialto_placement_crash_" + sfx,
	}
}

// Run starts the regions, the controller and the servers, writes the
// operations while killing servers, waits for every region to catch up
// and compares every key with the model. The error is for a run that could
// not be carried out (setup, a write that failed); differences and
// processes that failed are in the Report (see OK).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.ensureDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	r := &run{cfg: cfg, rep: &Report{Seed: cfg.Seed, Ops: cfg.Ops, Kills: cfg.Kills}, names: newNames(), log: cfg.Logf}
	defer func() { r.rep.Total = time.Since(start) }()
	defer r.teardown()

	if err := r.setup(ctx); err != nil {
		return r.rep, err
	}
	m := newModel(cfg.Keys)
	r.tsBase = time.Now().UnixMilli()
	gen := newGenerator(cfg.Seed, m, Regions, r.tsBase)
	if err := r.batchPush(ctx, gen); err != nil {
		return r.rep, err
	}
	r.rep.Setup = time.Since(start)

	t := time.Now()
	targets, err := r.write(ctx, gen)
	r.rep.Write = time.Since(t)
	if err != nil {
		return r.rep, err
	}

	t = time.Now()
	err = r.catchUp(ctx, targets)
	r.rep.CatchUp = time.Since(t)
	if err != nil {
		r.rep.Problems = append(r.rep.Problems, err.Error())
		return r.rep, nil
	}

	t = time.Now()
	err = r.verify(ctx, m)
	r.rep.Verify = time.Since(t)
	if err != nil {
		r.rep.Problems = append(r.rep.Problems, err.Error())
	}
	for _, reg := range r.regions {
		topic := fmt.Sprintf("%s_v%d", r.store.Name, r.store.CurrentVersion)
		for _, v := range r.store.Versions {
			if v.Number == r.store.CurrentVersion && v.Topic != "" {
				topic = v.Topic
			}
		}
		found, err := leaderOverlaps(ctx, reg.brokers, topic, r.cfg.Partitions)
		if err != nil {
			r.log("%s: scanning %s for leader overlaps: %v", reg.name, topic, err)
		}
		for _, f := range found {
			r.rep.Overlaps = append(r.rep.Overlaps, reg.name+" "+f)
		}
	}
	return r.rep, nil
}

// setup starts the brokers, the controller and the servers, and creates
// the store.
func (r *run) setup(ctx context.Context) error {
	cfg := r.cfg
	for i := range Regions {
		reg := &region{id: int32(i + 1), name: fmt.Sprintf("region-%d", i+1)}
		r.regions = append(r.regions, reg)
		if i == 0 && len(cfg.RealBrokers) > 0 {
			reg.brokers = cfg.RealBrokers
			continue
		}
		b, err := embedkafka.Start(ctx,
			embedkafka.DataDir(filepath.Join(cfg.Dir, reg.name, "kafka")),
			embedkafka.ClusterID("rialto-crash-"+reg.name),
			embedkafka.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			return fmt.Errorf("region %s: embedded broker: %w", reg.name, err)
		}
		reg.broker, reg.brokers = b, b.Addrs()
	}
	if err := os.MkdirAll(filepath.Join(cfg.Dir, "logs"), 0o755); err != nil {
		return err
	}

	// The controller.
	port, err := freePort()
	if err != nil {
		return err
	}
	var regions []api.Region
	for _, reg := range r.regions {
		regions = append(regions, api.Region{ID: reg.id, Name: reg.name, Brokers: reg.brokers})
	}
	ctlCfg := map[string]any{
		"regions": regions, "localRegion": 1, "httpAddr": fmt.Sprintf("127.0.0.1:%d", port),
		"adminTopic": r.names.adminTopic, "group": r.names.ctlGroup, "serverGroup": r.names.serverGroup,
		"replicationFactor": r.replicationFactor(), "monitorInterval": "200ms",
	}
	r.ctl, err = r.newProc("controller", "controller", ctlCfg, port)
	if err != nil {
		return err
	}
	if err := r.ctl.start(); err != nil {
		return err
	}
	r.api = ctlclient.New("http://" + r.ctl.addr)

	// The servers.
	for _, reg := range r.regions {
		for s := range cfg.ServersPerRegion {
			port, err := freePort()
			if err != nil {
				return err
			}
			id := fmt.Sprintf("r%d-s%d", reg.id, s+1)
			srvCfg := map[string]any{
				"brokers": reg.brokers, "dataDir": filepath.Join(cfg.Dir, reg.name, id),
				"serverId": id, "httpAddr": fmt.Sprintf("127.0.0.1:%d", port),
				"adminTopic": r.names.adminTopic, "group": r.names.serverGroup, "placementTopic": r.names.placementTopic,
				"replication": cfg.ServersPerRegion, "replicationFactor": r.replicationFactor(),
				"sessionTimeout": "6s", "cacheSize": 64 << 20,
			}
			p, err := r.newProc(id, "server", srvCfg, port)
			if err != nil {
				return err
			}
			if err := p.start(); err != nil {
				return err
			}
			reg.servers = append(reg.servers, p)
		}
	}

	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := waitHTTP(wctx, "http://"+r.ctl.addr+"/v1/cluster"); err != nil {
		return fmt.Errorf("controller does not answer: %w\n%s", err, r.ctl.logTail(20))
	}
	for _, reg := range r.regions {
		for _, p := range reg.servers {
			if err := waitHTTP(wctx, "http://"+p.addr+"/readyz"); err != nil {
				return fmt.Errorf("server %s is not ready: %w\n%s", p.name, err, p.logTail(20))
			}
		}
	}

	// The store: active-active, partial updates, hybrid (the default
	// rewind), created with an empty current version 1.
	sc := api.DefaultStoreConfig
	sc.Partitions, sc.ActiveActive, sc.PartialUpdate = cfg.Partitions, true, true
	req := api.CreateStoreRequest{Name: r.names.store, KeySchema: KeySchema, ValueSchema: ValueSchema, Config: &sc}
	for {
		r.store, err = r.api.CreateStore(wctx, req)
		if err == nil {
			break
		}
		var ae *ctlclient.APIError
		if errors.As(err, &ae) && ae.Status/100 == 4 {
			return fmt.Errorf("creating store %s: %w", req.Name, err)
		}
		select {
		case <-wctx.Done():
			return fmt.Errorf("creating store %s: %w\n%s", req.Name, err, r.ctl.logTail(20))
		case <-time.After(200 * time.Millisecond):
		}
	}
	r.log("store %s created; controller %s; servers %s", r.store.Name, r.ctl.addr, r.serverList())
	return nil
}

func (r *run) replicationFactor() int {
	if len(r.cfg.RealBrokers) > 0 {
		return -1 // the real cluster's default
	}
	return 1
}

// newProc writes a part's configuration file and returns its process.
func (r *run) newProc(name, part string, cfg map[string]any, port int) (*proc, error) {
	js, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(r.cfg.Dir, name+".json")
	if err := os.WriteFile(path, js, 0o644); err != nil {
		return nil, err
	}
	return &proc{
		name: name, bin: r.cfg.Binary, args: []string{part, "--config", path, "--log-level", "info"},
		log: filepath.Join(r.cfg.Dir, "logs", name+".log"), addr: fmt.Sprintf("127.0.0.1:%d", port),
	}, nil
}

func (r *run) serverList() string {
	var s []string
	for _, reg := range r.regions {
		for _, p := range reg.servers {
			s = append(s, p.name+"="+p.addr)
		}
	}
	return strings.Join(s, " ")
}

func (r *run) allServers() []*proc {
	var out []*proc
	for _, reg := range r.regions {
		out = append(out, reg.servers...)
	}
	return out
}

// teardown stops every process cleanly (a server that does not stop within
// 30 s of SIGTERM is a problem), records processes that exited by
// themselves, and removes what the run left on a real cluster.
func (r *run) teardown() {
	for _, p := range r.allServers() {
		if err := p.stop(); err != nil {
			r.rep.Problems = append(r.rep.Problems, err.Error())
		}
	}
	if r.ctl != nil {
		if len(r.cfg.RealBrokers) > 0 && r.store.Name != "" {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if err := r.api.DeleteStore(ctx, r.store.Name); err != nil {
				r.log("deleting store %s: %v", r.store.Name, err)
			}
			cancel()
		}
		if err := r.ctl.stop(); err != nil {
			r.rep.Problems = append(r.rep.Problems, err.Error())
		}
	}
	for _, p := range append(r.allServers(), r.ctl) {
		if p == nil {
			continue
		}
		for _, msg := range p.problems() {
			r.rep.Problems = append(r.rep.Problems, msg+"\n"+p.logTail(30))
		}
	}
	if len(r.cfg.RealBrokers) > 0 {
		r.cleanReal()
	}
	for _, reg := range r.regions {
		if reg.broker != nil {
			reg.broker.Close()
		}
	}
}

// cleanReal deletes the run's admin and placement topics and its groups on
// the real cluster.
func (r *run) cleanReal() {
	cl, err := kgo.NewClient(kgo.SeedBrokers(r.cfg.RealBrokers...))
	if err != nil {
		r.log("cleaning the real cluster: %v", err)
		return
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := adm.DeleteTopics(ctx, r.names.adminTopic, r.names.placementTopic); err != nil {
		r.log("deleting topics on the real cluster: %v", err)
	}
	if _, err := adm.DeleteGroups(ctx, r.names.ctlGroup, r.names.serverGroup); err != nil {
		r.log("deleting groups on the real cluster: %v", err)
	}
}

// batchPush loads every tenth key with a full push, making version 2
// current before the nearline writes start.
func (r *run) batchPush(ctx context.Context, gen *generator) error {
	var in strings.Builder
	rows := gen.batch()
	for _, o := range rows {
		in.WriteString(batchJSON(o))
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := push.Full(pctx, r.api, r.store.Name, push.Input{Reader: strings.NewReader(in.String()), Name: "batch.jsonl", Format: push.FormatJSONL})
	if err != nil {
		return fmt.Errorf("batch push: %w", err)
	}
	if err := push.Wait(pctx, r.api, r.store.Name, res.Version, 200*time.Millisecond, nil); err != nil {
		return fmt.Errorf("waiting for version %d: %w\n%s", res.Version, err, r.ctl.logTail(20))
	}
	st, err := r.api.Store(pctx, r.store.Name)
	if err != nil {
		return err
	}
	r.store = st
	r.log("batch push: %d rows, version %d current", len(rows), st.CurrentVersion)
	return nil
}

// offsets are, per region and RT partition, one past the last data record
// the writers produced.
type offsets [Regions][]int64

// write writes the operations into both regions' RT topics while a killer
// goroutine kills and restarts servers at the kill points. It returns
// once every write is acknowledged and every kill has been restarted.
func (r *run) write(ctx context.Context, gen *generator) (offsets, error) {
	cfg := r.cfg
	var targets offsets
	derived, err := partialupdate.Derive(avro.MustParse(ValueSchema))
	if err != nil {
		return targets, err
	}
	var (
		mu       sync.Mutex
		firstErr error
		acked    atomic.Int64
	)
	for i := range targets {
		targets[i] = make([]int64, cfg.Partitions)
	}
	writers := make([]*writer.Writer, Regions)
	for i, reg := range r.regions {
		w, err := writer.New(writer.Brokers(reg.brokers...), writer.Topic(r.store.RTTopic),
			writer.Schemas(r.api.SchemaProvider(r.store.Name)))
		if err != nil {
			return targets, fmt.Errorf("writer for %s: %w", reg.name, err)
		}
		defer w.Close(context.Background())
		writers[i] = w
	}
	callback := func(region int) func(writer.Result, error) {
		return func(res writer.Result, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return
			}
			acked.Add(1)
			if res.Offset+1 > targets[region][res.Partition] {
				targets[region][res.Partition] = res.Offset + 1
			}
		}
	}
	cbs := []func(writer.Result, error){callback(0), callback(1)}

	// The kill points: random operations between 5 % and 95 % of the run.
	krng := mrand.New(mrand.NewSource(cfg.Seed ^ 0x5eed))
	points := make([]int, cfg.Kills)
	for i := range points {
		points[i] = cfg.Ops/20 + krng.Intn(max(cfg.Ops*9/10, 1))
	}
	slices.Sort(points)
	kills := make(chan int, cfg.Kills)
	killerDone := make(chan struct{})
	go func() {
		defer close(killerDone)
		r.killer(ctx, krng, kills)
	}()

	start := time.Now()
	lastLog := start
	next := 0
	for i := range cfg.Ops {
		for next < len(points) && points[next] <= i {
			kills <- i
			next++
		}
		o := gen.next()
		if err := send(ctx, writers[o.region], derived, o, cbs[o.region]); err != nil {
			close(kills)
			<-killerDone
			return targets, fmt.Errorf("writing %s: %w", o, err)
		}
		if cfg.Rate > 0 && i%64 == 63 {
			if ahead := time.Duration(float64(i+1)/cfg.Rate*float64(time.Second)) - time.Since(start); ahead > 0 {
				time.Sleep(ahead)
			}
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			r.log("written %d of %d operations (%d acknowledged)", i+1, cfg.Ops, acked.Load())
		}
	}
	for next < len(points) {
		kills <- cfg.Ops
		next++
	}
	close(kills)
	for i, w := range writers {
		if err := w.Flush(ctx); err != nil {
			return targets, fmt.Errorf("flushing %s: %w", r.regions[i].name, err)
		}
	}
	r.log("written %d operations in %s; waiting for the kills to finish", cfg.Ops, time.Since(start).Round(time.Millisecond))
	<-killerDone
	mu.Lock()
	defer mu.Unlock()
	if firstErr != nil {
		return targets, fmt.Errorf("a write failed: %w", firstErr)
	}
	return targets, nil
}

// killer kills a random server with SIGKILL for each operation index it
// receives, waits a random delay and restarts it on the same data
// directory. Most delays are short (the server is back before its group
// session expires); some outlast the session timeout, so its partitions
// move to the other server first.
func (r *run) killer(ctx context.Context, rng *mrand.Rand, kills <-chan int) {
	servers := r.allServers()
	for at := range kills {
		p := servers[rng.Intn(len(servers))]
		delay := time.Duration(rng.Intn(1500)) * time.Millisecond
		if rng.Intn(4) == 0 {
			delay = 7*time.Second + time.Duration(rng.Intn(3000))*time.Millisecond
		}
		p.kill()
		r.log("kill -9 %s at operation %d; restart in %s", p.name, at, delay)
		r.rep.Killed = append(r.rep.Killed, fmt.Sprintf("op %d: kill -9 %s, restarted after %s", at, p.name, delay))
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if err := p.start(); err != nil {
			r.rep.Problems = append(r.rep.Problems, fmt.Sprintf("restarting %s: %v", p.name, err))
		}
	}
}

// catchUp waits until, in every region, every partition of the current
// version has ServersPerRegion ready replicas that have processed every
// region's RT partition up to the targets.
func (r *run) catchUp(ctx context.Context, targets offsets) error {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.CatchUpTimeout)
	defer cancel()
	v := r.store.CurrentVersion
	want := r.cfg.ServersPerRegion
	lastLog := time.Now()
	skipped := map[string]int64{} // replica → RT records its leader could not resolve
	defer func() {
		var msgs []string
		for where, n := range skipped {
			msgs = append(msgs, fmt.Sprintf("%s skipped %d RT records it could not resolve", where, n))
		}
		slices.Sort(msgs)
		r.rep.Problems = append(r.rep.Problems, msgs...)
	}()
	for {
		var lagging []string
		faults := map[string]int64{}
		for _, reg := range r.regions {
			byPart := make([][]replicaStatus, r.cfg.Partitions)
			var unreachable []string
			for _, p := range reg.servers {
				st, err := status(ctx, p.addr)
				if err != nil {
					unreachable = append(unreachable, fmt.Sprintf("%s: %v", p.name, err))
					continue
				}
				for _, ps := range st.Partitions {
					for k, n := range ps.Faults {
						faults[k] += n
					}
					if ps.Store != r.store.Name || ps.Version != v || ps.Partition < 0 || ps.Partition >= r.cfg.Partitions {
						continue
					}
					if ps.Failed != "" {
						return fmt.Errorf("%s: %s v%d partition %d failed: %s", p.name, ps.Store, ps.Version, ps.Partition, ps.Failed)
					}
					if ps.Skipped > 0 {
						skipped[fmt.Sprintf("%s: %s v%d partition %d", p.name, ps.Store, ps.Version, ps.Partition)] = ps.Skipped
					}
					byPart[ps.Partition] = append(byPart[ps.Partition], replicaStatus{p.name, ps})
				}
			}
			n := len(lagging)
			for part, reps := range byPart {
				if why := caughtUp(reps, targets, want); why != "" {
					lagging = append(lagging, fmt.Sprintf("%s partition %d: %s", reg.name, part, why))
				}
			}
			if len(lagging) > n {
				lagging = append(lagging, unreachable...)
			}
		}
		if len(lagging) == 0 {
			r.rep.Faults = faults
			return nil
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			r.log("catching up: %s; %s", strings.Join(lagging, "; "), r.groups())
		}
		select {
		case <-ctx.Done():
			var tails []string
			for _, p := range r.allServers() {
				tails = append(tails, fmt.Sprintf("--- %s (%s):\n%s", p.name, p.log, p.logTail(15)))
			}
			return fmt.Errorf("not every region caught up within %s: %s; %s\n%s", r.cfg.CatchUpTimeout, strings.Join(lagging, "; "), r.groups(), strings.Join(tails, "\n"))
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// groups describes each region's placement group: its state and which
// servers are members (a member that never rejoins stalls placement).
func (r *run) groups() string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	for _, reg := range r.regions {
		out = append(out, reg.name+" "+describeGroup(ctx, reg.brokers, r.names.serverGroup))
	}
	return strings.Join(out, "; ")
}

func describeGroup(ctx context.Context, brokers []string, group string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	gs, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
	if err == nil {
		err = gs.Error()
	}
	if err != nil {
		return fmt.Sprintf("group %s: %v", group, err)
	}
	var b strings.Builder
	for _, g := range gs {
		fmt.Fprintf(&b, "group %s %s, members:", group, g.State)
		for _, m := range g.Members {
			id := "?"
			if raw, ok := m.Join.Raw(); ok {
				if pm, err := placement.DecodeMember(raw); err == nil {
					id = pm.ID
				}
			}
			fmt.Fprintf(&b, " %s(%s)", id, m.MemberID)
		}
	}
	return b.String()
}

// replicaStatus is one server's replica of a partition.
type replicaStatus struct {
	server string
	ps     server.PartitionStatus
}

// caughtUp says why a partition's replicas have not all applied every
// write yet, or "". The leader must have replayed every region's RT
// partition past the last acknowledged write; the followers must have
// applied the version topic up to the leader's position. Followers learn
// upstream offsets only from the leader footers of what it produced, and
// a write the leader ignores (an older write losing to a newer one from
// the other region) produces nothing, so a follower's upstream offset may
// rightly stay short of the RT end.
func caughtUp(reps []replicaStatus, targets offsets, want int) string {
	var leaders []replicaStatus
	for _, r := range reps {
		if r.ps.Leader {
			leaders = append(leaders, r)
		}
	}
	switch {
	case len(leaders) == 0:
		return fmt.Sprintf("no leader among %d replicas", len(reps))
	case len(leaders) > 1:
		return fmt.Sprintf("%d leaders", len(leaders))
	}
	l := leaders[0]
	if why := replayed(l.ps, targets); why != "" {
		return fmt.Sprintf("leader %s %s", l.server, why)
	}
	done := 0
	var behind []string
	for _, r := range reps {
		switch {
		case r.ps.Leader:
			done++
		case !r.ps.ReadyToServe:
			behind = append(behind, r.server+" not ready to serve")
		case r.ps.Offset < l.ps.Offset:
			behind = append(behind, fmt.Sprintf("%s at version-topic offset %d of the leader's %d", r.server, r.ps.Offset, l.ps.Offset))
		default:
			done++
		}
	}
	if done < want {
		return fmt.Sprintf("%d of %d replicas caught up (%s)", done, want, strings.Join(behind, ", "))
	}
	return ""
}

// replayed says why a leader has not replayed every write yet, or "".
func replayed(ps server.PartitionStatus, targets offsets) string {
	if !ps.ReadyToServe {
		return "not ready to serve"
	}
	for src := range targets {
		want := targets[src][ps.Partition]
		if want == 0 {
			continue
		}
		got := int64(-1)
		for _, u := range ps.Upstream {
			if u.Region == int32(src+1) && u.Partition == ps.Partition {
				got = u.Offset
			}
		}
		if got < want {
			return fmt.Sprintf("region-%d RT at %d of %d", src+1, got, want)
		}
	}
	return ""
}

func status(ctx context.Context, addr string) (server.StatusResponse, error) {
	var st server.StatusResponse
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("status: %s", resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// verify reads every key (and a few never written) in every region, through
// a client over the region's servers and through each server alone, and
// compares them with the model.
func (r *run) verify(ctx context.Context, m *model) error {
	n := len(m.keys) + max(len(m.keys)/100, 10) // the tail was never written
	keys := make([]any, n)
	for i := range keys {
		keys[i] = KeyName(i)
	}
	quiet := rclient.Logger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, reg := range r.regions {
		paths := [][]string{nil}
		for _, p := range reg.servers {
			paths[0] = append(paths[0], "http://"+p.addr)
		}
		for _, p := range reg.servers {
			paths = append(paths, []string{"http://" + p.addr})
		}
		for i, servers := range paths {
			via := "region"
			if i > 0 {
				via = reg.servers[i-1].name
			}
			c, err := rclient.New(servers, quiet)
			if err != nil {
				return err
			}
			res, err := r.compare(ctx, c, m, keys)
			c.Close()
			if err != nil {
				return fmt.Errorf("reading %s via %s: %w", reg.name, via, err)
			}
			res.Region, res.Via = reg.name, via
			r.rep.Results = append(r.rep.Results, res)
			r.log("%s", res)
		}
	}
	return nil
}

// compare reads keys through c and counts the differences with m.
func (r *run) compare(ctx context.Context, c *rclient.Client, m *model, keys []any) (Result, error) {
	var res Result
	const batch = 2000
	for lo := 0; lo < len(keys); lo += batch {
		hi := min(lo+batch, len(keys))
		vals, err := c.BatchGet(ctx, r.store.Name, keys[lo:hi])
		if err != nil {
			return res, err
		}
		for j, v := range vals {
			k := lo + j
			want, live := row{}, false
			if k < len(m.keys) {
				want, live = m.keys[k].value()
			}
			res.Keys++
			if live {
				res.Live++
			}
			if v.Found && v.Version != r.store.CurrentVersion {
				return res, fmt.Errorf("%s read from version %d, current is %d", KeyName(k), v.Version, r.store.CurrentVersion)
			}
			var why string
			switch {
			case live && !v.Found:
				res.Lost++
				why = fmt.Sprintf("lost %s: want %s", KeyName(k), want)
			case !live && v.Found:
				res.Extra++
				got, err := decodeRow(v.Bytes)
				why = fmt.Sprintf("extra %s: found %s (%v)", KeyName(k), got, err)
			case live:
				got, err := decodeRow(v.Bytes)
				if err != nil || v.SchemaID != 1 || !got.equal(want) {
					res.Mismatched++
					why = fmt.Sprintf("mismatched %s: got %s (schema %d, %v), want %s", KeyName(k), got, v.SchemaID, err, want)
				}
			}
			if why != "" && len(res.Examples) < 5 {
				res.Examples = append(res.Examples, why+"\n"+r.history(k))
			}
		}
	}
	return res, nil
}

// history regenerates the operations of key k (the generator is
// deterministic) for a difference's explanation.
func (r *run) history(k int) string {
	if k >= r.cfg.Keys {
		return "  (never written)"
	}
	g := newGenerator(r.cfg.Seed, newModel(r.cfg.Keys), Regions, r.tsBase)
	var b strings.Builder
	for _, o := range g.batch() {
		if o.key == k {
			fmt.Fprintf(&b, "  batch %s\n", o)
		}
	}
	n := 0
	for range r.cfg.Ops {
		if o := g.next(); o.key == k {
			if n++; n <= 40 {
				fmt.Fprintf(&b, "  %s\n", o)
			}
		}
	}
	if n > 40 {
		fmt.Fprintf(&b, "  … %d operations in all\n", n)
	}
	return strings.TrimRight(b.String(), "\n")
}
