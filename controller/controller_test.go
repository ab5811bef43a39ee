package controller

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/writer"
)

const profileSchema = `{"type":"record","name":"Profile","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"count","type":"long","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]}
]}`

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// cluster is one region: a broker, a controller and a server, with unique
// topic and group names so tests do not see each other.
type cluster struct {
	env      *kafkatest.Env
	names    struct{ admin, group, servers, placement string }
	ctl      *Controller
	stopCtl  func()
	srv      *server.Server
	cl       *client.Client
	serverOn bool
	suffix   string
}

func newCluster(t *testing.T) *cluster {
	c := &cluster{env: kafkatest.New(t)}
	suffix := strings.TrimPrefix(c.env.Topic(t, 1, nil), kafkatest.TopicPrefix)
	c.suffix = suffix[len(suffix)-8:]
	c.names.admin, c.names.group = "admin-"+suffix, "ctl-"+suffix
	c.names.servers, c.names.placement = "servers-"+suffix, "placement-"+suffix
	// On a real cluster (RIALTO_KAFKA_BROKERS) nothing may stay behind:
	// the stores' topics, then the admin and placement topics. Cleanups run
	// last-in first-out, so this one runs after the controller stopped.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		adm := c.env.Admin(t)
		topics, err := adm.ListTopics(ctx)
		if err != nil {
			return
		}
		var mine []string
		for _, name := range topics.Names() {
			if strings.Contains(name, c.suffix) {
				mine = append(mine, name)
			}
		}
		if len(mine) > 0 {
			adm.DeleteTopics(ctx, mine...)
		}
	})
	c.startController(t)
	c.startServer(t)
	return c
}

// store names a store uniquely for this test run (shared real clusters).
func (c *cluster) store(name string) string { return name + "-" + c.suffix }

func (c *cluster) startController(t *testing.T) {
	t.Helper()
	ctl, err := New(Config{
		Regions: []api.Region{{ID: 0, Name: "local", Brokers: c.env.Brokers()}}, LocalRegion: 0,
		AdminTopic: c.names.admin, Group: c.names.group, ServerGroup: c.names.servers,
		HTTPAddr: "127.0.0.1:0", ReplicationFactor: 1, MonitorInterval: 100 * time.Millisecond, Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ctl.Run(ctx) }()
	stopped := false
	c.ctl, c.stopCtl = ctl, func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			ctl.Close()
		}
	}
	t.Cleanup(c.stopCtl)
	c.cl = client.New("http://" + ctl.Addr())
	waitFor(t, 30*time.Second, "the controller to be elected", ctl.Leader)
}

func (c *cluster) startServer(t *testing.T) {
	t.Helper()
	srv, err := server.New(server.Config{
		Brokers: c.env.Brokers(), DataDir: t.TempDir(), Logger: quiet(), ServerID: "server-1",
		AdminTopic: c.names.admin, Group: c.names.servers, PlacementTopic: c.names.placement,
		ReplicationFactor: 1, SessionTimeout: 6 * time.Second, HTTPAddr: "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	c.srv = srv
}

// read returns a key's value as JSON from the store's current version, or "".
func (c *cluster) read(t *testing.T, store, key string, version int32) string {
	t.Helper()
	if version == 0 {
		v, ok := c.srv.CurrentVersion(store)
		if !ok {
			return ""
		}
		version = v
	}
	v, ok, err := c.srv.Get(store, version, []byte(key))
	if err != nil || !ok {
		return ""
	}
	js, err := partialupdate.ValueToJSON(avro.MustParse(profileSchema), v.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return string(js)
}

func hybridConfig() *api.StoreConfig {
	cfg := api.DefaultStoreConfig
	cfg.Partitions, cfg.PartialUpdate = 2, true
	cfg.HybridRewind, cfg.RTRetention = api.Duration(time.Hour), api.Duration(3*time.Hour)
	cfg.HybridOffsetLag = 0
	return &cfg
}

// TestHybridStory is the seeds' hybrid store end to end: version 1 takes
// nearline updates; a full push builds version 2 while nearline writes go
// on; the RT buffer is replayed into it from the rewind start; it becomes
// current only when caught up; version 1 stays a backup that keeps taking
// nearline writes, and rollback returns to it with them.
func TestHybridStory(t *testing.T) {
	c := newCluster(t)
	store := c.store("profiles")
	ctx := context.Background()
	st, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentVersion != 1 || st.RTTopic != store+"_rt" {
		t.Fatalf("new store: current %d, RT topic %q", st.CurrentVersion, st.RTTopic)
	}
	schema := avro.MustParse(profileSchema)
	derived, _ := partialupdate.Derive(schema)
	rt, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(st.RTTopic), writer.Schemas(c.cl.SchemaProvider(store)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)

	// The models: every key's value in version 1 and in version 2.
	v1, v2 := map[string][]byte{}, map[string][]byte{}
	update := func(key string, u *partialupdate.Update) {
		t.Helper()
		if _, err := rt.Update(ctx, key, u); err != nil {
			t.Fatal(err)
		}
		for _, m := range []map[string][]byte{v1, v2} {
			var nv []byte
			var err error
			if cur, ok := m[key]; ok {
				nv, err = partialupdate.Apply(nil, u, cur)
			} else {
				nv, err = partialupdate.ApplyMissing(nil, u)
			}
			if err != nil {
				t.Fatal(err)
			}
			m[key] = nv
		}
	}
	build := func(b *partialupdate.Builder) *partialupdate.Update {
		u, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	checkVersion := func(version int32, model map[string][]byte, what string) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			ok := true
			for k, want := range model {
				wj, _ := partialupdate.ValueToJSON(schema, want)
				if got := c.read(t, store, k, version); got != string(wj) {
					ok = false
					if time.Now().After(deadline) {
						p, _ := c.srv.Plan()
						t.Fatalf("%s: %s = %q, want %s\nstatus %+v\nplan %+v", what, k, got, wj, c.srv.Status(), p)
					}
				}
			}
			if ok {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// Nearline writes work at once on the empty version 1.
	for i := 0; i < 10; i++ {
		update(fmt.Sprint("k", i), build(partialupdate.NewBuilder(derived).Set("count", int64(i)).AddToList("tags", "early")))
	}
	checkVersion(1, v1, "nearline updates readable in version 1")

	// A full push of version 2. Its batch data replaces the keys' values in
	// v2's model; the RT buffer (all updates, inside the 1h rewind) replays
	// on top of it.
	ver, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if ver.Number != 2 || ver.Role != api.RoleFuture {
		t.Fatalf("push created %+v", ver)
	}
	if _, err := c.cl.StartPush(ctx, store, api.StartPushRequest{}); !isStatus(err, 409) {
		t.Fatalf("a second concurrent push: %v, want 409", err)
	}
	push, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(ver.Topic), writer.Kind(writer.KindVersion), writer.Schemas(c.cl.SchemaProvider(store)))
	if err != nil {
		t.Fatal(err)
	}
	if err := push.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	batch := map[string][]byte{}
	for i := 0; i < 20; i++ {
		key := fmt.Sprint("k", i)
		val, _ := avro.Marshal(schema, map[string]any{"name": "batch-" + key, "count": int64(100 + i), "tags": []any{"batch"}})
		batch[key] = val
		if _, err := push.PutBytes(ctx, []byte(key), 1, val); err != nil {
			t.Fatal(err)
		}
		if i == 10 { // nearline writes go on during the push
			update("k3", build(partialupdate.NewBuilder(derived).AddToList("tags", "during")))
		}
	}
	// v2's model: the batch values with every RT update (in order) on top.
	for k, val := range batch {
		v2[k] = val
	}
	// Re-derive v2 for the keys with updates: apply the same updates in the
	// same order to the batch value.
	replayed := map[string][]byte{}
	for k, val := range batch {
		replayed[k] = val
	}
	for i := 0; i < 10; i++ {
		k := fmt.Sprint("k", i)
		u := build(partialupdate.NewBuilder(derived).Set("count", int64(i)).AddToList("tags", "early"))
		replayed[k], _ = partialupdate.Apply(nil, u, replayed[k])
	}
	replayed["k3"], _ = partialupdate.Apply(nil, build(partialupdate.NewBuilder(derived).AddToList("tags", "during")), replayed["k3"])
	for k := range v2 {
		delete(v2, k)
	}
	for k, val := range replayed {
		v2[k] = val
	}
	if err := push.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	push.Close(ctx)
	if _, err := c.cl.EndOfPush(ctx, store, 2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "version 2 to become current", func() bool {
		s, err := c.cl.Store(ctx, store)
		return err == nil && s.CurrentVersion == 2
	})
	checkVersion(0, v2, "version 2 serving the push plus the replayed nearline updates")

	// After the swap, nearline writes reach the current version and the backup.
	update("k1", build(partialupdate.NewBuilder(derived).AddToList("tags", "after")))
	update("k15", build(partialupdate.NewBuilder(derived).Set("name", "late")))
	checkVersion(2, v2, "version 2 taking nearline writes after the swap")
	checkVersion(1, v1, "backup version 1 taking nearline writes too")

	s, err := c.cl.Rollback(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if s.CurrentVersion != 1 {
		t.Fatalf("after rollback current is %d", s.CurrentVersion)
	}
	waitFor(t, 30*time.Second, "the server to follow the rollback", func() bool {
		v, _ := c.srv.CurrentVersion(store)
		return v == 1
	})
	checkVersion(0, v1, "version 1 current again, with every nearline update")
}

func isStatus(err error, code int) bool {
	var ae *client.APIError
	if e, ok := err.(*client.APIError); ok {
		ae = e
	}
	return ae != nil && ae.Status == code
}
