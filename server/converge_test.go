package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/testscale"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

// ConvergeSeedEnv overrides the convergence stress test's random seed, to
// reproduce a failure: RIALTO_CONVERGE_SEED=<the logged seed>.
const ConvergeSeedEnv = "RIALTO_CONVERGE_SEED"

// convergeOp is one write of the stress test.
type convergeOp struct {
	region int // index of the region whose RT topic carries it
	key    []byte
	ts     int64
	kind   wire.MessageType
	value  []byte // put: the value; update: the update
}

// TestConvergeThreeRegions is issue 9's convergence stress: three regions
// (three brokers), an active-active store with partial updates, random
// puts, deletes and partial updates (scalar and whole-collection sets,
// list add/remove, map put/remove) on a small key set, with few distinct
// logical timestamps so that ties are frequent, some writes repeated in
// the same region and some sent again through another region. Each region
// applies the three RT topics in its own interleaving: the regions' leaders
// start at different points of the write stream and poll batches of
// different sizes, and one region hands its leadership to a server that
// rebuilds the partitions from the version topic half way. At the end every
// region's checksum (and the old leader's, now a follower) must be the
// same; on a mismatch the first differing key is printed with both values
// and RMD.
//
// Short (CI): 5 000 writes; long (RIALTO_LONG=1): 100 000. The seed is
// logged; RIALTO_CONVERGE_SEED reproduces a run.
func TestConvergeThreeRegions(t *testing.T) {
	start := time.Now()
	nops := testscale.Pick(5_000, 100_000)
	nkeys := testscale.Pick(40, 400)
	const partitions = 2
	// Few distinct timestamps per key: about four writes of a key share each.
	tsRange := max(4, nops/nkeys/4)
	ctx := context.Background()

	seed := time.Now().UnixNano()
	if s := os.Getenv(ConvergeSeedEnv); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("%s=%q: %v", ConvergeSeedEnv, s, err)
		}
	}
	t.Logf("seed %d (%s=%d reproduces): %d writes on %d keys, timestamps 1..%d", seed, ConvergeSeedEnv, seed, nops, nkeys, tsRange)
	rng := rand.New(rand.NewSource(seed))

	schema := avro.MustParse(profileSchema)
	derived, err := partialupdate.Derive(schema)
	if err != nil {
		t.Fatal(err)
	}
	schemas, _ := writer.NewStaticSchemas(`"string"`, profileSchema)
	schemas.Updates[1] = 1
	src, _ := NewStaticSchemaSource(profileSchema)

	// Three regions; the RT topic has the same name in each.
	regions := make([]*region, 3)
	for i := range regions {
		regions[i] = &region{id: int32(i + 1), env: kafkatest.New(t)}
	}
	rt := regions[0].env.Topic(t, partitions, nil)
	for _, r := range regions[1:] {
		if _, err := r.env.Admin(t).CreateTopic(ctx, partitions, 1, nil, rt); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.env.Admin(t).DeleteTopics(context.Background(), rt) })
	}
	var sources []wire.SourceRegion
	for _, r := range regions {
		r.rt = rt
		sources = append(sources, wire.SourceRegion{Region: r.id, Name: fmt.Sprint("region-", r.id), Brokers: r.env.Brokers()})
	}
	// The same full push in every region: half the keys as batch data
	// without RMD, gzip-compressed in the version topic.
	for _, r := range regions {
		r.vt = r.env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
		w, err := writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(r.vt), writer.Kind(writer.KindVersion), writer.Schemas(schemas),
			writer.Compression(wire.CompressionGzip, nil), writer.Logger(quietLogger()))
		if err != nil {
			t.Fatal(err)
		}
		w.StartOfPush(ctx, false)
		for i := 0; i < nkeys/2; i++ {
			v, _ := avro.Marshal(schema, map[string]any{"name": "batch", "count": int64(i), "tags": []any{"t0", "b"}, "attrs": map[string]any{"m0": int64(i)}})
			if _, err := w.PutBytes(ctx, []byte(fmt.Sprint("k", i)), 1, v); err != nil {
				t.Fatal(err)
			}
		}
		w.EndOfPush(ctx)
		w.TopicSwitch(ctx, wire.TopicSwitch{Sources: sources, Topic: rt, RewindStart: 0})
		if err := w.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if r.rtw, err = writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(rt), writer.Schemas(schemas), writer.Logger(quietLogger())); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.rtw.Close(context.Background()) })
	}

	ops := convergeOps(t, rng, derived, schema, nops, nkeys, tsRange)
	ack := func(_ writer.Result, err error) {
		if err != nil {
			t.Errorf("write: %v", err)
		}
	}
	send := func(ops []convergeOp) {
		t.Helper()
		for _, op := range ops {
			w := regions[op.region].rtw
			var err error
			switch op.kind {
			case wire.TypePut:
				err = w.PutBytesAsync(ctx, op.key, 1, op.value, ack, writer.WithTimestamp(op.ts))
			case wire.TypeDelete:
				err = w.DeleteBytesAsync(ctx, op.key, ack, writer.WithTimestamp(op.ts))
			default:
				err = w.UpdateBytesAsync(ctx, op.key, 1, 1, op.value, ack, writer.WithTimestamp(op.ts))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, r := range regions {
			if err := r.rtw.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	spec := func(r *region) VersionSpec {
		return VersionSpec{Store: "profiles", Version: 1, Topic: r.vt, Partitions: partitions, Schemas: src, ActiveActive: true, PartialUpdate: true}
	}
	lead := func(s *Server, r *region) {
		t.Helper()
		if err := s.Host(ctx, spec(r), 0, 1); err != nil {
			t.Fatal(err)
		}
		for p := range int32(partitions) {
			if err := s.Lead("profiles", 1, p); err != nil {
				t.Fatal(err)
			}
		}
	}

	// The write stream in four parts. Region 1's leader starts after the
	// first and polls small batches, region 2's after the second (and
	// hands over to a new server after the third), region 3's only after
	// everything was written, in large batches.
	q := len(ops) / 4
	send(ops[:q])
	regions[0].server = startConvergeServer(t, regions[0], 16)
	lead(regions[0].server, regions[0])
	send(ops[q : 2*q])
	regions[1].server = startConvergeServer(t, regions[1], 128)
	lead(regions[1].server, regions[1])
	send(ops[2*q : 3*q])
	// Handover in region 2 once its leader has applied half the writes: the
	// new leader first rebuilds both partitions from the version topic; the
	// old one stays as a follower.
	old := regions[1].server
	waitReplayed(t, regions, old, 2*time.Minute)
	successor := startConvergeServer(t, regions[1], 128)
	if err := successor.Host(ctx, spec(regions[1]), 0, 1); err != nil {
		t.Fatal(err)
	}
	for p := range int32(partitions) {
		old.Unlead("profiles", 1, p)
		if err := successor.Lead("profiles", 1, p); err != nil {
			t.Fatal(err)
		}
	}
	regions[1].server = successor
	send(ops[3*q:])
	regions[2].server = startConvergeServer(t, regions[2], 10_000)
	lead(regions[2].server, regions[2])
	t.Logf("%d writes sent in %s", len(ops), time.Since(start).Round(time.Millisecond))

	// Every leader has applied every region's RT topic to its end.
	for _, r := range regions {
		waitReplayed(t, regions, r.server, testscale.Pick(2*time.Minute, 20*time.Minute))
	}
	// The old leader of region 2 has what its successor produced.
	waitFor(t, time.Minute, "region 2's old leader caught up as a follower", func() bool {
		ls, fs := regions[1].server.Status(), old.Status()
		for i := range ls {
			if fs[i].Offset < ls[i].Offset || !fs[i].ReadyToServe {
				return false
			}
		}
		return true
	})
	t.Logf("every region replayed every RT topic after %s", time.Since(start).Round(time.Millisecond))

	replicas := []struct {
		name string
		s    *Server
	}{{"region 1", regions[0].server}, {"region 2", regions[1].server}, {"region 2 (old leader, now a follower)", old}, {"region 3", regions[2].server}}
	for _, rp := range replicas {
		for _, st := range rp.s.Status() {
			if st.Skipped > 0 {
				t.Errorf("%s partition %d: %d RT records could not be resolved (see the leader's log)", rp.name, st.Partition, st.Skipped)
			}
		}
	}
	want, wantParts := checksumOf(t, replicas[0].s, "profiles", 1, partitions)
	var records, tombstones int64
	for _, p := range wantParts {
		records += p.Records
		tombstones += p.Tombstones
	}
	for _, rp := range replicas[1:] {
		got, gotParts := checksumOf(t, rp.s, "profiles", 1, partitions)
		if got == want {
			continue
		}
		for p := range int32(partitions) {
			if gotParts[p].Digest == wantParts[p].Digest {
				continue
			}
			id := storage.PartitionID{Store: "profiles", Version: 1, Partition: p}
			key, x, y, _ := firstDifference(dumpPartition(t, replicas[0].s, id), dumpPartition(t, rp.s, id))
			t.Fatalf("seed %d: %s diverged from region 1 (checksum %s, region 1 %s); first differing key %q in partition %d:\n region 1: %s\n %s: %s",
				seed, rp.name, got, want, key, p, explainDump(t, src, schema, x), rp.name, explainDump(t, src, schema, y))
		}
		t.Fatalf("seed %d: %s checksum %s, region 1 %s, but every partition agrees", seed, rp.name, got, want)
	}
	if records-tombstones == 0 {
		t.Fatal("no live key: the test proves nothing")
	}
	orders := appliedOrders(t, regions, partitions)
	differ := 0
	for i := range orders {
		for j := i + 1; j < len(orders); j++ {
			if !slices.Equal(orders[i], orders[j]) {
				differ++
			}
		}
	}
	if differ == 0 {
		t.Fatal("every region applied the writes in the same order: the test proves nothing")
	}
	t.Logf("checksum %s in all three regions and the follower: %d keys (%d tombstones); %d of 3 region pairs applied the writes in different orders; %s",
		want, records, tombstones, differ, time.Since(start).Round(time.Millisecond))
}

// convergeOps draws the writes. About 3 % repeat an earlier write in the
// same region and 3 % send an earlier one again through another region,
// with its timestamp.
func convergeOps(t *testing.T, rng *rand.Rand, derived *partialupdate.Schema, schema avro.Schema, n, keys, tsRange int) []convergeOp {
	t.Helper()
	elem := func(prefix string, n int) string { return fmt.Sprint(prefix, rng.Intn(n)) }
	var ops []convergeOp
	for len(ops) < n {
		if len(ops) > 0 && rng.Intn(100) < 6 {
			op := ops[rng.Intn(len(ops))]
			if rng.Intn(2) == 0 {
				op.region = (op.region + 1 + rng.Intn(2)) % 3
			}
			ops = append(ops, op)
			continue
		}
		op := convergeOp{region: rng.Intn(3), key: []byte(elem("k", keys)), ts: 1 + int64(rng.Intn(tsRange))}
		switch d := rng.Intn(20); {
		case d < 3:
			tags := []any{}
			for range rng.Intn(3) {
				tags = append(tags, elem("t", 6))
			}
			attrs := map[string]any{}
			for range rng.Intn(3) {
				attrs[elem("m", 4)] = int64(rng.Intn(4))
			}
			v, err := avro.Marshal(schema, map[string]any{"name": elem("n", 3), "count": int64(rng.Intn(5)), "tags": tags, "attrs": attrs})
			if err != nil {
				t.Fatal(err)
			}
			op.kind, op.value = wire.TypePut, v
		case d < 5:
			op.kind = wire.TypeDelete
		default:
			b := partialupdate.NewBuilder(derived)
			switch rng.Intn(9) {
			case 0:
				b.Set("count", int64(rng.Intn(5)))
			case 1:
				b.Set("name", elem("n", 3)).Set("count", int64(rng.Intn(5)))
			case 2:
				b.AddToList("tags", elem("t", 6), elem("t", 6))
			case 3:
				b.RemoveFromList("tags", elem("t", 6))
			case 4:
				b.AddToList("tags", elem("t", 6)).RemoveFromList("tags", elem("t", 6))
			case 5:
				b.PutEntry("attrs", elem("m", 4), int64(rng.Intn(4))).AddToList("tags", elem("t", 6))
			case 6:
				b.RemoveKeys("attrs", elem("m", 4)).PutEntry("attrs", elem("m", 4), int64(rng.Intn(4)))
			case 7:
				b.Set("tags", []any{elem("t", 6), elem("t", 6)})
			case 8:
				b.Set("attrs", map[string]any{elem("m", 4): int64(rng.Intn(4))})
			}
			u, err := b.Build()
			if err != nil {
				continue // e.g. the same map key put and removed: draw again
			}
			ub, err := u.Encode()
			if err != nil {
				t.Fatal(err)
			}
			op.kind, op.value = wire.TypeUpdate, ub
		}
		ops = append(ops, op)
	}
	return ops
}

// waitReplayed waits until s has applied every region's RT topic up to
// its end offsets at the time of the call.
func waitReplayed(t *testing.T, regions []*region, s *Server, timeout time.Duration) {
	t.Helper()
	ends := map[int32]map[int32]int64{}
	for _, r := range regions {
		o, err := r.env.Admin(t).ListEndOffsets(context.Background(), r.rt)
		if err != nil {
			t.Fatal(err)
		}
		ends[r.id] = map[int32]int64{}
		o.Each(func(lo kadm.ListedOffset) { ends[r.id][lo.Partition] = lo.Offset })
	}
	waitFor(t, timeout, "every RT topic replayed", func() bool {
		for _, st := range s.Status() {
			for src, end := range ends {
				if upstreamOf(st, src) < end[st.Partition] {
					return false
				}
			}
		}
		return true
	})
}

// startConvergeServer starts a server of region r that polls at most
// maxPoll records at a time (RT batches included).
func startConvergeServer(t *testing.T, r *region, maxPoll int) *Server {
	t.Helper()
	s, err := New(Config{Brokers: r.env.Brokers(), DataDir: t.TempDir(), Logger: quietLogger(), MaxPollRecords: maxPoll})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
	return s
}

// appliedOrders reads each region's version topic and returns, per region,
// the RT writes its leaders applied (region and offset from the leader
// footers) in the order they were applied, partition by partition.
func appliedOrders(t *testing.T, regions []*region, partitions int32) [][]wire.Leader {
	t.Helper()
	var out [][]wire.Leader
	for _, r := range regions {
		o, err := r.env.Admin(t).ListEndOffsets(context.Background(), r.vt)
		if err != nil {
			t.Fatal(err)
		}
		var order []wire.Leader
		for p := range partitions {
			end, _ := o.Lookup(r.vt, p)
			cl, err := kgo.NewClient(kgo.SeedBrokers(r.env.Brokers()...), noFetchSessions,
				kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.vt: {p: kgo.NewOffset().AtStart()}}))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			var e wire.Envelope
			for next := int64(0); next < end.Offset && ctx.Err() == nil; {
				cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
					next = rec.Offset + 1
					if wire.DecodeInto(&e, rec.Value) == nil && e.Leader != nil {
						order = append(order, wire.Leader{UpstreamRegion: e.Leader.UpstreamRegion, UpstreamPartition: e.Leader.UpstreamPartition, UpstreamOffset: e.Leader.UpstreamOffset})
					}
				})
			}
			cancel()
			cl.Close()
		}
		out = append(out, order)
	}
	return out
}

// explainDump renders a logical record for a failure message: the value as
// JSON and the RMD explained per field.
func explainDump(t *testing.T, src SchemaSource, schema avro.Schema, d *logicalDump) string {
	t.Helper()
	if d == nil {
		return "absent"
	}
	var b strings.Builder
	switch d.state {
	case stateLive:
		js, err := partialupdate.ValueToJSON(schema, d.value)
		if err != nil {
			js = []byte(fmt.Sprintf("undecodable %x: %v", d.value, err))
		}
		fmt.Fprintf(&b, "value (schema %d) %s", d.schemaID, js)
	case stateTombstone:
		fmt.Fprintf(&b, "tombstone (schema %d)", d.schemaID)
	default:
		b.WriteString("no value record")
	}
	if d.rmd == nil {
		return b.String() + "; no RMD"
	}
	fmt.Fprintf(&b, "; RMD v%d %x", d.rmdVer, d.rmd)
	r, err := conflict.New(registryOf{src}, conflict.FieldLevel)
	if err != nil {
		return b.String()
	}
	st := conflict.State{SchemaID: d.schemaID, Tombstone: d.state == stateTombstone, RMD: d.rmd}
	if d.state == stateLive {
		st.Value = d.value
	}
	if ex, err := r.Explain(st); err == nil {
		js, _ := json.Marshal(ex)
		fmt.Fprintf(&b, "\n   explained: %s", js)
	} else {
		fmt.Fprintf(&b, "\n   (not explainable: %v)", err)
	}
	return b.String()
}
