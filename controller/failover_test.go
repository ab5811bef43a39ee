package controller

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// These tests run real controllers and a real server on one broker:
// failover between two controllers of a region, a push whose ingestion
// fails, and controller restarts in the later phases of a push.

// foWithCity is profileSchema with one more field: value schema 2.
const foWithCity = `{"type":"record","name":"Profile","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"count","type":"long","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"city","type":"string","default":""}
]}`

// foCtl is one controller process of the cluster's region.
type foCtl struct {
	ctl *Controller
	cl  *client.Client
	// cancel ends Run without waiting for it: how a test stands for a
	// controller that dies while some of its work is stuck.
	cancel context.CancelFunc
	done   chan struct{}
	stop   func() // ends Run, waits for it and closes; idempotent
}

// foRunController starts another controller of c's region (same admin
// topic, group and server group as the fixture's), configured like the
// fixture's and then by mod. It does not wait to be elected.
func foRunController(t *testing.T, c *cluster, mod func(*Config)) *foCtl {
	t.Helper()
	cfg := Config{
		Regions: []api.Region{{ID: 0, Name: "local", Brokers: c.env.Brokers()}}, LocalRegion: 0,
		AdminTopic: c.names.admin, Group: c.names.group, ServerGroup: c.names.servers,
		HTTPAddr: "127.0.0.1:0", ReplicationFactor: 1, MonitorInterval: 100 * time.Millisecond, Logger: quiet(),
	}
	if mod != nil {
		mod(&cfg)
	}
	ctl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &foCtl{ctl: ctl, cl: client.New("http://" + ctl.Addr()), cancel: cancel, done: make(chan struct{})}
	go func() { defer close(p.done); ctl.Run(ctx) }()
	var once sync.Once
	p.stop = func() { once.Do(func() { cancel(); <-p.done; ctl.Close() }) }
	t.Cleanup(p.stop)
	return p
}

// foSchemas are a store's schemas as the writer needs them, fixed: the
// test's writers must keep writing while no controller answers (the
// controller-backed provider refreshes every client.CacheTTL and fails
// while its controller is down).
func foSchemas(t *testing.T, st api.Store) *writer.StaticSchemas {
	t.Helper()
	s := &writer.StaticSchemas{Key: avro.MustParse(st.KeySchema), Values: map[int32]avro.Schema{}, Updates: map[int32]int32{}}
	for _, vs := range st.ValueSchemas {
		s.Values[vs.ID] = avro.MustParse(vs.Schema)
		if vs.UpdateSchemaID != 0 {
			s.Updates[vs.ID] = vs.UpdateSchemaID
		}
	}
	return s
}

// foNearline writes partial updates to a hybrid store's RT topic and keeps
// them in order: every version whose rewind start precedes them (all of
// them here: the rewind is an hour) must serve them on top of its batch
// data.
type foNearline struct {
	t       *testing.T
	w       *writer.Writer
	schema  avro.Schema
	derived *partialupdate.Schema
	written []foUpdate
}

type foUpdate struct {
	key string
	u   *partialupdate.Update
}

func foNewNearline(t *testing.T, c *cluster, st api.Store) *foNearline {
	t.Helper()
	w, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(st.RTTopic), writer.Schemas(foSchemas(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	schema := avro.MustParse(profileSchema)
	derived, err := partialupdate.Derive(schema)
	if err != nil {
		t.Fatal(err)
	}
	return &foNearline{t: t, w: w, schema: schema, derived: derived}
}

// update adds tag to key's tags and sets its count.
func (n *foNearline) update(key, tag string, count int64) {
	n.t.Helper()
	u, err := partialupdate.NewBuilder(n.derived).Set("count", count).AddToList("tags", tag).Build()
	if err != nil {
		n.t.Fatal(err)
	}
	if _, err := n.w.Update(context.Background(), key, u); err != nil {
		n.t.Fatalf("nearline update of %s: %v", key, err)
	}
	n.written = append(n.written, foUpdate{key, u})
}

// want is what a version whose batch data is batch serves once it applied
// every update written so far: key → value as JSON.
func (n *foNearline) want(batch map[string][]byte) map[string]string {
	n.t.Helper()
	vals := maps.Clone(batch)
	if vals == nil {
		vals = map[string][]byte{}
	}
	for _, w := range n.written {
		var err error
		if cur, ok := vals[w.key]; ok {
			vals[w.key], err = partialupdate.Apply(nil, w.u, cur)
		} else {
			vals[w.key], err = partialupdate.ApplyMissing(nil, w.u)
		}
		if err != nil {
			n.t.Fatal(err)
		}
	}
	out := map[string]string{}
	for k, v := range vals {
		js, err := partialupdate.ValueToJSON(n.schema, v)
		if err != nil {
			n.t.Fatal(err)
		}
		out[k] = string(js)
	}
	return out
}

// foBatch is a full push's data: n keys "k0"… named after the version.
func foBatch(t *testing.T, version int32, n int) map[string][]byte {
	t.Helper()
	schema := avro.MustParse(profileSchema)
	out := map[string][]byte{}
	for i := range n {
		key := fmt.Sprint("k", i)
		v, err := avro.Marshal(schema, map[string]any{"name": fmt.Sprintf("v%d-%s", version, key), "count": int64(1000*int(version) + i), "tags": []any{fmt.Sprint("batch-v", version)}})
		if err != nil {
			t.Fatal(err)
		}
		out[key] = v
	}
	return out
}

// foPushWriter writes a version's topic the way the push job does.
func foPushWriter(t *testing.T, c *cluster, st api.Store, ver api.Version) *writer.Writer {
	t.Helper()
	w, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(ver.Topic), writer.Kind(writer.KindVersion), writer.Schemas(foSchemas(t, st)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// foPushData writes start-of-push, batch (in key order, calling during
// halfway), end-of-push to ver's topic; it does not tell the controller.
func foPushData(t *testing.T, c *cluster, st api.Store, ver api.Version, batch map[string][]byte, during func()) {
	t.Helper()
	ctx := context.Background()
	w := foPushWriter(t, c, st, ver)
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(batch))
	for i, k := range keys {
		if _, err := w.PutBytes(ctx, []byte(k), 1, batch[k]); err != nil {
			t.Fatal(err)
		}
		if i == len(keys)/2 && during != nil {
			during()
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// foRead returns a key's value in version (0: the current one) as JSON in
// profileSchema, whatever value schema of st it was stored with, or "".
func foRead(t *testing.T, c *cluster, st api.Store, key string, version int32) string {
	t.Helper()
	if version == 0 {
		v, ok := c.srv.CurrentVersion(st.Name)
		if !ok {
			return ""
		}
		version = v
	}
	v, ok, err := c.srv.Get(st.Name, version, []byte(key))
	if err != nil || !ok {
		return ""
	}
	profile := avro.MustParse(profileSchema)
	data := v.Bytes
	if v.SchemaID != 1 {
		var writerSchema avro.Schema
		for _, vs := range st.ValueSchemas {
			if vs.ID == v.SchemaID {
				writerSchema = avro.MustParse(vs.Schema)
			}
		}
		if writerSchema == nil {
			t.Fatalf("%s: value of %s has unknown schema %d", st.Name, key, v.SchemaID)
		}
		var m map[string]any
		if err := avro.Unmarshal(writerSchema, data, &m); err != nil {
			t.Fatalf("%s: value of %s in schema %d: %v", st.Name, key, v.SchemaID, err)
		}
		if data, err = avro.Marshal(profile, m); err != nil {
			t.Fatal(err)
		}
	}
	js, err := partialupdate.ValueToJSON(profile, data)
	if err != nil {
		t.Fatalf("%s: value of %s: %v", st.Name, key, err)
	}
	return string(js)
}

// foCheckServes waits until the server serves every key of want from
// version (0: the current one) and fails with the differences if it does
// not within the deadline.
func foCheckServes(t *testing.T, c *cluster, st api.Store, version int32, want map[string]string, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var diffs []string
		for _, k := range slices.Sorted(maps.Keys(want)) {
			if got := foRead(t, c, st, k, version); got != want[k] {
				diffs = append(diffs, fmt.Sprintf("%s = %q, want %s", k, got, want[k]))
			}
		}
		if len(diffs) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s (version %d):\n%s\nserver status %+v", what, version, strings.Join(diffs, "\n"), c.srv.Status())
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func foWaitCurrent(t *testing.T, c *cluster, cl *client.Client, store string, n int32) api.Store {
	t.Helper()
	ctx := context.Background()
	var s api.Store
	waitFor(t, time.Minute, fmt.Sprintf("version %d of %s to become current", n, store), func() bool {
		var err error
		s, err = cl.Store(ctx, store)
		return err == nil && s.CurrentVersion == n
	})
	waitFor(t, 30*time.Second, fmt.Sprintf("the server to serve version %d", n), func() bool {
		v, _ := c.srv.CurrentVersion(store)
		return v == n
	})
	return s
}

// foAdmin is an admin client whose topic listings are at most 10ms old
// (kadm answers from the client's metadata cache, 5s by default).
func foAdmin(t *testing.T, c *cluster) *kadm.Client {
	return kadm.NewClient(c.env.Client(t, kgo.MetadataMinAge(10*time.Millisecond)))
}

func foTopicExists(t *testing.T, adm *kadm.Client, topic string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	return topics.Has(topic)
}

func foVersion(t *testing.T, s api.Store, n int32) api.Version {
	t.Helper()
	if v := findVersion(&s, n); v != nil {
		return *v
	}
	t.Fatalf("store %s has no version %d: %+v", s.Name, n, s.Versions)
	return api.Version{}
}

// TestFailoverToStandbyController: two controllers of one region; the one
// that was elected first is the only active one, the standby follows the
// admin log and refuses changes with 503. When the active one stops, the
// standby takes over within a bounded time with every store, schema and
// version, completes the push the first one started and accepts new
// changes.
func TestFailoverToStandbyController(t *testing.T) {
	c := newCluster(t)
	adm := foAdmin(t, c)
	ctx := context.Background()
	active := c.cl
	store := c.store("fo")
	st, err := active.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if sch, err := active.AddSchema(ctx, store, foWithCity); err != nil || sch.ID != 2 {
		t.Fatalf("add schema: %+v %v", sch, err)
	}
	nl := foNewNearline(t, c, st)
	for i := range 5 {
		nl.update(fmt.Sprint("k", i), "early", int64(i))
	}
	// Version 2 completes under the first controller; version 3's data is
	// written but its end-of-push not yet reported when the failover comes.
	v2, err := active.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	batch2 := foBatch(t, 2, 10)
	foPushData(t, c, st, v2, batch2, func() { nl.update("k1", "during-v2", 21) })
	if _, err := active.EndOfPush(ctx, store, v2.Number); err != nil {
		t.Fatal(err)
	}
	foWaitCurrent(t, c, active, store, 2)
	v3, err := active.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil || v3.Number != 3 {
		t.Fatalf("start push 3: %+v %v", v3, err)
	}
	batch3 := foBatch(t, 3, 12)
	foPushData(t, c, st, v3, batch3, func() { nl.update("k2", "during-v3", 32) })

	// The standby follows the log: it has what the active one has.
	standby := foRunController(t, c, nil)
	before, err := active.Stores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the standby to replay the admin log", func() bool {
		got, err := standby.cl.Stores(ctx)
		return err == nil && reflect.DeepEqual(got, before)
	})
	// Once the standby's join has rebalanced the group, the first still
	// leads: a rebalance that leaves it the admin partition must not
	// unseat it (it is not told again that it has the partition).
	groups := foAdmin(t, c)
	waitFor(t, 30*time.Second, "the standby to join the controller group", func() bool {
		described, err := groups.DescribeGroups(ctx, c.names.group)
		if err != nil {
			return false
		}
		g := described[c.names.group]
		return g.Err == nil && g.State == "Stable" && len(g.Members) == 2
	})
	if !c.ctl.Leader() || standby.ctl.Leader() {
		t.Fatalf("active leads %v, standby leads %v: want exactly the first", c.ctl.Leader(), standby.ctl.Leader())
	}
	// It refuses every change with 503 and changes nothing.
	refused := map[string]func() error{
		"create store": func() error {
			_, err := standby.cl.CreateStore(ctx, api.CreateStoreRequest{Name: c.store("other"), KeySchema: `"string"`, ValueSchema: profileSchema})
			return err
		},
		"end of push": func() error { _, err := standby.cl.EndOfPush(ctx, store, v3.Number); return err },
		"kill push":   func() error { _, err := standby.cl.KillPush(ctx, store, v3.Number); return err },
		"rollback":    func() error { _, err := standby.cl.Rollback(ctx, store); return err },
		"add schema":  func() error { _, err := standby.cl.AddSchema(ctx, store, profileSchema); return err },
		"delete":      func() error { return standby.cl.DeleteStore(ctx, store) },
	}
	for what, call := range refused {
		if err := call(); !isStatus(err, 503) || !strings.Contains(err.Error(), "not the active one") {
			t.Errorf("%s on the standby: %v, want 503 (not the active controller)", what, err)
		}
	}
	for name, cl := range map[string]*client.Client{"active": active, "standby": standby.cl} {
		if got, err := cl.Stores(ctx); err != nil || !reflect.DeepEqual(got, before) {
			t.Fatalf("refused changes changed the %s's metadata (%v):\n before %+v\n after  %+v", name, err, before, got)
		}
	}

	// The active one stops; the standby takes over with everything.
	stopping := time.Now()
	c.stopCtl()
	stopped := time.Since(stopping)
	waitFor(t, 20*time.Second, "the standby to be elected", standby.ctl.Leader)
	t.Logf("standby elected %v after the active controller began to stop (stopping took %v)", time.Since(stopping).Round(time.Millisecond), stopped.Round(time.Millisecond))
	if got, err := standby.cl.Stores(ctx); err != nil || !reflect.DeepEqual(got, before) {
		t.Fatalf("the new active controller's metadata (%v):\n got  %+v\n want %+v", err, got, before)
	}

	// It completes the push the first one started: version 3 replays the
	// RT buffer and becomes current; version 1 retires (2 are kept).
	if _, err := standby.cl.EndOfPush(ctx, store, v3.Number); err != nil {
		t.Fatalf("end of push after the failover: %v", err)
	}
	s := foWaitCurrent(t, c, standby.cl, store, 3)
	if v := foVersion(t, s, 2); v.Role != api.RoleBackup || v.Status != api.StatusOnline {
		t.Errorf("version 2 after the swap: %s %s, want an online backup", v.Status, v.Role)
	}
	if v := foVersion(t, s, 1); v.Role != api.RoleRetired {
		t.Errorf("version 1 after the swap: %s, want retired", v.Role)
	}
	if len(s.ValueSchemas) != 2 || s.SupersetID != 2 {
		t.Errorf("schemas after the failover: %d, superset %d; want 2 and 2", len(s.ValueSchemas), s.SupersetID)
	}
	waitFor(t, 30*time.Second, "version 1's topic to be deleted", func() bool { return !foTopicExists(t, adm, foVersion(t, s, 1).Topic) })
	nl.update("k3", "after", 43)
	foCheckServes(t, c, s, 0, nl.want(batch3), "version 3 after the failover: its push plus every nearline update")
	foCheckServes(t, c, s, 2, nl.want(batch2), "backup version 2 with every nearline update")

	// And it takes new changes, numbered after the first one's.
	maxRev := int64(0)
	for _, s := range before {
		maxRev = max(maxRev, s.Revision)
	}
	other, err := standby.cl.CreateStore(ctx, api.CreateStoreRequest{Name: c.store("after"), KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatalf("create a store after the failover: %v", err)
	}
	if other.Revision <= maxRev || other.CurrentVersion != 1 {
		t.Fatalf("new store: revision %d (before the failover up to %d), current version %d", other.Revision, maxRev, other.CurrentVersion)
	}
	foWaitCurrent(t, c, standby.cl, other.Name, 1)
}

// foFetchHold holds a controller's admin log consumer when it fetches the
// record registering a store's second value schema: the controller has
// the record but has not applied it.
type foFetchHold struct {
	topic, store string
	hit          atomic.Bool
	held         chan struct{}
	release      chan struct{}
	releaseOnce  sync.Once
}

func (h *foFetchHold) OnFetchRecordBuffered(r *kgo.Record) {
	if r.Topic != h.topic || r.Value == nil {
		return
	}
	var rec api.AdminRecord
	if json.Unmarshal(r.Value, &rec) != nil || rec.Store == nil || rec.Store.Name != h.store || len(rec.Store.ValueSchemas) < 2 {
		return
	}
	if h.hit.CompareAndSwap(false, true) {
		close(h.held)
		<-h.release
	}
}

func (h *foFetchHold) free() { h.releaseOnce.Do(func() { close(h.release) }) }

// TestFailoverAppliesTheWholeLogFirst: the active controller's last change
// is in the admin log but the standby has not applied it yet when the
// active one stops. The standby must not change metadata from its older
// copy (the change would reuse a revision and one of the two would be
// lost): its state and the log's, replayed afresh, hold both changes.
func TestFailoverAppliesTheWholeLogFirst(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	store := c.store("tail")
	if _, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()}); err != nil {
		t.Fatal(err)
	}
	hold := &foFetchHold{topic: c.names.admin, store: store, held: make(chan struct{}), release: make(chan struct{})}
	standby := foRunController(t, c, func(cfg *Config) { cfg.KafkaOpts = []kgo.Opt{kgo.WithHooks(hold)} })
	t.Cleanup(hold.free) // runs before standby.stop
	waitFor(t, 30*time.Second, "the standby to replay the admin log", func() bool {
		_, err := standby.cl.Store(ctx, store)
		return err == nil
	})
	if _, err := c.cl.AddSchema(ctx, store, foWithCity); err != nil {
		t.Fatal(err)
	}
	select {
	case <-hold.held:
	case <-time.After(30 * time.Second):
		t.Fatal("the standby never fetched the new schema's record")
	}
	c.stopCtl()

	// Were the standby to take over now, it would change the store from
	// its copy without schema 2. Watch it for a while; whenever it is
	// elected, it changes the store's config.
	cfg := *hybridConfig()
	cfg.VersionsToKeep = 3
	early := false
	for deadline := time.Now().Add(2 * time.Second); !early && time.Now().Before(deadline); {
		early = standby.ctl.Leader()
		time.Sleep(10 * time.Millisecond)
	}
	if early {
		if _, err := standby.cl.UpdateStore(ctx, store, cfg); err != nil {
			t.Fatalf("update by the new active controller: %v", err)
		}
	}
	hold.free()
	waitFor(t, 30*time.Second, "the standby to be elected", standby.ctl.Leader)
	if !early {
		if _, err := standby.cl.UpdateStore(ctx, store, cfg); err != nil {
			t.Fatalf("update by the new active controller: %v", err)
		}
	}
	var s api.Store
	for deadline := time.Now().Add(10 * time.Second); ; {
		var err error
		s, err = standby.cl.Store(ctx, store)
		if err == nil && len(s.ValueSchemas) == 2 && s.Config.VersionsToKeep == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new active controller (elected before applying the log: %v) lost a change: %d value schemas (want 2), %d versions to keep (want 3), revision %d; %v",
				early, len(s.ValueSchemas), s.Config.VersionsToKeep, s.Revision, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	// The log says the same: a controller replaying it from the start
	// agrees.
	fresh := foRunController(t, c, nil)
	waitFor(t, 30*time.Second, "a fresh replay of the admin log to match the active controller", func() bool {
		got, err := fresh.cl.Store(ctx, store)
		return err == nil && reflect.DeepEqual(got, s)
	})
}

// TestIngestionFailurePutsVersionInError: a sequence gap in a version
// topic before end-of-push fails the partition on the server; the
// controller puts the version in error, retires it and deletes its topic.
// The current version keeps serving and taking nearline writes, and the
// next push is accepted and completes.
func TestIngestionFailurePutsVersionInError(t *testing.T) {
	c := newCluster(t)
	adm := foAdmin(t, c)
	ctx := context.Background()
	store := c.store("fail")
	st, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatal(err)
	}
	nl := foNewNearline(t, c, st)
	for i := range 6 {
		nl.update(fmt.Sprint("k", i), "early", int64(i))
	}
	foCheckServes(t, c, st, 1, nl.want(nil), "version 1 with the nearline updates")

	v2, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	w := foPushWriter(t, c, st, v2)
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	batch := foBatch(t, 2, 10)
	for _, k := range slices.Sorted(maps.Keys(batch)) {
		if _, err := w.PutBytes(ctx, []byte(k), 1, batch[k]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	// A record of the same writer ten sequence numbers ahead on partition
	// 0: nine records went missing before end-of-push.
	gapAt := foInjectGap(t, c, v2.Topic, 0, w.GUID())
	if err := w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.cl.EndOfPush(ctx, store, v2.Number); err != nil {
		t.Fatal(err)
	}

	var s api.Store
	waitFor(t, 30*time.Second, "version 2 to be put in error", func() bool {
		s, err = c.cl.Store(ctx, store)
		return err == nil && foVersion(t, s, 2).Status == api.StatusError
	})
	v := foVersion(t, s, 2)
	if v.Role != api.RoleRetired || s.CurrentVersion != 1 {
		t.Fatalf("failed version 2 is %s, current version %d; want retired, 1", v.Role, s.CurrentVersion)
	}
	for _, want := range []string{"partition 0", fmt.Sprintf("offset %d", gapAt), "missing"} {
		if !strings.Contains(v.Error, want) {
			t.Errorf("version 2's error %q does not say %q", v.Error, want)
		}
	}
	if v1 := foVersion(t, s, 1); v1.Role != api.RoleCurrent || v1.Status != api.StatusOnline {
		t.Errorf("version 1 after the failure: %s %s, want online and current", v1.Status, v1.Role)
	}
	waitFor(t, 30*time.Second, "the failed version's topic to be deleted", func() bool { return !foTopicExists(t, adm, v2.Topic) })
	// Up to ~3s: the server's leader of the version's healthy partition
	// closes its version-topic writer, whose records to the deleted topic
	// wait out the close's bound (server/leader.go).
	waitFor(t, 30*time.Second, "the server to drop the failed version", func() bool {
		for _, p := range c.srv.Status() {
			if p.Store == store && p.Version == 2 {
				return false
			}
		}
		return true
	})

	// Version 1 keeps serving and taking nearline writes.
	nl.update("k2", "after-failure", 22)
	nl.update("k9", "after-failure", 29)
	foCheckServes(t, c, st, 0, nl.want(nil), "version 1 still current after the failed push")

	// The next push is accepted (number 3) and completes.
	v3, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil || v3.Number != 3 {
		t.Fatalf("the push after the failed one: %+v %v", v3, err)
	}
	batch3 := foBatch(t, 3, 10)
	foPushData(t, c, st, v3, batch3, func() { nl.update("k4", "during-v3", 34) })
	if _, err := c.cl.EndOfPush(ctx, store, v3.Number); err != nil {
		t.Fatal(err)
	}
	s = foWaitCurrent(t, c, c.cl, store, 3)
	if v := foVersion(t, s, 2); v.Status != api.StatusError || v.Role != api.RoleRetired {
		t.Errorf("version 2 after the next push: %s %s", v.Status, v.Role)
	}
	foCheckServes(t, c, st, 0, nl.want(batch3), "version 3: its push plus every nearline update")
}

// foInjectGap appends to a version topic's partition a put of the writer
// guid whose sequence number is ten past the writer's last record there,
// and returns the offset it landed at.
func foInjectGap(t *testing.T, c *cluster, topic string, partition int32, guid wire.GUID) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := c.env.Admin(t).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, partition)
	cl := c.env.Client(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {partition: kgo.NewOffset().AtStart()}}),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	var last wire.Producer
	seen := false
	for next := int64(0); next < end.Offset; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s[%d] up to %d: at %d: %v", topic, partition, end.Offset, next, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			e, err := wire.Decode(r.Value)
			if err != nil {
				t.Fatalf("%s[%d] offset %d: %v", topic, partition, r.Offset, err)
			}
			p := e.Producer
			if p.GUID == guid && (!seen || p.Segment > last.Segment || p.Segment == last.Segment && p.Sequence > last.Sequence) {
				last, seen = p, true
			}
		})
	}
	if !seen {
		t.Fatalf("no record of the writer in %s[%d]", topic, partition)
	}
	gap := last
	gap.Sequence += 10
	gap.ProducerTimestamp = time.Now().UnixMilli()
	val, _ := avro.Marshal(avro.MustParse(profileSchema), map[string]any{"name": "after a gap", "count": int64(0), "tags": []any{}})
	e := wire.Envelope{Type: wire.TypePut, Producer: gap, Put: wire.Put{SchemaID: 1, Value: val}}
	res := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: partition, Key: wire.AppendDataKey(nil, []byte("gap")), Value: wire.AppendValue(nil, &e)})
	r, err := res.First()
	if err != nil {
		t.Fatal(err)
	}
	return r.Offset
}

// TestRestartAfterEndOfPush stops the controller after the push reported
// end-of-push, the topic switch was written and the server took it, but
// before any swap (the first controller never checks pushes); nearline
// writes go on before, during and after the push and while no controller
// runs. The next controller has the same state, swaps the version in, and
// the server serves the push plus every nearline write.
func TestRestartAfterEndOfPush(t *testing.T) {
	c := newCluster(t)
	c.stopCtl()
	first := foRunController(t, c, func(cfg *Config) { cfg.MonitorInterval = time.Hour })
	waitFor(t, 30*time.Second, "the first controller to be elected", first.ctl.Leader)
	ctx := context.Background()
	store := c.store("eop")
	st, err := first.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatal(err)
	}
	nl := foNewNearline(t, c, st)
	for i := range 8 {
		nl.update(fmt.Sprint("k", i), "before", int64(i))
	}
	v2, err := first.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	batch := foBatch(t, 2, 16)
	foPushData(t, c, st, v2, batch, func() {
		nl.update("k3", "during", 33)
		nl.update("k12", "during", 112)
	})
	if _, err := first.cl.EndOfPush(ctx, store, v2.Number); err != nil {
		t.Fatal(err)
	}
	// The server consumed end-of-push on every partition and leads the
	// replay; the version is not current yet.
	waitFor(t, 30*time.Second, "the server to consume end-of-push and start replaying", func() bool {
		rs, err := first.cl.ReplayStatus(ctx, store, v2.Number)
		if err != nil || len(rs.Partitions) != int(v2.Partitions) {
			return false
		}
		for _, p := range rs.Partitions {
			if !p.EndOfPush {
				return false
			}
		}
		return true
	})
	nl.update("k5", "replaying", 55)
	before, err := first.cl.Store(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	pushed := foVersion(t, before, 2)
	if before.CurrentVersion != 1 || pushed.Status != api.StatusPushed || pushed.Role != api.RoleFuture || pushed.RewindStart == 0 {
		t.Fatalf("before the restart: current %d, version 2 %s %s rewind start %d; want 1, pushed future with a rewind start",
			before.CurrentVersion, pushed.Status, pushed.Role, pushed.RewindStart)
	}

	first.stop()
	nl.update("k6", "no-controller", 66)
	nl.update("k14", "no-controller", 114)
	second := foRunController(t, c, nil)
	waitFor(t, 30*time.Second, "the second controller to be elected", second.ctl.Leader)
	after := foWaitCurrent(t, c, second.cl, store, 2)

	// The state is the one before the restart plus the swap, nothing else.
	want := before
	want.Versions = slices.Clone(before.Versions)
	want.CurrentVersion = 2
	for i := range want.Versions {
		v := &want.Versions[i]
		switch v.Number {
		case 1:
			v.Role = api.RoleBackup
		case 2:
			v.Role, v.Status, v.OnlineAt = api.RoleCurrent, api.StatusOnline, foVersion(t, after, 2).OnlineAt
		}
	}
	want.Revision = after.Revision
	if !reflect.DeepEqual(after, want) {
		t.Fatalf("after the restart and swap:\n got  %+v\n want %+v", after, want)
	}
	if after.Revision <= before.Revision || foVersion(t, after, 2).OnlineAt.IsZero() {
		t.Fatalf("swap record: revision %d (before %d), online at %v", after.Revision, before.Revision, foVersion(t, after, 2).OnlineAt)
	}
	nl.update("k0", "after", 100)
	foCheckServes(t, c, st, 0, nl.want(batch), "version 2: its push plus every nearline update")
	foCheckServes(t, c, st, 1, nl.want(nil), "backup version 1 with every nearline update")
}

// foSwapHold is a produce hook that holds a controller right after the
// admin log acknowledged the record making version of store current: the
// swap is decided and durable, nothing after it has run.
type foSwapHold struct {
	topic, store string
	version      int32
	once         sync.Once
	acked        chan api.Store
	release      chan struct{}
	releaseOnce  sync.Once
}

func (h *foSwapHold) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if err != nil || r.Topic != h.topic {
		return
	}
	var rec api.AdminRecord
	if json.Unmarshal(r.Value, &rec) != nil || rec.Store == nil || rec.Store.Name != h.store || rec.Store.CurrentVersion != h.version {
		return
	}
	h.once.Do(func() {
		h.acked <- *rec.Store
		<-h.release
	})
}

func (h *foSwapHold) free() { h.releaseOnce.Do(func() { close(h.release) }) }

// TestRestartAfterSwapDecision: the controller dies right after the swap
// record reached the admin log, before it applied it or deleted the
// retired version's topic. The next controller has the decided state, the
// server serves the new version with every nearline write, and the retired
// version's topic is still deleted.
func TestRestartAfterSwapDecision(t *testing.T) {
	c := newCluster(t)
	adm := foAdmin(t, c)
	c.stopCtl()
	store := c.store("swap")
	hold := &foSwapHold{topic: c.names.admin, store: store, version: 2, acked: make(chan api.Store, 1), release: make(chan struct{})}
	first := foRunController(t, c, func(cfg *Config) { cfg.KafkaOpts = []kgo.Opt{kgo.WithHooks(hold)} })
	t.Cleanup(hold.free) // runs before first.stop
	waitFor(t, 30*time.Second, "the first controller to be elected", first.ctl.Leader)
	ctx := context.Background()
	cfg := hybridConfig()
	cfg.VersionsToKeep = 1 // the swap retires version 1
	st, err := first.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	nl := foNewNearline(t, c, st)
	for i := range 8 {
		nl.update(fmt.Sprint("k", i), "before", int64(i))
	}
	v2, err := first.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	batch := foBatch(t, 2, 16)
	foPushData(t, c, st, v2, batch, func() { nl.update("k4", "during", 44) })
	if _, err := first.cl.EndOfPush(ctx, store, v2.Number); err != nil {
		t.Fatal(err)
	}
	var decided api.Store
	select {
	case decided = <-hold.acked:
	case <-time.After(time.Minute):
		t.Fatal("the controller never decided to swap version 2 in")
	}
	if decided.CurrentVersion != 2 || foVersion(t, decided, 1).Role != api.RoleRetired {
		t.Fatalf("the swap record: current %d, version 1 %s", decided.CurrentVersion, foVersion(t, decided, 1).Role)
	}
	v1Topic := foVersion(t, decided, 1).Topic
	if !foTopicExists(t, adm, v1Topic) {
		t.Fatal("version 1's topic is gone before the swap record was applied")
	}

	// The first controller dies there: its work after the record stays
	// stuck until the test ends.
	first.cancel()
	nl.update("k6", "no-controller", 66)
	second := foRunController(t, c, nil)
	waitFor(t, 30*time.Second, "the second controller to be elected", second.ctl.Leader)
	got, err := second.cl.Store(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, decided) {
		t.Fatalf("the second controller's state is not the decided one:\n got  %+v\n want %+v", got, decided)
	}
	foWaitCurrent(t, c, second.cl, store, 2)
	nl.update("k1", "after", 101)
	foCheckServes(t, c, st, 0, nl.want(batch), "version 2: its push plus every nearline update")
	waitFor(t, 30*time.Second, "the retired version 1's topic to be deleted", func() bool { return !foTopicExists(t, adm, v1Topic) })
	if got, err := second.cl.Store(ctx, store); err != nil || !reflect.DeepEqual(got, decided) {
		t.Fatalf("the metadata changed after the takeover (%v):\n got  %+v\n want %+v", err, got, decided)
	}
}
