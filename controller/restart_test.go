package controller

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/writer"
)

// TestRestartMidPush stops the controller between start and end of a
// push; a new controller replays the admin log, has the same state, and
// the push completes.
func TestRestartMidPush(t *testing.T) {
	c := newCluster(t)
	store := c.store("items")
	ctx := context.Background()
	if _, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()}); err != nil {
		t.Fatal(err)
	}
	ver, err := c.cl.StartPush(ctx, store, api.StartPushRequest{})
	if err != nil {
		t.Fatal(err)
	}
	before, err := c.cl.Store(ctx, store)
	if err != nil {
		t.Fatal(err)
	}

	c.stopCtl()
	c.startController(t)
	after, err := c.cl.Store(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("state changed across the restart:\n before %+v\n after  %+v", before, after)
	}

	schema := avro.MustParse(profileSchema)
	push, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(ver.Topic), writer.Kind(writer.KindVersion), writer.Schemas(c.cl.SchemaProvider(store)))
	if err != nil {
		t.Fatal(err)
	}
	push.StartOfPush(ctx, false)
	for i := 0; i < 50; i++ {
		v, _ := avro.Marshal(schema, map[string]any{"name": fmt.Sprint("item-", i), "count": int64(i), "tags": []any{}})
		if _, err := push.PutBytes(ctx, []byte(fmt.Sprint("i", i)), 1, v); err != nil {
			t.Fatal(err)
		}
	}
	push.EndOfPush(ctx)
	push.Close(ctx)
	if _, err := c.cl.EndOfPush(ctx, store, ver.Number); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the push to complete after the restart", func() bool {
		s, err := c.cl.Store(ctx, store)
		return err == nil && s.CurrentVersion == ver.Number
	})
	if got := c.read(t, store, "i7", 0); got != `{"name":"item-7","count":7,"tags":[]}` {
		t.Fatalf("i7 = %s", got)
	}
}

// TestBadInputChangesNothing: every refused request leaves the metadata
// exactly as it was.
func TestBadInputChangesNothing(t *testing.T) {
	c := newCluster(t)
	store := c.store("s")
	ctx := context.Background()
	if _, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()}); err != nil {
		t.Fatal(err)
	}
	before, _ := c.cl.Stores(ctx)
	noDefault := `{"type":"record","name":"Profile","fields":[{"name":"name","type":"string"}]}`
	cases := []struct {
		name string
		code int
		call func() error
	}{
		{"incompatible schema (type change)", 400, func() error {
			_, err := c.cl.AddSchema(ctx, store, `{"type":"record","name":"Profile","fields":[{"name":"name","type":"long","default":0}]}`)
			return err
		}},
		{"new field without default", 400, func() error {
			_, err := c.cl.AddSchema(ctx, store, `{"type":"record","name":"Profile","fields":[{"name":"name","type":"string","default":""},{"name":"x","type":"int"}]}`)
			return err
		}},
		{"schema that does not parse", 400, func() error { _, err := c.cl.AddSchema(ctx, store, `{"type":`); return err }},
		{"push to a missing store", 404, func() error { _, err := c.cl.StartPush(ctx, "nope", api.StartPushRequest{}); return err }},
		{"store exists", 409, func() error {
			_, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema})
			return err
		}},
		{"bad store name", 400, func() error {
			_, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: "a b", KeySchema: `"string"`, ValueSchema: profileSchema})
			return err
		}},
		{"partial updates without defaults", 400, func() error {
			_, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: "t", KeySchema: `"string"`, ValueSchema: noDefault, Config: hybridConfig()})
			return err
		}},
		{"bad config, every problem", 400, func() error {
			cfg := api.StoreConfig{Partitions: 0, Compression: "lz77", ReplayPolicy: "sometime", VersionsToKeep: 0}
			_, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: "u", KeySchema: `"string"`, ValueSchema: profileSchema, Config: &cfg})
			if err != nil {
				for _, want := range []string{"partitions", "lz77", "sometime", "versions to keep"} {
					if !contains(err.Error(), want) {
						t.Errorf("config error does not mention %q: %v", want, err)
					}
				}
			}
			return err
		}},
		{"end of push of no push", 409, func() error { _, err := c.cl.EndOfPush(ctx, store, 1); return err }},
		{"swap to a missing version", 404, func() error { _, err := c.cl.Swap(ctx, store, 9); return err }},
		{"rollback without backup", 409, func() error { _, err := c.cl.Rollback(ctx, store); return err }},
		{"hybrid store changing partitions", 400, func() error {
			cfg := *hybridConfig()
			cfg.Partitions = 8
			_, err := c.cl.UpdateStore(ctx, store, cfg)
			return err
		}},
	}
	for _, tc := range cases {
		if err := tc.call(); !isStatus(err, tc.code) {
			t.Errorf("%s: %v, want HTTP %d", tc.name, err, tc.code)
		}
	}
	after, _ := c.cl.Stores(ctx)
	if !reflect.DeepEqual(before, after) {
		t.Fatalf("refused requests changed the metadata:\n before %+v\n after  %+v", before, after)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// TestPushRefusedPastRetention: when retention already deleted RT records
// the next replay would need, a push is refused (nothing changes) unless
// the caller accepts the gap; the dry run says which partitions.
func TestPushRefusedPastRetention(t *testing.T) {
	c := newCluster(t)
	store := c.store("r")
	ctx := context.Background()
	st, err := c.cl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: profileSchema, Config: hybridConfig()})
	if err != nil {
		t.Fatal(err)
	}
	rt, err := writer.New(writer.Brokers(c.env.Brokers()...), writer.Topic(st.RTTopic), writer.Schemas(c.cl.SchemaProvider(store)))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	for i := 0; i < 5; i++ {
		if _, err := rt.PutBytes(ctx, []byte("k"), 1, []byte{0, 0, 0}, writer.ToPartition(0)); err != nil {
			t.Fatal(err)
		}
	}
	plan, err := c.cl.ReplayPlan(ctx, store)
	if err != nil || !plan.Complete {
		t.Fatalf("plan before retention: %+v %v", plan, err)
	}
	// Retention deletes the first records of partition 0.
	var o kadm.Offsets
	o.Add(kadm.Offset{Topic: st.RTTopic, Partition: 0, At: 3})
	if _, err := kadm.NewClient(c.env.Client(t)).DeleteRecords(ctx, o); err != nil {
		t.Fatal(err)
	}
	plan, err = c.cl.ReplayPlan(ctx, store)
	if err != nil || plan.Complete {
		t.Fatalf("plan after retention: %+v %v", plan, err)
	}
	before, _ := c.cl.Store(ctx, store)
	if _, err := c.cl.StartPush(ctx, store, api.StartPushRequest{}); !isStatus(err, 409) || !strings.Contains(err.Error(), "partition 0") {
		t.Fatalf("push past retention: %v, want 409 naming partition 0", err)
	}
	if after, _ := c.cl.Store(ctx, store); !reflect.DeepEqual(before, after) {
		t.Fatal("the refused push changed the store")
	}
	if v, err := c.cl.StartPush(ctx, store, api.StartPushRequest{IgnoreRetention: true}); err != nil || v.Number != 2 {
		t.Fatalf("push accepting the gap: %+v %v", v, err)
	}
}
