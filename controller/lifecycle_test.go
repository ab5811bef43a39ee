package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/writer"
)

// The tests of this file drive the version lifecycle of issue 6 through the
// admin API against a real controller and a real server: kill push, roll
// back and forward, retirement, configuration changes taking effect at the
// next push, the refused concurrent push, and incremental pushes read back.

// profile is one profileSchema value; String is the JSON a read returns.
type profile struct {
	Name  string   `json:"name" avro:"name"`
	Count int64    `json:"count" avro:"count"`
	Tags  []string `json:"tags" avro:"tags"`
}

func (p profile) String() string {
	if p.Tags == nil {
		p.Tags = []string{}
	}
	b, _ := json.Marshal(p)
	return string(b)
}

// dataset is key → value.
type dataset map[string]profile

// pushData is the dataset a full push of version n writes: n keys'
// values name the version, so a read tells which version served it.
func pushData(n int32, keys int) dataset {
	ds := dataset{}
	for i := range keys {
		ds[fmt.Sprint("k", i)] = profile{Name: fmt.Sprintf("v%d-k%d", n, i), Count: int64(n)*100 + int64(i), Tags: []string{fmt.Sprint("v", n)}}
	}
	return ds
}

// merge returns a copy of ds with over's keys replaced.
func (ds dataset) merge(over dataset) dataset {
	out := maps.Clone(ds)
	maps.Copy(out, over)
	return out
}

func (ds dataset) jsonl() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(ds)) {
		v := ds[k]
		if v.Tags == nil {
			v.Tags = []string{}
		}
		line, _ := json.Marshal(map[string]any{"key": k, "value": v})
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func (ds dataset) input() push.Input {
	s := ds.jsonl()
	return push.Input{Reader: strings.NewReader(s), Name: "lifecycle.jsonl", Size: int64(len(s)), Format: push.FormatJSONL}
}

// httpStatus is the controller's status code in err (wrapped or not), or 0.
func httpStatus(err error) int {
	var ae *client.APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// batchConfig is a batch-only store (no RT topic, no nearline writes).
func batchConfig(partitions int32) *api.StoreConfig {
	cfg := api.DefaultStoreConfig
	cfg.Partitions, cfg.HybridRewind, cfg.RTRetention = partitions, 0, 0
	return &cfg
}

func (c *cluster) create(t *testing.T, name string, cfg *api.StoreConfig) api.Store {
	t.Helper()
	st, err := c.cl.CreateStore(context.Background(), api.CreateStoreRequest{Name: c.store(name), KeySchema: `"string"`, ValueSchema: profileSchema, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pushFull runs a full push of ds with the push library and waits until
// the new version is current in the controller and the server.
func (c *cluster) pushFull(t *testing.T, store string, ds dataset) int32 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := push.Full(ctx, c.cl, store, ds.input())
	if err != nil {
		t.Fatalf("full push into %s: %v", store, err)
	}
	if err := push.Wait(ctx, c.cl, store, res.Version, 25*time.Millisecond, nil); err != nil {
		t.Fatalf("version %d of %s: %v", res.Version, store, err)
	}
	c.waitCurrent(t, store, res.Version)
	return res.Version
}

// incremental runs an incremental push of ds through the store's RT topic.
func (c *cluster) incremental(t *testing.T, store string, ds dataset) push.Result {
	t.Helper()
	res, err := push.Incremental(context.Background(), c.cl, store, ds.input())
	if err != nil {
		t.Fatalf("incremental push into %s: %v", store, err)
	}
	if res.Records != int64(len(ds)) || res.Version != 0 || res.PushID == "" {
		t.Fatalf("incremental push result %+v", res)
	}
	return res
}

// waitCurrent waits until the controller and the server both name n the
// store's current version.
func (c *cluster) waitCurrent(t *testing.T, store string, n int32) {
	t.Helper()
	waitFor(t, time.Minute, fmt.Sprintf("version %d of %s to be current", n, store), func() bool {
		s, err := c.cl.Store(context.Background(), store)
		v, _ := c.srv.CurrentVersion(store)
		return err == nil && s.CurrentVersion == n && v == n
	})
}

// waitServing waits until every key of ds reads as its value from the
// server in version (0: the current one).
func (c *cluster) waitServing(t *testing.T, store string, version int32, ds dataset, what string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var wrong []string
		for _, k := range slices.Sorted(maps.Keys(ds)) {
			if got := c.read(t, store, k, version); got != ds[k].String() {
				wrong = append(wrong, fmt.Sprintf("%s = %q, want %s", k, got, ds[k]))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			cur, _ := c.srv.CurrentVersion(store)
			var parts []string
			for _, p := range c.srv.Status() {
				if p.Store == store {
					parts = append(parts, fmt.Sprintf("%+v", p))
				}
			}
			t.Fatalf("%s (version %d, server's current %d): %d keys wrong:\n%s\nserver partitions:\n%s", what, version, cur, len(wrong), strings.Join(wrong, "\n"), strings.Join(parts, "\n"))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// roles renders a store's versions as "n:status/role …" for assertions.
func roles(s api.Store) string {
	var out []string
	for _, v := range s.Versions {
		out = append(out, fmt.Sprintf("%d:%s/%s", v.Number, v.Status, v.Role))
	}
	return strings.Join(out, " ")
}

// topics returns this cluster's topics (those named with its suffix) and
// their partition counts.
func (c *cluster) topics(t *testing.T) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := c.kafka(t)
	defer cl.Close()
	td, err := kadm.NewClient(cl).ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for name, d := range td {
		if strings.Contains(name, c.suffix) && d.Err == nil {
			out[name] = len(d.Partitions)
		}
	}
	return out
}

// kafka returns a client of the cluster's brokers; the caller closes it.
func (c *cluster) kafka(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(c.env.Brokers()...)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// waitTopics waits until each named topic exists (true) or not (false).
func (c *cluster) waitTopics(t *testing.T, want map[string]bool) {
	t.Helper()
	var have map[string]int
	deadline := time.Now().Add(30 * time.Second)
	for {
		have = c.topics(t)
		ok := true
		for name, exists := range want {
			_, got := have[name]
			ok = ok && got == exists
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("topics %v, want %v", slices.Sorted(maps.Keys(have)), want)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitHosted waits until the server hosts exactly the versions want of a
// store among versions 1..upTo.
func (c *cluster) waitHosted(t *testing.T, store string, upTo int32, want ...int32) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("the server to host versions %v of %s", want, store), func() bool {
		for n := int32(1); n <= upTo; n++ {
			if _, hosted := c.srv.Spec(store, n); hosted != slices.Contains(want, n) {
				return false
			}
		}
		return true
	})
}

// stalledPush is a full push in flight: the controller created the
// version, a writer wrote start-of-push and ds into its topic, and no
// end-of-push is in the topic yet, so the version cannot become ready.
type stalledPush struct {
	v  api.Version
	w  *writer.Writer
	ds dataset
}

// startStalledPush starts a full push of ds and stops before end-of-push.
// With reported, the controller is told end-of-push was written (the
// version is then "pushed" but never ready: the topic has none).
func (c *cluster) startStalledPush(t *testing.T, store string, ds dataset, reported bool) *stalledPush {
	t.Helper()
	ctx := context.Background()
	v, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	opts := []writer.Opt{writer.Brokers(c.env.Brokers()...), writer.Topic(v.Topic), writer.Kind(writer.KindVersion), writer.Schemas(c.cl.SchemaProvider(store))}
	if mode, _ := wire.ParseCompression(v.Compression); mode != wire.CompressionNone {
		opts = append(opts, writer.Compression(mode, nil))
	}
	w, err := writer.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a no-op after stop or finish
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w.Close(ctx)
	})
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	schema := avro.MustParse(profileSchema)
	for _, k := range slices.Sorted(maps.Keys(ds)) {
		val, err := avro.Marshal(schema, ds[k])
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.PutBytes(ctx, []byte(k), 1, val); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if reported {
		if v, err = c.cl.EndOfPush(ctx, store, v.Number); err != nil || v.Status != api.StatusPushed {
			t.Fatalf("end-of-push of version %d: %+v %v", v.Number, v, err)
		}
	}
	// The server ingests the version's records (it hosts the future
	// version) but never sees end-of-push.
	waitFor(t, 30*time.Second, fmt.Sprintf("the server to ingest version %d's records", v.Number), func() bool {
		var n int64
		for _, p := range c.srv.Status() {
			if p.Store == store && p.Version == v.Number {
				n += p.Records
			}
		}
		return n == int64(len(ds))
	})
	return &stalledPush{v: v, w: w, ds: ds}
}

// stop closes the writer without end-of-push: the job gave up.
func (p *stalledPush) stop(t *testing.T) {
	t.Helper()
	if err := p.w.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// finish writes end-of-push, closes the writer and, unless it was
// already, tells the controller.
func (p *stalledPush) finish(t *testing.T, c *cluster, store string) {
	t.Helper()
	ctx := context.Background()
	if err := p.w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s, err := c.cl.Store(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if v := findVersion(&s, p.v.Number); v != nil && v.Status == api.StatusStarted {
		if _, err := c.cl.EndOfPush(ctx, store, p.v.Number); err != nil {
			t.Fatal(err)
		}
	}
}

// TestKillPush: a full push in flight is killed through the admin API; the
// version is killed and retired, its topic deleted and dropped by the
// server; the current version keeps serving exactly what it served; the
// next full push is accepted and completes.
func TestKillPush(t *testing.T) {
	cases := []struct {
		name string
		cfg  *api.StoreConfig
		// seed gives the current version data: nearline (incremental)
		// writes into version 1 of a hybrid store; a batch-only store
		// needs a full push.
		seed     func(t *testing.T, c *cluster, store string) (int32, dataset)
		reported bool // kill after end-of-push was reported (pushed)
	}{
		{"hybrid store, push writing", hybridConfig(), func(t *testing.T, c *cluster, store string) (int32, dataset) {
			ds := pushData(1, 8)
			c.incremental(t, store, ds)
			return 1, ds
		}, false},
		{"batch-only store, push reported end-of-push", batchConfig(3), func(t *testing.T, c *cluster, store string) (int32, dataset) {
			ds := pushData(2, 8)
			return c.pushFull(t, store, ds), ds
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			ctx := context.Background()
			store := c.create(t, "kill", tc.cfg).Name
			cur, serving := tc.seed(t, c, store)
			c.waitServing(t, store, 0, serving, "the current version before the push")

			// The push overwrites every served key and adds some.
			p := c.startStalledPush(t, store, pushData(cur+1, 12), tc.reported)
			wantStatus := api.StatusStarted
			if tc.reported {
				wantStatus = api.StatusPushed
			}
			if p.v.Number != cur+1 || p.v.Status != wantStatus || p.v.Role != api.RoleFuture {
				t.Fatalf("the push's version: %+v", p.v)
			}
			c.waitTopics(t, map[string]bool{p.v.Topic: true})
			// The future version holds the push's data; reads of the store
			// do not see it.
			c.waitServing(t, store, p.v.Number, p.ds, "the future version before the kill")
			c.waitServing(t, store, 0, serving, "the current version during the push")
			p.stop(t) // the job stopped; its topic goes next

			killed, err := c.cl.KillPush(ctx, store, p.v.Number)
			if err != nil {
				t.Fatal(err)
			}
			if killed.Status != api.StatusKilled || killed.Role != api.RoleRetired {
				t.Fatalf("killed version: %s/%s", killed.Status, killed.Role)
			}
			s, err := c.cl.Store(ctx, store)
			if err != nil {
				t.Fatal(err)
			}
			if s.CurrentVersion != cur || findVersion(&s, cur).Role != api.RoleCurrent {
				t.Fatalf("after the kill: current %d, versions %s", s.CurrentVersion, roles(s))
			}
			if v := findVersion(&s, p.v.Number); v.Status != api.StatusKilled || v.Role != api.RoleRetired {
				t.Fatalf("after the kill: versions %s", roles(s))
			}
			c.waitTopics(t, map[string]bool{p.v.Topic: false, fmt.Sprintf("%s_v%d", store, cur): true})
			c.waitHosted(t, store, p.v.Number, slices.DeleteFunc([]int32{cur - 1, cur}, func(n int32) bool { return n < 1 })...)
			c.waitServing(t, store, 0, serving, "the current version after the kill")
			if v, _ := c.srv.CurrentVersion(store); v != cur {
				t.Fatalf("the server's current version is %d after the kill, want %d", v, cur)
			}

			// Killing is only for pushes in flight.
			for _, n := range []int32{p.v.Number, cur} {
				if _, err := c.cl.KillPush(ctx, store, n); httpStatus(err) != 409 {
					t.Errorf("kill of version %d again: %v, want 409", n, err)
				}
			}
			if after, _ := c.cl.Store(ctx, store); !reflect.DeepEqual(s, after) {
				t.Fatalf("a refused kill changed the store:\n before %s\n after  %s", roles(s), roles(after))
			}

			// The next full push is accepted and completes. A hybrid
			// store's new version replays the nearline writes on top of
			// its batch data; the killed push left nothing in it.
			next := pushData(cur+2, 5)
			if n := c.pushFull(t, store, next); n != cur+2 {
				t.Fatalf("the push after the kill made version %d, want %d", n, cur+2)
			}
			if s.RTTopic != "" {
				next = next.merge(serving)
			}
			c.waitServing(t, store, 0, next, "the push after the kill")
			s, _ = c.cl.Store(ctx, store)
			if v := findVersion(&s, cur); v.Role != api.RoleBackup {
				t.Fatalf("after the next push: versions %s, want %d a backup", roles(s), cur)
			}
		})
	}
}

// TestRollForward: after a rollback to the backup, a swap rolls forward to
// the newer version again; swaps to versions that cannot serve are
// refused with a clear error and change nothing.
func TestRollForward(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	store := c.create(t, "fwd", batchConfig(2)).Name
	d2, d3 := pushData(2, 10), pushData(3, 10)
	c.pushFull(t, store, d2)
	c.pushFull(t, store, d3)

	s, err := c.cl.Rollback(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := roles(s), "1:online/retired 2:online/current 3:rolled-back/backup"; s.CurrentVersion != 2 || got != want {
		t.Fatalf("after the rollback: current %d, versions %s, want %s", s.CurrentVersion, got, want)
	}
	c.waitCurrent(t, store, 2)
	c.waitServing(t, store, 0, d2, "version 2 after the rollback")

	s, err = c.cl.Swap(ctx, store, 3)
	if err != nil {
		t.Fatalf("roll forward to version 3: %v", err)
	}
	if got, want := roles(s), "1:online/retired 2:online/backup 3:online/current"; s.CurrentVersion != 3 || got != want {
		t.Fatalf("after the roll forward: current %d, versions %s, want %s", s.CurrentVersion, got, want)
	}
	c.waitCurrent(t, store, 3)
	c.waitServing(t, store, 0, d3, "version 3 after the roll forward")
	c.waitServing(t, store, 2, d2, "backup version 2 after the roll forward")

	// Versions that cannot serve: 4 is killed, 5 is being written, 6 is
	// pushed but its topic has no end-of-push (never ready). Only one
	// push runs at a time, so each is made in turn.
	c.startStalledPush(t, store, pushData(4, 3), false).stop(t)
	if _, err := c.cl.KillPush(ctx, store, 4); err != nil {
		t.Fatal(err)
	}
	refused := func(t *testing.T, to int32, code int, why string) {
		t.Helper()
		before, _ := c.cl.Stores(ctx)
		_, err := c.cl.Swap(ctx, store, to)
		if httpStatus(err) != code || !strings.Contains(err.Error(), why) {
			t.Errorf("swap to version %d: %v, want HTTP %d saying %q", to, err, code, why)
		}
		if after, _ := c.cl.Stores(ctx); !reflect.DeepEqual(before, after) {
			t.Errorf("the refused swap to %d changed the metadata:\n before %+v\n after  %+v", to, before, after)
		}
		if v, _ := c.srv.CurrentVersion(store); v != 3 {
			t.Errorf("after the refused swap to %d the server serves version %d", to, v)
		}
	}
	var v5 *stalledPush
	cases := []struct {
		name  string
		setup func(t *testing.T)
		to    int32
		code  int
		why   string
	}{
		{"already current", nil, 3, 409, "version 3 is already current"},
		{"missing", nil, 42, 404, "has no version 42"},
		{"retired", nil, 1, 409, "version 1 is online (retired): it cannot serve"},
		{"killed", nil, 4, 409, "version 4 is killed (retired): it cannot serve"},
		{"being written", func(t *testing.T) { v5 = c.startStalledPush(t, store, pushData(5, 3), false) }, 5, 409, "version 5 is started (future): it cannot serve"},
		{"pushed, not ready", func(t *testing.T) {
			v5.stop(t)
			if _, err := c.cl.KillPush(ctx, store, 5); err != nil {
				t.Fatal(err)
			}
			c.startStalledPush(t, store, pushData(6, 3), true)
		}, 6, 409, "version 6 is not ready to serve: partition"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup(t)
			}
			refused(t, tc.to, tc.code, tc.why)
		})
	}
	c.waitServing(t, store, 0, d3, "version 3 after the refused swaps")
}

// TestRetire: each swap keeps the current version and the newest
// VersionsToKeep-1 backups; older versions are retired, their topics
// deleted and the server stops hosting them; the kept backup serves.
func TestRetire(t *testing.T) {
	keep := func(n int) *api.StoreConfig {
		cfg := batchConfig(2)
		cfg.VersionsToKeep = n
		return cfg
	}
	cases := []struct {
		name string
		cfg  *api.StoreConfig
		// want is the versions after v2, v3 and v4 became current.
		want []string
	}{
		{"default config keeps 2", nil, []string{
			"1:online/backup 2:online/current",
			"1:online/retired 2:online/backup 3:online/current",
			"1:online/retired 2:online/retired 3:online/backup 4:online/current",
		}},
		{"keep 1", keep(1), []string{
			"1:online/retired 2:online/current",
			"1:online/retired 2:online/retired 3:online/current",
			"1:online/retired 2:online/retired 3:online/retired 4:online/current",
		}},
		{"keep 3", keep(3), []string{
			"1:online/backup 2:online/current",
			"1:online/backup 2:online/backup 3:online/current",
			"1:online/retired 2:online/backup 3:online/backup 4:online/current",
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			ctx := context.Background()
			st := c.create(t, "retire", tc.cfg)
			store := st.Name
			if tc.cfg == nil && st.Config.VersionsToKeep != 2 {
				t.Fatalf("default versions to keep: %d", st.Config.VersionsToKeep)
			}
			data := map[int32]dataset{}
			for i, want := range tc.want {
				n := int32(i + 2)
				data[n] = pushData(n, 6)
				if got := c.pushFull(t, store, data[n]); got != n {
					t.Fatalf("push made version %d, want %d", got, n)
				}
				s, err := c.cl.Store(ctx, store)
				if err != nil {
					t.Fatal(err)
				}
				if got := roles(s); got != want {
					t.Fatalf("after version %d: %s, want %s", n, got, want)
				}
				// Topics and hosting follow the roles.
				topics, hosted := map[string]bool{}, []int32{}
				for _, v := range s.Versions {
					live := v.Role != api.RoleRetired
					topics[v.Topic] = live
					if live {
						hosted = append(hosted, v.Number)
					}
				}
				c.waitTopics(t, topics)
				c.waitHosted(t, store, n, hosted...)
			}
			// Every kept backup still serves its own data; rollback goes to
			// the newest one (or is refused when none is kept).
			s, _ := c.cl.Store(ctx, store)
			newest := int32(0)
			for _, v := range s.Versions {
				if v.Role == api.RoleBackup {
					c.waitServing(t, store, v.Number, data[v.Number], fmt.Sprintf("backup version %d", v.Number))
					newest = max(newest, v.Number)
				}
			}
			s, err := c.cl.Rollback(ctx, store)
			switch {
			case newest == 0 && httpStatus(err) != 409:
				t.Fatalf("rollback without a kept backup: %v, want 409", err)
			case newest != 0 && (err != nil || s.CurrentVersion != newest):
				t.Fatalf("rollback: current %d, %v; want %d", s.CurrentVersion, err, newest)
			case newest != 0:
				c.waitCurrent(t, store, newest)
				c.waitServing(t, store, 0, data[newest], "the newest backup after the rollback")
			}
		})
	}
}

// topicFacts is what a version topic holds: the compression its start-of-
// push messages announce (one per partition and writer) and each key's
// last put, decompressed with the version's codec, as JSON.
type topicFacts struct {
	startOfPush []wire.Compression
	values      map[string]string
}

func (c *cluster) scanVersionTopic(t *testing.T, topic string, mode wire.Compression) topicFacts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := c.kafka(t)
	defer adm.Close()
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	remaining := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			remaining[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	codec, err := valuecomp.New(mode, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	schema := avro.MustParse(profileSchema)
	facts := topicFacts{values: map[string]string{}}
	if len(remaining) == 0 {
		return facts
	}
	// Without fetch sessions, as the server's consumers (DESIGN 17).
	cl := c.kafka(t, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}), kgo.DisableFetchSessions())
	defer cl.Close()
	for len(remaining) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v (left %v)", topic, err, remaining)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset+1 >= remaining[r.Partition] {
				delete(remaining, r.Partition)
			}
			e, err := wire.Decode(r.Value)
			if err != nil {
				t.Fatalf("%s partition %d offset %d: %v", topic, r.Partition, r.Offset, err)
			}
			switch {
			case e.Type == wire.TypeControl && e.Control.Type == wire.ControlStartOfPush:
				facts.startOfPush = append(facts.startOfPush, e.Control.StartOfPush.Compression)
			case e.Type == wire.TypePut:
				k, err := wire.ParseKey(r.Key)
				if err != nil || e.Put.Chunks != nil {
					t.Fatalf("%s offset %d: key %v, chunked %v", topic, r.Offset, err, e.Put.Chunks != nil)
				}
				raw, err := codec.Decompress(nil, e.Put.Value)
				if err != nil {
					t.Fatalf("%s: the value of %s does not decompress as %s: %v", topic, k.Key, mode, err)
				}
				js, err := partialupdate.ValueToJSON(schema, raw)
				if err != nil {
					t.Fatalf("%s: the value of %s, decompressed as %s, is not a profile: %v", topic, k.Key, mode, err)
				}
				facts.values[string(k.Key)] = string(js)
			}
		})
	}
	return facts
}

// checkVersionTopic waits until a version topic holds ds (each key's last
// put) compressed as mode, with every start-of-push announcing mode.
func (c *cluster) checkVersionTopic(t *testing.T, topic string, mode wire.Compression, ds dataset) {
	t.Helper()
	want := map[string]string{}
	for k, v := range ds {
		want[k] = v.String()
	}
	var f topicFacts
	deadline := time.Now().Add(30 * time.Second)
	for {
		f = c.scanVersionTopic(t, topic, mode)
		if maps.Equal(f.values, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %v, want %v", topic, f.values, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(f.startOfPush) == 0 {
		t.Fatalf("%s has no start-of-push", topic)
	}
	for _, m := range f.startOfPush {
		if m != mode {
			t.Fatalf("%s: start-of-push announces %s, want %s (all: %v)", topic, m, mode, f.startOfPush)
		}
	}
}

// TestConfigChangeAtNextPush: partitions and compression changed on a store
// leave the current version as it is; the next full push's version carries
// the new ones, in the metadata, the topic and the stored bytes, and serves.
// A hybrid store keeps its partition count (its RT topic has it): the
// change is refused and changes nothing.
func TestConfigChangeAtNextPush(t *testing.T) {
	cases := []struct {
		name          string
		cfg           *api.StoreConfig
		partitions    int32 // after the change
		compression   string
		refusedChange bool // a partition change is refused (hybrid)
	}{
		{"batch-only: partitions 2→3, none→zstd", batchConfig(2), 3, "zstd", false},
		{"hybrid: none→gzip, partitions fixed", hybridConfig(), 2, "gzip", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			ctx := context.Background()
			st := c.create(t, "cfg", tc.cfg)
			store := st.Name
			var old dataset // what the current version serves
			oldVersion := int32(1)
			if st.RTTopic != "" {
				old = pushData(1, 6)
				c.incremental(t, store, old)
			} else {
				old = pushData(2, 6)
				oldVersion = c.pushFull(t, store, old)
			}
			c.waitServing(t, store, 0, old, "the version before the change")
			cur := *findVersion(&st, 1)
			if oldVersion != 1 {
				s, _ := c.cl.Store(ctx, store)
				cur = *findVersion(&s, oldVersion)
			}
			if cur.Partitions != 2 || cur.Compression != "none" {
				t.Fatalf("version %d before the change: %d partitions, %s", cur.Number, cur.Partitions, cur.Compression)
			}

			if tc.refusedChange {
				before, _ := c.cl.Store(ctx, store)
				cfg := before.Config
				cfg.Partitions = 3
				_, err := c.cl.UpdateStore(ctx, store, cfg)
				if httpStatus(err) != 400 || !strings.Contains(err.Error(), "keeps 2 partitions") {
					t.Fatalf("partition change of a hybrid store: %v, want 400", err)
				}
				if after, _ := c.cl.Store(ctx, store); !reflect.DeepEqual(before, after) {
					t.Fatal("the refused change changed the store")
				}
			}
			before, _ := c.cl.Store(ctx, store)
			cfg := before.Config
			cfg.Partitions, cfg.Compression = tc.partitions, tc.compression
			s, err := c.cl.UpdateStore(ctx, store, cfg)
			if err != nil {
				t.Fatal(err)
			}
			// The change alone touches no version.
			if s.Config.Partitions != tc.partitions || s.Config.Compression != tc.compression || !reflect.DeepEqual(s.Versions, before.Versions) || s.CurrentVersion != oldVersion {
				t.Fatalf("after the change: config %+v, versions %+v", s.Config, s.Versions)
			}
			topics := c.topics(t)
			if got := topics[cur.Topic]; got != 2 {
				t.Fatalf("%s has %d partitions after the change", cur.Topic, got)
			}

			// The next full push. A hybrid store's new version replays the
			// nearline writes on top of its batch data.
			next := pushData(oldVersion+1, 12)
			n := c.pushFull(t, store, next)
			if st.RTTopic != "" {
				next = next.merge(old)
			}
			s, _ = c.cl.Store(ctx, store)
			nv, ov := findVersion(&s, n), findVersion(&s, oldVersion)
			if nv.Partitions != tc.partitions || nv.Compression != tc.compression {
				t.Fatalf("version %d: %d partitions, %s; want %d, %s", n, nv.Partitions, nv.Compression, tc.partitions, tc.compression)
			}
			if ov.Partitions != 2 || ov.Compression != "none" || ov.Role != api.RoleBackup {
				t.Fatalf("version %d after the push: %d partitions, %s, %s", oldVersion, ov.Partitions, ov.Compression, ov.Role)
			}
			topics = c.topics(t)
			if topics[nv.Topic] != int(tc.partitions) || topics[ov.Topic] != 2 {
				t.Fatalf("topic partitions: %s %d, %s %d", nv.Topic, topics[nv.Topic], ov.Topic, topics[ov.Topic])
			}
			if spec, ok := c.srv.Spec(store, n); !ok || spec.Partitions != tc.partitions {
				t.Fatalf("the server hosts version %d with %d partitions (hosted %v)", n, spec.Partitions, ok)
			}
			c.waitServing(t, store, 0, next, "the new version")
			c.waitServing(t, store, oldVersion, old, "the old version, now a backup")
			mode, _ := wire.ParseCompression(tc.compression)
			c.checkVersionTopic(t, nv.Topic, mode, next)
			c.checkVersionTopic(t, ov.Topic, wire.CompressionNone, old)

			// Nearline writes reach both versions, each stored with its own
			// version's compression.
			if st.RTTopic != "" {
				late := dataset{"k1": {Name: "late", Count: 7}, "n1": {Name: "new", Tags: []string{"x"}}}
				c.incremental(t, store, late)
				c.waitServing(t, store, 0, next.merge(late), "the new version after nearline writes")
				c.waitServing(t, store, oldVersion, old.merge(late), "the old version after nearline writes")
				c.checkVersionTopic(t, nv.Topic, mode, next.merge(late))
				c.checkVersionTopic(t, ov.Topic, wire.CompressionNone, old.merge(late))
			}
		})
	}
}

// TestConcurrentFullPushRefused: while a full push is in flight (being
// written, or pushed and replaying), a second one — through the API or
// the push library — is refused with 409 and changes nothing: not the
// metadata, not the topics, not the push in flight, which then completes.
func TestConcurrentFullPushRefused(t *testing.T) {
	cases := []struct {
		name     string
		cfg      *api.StoreConfig
		reported bool
		status   string
	}{
		{"hybrid store, first push writing", hybridConfig(), false, api.StatusStarted},
		{"batch-only store, first push pushed", batchConfig(2), true, api.StatusPushed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t)
			ctx := context.Background()
			store := c.create(t, "conc", tc.cfg).Name
			first := c.startStalledPush(t, store, pushData(2, 8), tc.reported)
			beforeStores, _ := c.cl.Stores(ctx)
			beforeTopics := c.topics(t)
			s, _ := c.cl.Store(ctx, store)
			if got, want := roles(s), "1:online/current 2:"+tc.status+"/future"; got != want {
				t.Fatalf("versions %s, want %s", got, want)
			}
			wantMsg := fmt.Sprintf("version 2 is being pushed (%s)", tc.status)

			_, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
			if httpStatus(err) != 409 || !strings.Contains(err.Error(), wantMsg) {
				t.Fatalf("a second push through the API: %v, want 409 saying %q", err, wantMsg)
			}
			res, err := push.Full(ctx, c.cl, store, pushData(3, 4).input())
			if httpStatus(err) != 409 || !strings.Contains(err.Error(), wantMsg) || res.Version != 0 {
				t.Fatalf("a second push through the push library: %+v %v, want 409 saying %q", res, err, wantMsg)
			}

			if after, _ := c.cl.Stores(ctx); !reflect.DeepEqual(beforeStores, after) {
				t.Fatalf("the refused pushes changed the metadata:\n before %+v\n after  %+v", beforeStores, after)
			}
			if after := c.topics(t); !maps.Equal(beforeTopics, after) {
				t.Fatalf("the refused pushes changed the topics: before %v, after %v", beforeTopics, after)
			}

			// The first push is unharmed: it completes and serves.
			first.finish(t, c, store)
			c.waitCurrent(t, store, 2)
			c.waitServing(t, store, 0, first.ds, "the first push")
		})
	}
}

// TestIncrementalPushReadBack: an incremental push through the push library
// reaches every live version — the current one and the backup at once, and
// a future version through its replay — and reads back from the server;
// it creates no version and changes no metadata.
func TestIncrementalPushReadBack(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	store := c.create(t, "incr", hybridConfig()).Name
	d2 := pushData(2, 10)
	c.pushFull(t, store, d2)

	// A full push of version 3 is in flight (being written) meanwhile.
	d3 := pushData(3, 6)
	v3 := c.startStalledPush(t, store, d3, false)

	before, _ := c.cl.Store(ctx, store)
	inc := dataset{
		"k1": {Name: "inc-k1", Count: 1001, Tags: []string{"inc"}}, // a batch key of v2 and v3
		"k8": {Name: "inc-k8", Count: 1008},                        // a batch key of v2 only
		"i1": {Name: "inc-i1", Count: 1, Tags: []string{"a", "b"}}, // new keys
		"i2": {Name: "inc-i2", Count: 2},
	}
	c.incremental(t, store, inc)
	if after, _ := c.cl.Store(ctx, store); !reflect.DeepEqual(before, after) {
		t.Fatalf("the incremental push changed the store:\n before %s\n after  %s", roles(before), roles(after))
	}
	c.waitServing(t, store, 0, d2.merge(inc), "current version 2 after the incremental push")
	c.waitServing(t, store, 1, inc, "backup version 1 after the incremental push")

	// Version 3 replays the RT buffer after its end-of-push: it serves its
	// batch data with the incremental push on top.
	v3.finish(t, c, store)
	c.waitCurrent(t, store, 3)
	c.waitServing(t, store, 0, d3.merge(inc), "version 3 after its replay")
	c.waitServing(t, store, 2, d2.merge(inc), "version 2, now the backup")
}

// TestRollbackThenPush: after a rollback from a bad version, the next push
// keeps the good version as its backup and retires the bad one, so the
// next rollback returns to the good data; a rollback never goes forward
// to a version rolled back from.
func TestRollbackThenPush(t *testing.T) {
	c := newCluster(t)
	ctx := context.Background()
	store := c.create(t, "rollback-push", nil).Name
	data := map[int32]dataset{}
	for _, n := range []int32{2, 3} {
		data[n] = pushData(n, 6)
		if got := c.pushFull(t, store, data[n]); got != n {
			t.Fatalf("push made version %d, want %d", got, n)
		}
	}
	s, err := c.cl.Rollback(ctx, store) // v3 was bad
	if err != nil || s.CurrentVersion != 2 {
		t.Fatalf("rollback: current %d, %v; want 2", s.CurrentVersion, err)
	}
	if got, want := roles(s), "1:online/retired 2:online/current 3:rolled-back/backup"; got != want {
		t.Fatalf("after the rollback: %s, want %s", got, want)
	}
	if _, err := c.cl.Rollback(ctx, store); httpStatus(err) != 409 {
		t.Fatalf("a second rollback with only the rolled-back v3 newer: %v, want 409", err)
	}

	data[4] = pushData(4, 6)
	if got := c.pushFull(t, store, data[4]); got != 4 {
		t.Fatalf("push made version %d, want 4", got)
	}
	s, _ = c.cl.Store(ctx, store)
	if got, want := roles(s), "1:online/retired 2:online/backup 3:rolled-back/retired 4:online/current"; got != want {
		t.Fatalf("after pushing v4: %s, want %s", got, want)
	}
	if s, err = c.cl.Rollback(ctx, store); err != nil || s.CurrentVersion != 2 {
		t.Fatalf("rollback after v4: current %d, %v; want 2", s.CurrentVersion, err)
	}
	c.waitCurrent(t, store, 2)
	c.waitServing(t, store, 0, data[2], "the good version after the second rollback")
}
