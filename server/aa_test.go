package server

import (
	"bytes"
	"context"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

type region struct {
	id     int32
	env    *kafkatest.Env
	vt, rt string
	rtw    *writer.Writer
	server *Server
}

// TestActiveActiveTwoRegionsConverge writes conflicting puts, deletes,
// partial updates and collection merges to the same keys in two regions,
// with logical timestamps that collide on purpose, and checks that both
// regions' servers end with byte-identical values and RMD.
func TestActiveActiveTwoRegionsConverge(t *testing.T) {
	const partitions, keys, writesPerRegion = 2, 40, 600
	ctx := context.Background()
	schema := avro.MustParse(profileSchema)
	derived, err := partialupdate.Derive(schema)
	if err != nil {
		t.Fatal(err)
	}
	schemas, _ := writer.NewStaticSchemas(`"string"`, profileSchema)
	schemas.Updates[1] = 1
	src, _ := NewStaticSchemaSource(profileSchema)

	regions := []*region{{id: 0, env: kafkatest.New(t)}, {id: 1, env: kafkatest.New(t)}}
	// The RT topic has the same name in every region.
	regions[0].rt = regions[0].env.Topic(t, partitions, nil)
	if _, err := regions[1].env.Admin(t).CreateTopic(ctx, partitions, 1, nil, regions[0].rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { regions[1].env.Admin(t).DeleteTopics(context.Background(), regions[0].rt) })
	var sources []wire.SourceRegion
	for _, r := range regions {
		r.rt = regions[0].rt
		sources = append(sources, wire.SourceRegion{Region: r.id, Name: fmt.Sprint("region-", r.id), Brokers: r.env.Brokers()})
	}
	for _, r := range regions {
		r.vt = r.env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
		w, err := writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(r.vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas))
		if err != nil {
			t.Fatal(err)
		}
		w.StartOfPush(ctx, false)
		for i := 0; i < keys/2; i++ { // batch data without RMD, the same in both regions
			v, _ := avro.Marshal(schema, map[string]any{"name": "batch", "count": int64(i), "tags": []any{"b"}, "attrs": map[string]any{}})
			w.PutBytes(ctx, []byte(fmt.Sprint("k", i)), 1, v)
		}
		w.EndOfPush(ctx)
		w.TopicSwitch(ctx, wire.TopicSwitch{Sources: sources, Topic: r.rt, RewindStart: 0})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if r.rtw, err = writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(r.rt), writer.Schemas(schemas)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.rtw.Close(context.Background()) })
	}

	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	ack := func(_ writer.Result, err error) {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
	write := func(r *region, start bool) {
		for i := 0; i < writesPerRegion/2; i++ {
			key := []byte(fmt.Sprint("k", rng.Intn(keys)))
			ts := writer.WithTimestamp(int64(1 + rng.Intn(60))) // few distinct timestamps: many ties
			switch n := rng.Intn(10); {
			case n < 2:
				v, _ := avro.Marshal(schema, map[string]any{"name": fmt.Sprint("r", r.id), "count": rng.Int63n(10), "tags": []any{fmt.Sprint("t", rng.Intn(3))}, "attrs": map[string]any{"a": rng.Int63n(3)}})
				r.rtw.PutBytesAsync(ctx, key, 1, v, ack, ts)
			case n < 3:
				r.rtw.DeleteBytesAsync(ctx, key, ack, ts)
			default:
				b := partialupdate.NewBuilder(derived)
				switch rng.Intn(4) {
				case 0:
					b.Set("count", rng.Int63n(10))
				case 1:
					b.AddToList("tags", fmt.Sprint("t", rng.Intn(4))).PutEntry("attrs", fmt.Sprint("m", rng.Intn(3)), rng.Int63n(5))
				case 2:
					b.RemoveFromList("tags", fmt.Sprint("t", rng.Intn(4))).RemoveKeys("attrs", fmt.Sprint("m", rng.Intn(3)))
				case 3:
					b.Set("tags", []any{"s", fmt.Sprint("t", rng.Intn(4))})
				}
				u, err := b.Build()
				if err != nil {
					t.Fatal(err)
				}
				ub, _ := u.Encode()
				r.rtw.UpdateBytesAsync(ctx, key, 1, 1, ub, ack, ts)
			}
		}
	}
	// Half the writes land before the servers start, half while they lead.
	for _, r := range regions {
		write(r, true)
	}
	spec := func(r *region) VersionSpec {
		return VersionSpec{Store: "profiles", Version: 1, Topic: r.vt, Partitions: partitions, Schemas: src, ActiveActive: true, PartialUpdate: true}
	}
	for _, r := range regions {
		r.server = startServer(t, r.env.Brokers(), t.TempDir())
		if err := r.server.Host(ctx, spec(r), 0, 1); err != nil {
			t.Fatal(err)
		}
		for p := int32(0); p < partitions; p++ {
			if err := r.server.Lead("profiles", 1, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, r := range regions {
		write(r, false)
	}
	for _, r := range regions {
		if err := r.rtw.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// Wait until every server replayed every region's RT to its end.
	ends := map[int32]map[int32]int64{}
	for _, r := range regions {
		o, err := r.env.Admin(t).ListEndOffsets(ctx, r.rt)
		if err != nil {
			t.Fatal(err)
		}
		ends[r.id] = map[int32]int64{}
		for p := int32(0); p < partitions; p++ {
			lo, _ := o.Lookup(r.rt, p)
			ends[r.id][p] = lo.Offset
		}
	}
	for _, r := range regions {
		waitFor(t, time.Minute, fmt.Sprintf("region %d replayed both RT topics", r.id), func() bool {
			for _, st := range r.server.Status() {
				for src, end := range ends {
					if end[st.Partition] > 0 && upstreamOf(st, src) < end[st.Partition] {
						return false
					}
				}
			}
			return true
		})
	}
	var live, tombstones int
	for i := 0; i < keys; i++ {
		key := []byte(fmt.Sprint("k", i))
		id := storage.PartitionID{Store: "profiles", Version: 1, Partition: wire.Partition(key, partitions)}
		var recs [2]storage.Record
		var rmds [2]storage.RMD
		for j, r := range regions {
			rec, ok, err := r.server.db.Get(id, key)
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Fatalf("%s missing in region %d", key, r.id)
			}
			rmd, _, err := r.server.db.GetRMD(id, key)
			if err != nil {
				t.Fatal(err)
			}
			recs[j], rmds[j] = rec, rmd
		}
		if recs[0].Tombstone() != recs[1].Tombstone() || recs[0].SchemaID != recs[1].SchemaID || !bytes.Equal(recs[0].Value, recs[1].Value) {
			a, _ := partialupdate.ValueToJSON(schema, recs[0].Value)
			b, _ := partialupdate.ValueToJSON(schema, recs[1].Value)
			t.Fatalf("%s diverged:\n region 0 (tombstone=%v) %s\n region 1 (tombstone=%v) %s", key, recs[0].Tombstone(), a, recs[1].Tombstone(), b)
		}
		if !bytes.Equal(rmds[0].Data, rmds[1].Data) {
			t.Fatalf("%s: RMD diverged", key)
		}
		if recs[0].Tombstone() {
			tombstones++
		} else {
			live++
		}
	}
	t.Logf("%d live keys and %d tombstones identical in both regions", live, tombstones)
	if live == 0 {
		t.Fatal("no live key: the test proves nothing")
	}
}

func upstreamOf(st PartitionStatus, region int32) int64 {
	for _, u := range st.Upstream {
		if u.Region == region && u.Partition == st.Partition {
			return u.Offset
		}
	}
	return 0
}
