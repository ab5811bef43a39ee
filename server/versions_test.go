package server

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// TestEveryVersionAppliesRealTimeWrites: a hybrid store's versions (say
// the current one and a future one being loaded, or a backup) each replay
// the same RT topic, so whichever serves reads, and a rollback, sees fresh
// data (ARCHITECTURE invariant 6).
func TestEveryVersionAppliesRealTimeWrites(t *testing.T) {
	const partitions, keys = 2, 60
	f := newNearlineFixture(t, partitions, keys) // version 1, topic-switched to f.rt
	ctx := context.Background()

	// Version 2: its own version topic, the same batch data, switched to
	// the same RT topic.
	vt2 := f.env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	schemas, _ := writer.NewStaticSchemas(`"string"`, profileSchema)
	w, err := writer.New(writer.Brokers(f.env.Brokers()...), writer.Topic(vt2), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
	if err != nil {
		t.Fatal(err)
	}
	w.StartOfPush(ctx, false)
	for i := 0; i < keys; i++ {
		key := fmt.Sprintf("user-%d", i)
		w.PutBytes(ctx, []byte(key), 1, f.model[key])
	}
	w.EndOfPush(ctx)
	w.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Brokers: f.env.Brokers()}}, Topic: f.rt})
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, f.env.Brokers(), t.TempDir())
	v1 := f.spec(t)
	v2 := v1
	v2.Version, v2.Topic = 2, vt2
	for _, spec := range []VersionSpec{v1, v2} {
		if err := s.Host(ctx, spec, 0, 1); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < partitions; p++ {
			if err := s.Lead("profiles", spec.Version, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 400; i++ {
		f.randomWrite(t, rng, keys)
	}
	f.waitReplayed(t, s) // waits for every hosted partition of both versions
	for _, version := range []int32{1, 2} {
		for i := 0; i < keys; i++ {
			key := fmt.Sprintf("user-%d", i)
			got, ok, err := s.Get("profiles", version, []byte(key))
			if err != nil {
				t.Fatal(err)
			}
			want, exists := f.model[key]
			if ok != exists || (ok && string(got.Bytes) != string(want)) {
				t.Fatalf("version %d, %s: found=%v, want %v (or the value differs)", version, key, ok, exists)
			}
		}
	}
}
