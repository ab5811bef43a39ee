package server

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/testscale"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// The broker-fault suite (issue 9): a server ingests a batch push and
// replays nearline writes while the embedded broker fails fetches and
// produces, moves partition leaders, or restarts with its data directory.
// Each test ends by checking the server — and a fresh replica rebuilt from
// the version topic alone — against a reference model of the writes the
// writers' callbacks acknowledged:
//
//   - every acknowledged write is visible with its exact final value;
//   - a write that failed may or may not have been applied, but if it was,
//     in its place in the key's order;
//   - keys never written are absent;
//   - nothing is applied twice out of order.
//
// Values make all of this visible. Write n of a key is a put whose value
// records n (count n, tags ["n"]), or an update that sets count to n and
// adds "n" to tags, or a delete. So a stored value lists, in tags, every
// write applied since the key's last put or delete, and count names the
// last one. A lost write is missing from tags; a write applied twice out
// of order leaves count below the last tag (an update) or drops later tags
// (a put); tags out of write order show reordering. The check replays the
// writes tags names and compares bytes.
//
// Faults come from seeded random sources (the seed is logged; set
// RIALTO_FAULT_SEED to repeat a run's choices), and every test asserts
// that its faults fired. Against a real broker the tests skip.

// faultSeed is the seed of a fault test: RIALTO_FAULT_SEED if set, the
// clock otherwise.
func faultSeed(t *testing.T) int64 {
	t.Helper()
	seed := time.Now().UnixNano()
	if s := os.Getenv("RIALTO_FAULT_SEED"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("RIALTO_FAULT_SEED=%q: %v", s, err)
		}
		seed = n
	}
	t.Logf("seed %d (RIALTO_FAULT_SEED=%d repeats it)", seed, seed)
	return seed
}

type opKind uint8

const (
	opPut opKind = iota
	opUpdate
	opDelete
)

func (k opKind) String() string { return [...]string{"put", "update", "delete"}[k] }

// Outcomes of a write, as its callback reported it.
const (
	opPending uint8 = iota
	opAcked
	opFailed
)

type rigOp struct {
	key  int
	kind opKind
}

// faultRig is a store with one version (pushed, then topic-switched to the
// store's RT topic) and the reference model of every write sent to it.
type faultRig struct {
	t          *testing.T
	env        *kafkatest.Env
	broker     *embedkafka.Broker
	vt, rt     string
	partitions int32
	keys       int
	schema     avro.Schema
	derived    *partialupdate.Schema
	schemas    *writer.StaticSchemas
	rng        *rand.Rand // the writes' choices; the test goroutine's only
	seed       int64
	log        *countingHandler

	mu     sync.Mutex
	ops    []rigOp // by op id; id 0 is unused
	status []uint8
	byKey  [][]int // key → its op ids in write order
}

func newFaultRig(t *testing.T, partitions int32, keys int, opts ...embedkafka.Opt) *faultRig {
	t.Helper()
	env := kafkatest.New(t, opts...)
	r := &faultRig{t: t, env: env, broker: env.RequireEmbedded(t), partitions: partitions, keys: keys,
		ops: make([]rigOp, 1), status: make([]uint8, 1), byKey: make([][]int, keys), log: &countingHandler{counts: map[string]int{}}}
	r.vt = env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	r.rt = env.Topic(t, partitions, nil)
	var err error
	r.schema = avro.MustParse(profileSchema)
	if r.derived, err = partialupdate.Derive(r.schema); err != nil {
		t.Fatal(err)
	}
	if r.schemas, err = writer.NewStaticSchemas(`"string"`, profileSchema); err != nil {
		t.Fatal(err)
	}
	r.schemas.Updates[1] = 1 // the update schema travels as "derived from value schema 1"
	r.seed = faultSeed(t)
	r.rng = rand.New(rand.NewSource(r.seed))
	return r
}

// fastMetadata makes clients look for a partition's new leader within
// 50 ms of a NOT_LEADER answer instead of franz-go's 5 s MetadataMinAge.
var fastMetadata = kgo.MetadataMinAge(50 * time.Millisecond)

// startServer starts a server on dir that hosts every partition and, if
// lead, leads them. It stops at the end of the test.
func (r *faultRig) startServer(dir string, lead bool) *Server {
	r.t.Helper()
	s, err := New(Config{Brokers: r.env.Brokers(), DataDir: dir, Logger: slog.New(r.log),
		MaxPollRecords: 200, KafkaOpts: []kgo.Opt{fastMetadata}})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); s.Run(ctx) }()
	r.t.Cleanup(func() { cancel(); <-done; s.Close() })
	src, err := NewStaticSchemaSource(profileSchema)
	if err != nil {
		r.t.Fatal(err)
	}
	spec := VersionSpec{Store: "profiles", Version: 1, Topic: r.vt, Partitions: r.partitions, Schemas: src}
	all := make([]int32, r.partitions)
	for p := range all {
		all[p] = int32(p)
	}
	if err := s.Host(ctx, spec, all...); err != nil {
		r.t.Fatal(err)
	}
	for _, p := range all {
		if lead {
			if err := s.Lead("profiles", 1, p); err != nil {
				r.t.Fatal(err)
			}
		}
	}
	return s
}

func (r *faultRig) key(k int) []byte { return []byte("user-" + strconv.Itoa(k)) }

// putValue is the value put number id writes.
func (r *faultRig) putValue(id int) []byte {
	v, err := avro.Marshal(r.schema, map[string]any{
		"name": "put-" + strconv.Itoa(id), "count": int64(id), "tags": []any{strconv.Itoa(id)}, "attrs": map[string]any{"p": int64(id)},
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return v
}

// update is the partial update number id writes.
func (r *faultRig) update(id int) *partialupdate.Update {
	u, err := partialupdate.NewBuilder(r.derived).
		Set("count", int64(id)).
		AddToList("tags", strconv.Itoa(id)).
		PutEntry("attrs", "k"+strconv.Itoa(id%3), int64(id)).
		Build()
	if err != nil {
		r.t.Fatal(err)
	}
	return u
}

// newOp registers a write and returns its id and the callback that
// records its outcome.
func (r *faultRig) newOp(key int, kind opKind) (int, func(writer.Result, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := len(r.ops)
	r.ops = append(r.ops, rigOp{key: key, kind: kind})
	r.status = append(r.status, opPending)
	r.byKey[key] = append(r.byKey[key], id)
	return id, func(_ writer.Result, err error) {
		r.mu.Lock()
		defer r.mu.Unlock()
		if err != nil {
			r.status[id] = opFailed
		} else {
			r.status[id] = opAcked
		}
	}
}

// abandon marks a write whose Async call failed: it never happened.
func (r *faultRig) abandon(id int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status[id] = opFailed
}

// push writes the version's batch data: a put for every key, then random
// overwrites up to records puts, then end-of-push and the topic switch.
// between runs after each put (fault injection). Every push write must be
// acknowledged: a push with a failed write would be killed and redone.
func (r *faultRig) push(ctx context.Context, records int, between func(i int)) {
	r.t.Helper()
	w, err := writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(r.vt), writer.Kind(writer.KindVersion),
		writer.Schemas(r.schemas), writer.Compression(wire.CompressionGzip, nil), writer.KafkaOpts(fastMetadata))
	if err != nil {
		r.t.Fatal(err)
	}
	defer w.Close(ctx)
	if err := w.StartOfPush(ctx, false); err != nil {
		r.t.Fatal(err)
	}
	first := len(r.ops)
	for i := 0; i < records; i++ {
		k := i
		if i >= r.keys {
			k = r.rng.Intn(r.keys)
		}
		id, cb := r.newOp(k, opPut)
		if err := w.PutBytesAsync(ctx, r.key(k), 1, r.putValue(id), cb); err != nil {
			r.t.Fatal(err)
		}
		if between != nil {
			between(i)
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		r.t.Fatal(err)
	}
	if err := w.TopicSwitch(ctx, wire.TopicSwitch{Sources: []wire.SourceRegion{{Region: 0, Name: "local", Brokers: r.env.Brokers()}}, Topic: r.rt, RewindStart: 0}); err != nil {
		r.t.Fatal(err)
	}
	if err := w.Close(ctx); err != nil {
		r.t.Fatal(err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := first; id < len(r.ops); id++ {
		if r.status[id] != opAcked {
			r.t.Fatalf("push write %d (key %d) not acknowledged", id, r.ops[id].key)
		}
	}
}

// rtWriter returns a writer of the store's RT topic, closed at the end of
// the test.
func (r *faultRig) rtWriter() *writer.Writer {
	r.t.Helper()
	w, err := writer.New(writer.Brokers(r.env.Brokers()...), writer.Topic(r.rt), writer.Schemas(r.schemas),
		writer.SegmentRecords(300), writer.KafkaOpts(fastMetadata))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		w.Close(ctx)
	})
	return w
}

// write sends n random nearline writes, pausing now and then so that the
// leaders replay while they are written; between runs after each write.
func (r *faultRig) write(ctx context.Context, w *writer.Writer, n int, between func(i int)) {
	r.t.Helper()
	for i := 0; i < n; i++ {
		k := r.rng.Intn(r.keys)
		var (
			id  int
			cb  func(writer.Result, error)
			err error
		)
		switch x := r.rng.Intn(20); {
		case x < 4:
			id, cb = r.newOp(k, opPut)
			err = w.PutBytesAsync(ctx, r.key(k), 1, r.putValue(id), cb)
		case x < 6:
			id, cb = r.newOp(k, opDelete)
			err = w.DeleteBytesAsync(ctx, r.key(k), cb)
		default:
			id, cb = r.newOp(k, opUpdate)
			var ub []byte
			if ub, err = r.update(id).Encode(); err != nil {
				r.t.Fatal(err)
			}
			err = w.UpdateBytesAsync(ctx, r.key(k), 1, 1, ub, cb)
		}
		if err != nil {
			// Nothing was written (writer guarantee 4); only a context
			// error can get here.
			r.abandon(id)
			r.t.Fatalf("write %d: %v", id, err)
		}
		if between != nil {
			between(i)
		}
		if i%50 == 49 {
			time.Sleep(time.Duration(1+r.rng.Intn(5)) * time.Millisecond)
		}
	}
}

// outcomes counts the writes by outcome; every write must have one.
func (r *faultRig) outcomes() (acked, failed int) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for id := 1; id < len(r.ops); id++ {
		switch r.status[id] {
		case opAcked:
			acked++
		case opFailed:
			failed++
		default:
			r.t.Fatalf("write %d has no outcome after a flush", id)
		}
	}
	return acked, failed
}

// waitReplayed waits until s has replayed every RT partition to its end
// offset now.
func (r *faultRig) waitReplayed(s *Server, d time.Duration) {
	r.t.Helper()
	ends, err := r.env.Admin(r.t).ListEndOffsets(context.Background(), r.rt)
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitFor(s, d, "the RT topic replayed", func(st PartitionStatus) bool {
		o, _ := ends.Lookup(r.rt, st.Partition)
		return o.Offset == 0 || upstreamOf(st, 0) >= o.Offset
	})
}

// waitIngested waits until s has applied the version topic to its end
// offset now.
func (r *faultRig) waitIngested(s *Server, d time.Duration) {
	r.t.Helper()
	ends, err := r.env.Admin(r.t).ListEndOffsets(context.Background(), r.vt)
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitFor(s, d, "the version topic ingested", func(st PartitionStatus) bool {
		o, _ := ends.Lookup(r.vt, st.Partition)
		return st.ReadyToServe && st.Offset >= o.Offset
	})
}

func (r *faultRig) waitFor(s *Server, d time.Duration, what string, done func(PartitionStatus) bool) {
	r.t.Helper()
	deadline := time.Now().Add(d)
	for {
		sts := s.Status()
		ok := len(sts) == int(r.partitions)
		for _, st := range sts {
			if st.Failed != "" {
				r.t.Fatalf("partition %d failed: %s", st.Partition, st.Failed)
			}
			ok = ok && done(st)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			for _, st := range sts {
				r.t.Logf("%+v", st)
			}
			r.t.Fatalf("timed out after %s waiting for %s; logs %s", d, what, r.log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// leading waits until s leads every partition.
func (r *faultRig) leading(s *Server, d time.Duration) {
	r.t.Helper()
	r.waitFor(s, d, "every partition led", func(st PartitionStatus) bool { return st.Leader })
}

// stored is a value as the test reads it.
type stored struct {
	Name  string           `avro:"name"`
	Count int64            `avro:"count"`
	Tags  []string         `avro:"tags"`
	Attrs map[string]int64 `avro:"attrs"`
}

// check compares every key of the model, and keys never written, with what
// s serves.
func (r *faultRig) check(s *Server, who string) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for k := 0; k < r.keys; k++ {
		v, ok, err := s.Get("profiles", 1, r.key(k))
		if err != nil {
			r.t.Fatalf("%s: key %d: %v", who, k, err)
		}
		var got []byte
		if ok {
			got = v.Bytes
		}
		if err := r.explain(k, got, ok); err != nil {
			r.t.Fatalf("%s: key %d: %v\nwrites: %s", who, k, err, r.history(k))
		}
	}
	for k := r.keys; k < r.keys+50; k++ {
		if _, ok, err := s.Get("profiles", 1, r.key(k)); err != nil || ok {
			r.t.Fatalf("%s: key %d was never written, found=%v err=%v", who, k, ok, err)
		}
	}
}

// explain finds the writes of key k that, applied in order, give the
// stored value (found, got), and checks that they include every
// acknowledged write that the stored value does not overwrite. r.mu is held.
func (r *faultRig) explain(k int, got []byte, found bool) error {
	ids := r.byKey[k]
	pos := make(map[int]int, len(ids))
	lastAcked := -1
	for i, id := range ids {
		pos[id] = i
		if r.status[id] == opAcked {
			lastAcked = i
		}
	}
	// unackedDeleteIn reports whether a write that may not have been applied
	// deletes the key at a position in (from, to).
	unackedDeleteIn := func(from, to int) bool {
		for i := from + 1; i < to; i++ {
			if id := ids[i]; r.ops[id].kind == opDelete && r.status[id] != opAcked {
				return true
			}
		}
		return false
	}
	if !found {
		switch {
		case lastAcked < 0, r.ops[ids[lastAcked]].kind == opDelete:
			return nil
		case unackedDeleteIn(lastAcked, len(ids)):
			return nil // a failed delete after the last acknowledged write was applied
		}
		return fmt.Errorf("absent, but acknowledged %s %d is its last write", r.ops[ids[lastAcked]].kind, ids[lastAcked])
	}

	var v stored
	if err := avro.Unmarshal(r.schema, got, &v); err != nil {
		return fmt.Errorf("stored value does not decode: %v", err)
	}
	if len(v.Tags) == 0 {
		return fmt.Errorf("stored value %+v lists no write", v)
	}
	applied := make([]int, len(v.Tags))
	for i, tag := range v.Tags {
		id, err := strconv.Atoi(tag)
		if err != nil {
			return fmt.Errorf("tag %q is not a write id", tag)
		}
		p, ok := pos[id]
		switch {
		case !ok:
			return fmt.Errorf("tags %v name write %d, not one of this key's", v.Tags, id)
		case i > 0 && p <= pos[applied[i-1]]:
			return fmt.Errorf("tags %v are not in write order (applied twice or reordered)", v.Tags)
		case i > 0 && r.ops[id].kind != opUpdate:
			return fmt.Errorf("tags %v: %s %d after the first tag", v.Tags, r.ops[id].kind, id)
		}
		applied[i] = id
	}
	last := applied[len(applied)-1]
	if v.Count != int64(last) {
		return fmt.Errorf("count %d but last tag %d: an older write was applied again after a newer one", v.Count, last)
	}
	if pos[last] < lastAcked {
		return fmt.Errorf("last applied write %d precedes acknowledged %s %d: lost", last, r.ops[ids[lastAcked]].kind, ids[lastAcked])
	}
	// Every acknowledged write after the first applied one is applied.
	first := pos[applied[0]]
	for i := first + 1; i <= pos[last]; i++ {
		if id := ids[i]; r.status[id] == opAcked && !slices.Contains(applied, id) {
			return fmt.Errorf("acknowledged %s %d is lost (applied: %v)", r.ops[id].kind, id, applied)
		}
	}
	// A value started by an update was created from nothing: the write
	// before it that was applied was a delete, or there was none.
	if r.ops[applied[0]].kind == opUpdate {
		before := -1
		for i := first - 1; i >= 0; i-- {
			if r.status[ids[i]] == opAcked {
				before = i
				break
			}
		}
		if before >= 0 && r.ops[ids[before]].kind != opDelete && !unackedDeleteIn(before, first) {
			return fmt.Errorf("value starts at update %d, but acknowledged %s %d before it was not deleted", applied[0], r.ops[ids[before]].kind, ids[before])
		}
	}
	// Replay the applied writes and compare bytes.
	var want []byte
	rest := applied
	if r.ops[applied[0]].kind == opPut {
		want, rest = r.putValue(applied[0]), applied[1:]
	}
	for _, id := range rest {
		var err error
		if want == nil {
			want, err = partialupdate.ApplyMissing(nil, r.update(id))
		} else {
			want, err = partialupdate.Apply(nil, r.update(id), want)
		}
		if err != nil {
			return err
		}
	}
	if string(want) != string(got) {
		wj, _ := partialupdate.ValueToJSON(r.schema, want)
		gj, _ := partialupdate.ValueToJSON(r.schema, got)
		return fmt.Errorf("value differs from the replay of writes %v:\n got %s\nwant %s", applied, gj, wj)
	}
	return nil
}

// history describes a key's writes for a failure message. r.mu is held.
func (r *faultRig) history(k int) string {
	var b strings.Builder
	for _, id := range r.byKey[k] {
		st := "acked"
		if r.status[id] != opAcked {
			st = "FAILED"
		}
		fmt.Fprintf(&b, "%s %d %s; ", r.ops[id].kind, id, st)
	}
	return b.String()
}

// rebuild starts a fresh server (a new replica, its own data directory)
// that only follows the version topic, waits until it has ingested all of
// it, and checks it against the model: the version topic alone must hold
// every acknowledged write.
func (r *faultRig) rebuild(d time.Duration) *Server {
	r.t.Helper()
	s := r.startServer(r.t.TempDir(), false)
	r.waitIngested(s, d)
	r.check(s, "replica rebuilt from the version topic")
	return s
}

// verdicts sums the data integrity faults s counted.
func verdicts(s *Server) map[string]int64 {
	out := map[string]int64{}
	for _, st := range s.Status() {
		for v, n := range st.Faults {
			out[v] += n
		}
	}
	return out
}

// checkIntegrity fails on faults no broker fault explains: corrupt
// segments, skipped records.
func (r *faultRig) checkIntegrity(s *Server, who string) map[string]int64 {
	r.t.Helper()
	v := verdicts(s)
	if n := v[div.Corrupt.String()]; n > 0 {
		r.t.Errorf("%s: %d corrupt records or segments", who, n)
	}
	for _, st := range s.Status() {
		if st.Skipped > 0 {
			r.t.Errorf("%s: partition %d skipped %d RT records", who, st.Partition, st.Skipped)
		}
	}
	return v
}

// injector installs kfake faults that each fail a random share of the
// requests they match, drawn from one seeded source, and counts them.
type injector struct {
	mu      sync.Mutex
	rng     *rand.Rand
	faults  []injected
	cluster *kfake.Cluster
}

type injected struct {
	name string
	h    *kfake.FaultHandle
	once bool
}

func newInjector(c *kfake.Cluster, seed int64) *injector {
	return &injector{cluster: c, rng: rand.New(rand.NewSource(seed))}
}

// add fails share of the key requests (per partition) for topic with err.
func (in *injector) add(key kmsg.Key, topic string, err *kerr.Error, share float64) {
	h := in.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{key}, Topic: topic, Err: err, Count: -1,
		When: func(kmsg.Request) bool {
			in.mu.Lock()
			defer in.mu.Unlock()
			return in.rng.Float64() < share
		}})
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = append(in.faults, injected{name: fmt.Sprintf("%s %s %s", key.Name(), topicLabel(topic), err.Message), h: h})
}

// once fails the next key request (per partition) for topic with err.
// wait makes sure it fired.
func (in *injector) once(key kmsg.Key, topic string, err *kerr.Error) {
	h := in.cluster.Fault(kfake.Fault{Keys: []kmsg.Key{key}, Topic: topic, Err: err, Count: 1})
	in.mu.Lock()
	defer in.mu.Unlock()
	in.faults = append(in.faults, injected{name: fmt.Sprintf("once %s %s %s", key.Name(), topicLabel(topic), err.Message), h: h, once: true})
}

// wait waits until every fault installed with once has fired.
func (in *injector) wait(ctx context.Context) error {
	in.mu.Lock()
	fs := slices.Clone(in.faults)
	in.mu.Unlock()
	for _, f := range fs {
		if f.once {
			if err := f.h.Wait(ctx, 1); err != nil {
				return fmt.Errorf("%s never fired: %w", f.name, err)
			}
		}
	}
	return nil
}

// remove uninstalls every fault.
func (in *injector) remove() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, f := range in.faults {
		f.h.Remove()
	}
}

// hits counts the requests each fault answered.
func (in *injector) hits() map[string]int {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := map[string]int{}
	for _, f := range in.faults {
		out[f.name] += f.h.Hits()
	}
	return out
}

// topicLabel shortens a test topic's name for logs: its suffix.
func topicLabel(topic string) string {
	if i := strings.LastIndexByte(topic, '-'); i >= 0 {
		return topic[i+1:]
	}
	return topic
}

// countingHandler is a slog handler that discards records but counts
// those at warning level and above by message, so a test can assert that
// a fault had the effect it should (a leader restarted) and show what went
// wrong on a timeout.
type countingHandler struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *countingHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *countingHandler) Handle(_ context.Context, rec slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.counts[rec.Message]++
	return nil
}
func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *countingHandler) WithGroup(string) slog.Handler      { return h }

func (h *countingHandler) count(msg string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[msg]
}

func (h *countingHandler) String() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return fmt.Sprint(h.counts)
}

// TestFaultsFetchErrors fails a share of the version topic's fetches while
// the server ingests a batch push, and of the RT topic's while the leaders
// replay nearline writes into the version.
func TestFaultsFetchErrors(t *testing.T) {
	const partitions = 3
	keys := testscale.Pick(150, 1500)
	pushed := testscale.Pick(3000, 60_000)
	writes := testscale.Pick(3000, 60_000)
	r := newFaultRig(t, partitions, keys)
	ctx, cancel := context.WithTimeout(context.Background(), testscale.Pick(2*time.Minute, 30*time.Minute))
	defer cancel()
	inj := newInjector(r.broker.Cluster(), r.seed+1)

	s := r.startServer(t.TempDir(), true)
	for _, e := range []*kerr.Error{kerr.NotLeaderForPartition, kerr.UnknownServerError, kerr.KafkaStorageError, kerr.OffsetOutOfRange} {
		inj.add(kmsg.Fetch, r.vt, e, 0.08)
	}
	r.push(ctx, pushed, nil)
	r.leading(s, time.Minute)
	pushHits := inj.hits()

	for _, e := range []*kerr.Error{kerr.NotLeaderForPartition, kerr.UnknownServerError, kerr.KafkaStorageError, kerr.OffsetOutOfRange} {
		inj.add(kmsg.Fetch, r.rt, e, 0.08)
	}
	w := r.rtWriter()
	r.write(ctx, w, writes, nil)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitReplayed(s, time.Minute) // under faults: they slow it, nothing more
	inj.remove()
	// An OFFSET_OUT_OF_RANGE answered just before may have sent a leader
	// back to the start of its RT partition (franz-go resets there), where
	// it drops what it already applied; let it come back to the end.
	r.waitReplayed(s, time.Minute)
	hits := inj.hits()
	t.Logf("fault hits during the push %v, in all %v", pushHits, hits)
	var vtHits, rtHits int
	for name, n := range hits {
		if strings.Contains(name, topicLabel(r.vt)) {
			vtHits += n
		} else {
			rtHits += n
		}
	}
	var pushVT int
	for _, n := range pushHits {
		pushVT += n
	}
	if pushVT == 0 || rtHits == 0 {
		t.Fatalf("faults did not fire: %d version-topic fetches failed during the push, %d RT fetches", pushVT, rtHits)
	}
	acked, failed := r.outcomes()
	if failed > 0 {
		t.Fatalf("%d writes failed with only fetch faults", failed)
	}
	t.Logf("%d writes acknowledged; verdicts %v; logs %s", acked, r.checkIntegrity(s, "server"), r.log)
	r.check(s, "server")
	r.rebuild(time.Minute)
}

// TestFaultsProduceErrors fails a share of the writer's produce requests
// to the RT topic and of the leaders' to the version topic, with retriable
// errors (franz-go retries them; REQUEST_TIMED_OUT and
// NOT_ENOUGH_REPLICAS_AFTER_APPEND after the broker appended, so the retry
// is a duplicate the broker must drop) and non-retriable ones (the write
// fails; a leader whose produce fails restarts from its checkpoint).
func TestFaultsProduceErrors(t *testing.T) {
	const partitions = 3
	keys := testscale.Pick(150, 1500)
	pushed := testscale.Pick(1000, 20_000)
	writes := testscale.Pick(4000, 100_000)
	r := newFaultRig(t, partitions, keys)
	ctx, cancel := context.WithTimeout(context.Background(), testscale.Pick(2*time.Minute, 30*time.Minute))
	defer cancel()
	old := leaderRestartPause
	leaderRestartPause = 20 * time.Millisecond
	t.Cleanup(func() { leaderRestartPause = old })

	s := r.startServer(t.TempDir(), true)
	r.push(ctx, pushed, nil)
	r.leading(s, time.Minute)

	inj := newInjector(r.broker.Cluster(), r.seed+1)
	for _, f := range []struct {
		topic string
		err   *kerr.Error
		share float64
	}{
		{r.rt, kerr.NotLeaderForPartition, 0.05},
		{r.rt, kerr.RequestTimedOut, 0.03},
		{r.rt, kerr.NotEnoughReplicasAfterAppend, 0.03},
		{r.rt, kerr.InvalidRecord, 0.01},
		{r.vt, kerr.NotLeaderForPartition, 0.05},
		{r.vt, kerr.RequestTimedOut, 0.03},
		{r.vt, kerr.NotEnoughReplicasAfterAppend, 0.03},
		{r.vt, kerr.InvalidRecord, 0.02},
	} {
		inj.add(kmsg.Produce, f.topic, f.err, f.share)
	}
	// Besides the random share, one non-retriable fault of each topic at a
	// random point, so that every run has a failed write and a leader
	// restart.
	onceRT, onceVT := r.rng.Intn(writes/2), r.rng.Intn(writes/2)
	w := r.rtWriter()
	r.write(ctx, w, writes, func(i int) {
		if i == onceRT {
			inj.once(kmsg.Produce, r.rt, kerr.InvalidRecord)
		}
		if i == onceVT {
			inj.once(kmsg.Produce, r.vt, kerr.InvalidRecord)
		}
	})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := inj.wait(ctx); err != nil {
		t.Fatal(err)
	}
	// Leave the faults on until the leaders caught up, so that they hit
	// the leaders' produces as much as the writer's.
	r.waitReplayed(s, 2*time.Minute)
	inj.remove()
	// One more write per key, acknowledged, so every key's last word is
	// known; the leaders replay it without faults.
	r.write(ctx, w, keys, nil)
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitReplayed(s, time.Minute)

	hits := inj.hits()
	var rtFailed, vtFailed, rtHits, vtHits int
	for name, n := range hits {
		vt := strings.Contains(name, topicLabel(r.vt))
		switch {
		case vt && strings.Contains(name, kerr.InvalidRecord.Message):
			vtFailed += n
		case strings.Contains(name, kerr.InvalidRecord.Message):
			rtFailed += n
		}
		if vt {
			vtHits += n
		} else {
			rtHits += n
		}
	}
	acked, failed := r.outcomes()
	restarts := r.log.count("leader stopped; restarting from the checkpoint")
	t.Logf("fault hits %v; %d writes acknowledged, %d failed; writer stats %+v; %d leader restarts; logs %s",
		hits, acked, failed, w.Stats(), restarts, r.log)
	if rtHits == 0 || vtHits == 0 || rtFailed == 0 || vtFailed == 0 {
		t.Fatalf("faults did not fire: %d RT produces failed (%d for good), %d version-topic produces (%d for good)", rtHits, rtFailed, vtHits, vtFailed)
	}
	if failed == 0 || restarts == 0 {
		t.Fatalf("non-retriable faults had no effect: %d writes failed, %d leader restarts", failed, restarts)
	}
	t.Logf("verdicts %v", r.checkIntegrity(s, "server"))
	r.check(s, "server")
	rb := r.rebuild(time.Minute)
	t.Logf("rebuilt replica's verdicts %v", r.checkIntegrity(rb, "rebuilt replica"))
}

// mover moves partition leaders between the brokers of a multi-broker
// kfake cluster, choosing with a seeded source, and counts the requests
// that still went to a partition's old leader (and were refused with
// NOT_LEADER_FOR_PARTITION) by observing them.
type mover struct {
	c       *kfake.Cluster
	brokers int32
	rng     *rand.Rand
	topics  []string
	parts   int32

	moves     int
	observers map[string]*kfake.FaultHandle // topic/partition → requests to its old leader
	stale     int                           // requests counted by removed observers
}

func newMover(c *kfake.Cluster, brokers int32, seed int64, parts int32, topics ...string) *mover {
	return &mover{c: c, brokers: brokers, rng: rand.New(rand.NewSource(seed)), topics: topics, parts: parts, observers: map[string]*kfake.FaultHandle{}}
}

// move gives a random partition of a random topic another leader.
func (m *mover) move(t *testing.T) {
	t.Helper()
	topic := m.topics[m.rng.Intn(len(m.topics))]
	p := m.rng.Int31n(m.parts)
	old := m.c.LeaderFor(topic, p)
	next := (old + 1 + m.rng.Int31n(m.brokers-1)) % m.brokers
	if err := m.c.MoveTopicPartition(topic, p, next); err != nil {
		t.Fatal(err)
	}
	m.moves++
	tp := fmt.Sprint(topic, "/", p)
	if h := m.observers[tp]; h != nil {
		h.Remove()
		m.stale += h.Hits()
	}
	m.observers[tp] = m.c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce, kmsg.Fetch}, Nodes: []int32{old}, Topic: topic, Partitions: []int32{p}, Count: -1, Observe: true})
}

// staleRequests counts the requests that reached a partition's old leader.
func (m *mover) staleRequests() int {
	n := m.stale
	for _, h := range m.observers {
		n += h.Hits()
	}
	return n
}

// TestFaultsLeaderMoves moves the leaders of the version topic's and the
// RT topic's partitions between the three brokers of a cluster while the
// server ingests a batch push and replays nearline writes.
func TestFaultsLeaderMoves(t *testing.T) {
	const partitions, brokers = 3, 3
	keys := testscale.Pick(150, 1500)
	pushed := testscale.Pick(3000, 60_000)
	writes := testscale.Pick(4000, 100_000)
	moves := testscale.Pick(12, 120) // during the push, as many again during the writes
	r := newFaultRig(t, partitions, keys, embedkafka.NumBrokers(brokers))
	ctx, cancel := context.WithTimeout(context.Background(), testscale.Pick(2*time.Minute, 30*time.Minute))
	defer cancel()
	m := newMover(r.broker.Cluster(), brokers, r.seed+1, partitions, r.vt, r.rt)

	s := r.startServer(t.TempDir(), true)
	r.push(ctx, pushed, func(i int) {
		if i%(pushed/moves) == pushed/moves/2 {
			m.move(t)
		}
	})
	r.leading(s, time.Minute)
	w := r.rtWriter()
	r.write(ctx, w, writes, func(i int) {
		if i%(writes/moves) == writes/moves/2 {
			m.move(t)
		}
	})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitReplayed(s, time.Minute)
	acked, failed := r.outcomes()
	t.Logf("%d leader moves, %d requests to old leaders; %d writes acknowledged, %d failed; verdicts %v; logs %s",
		m.moves, m.staleRequests(), acked, failed, r.checkIntegrity(s, "server"), r.log)
	if m.staleRequests() == 0 {
		t.Fatalf("%d leader moves, but no request reached an old leader", m.moves)
	}
	r.check(s, "server")
	r.rebuild(time.Minute)
}

// TestFaultsBrokerRestart restarts the broker (with its data directory:
// every acknowledged record survives) at random points while the server
// ingests a batch push and while it replays nearline writes. Every
// restart drops every client connection, requests in flight included.
func TestFaultsBrokerRestart(t *testing.T) {
	const partitions = 3
	keys := testscale.Pick(150, 1500)
	pushed := testscale.Pick(3000, 60_000)
	writes := testscale.Pick(4000, 100_000)
	restarts := testscale.Pick(2, 20) // during the push, twice as many during the writes
	r := newFaultRig(t, partitions, keys, embedkafka.DataDir(t.TempDir()))
	ctx, cancel := context.WithTimeout(context.Background(), testscale.Pick(2*time.Minute, 30*time.Minute))
	defer cancel()
	restarted := 0
	restart := func() {
		if err := r.broker.Restart(ctx); err != nil {
			t.Fatal(err)
		}
		restarted++
	}
	pushAt := map[int]bool{}
	for len(pushAt) < restarts {
		pushAt[r.rng.Intn(pushed)] = true
	}
	writeAt := map[int]bool{}
	for len(writeAt) < 2*restarts {
		writeAt[r.rng.Intn(writes)] = true
	}

	s := r.startServer(t.TempDir(), true)
	r.push(ctx, pushed, func(i int) {
		if pushAt[i] {
			restart()
		}
	})
	r.leading(s, time.Minute)
	w := r.rtWriter()
	r.write(ctx, w, writes, func(i int) {
		if writeAt[i] {
			restart()
		}
	})
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	r.waitReplayed(s, time.Minute)
	acked, failed := r.outcomes()
	t.Logf("%d broker restarts; %d writes acknowledged, %d failed; writer stats %+v; verdicts %v; logs %s",
		restarted, acked, failed, w.Stats(), r.checkIntegrity(s, "server"), r.log)
	if restarted != 3*restarts {
		t.Fatalf("%d restarts, want %d", restarted, 3*restarts)
	}
	r.check(s, "server")
	r.rebuild(time.Minute)
}
