package server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

const profileSchema = `{"type":"record","name":"Profile","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"count","type":"long","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"attrs","type":{"type":"map","values":"long"},"default":{}}
]}`

// nearlineFixture is a store with a pushed, topic-switched version 1 and
// an RT topic, ready for nearline writes.
type nearlineFixture struct {
	env        *kafkatest.Env
	vt, rt     string
	partitions int32
	schema     avro.Schema
	derived    *partialupdate.Schema
	rtw        *writer.Writer
	model      map[string][]byte // reference: key → value bytes (schema 1); absent = deleted
}

func newNearlineFixture(t *testing.T, partitions int32, pushed int) *nearlineFixture {
	t.Helper()
	ctx := context.Background()
	env := kafkatest.New(t)
	f := &nearlineFixture{env: env, partitions: partitions, model: map[string][]byte{}}
	f.vt = env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	f.rt = env.Topic(t, partitions, nil)
	var err error
	if f.schema, err = avro.Parse(profileSchema); err != nil {
		t.Fatal(err)
	}
	if f.derived, err = partialupdate.Derive(f.schema); err != nil {
		t.Fatal(err)
	}
	schemas, err := writer.NewStaticSchemas(`"string"`, profileSchema)
	if err != nil {
		t.Fatal(err)
	}
	vtw, err := writer.New(writer.Brokers(env.Brokers()...), writer.Topic(f.vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas),
		writer.Compression(wire.CompressionGzip, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := vtw.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < pushed; i++ {
		key := fmt.Sprintf("user-%d", i)
		v, err := avro.Marshal(f.schema, map[string]any{"name": key, "count": int64(i), "tags": []any{"batch"}, "attrs": map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		f.model[key] = v
		if _, err := vtw.PutBytes(ctx, []byte(key), 1, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := vtw.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := vtw.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: env.Brokers()}}, Topic: f.rt, RewindStart: 0}); err != nil {
		t.Fatal(err)
	}
	if err := vtw.Close(ctx); err != nil {
		t.Fatal(err)
	}
	schemas.Updates[1] = 1 // the update schema travels as "derived from value schema 1"
	if f.rtw, err = writer.New(writer.Brokers(env.Brokers()...), writer.Topic(f.rt), writer.Schemas(schemas)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rtw.Close(context.Background()) })
	return f
}

func (f *nearlineFixture) spec(t *testing.T) VersionSpec {
	src, err := NewStaticSchemaSource(profileSchema)
	if err != nil {
		t.Fatal(err)
	}
	return VersionSpec{Store: "profiles", Version: 1, Topic: f.vt, Partitions: f.partitions, Schemas: src}
}

// randomWrite sends one random RT write and applies it to the model.
func (f *nearlineFixture) randomWrite(t *testing.T, rng *rand.Rand, keys int) {
	t.Helper()
	ctx := context.Background()
	key := fmt.Sprintf("user-%d", rng.Intn(keys))
	switch n := rng.Intn(10); {
	case n < 2:
		v, _ := avro.Marshal(f.schema, map[string]any{"name": "put-" + key, "count": rng.Int63n(100), "tags": []any{"p"}, "attrs": map[string]any{"a": int64(1)}})
		f.model[key] = v
		if err := f.rtw.PutBytesAsync(ctx, []byte(key), 1, v, f.ack(t)); err != nil {
			t.Fatal(err)
		}
	case n < 3:
		delete(f.model, key)
		if err := f.rtw.DeleteBytesAsync(ctx, []byte(key), f.ack(t)); err != nil {
			t.Fatal(err)
		}
	default:
		b := partialupdate.NewBuilder(f.derived)
		switch rng.Intn(4) {
		case 0:
			b.Set("count", rng.Int63n(1000))
		case 1:
			b.AddToList("tags", fmt.Sprintf("t%d", rng.Intn(5))).PutEntry("attrs", fmt.Sprintf("k%d", rng.Intn(3)), rng.Int63n(9))
		case 2:
			b.RemoveFromList("tags", fmt.Sprintf("t%d", rng.Intn(5))).RemoveKeys("attrs", fmt.Sprintf("k%d", rng.Intn(3)))
		case 3:
			b.Set("name", "set-"+key).AddToList("tags", "x")
		}
		u, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		var nv []byte
		if cur, ok := f.model[key]; ok {
			nv, err = partialupdate.Apply(nil, u, cur)
		} else {
			nv, err = partialupdate.ApplyMissing(nil, u)
		}
		if err != nil {
			t.Fatal(err)
		}
		f.model[key] = nv
		ub, err := u.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if err := f.rtw.UpdateBytesAsync(ctx, []byte(key), 1, 1, ub, f.ack(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// ack fails the test on a write the broker did not acknowledge. Writes are
// asynchronous (per-key order holds: one key, one partition); flush waits.
func (f *nearlineFixture) ack(t *testing.T) func(writer.Result, error) {
	return func(_ writer.Result, err error) {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
}

func (f *nearlineFixture) flush(t *testing.T) {
	t.Helper()
	if err := f.rtw.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// waitReplayed waits until every partition has replayed the RT topic to its end.
func (f *nearlineFixture) waitReplayed(t *testing.T, s *Server) {
	t.Helper()
	f.flush(t)
	ends, err := f.env.Admin(t).ListEndOffsets(context.Background(), f.rt)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "RT replayed", func() bool {
		for _, st := range s.Status() {
			o, _ := ends.Lookup(f.rt, st.Partition)
			done := false
			for _, u := range st.Upstream {
				if u.Region == 0 && u.Partition == st.Partition && u.Offset >= o.Offset {
					done = true
				}
			}
			if !done && o.Offset > 0 {
				return false
			}
		}
		return true
	})
}

func (f *nearlineFixture) checkReads(t *testing.T, s *Server, keys int) {
	t.Helper()
	for i := 0; i < keys; i++ {
		key := fmt.Sprintf("user-%d", i)
		got, ok, err := s.Get("profiles", 1, []byte(key))
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		want, exists := f.model[key]
		if ok != exists {
			t.Fatalf("%s: found=%v, want %v", key, ok, exists)
		}
		if ok && !bytes.Equal(got.Bytes, want) {
			gj, _ := partialupdate.ValueToJSON(f.schema, got.Bytes)
			wj, _ := partialupdate.ValueToJSON(f.schema, want)
			t.Fatalf("%s:\n got %s\nwant %s", key, gj, wj)
		}
	}
}

func TestNearlineSingleRegion(t *testing.T) {
	const partitions, keys = 3, 200
	f := newNearlineFixture(t, partitions, keys/2)
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	// Writes before the server starts are replayed from the rewind start…
	for i := 0; i < 500; i++ {
		f.randomWrite(t, rng, keys)
	}
	f.flush(t)
	s := startServer(t, f.env.Brokers(), t.TempDir())
	spec := f.spec(t)
	ctx := context.Background()
	if err := s.Host(ctx, spec, 0, 1, 2); err != nil {
		t.Fatal(err)
	}
	for p := int32(0); p < partitions; p++ {
		if err := s.Lead("profiles", 1, p); err != nil {
			t.Fatal(err)
		}
	}
	// …and writes while it leads are applied as they come.
	for i := 0; i < 500; i++ {
		f.randomWrite(t, rng, keys)
	}
	f.waitReplayed(t, s)
	f.checkReads(t, s, keys)

	// Invariant 3: the version topic holds puts, deletes and control only.
	cl := f.env.Client(t, kgo.ConsumeTopics(f.vt), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ends, _ := f.env.Admin(t).ListEndOffsets(ctx, f.vt)
	var total int64
	ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
	var seen int64
	var e wire.Envelope
	deadline := time.Now().Add(30 * time.Second)
	for seen < total && time.Now().Before(deadline) {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			seen++
			if err := wire.DecodeInto(&e, r.Value); err != nil {
				t.Fatalf("version topic offset %d: %v", r.Offset, err)
			}
			if e.Type == wire.TypeUpdate {
				t.Fatalf("version topic offset %d holds a partial update", r.Offset)
			}
		})
	}
	if seen < total {
		t.Fatalf("read %d of %d version-topic records", seen, total)
	}
}
