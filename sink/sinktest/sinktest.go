// Package sinktest gives the sinks' tests a Rialto store that is really
// served: an embedded Kafka (kafkatest), a version pushed and switched to
// its RT topic, a storage server leading every partition, and a fake
// controller answering GET /v1/stores/{store} and GET /v1/cluster.
package sinktest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/writer"
)

// ProfileSchema is the value schema the sink tests write.
const ProfileSchema = `{"type":"record","name":"Profile","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"clicks","type":"long","default":0},
	{"name":"recent","type":{"type":"array","items":"string"},"default":[]},
	{"name":"attrs","type":{"type":"map","values":"long"},"default":{}}
]}`

// Store is one served store.
type Store struct {
	Env        *kafkatest.Env
	Name       string
	RT, VT     string
	Partitions int32
	Schema     avro.Schema
	Derived    *partialupdate.Schema
	Server     *server.Server
	// ControllerURL is the fake controller.
	ControllerURL string
	// Schemas is a writer.SchemaProvider of the store (update schema id 1).
	Schemas *writer.StaticSchemas

	apiStore api.Store
}

// Quiet is a logger that drops everything.
func Quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// NewStore starts everything for one active-active store with partial
// updates and a "string" key schema. env may be shared by several stores.
func NewStore(t testing.TB, env *kafkatest.Env, name string, partitions int32) *Store {
	t.Helper()
	ctx := context.Background()
	s := &Store{Env: env, Name: name, Partitions: partitions}
	s.VT = env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	s.RT = env.Topic(t, partitions, nil)
	var err error
	s.Schema = avro.MustParse(ProfileSchema)
	if s.Derived, err = partialupdate.Derive(s.Schema); err != nil {
		t.Fatal(err)
	}
	if s.Schemas, err = writer.NewStaticSchemas(`"string"`, ProfileSchema); err != nil {
		t.Fatal(err)
	}
	s.Schemas.Updates[1] = 1
	vtw, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(s.VT), writer.Kind(writer.KindVersion), writer.Schemas(s.Schemas))
	if err != nil {
		t.Fatal(err)
	}
	if err := vtw.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	if err := vtw.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vtw.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: env.Brokers()}}, Topic: s.RT, RewindStart: 0}); err != nil {
		t.Fatal(err)
	}
	if err := vtw.Close(ctx); err != nil {
		t.Fatal(err)
	}

	srv, err := server.New(server.Config{Brokers: env.Brokers(), DataDir: t.TempDir(), Logger: Quiet()})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done; srv.Close() })
	src, err := server.NewStaticSchemaSource(ProfileSchema)
	if err != nil {
		t.Fatal(err)
	}
	spec := server.VersionSpec{Store: name, Version: 1, Topic: s.VT, Partitions: partitions, KeySchema: avro.MustParse(`"string"`),
		Schemas: src, ActiveActive: true, PartialUpdate: true}
	ps := make([]int32, partitions)
	for i := range ps {
		ps[i] = int32(i)
	}
	if err := srv.Host(ctx, spec, ps...); err != nil {
		t.Fatal(err)
	}
	for _, p := range ps {
		if err := srv.Lead(name, 1, p); err != nil {
			t.Fatal(err)
		}
	}
	s.Server = srv

	s.apiStore = api.Store{
		Name:           name,
		KeySchema:      `"string"`,
		ValueSchemas:   []api.Schema{{ID: 1, Schema: ProfileSchema, UpdateSchema: s.Derived.UpdateJSON(), UpdateSchemaID: 1}},
		SupersetID:     1,
		Config:         api.StoreConfig{Partitions: partitions, PartialUpdate: true, ActiveActive: true},
		CurrentVersion: 1,
		RTTopic:        s.RT,
	}
	ctl := httptest.NewServer(http.HandlerFunc(s.serveController))
	t.Cleanup(ctl.Close)
	s.ControllerURL = ctl.URL
	return s
}

// serveController is the fake controller.
func (s *Store) serveController(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/cluster":
		json.NewEncoder(w).Encode(api.Cluster{Regions: []api.Region{{ID: 0, Name: "local", Brokers: s.Env.Brokers()}}, LocalRegion: 0})
	case r.Method == http.MethodGet && r.URL.Path == "/v1/stores/"+s.Name:
		json.NewEncoder(w).Encode(s.apiStore)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1/stores/"):
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"no store %s"}`, strings.TrimPrefix(r.URL.Path, "/v1/stores/"))
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":"not served by the fake controller: %s %s"}`, r.Method, r.URL.Path)
	}
}

// WaitReplayed waits until the server has applied every record of the RT
// topic.
func (s *Store) WaitReplayed(t testing.TB) {
	t.Helper()
	ends, err := s.Env.Admin(t).ListEndOffsets(context.Background(), s.RT)
	if err != nil {
		t.Fatal(err)
	}
	WaitFor(t, time.Minute, "RT replayed", func() bool {
		for _, st := range s.Server.Status() {
			if st.Failed != "" {
				t.Fatalf("partition %d failed: %s", st.Partition, st.Failed)
			}
			o, _ := ends.Lookup(s.RT, st.Partition)
			done := o.Offset == 0
			for _, u := range st.Upstream {
				if u.Region == 0 && u.Partition == st.Partition && u.Offset >= o.Offset {
					done = true
				}
			}
			if !done {
				return false
			}
		}
		return true
	})
}

// Get reads a key from the server as the value's JSON; "" when absent.
func (s *Store) Get(t testing.TB, key string) string {
	t.Helper()
	v, ok, err := s.Server.Get(s.Name, 1, []byte(key))
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	if !ok {
		return ""
	}
	j, err := partialupdate.ValueToJSON(s.Schema, v.Bytes)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return string(j)
}

// Snapshot reads keys from the server: key → JSON ("" absent).
func (s *Store) Snapshot(t testing.TB, keys []string) map[string]string {
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = s.Get(t, k)
	}
	return out
}

// WaitFor polls cond until it holds or d passes.
func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
