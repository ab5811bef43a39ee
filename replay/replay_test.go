package replay_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/replay"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/server/storage"
)

func TestRewindStart(t *testing.T) {
	sop := time.UnixMilli(10_000_000)
	eop := time.UnixMilli(12_000_000)
	v := api.Version{Number: 3, StartOfPushAt: sop, EndOfPushAt: eop}
	hour := api.Duration(time.Hour)
	for _, tc := range []struct {
		name   string
		cfg    api.StoreConfig
		v      api.Version
		want   int64
		errSub string
	}{
		{name: "end of push (default)", cfg: api.StoreConfig{HybridRewind: api.Duration(time.Second), ReplayPolicy: api.ReplayFromEndOfPush}, v: v, want: 12_000_000 - 1000},
		{name: "empty policy means end of push", cfg: api.StoreConfig{HybridRewind: api.Duration(time.Second)}, v: v, want: 12_000_000 - 1000},
		{name: "start of push", cfg: api.StoreConfig{HybridRewind: api.Duration(time.Second), ReplayPolicy: api.ReplayFromStartOfPush}, v: v, want: 10_000_000 - 1000},
		{name: "clamped at the epoch", cfg: api.StoreConfig{HybridRewind: hour * 24}, v: v, want: 0},
		{name: "batch-only", cfg: api.StoreConfig{}, v: v, errSub: "batch-only"},
		{name: "no end of push yet", cfg: api.StoreConfig{HybridRewind: hour}, v: api.Version{Number: 3, StartOfPushAt: sop}, errSub: "no end-of-push time"},
		{name: "unknown policy", cfg: api.StoreConfig{HybridRewind: hour, ReplayPolicy: "whenever"}, v: v, errSub: "whenever"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := replay.RewindStart(tc.cfg, tc.v)
			if tc.errSub != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errSub) {
					t.Fatalf("error %v, want one saying %q", err, tc.errSub)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if got, _ := replay.NextRewindStart(api.StoreConfig{HybridRewind: hour}, time.UnixMilli(7_200_000)); got != 3_600_000 {
		t.Fatalf("NextRewindStart = %d", got)
	}
}

// TestLagArithmetic: the seeds' example — replay begins at RT offset 220,
// the RT topic ends at 232, the replicas have processed 4 records: 12 to
// replay, 4 done, a lag of 8.
func TestLagArithmetic(t *testing.T) {
	for _, tc := range []struct {
		start, next, end                     int64
		total, replayed, remaining, wantNext int64
	}{
		{220, 224, 232, 12, 4, 8, 224},
		{220, -1, 232, 12, 0, 12, 220},  // nothing processed yet
		{220, 232, 232, 12, 12, 0, 232}, // caught up
		{220, 240, 232, 12, 12, 0, 240}, // the end was listed before the replica reported
		{50, 50, 50, 0, 0, 0, 50},       // an empty window
		{50, 10, 40, 0, 0, 0, 50},       // inconsistent inputs never go negative
	} {
		l := replay.NewLag(tc.start, tc.next, tc.end)
		if l.Total != tc.total || l.Replayed != tc.replayed || l.Remaining != tc.remaining || l.Next != tc.wantNext {
			t.Errorf("NewLag(%d, %d, %d) = %+v", tc.start, tc.next, tc.end, l)
		}
	}
}

func TestAvailable(t *testing.T) {
	for _, tc := range []struct {
		start, logStart int64
		want            bool
	}{
		{0, 0, true},    // nothing ever written
		{50, 0, true},   // nothing deleted
		{50, 20, true},  // a retained record precedes the window
		{60, 60, false}, // the window begins at the first retained record: deleted ones may be inside
		{100, 100, false},
	} {
		if got := replay.Available(tc.start, tc.logStart); got != tc.want {
			t.Errorf("Available(%d, %d) = %v", tc.start, tc.logStart, got)
		}
	}
}

func status(p int32, ready, leader bool, upstream ...storage.UpstreamOffset) server.PartitionStatus {
	return server.PartitionStatus{Store: "s", Version: 2, Partition: p, EndOfPush: ready, ReadyToServe: ready, Leader: leader, Upstream: upstream}
}

func up(region, p int32, off int64) storage.UpstreamOffset {
	return storage.UpstreamOffset{Region: region, Partition: p, Offset: off}
}

func TestStatusDecision(t *testing.T) {
	hybrid := api.Store{Name: "s", RTTopic: "s_rt", Config: api.StoreConfig{HybridRewind: api.Duration(time.Hour), HybridOffsetLag: 10}}
	batch := api.Store{Name: "s", Config: api.StoreConfig{HybridOffsetLag: 10}}
	v := api.Version{Number: 2, Partitions: 2, RewindStart: 99}
	src := []replay.Source{{Region: "east", RegionID: 0, Start: map[int32]int64{0: 100, 1: 0}, End: map[int32]int64{0: 200, 1: 5}, LogStart: map[int32]int64{}}}
	two := append(src, replay.Source{Region: "west", RegionID: 1, Start: map[int32]int64{0: 0, 1: 0}, End: map[int32]int64{0: 8, 1: 0}, LogStart: map[int32]int64{}})
	for _, tc := range []struct {
		name    string
		st      api.Store
		sts     []server.PartitionStatus
		sources []replay.Source
		ready   []bool
		lag0    map[string]int64
	}{
		{name: "batch-only: ready to serve is enough", st: batch, sts: []server.PartitionStatus{status(0, true, false), status(1, true, false)}, ready: []bool{true, true}, lag0: map[string]int64{}},
		{name: "a missing partition", st: batch, sts: []server.PartitionStatus{status(0, true, false)}, ready: []bool{true, false}, lag0: map[string]int64{}},
		{name: "hybrid: lagging partition 0", st: hybrid, sources: src,
			sts:   []server.PartitionStatus{status(0, true, true, up(0, 0, 150)), status(1, true, true)},
			ready: []bool{false, true}, lag0: map[string]int64{"east": 50}},
		{name: "hybrid: within the threshold", st: hybrid, sources: src,
			sts:   []server.PartitionStatus{status(0, true, true, up(0, 0, 195)), status(1, true, true)},
			ready: []bool{true, true}, lag0: map[string]int64{"east": 5}},
		{name: "hybrid: the furthest replica counts", st: hybrid, sources: src,
			sts:   []server.PartitionStatus{status(0, true, false, up(0, 0, 120)), status(0, true, false, up(0, 0, 200)), status(1, true, true)},
			ready: []bool{true, true}, lag0: map[string]int64{"east": 0}},
		{name: "hybrid: no replay started, small window", st: hybrid, sources: src,
			sts:   []server.PartitionStatus{status(0, true, true, up(0, 0, 200)), status(1, true, false)},
			ready: []bool{true, false}, lag0: map[string]int64{"east": 0}},
		{name: "hybrid: end-of-push not consumed", st: hybrid, sources: src,
			sts:   []server.PartitionStatus{status(0, false, true, up(0, 0, 200)), status(1, true, true)},
			ready: []bool{false, true}, lag0: map[string]int64{"east": 0}},
		{name: "active-active: lags of both regions add up", st: hybrid, sources: two,
			sts:   []server.PartitionStatus{status(0, true, true, up(0, 0, 197), up(1, 0, 0)), status(1, true, true)},
			ready: []bool{false, true}, lag0: map[string]int64{"east": 3, "west": 8}},
		{name: "without sources the leader's own lag counts", st: hybrid,
			sts: []server.PartitionStatus{
				{Store: "s", Version: 2, Partition: 0, EndOfPush: true, ReadyToServe: true, Leader: true, ReplayLag: map[int32]int64{0: 11}},
				{Store: "s", Version: 2, Partition: 1, EndOfPush: true, ReadyToServe: true, Leader: true, ReplayLag: map[int32]int64{0: 10}},
				{Store: "s", Version: 3, Partition: 1, EndOfPush: false}, // another version: ignored
			},
			ready: []bool{false, true}, lag0: map[string]int64{"east": 11}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs, failed := replay.Status(tc.st, v, "", tc.sts, tc.sources, map[int32]string{0: "east", 1: "west"})
			if failed != "" {
				t.Fatalf("failed %q", failed)
			}
			all := true
			for i, want := range tc.ready {
				if rs.Partitions[i].ReadyToServe != want {
					t.Errorf("partition %d ready %v, want %v (%+v)", i, rs.Partitions[i].ReadyToServe, want, rs.Partitions[i])
				}
				all = all && want
			}
			if rs.Ready != all || rs.RewindStart != 99 || rs.Version != 2 {
				t.Errorf("status %+v", rs)
			}
			if fmt.Sprint(rs.Partitions[0].Lag) != fmt.Sprint(tc.lag0) {
				t.Errorf("partition 0 lag %v, want %v", rs.Partitions[0].Lag, tc.lag0)
			}
		})
	}
	rs, failed := replay.Status(batch, v, "", []server.PartitionStatus{{Store: "s", Version: 2, Partition: 1, Failed: "disk full"}}, nil, nil)
	if failed != "partition 1: disk full" || rs.Ready {
		t.Fatalf("failed %q, status %+v", failed, rs)
	}
}

// produceAt writes n records with timestamps base, base+1, … into one
// partition of topic.
func produceAt(t *testing.T, cl *kgo.Client, topic string, p int32, n int, base int64) {
	t.Helper()
	for i := range n {
		r := &kgo.Record{Topic: topic, Partition: p, Value: []byte("x"), Timestamp: time.UnixMilli(base + int64(i))}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlanAgainstKafka plans replays over two regions' RT topics, one of
// them truncated by retention (DeleteRecords moves the log start).
func TestPlanAgainstKafka(t *testing.T) {
	ctx := context.Background()
	east, west := kafkatest.New(t), kafkatest.New(t)
	rt := east.Topic(t, 3, nil)
	if _, err := west.Admin(t).CreateTopic(ctx, 3, 1, nil, rt); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { west.Admin(t).DeleteTopics(context.Background(), rt) })
	manual := kgo.RecordPartitioner(kgo.ManualPartitioner())
	ec, wc := east.Client(t, manual), west.Client(t, manual)
	// east: partition 0 has 100 records at t=1000..1099, partition 1 has
	// 10 at t=500..509 (all before the rewind start), partition 2 none.
	produceAt(t, ec, rt, 0, 100, 1000)
	produceAt(t, ec, rt, 1, 10, 500)
	// west: partition 0 has 100 records at t=1000..1099.
	produceAt(t, wc, rt, 0, 100, 1000)
	st := api.Store{Name: "s", RTTopic: rt}
	regions := []replay.Region{{Name: "east", ID: 0, Admin: east.Admin(t)}, {Name: "west", ID: 1, Admin: west.Admin(t)}}

	plan, err := replay.PlanStore(ctx, st, 1050, regions)
	if err != nil {
		t.Fatal(err)
	}
	want := []api.PartitionPlan{
		{Region: "east", Partition: 0, StartOffset: 50, EndOffset: 100, Records: 50, Available: true},
		{Region: "east", Partition: 1, StartOffset: 10, EndOffset: 10, Records: 0, Available: true},
		{Region: "east", Partition: 2, StartOffset: 0, EndOffset: 0, Records: 0, Available: true},
		{Region: "west", Partition: 0, StartOffset: 50, EndOffset: 100, Records: 50, Available: true},
		{Region: "west", Partition: 1, StartOffset: 0, EndOffset: 0, Records: 0, Available: true},
		{Region: "west", Partition: 2, StartOffset: 0, EndOffset: 0, Records: 0, Available: true},
	}
	if fmt.Sprint(plan.Partitions) != fmt.Sprint(want) || plan.Records != 100 || !plan.Complete || plan.RewindStart != 1050 {
		t.Fatalf("plan %+v\nwant partitions %+v", plan, want)
	}

	// Retention removes east partition 0 up to offset 20 (before the
	// window): still complete. Then west partition 0 up to offset 70,
	// inside the window: records 50..69 are gone.
	deleteTo := func(adm *kadm.Client, p int32, off int64) {
		t.Helper()
		os := kadm.Offsets{}
		os.Add(kadm.Offset{Topic: rt, Partition: p, At: off})
		resps, err := adm.DeleteRecords(ctx, os)
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	deleteTo(regions[0].Admin, 0, 20)
	if plan, err = replay.PlanStore(ctx, st, 1050, regions); err != nil || !plan.Complete || plan.Records != 100 {
		t.Fatalf("after deleting before the window: %+v, %v", plan, err)
	}
	deleteTo(regions[1].Admin, 0, 70)
	plan, err = replay.PlanStore(ctx, st, 1050, regions)
	if err != nil {
		t.Fatal(err)
	}
	if plan.Complete || plan.Records != 80 {
		t.Fatalf("after retention inside the window: %+v", plan)
	}
	for _, p := range plan.Partitions {
		if wantAvail := !(p.Region == "west" && p.Partition == 0); p.Available != wantAvail {
			t.Fatalf("%s/%d available %v", p.Region, p.Partition, p.Available)
		}
		if p.Region == "west" && p.Partition == 0 && (p.StartOffset != 70 || p.Records != 30) {
			t.Fatalf("west/0: %+v", p)
		}
	}
	// Replaying from the beginning of a truncated topic is incomplete too.
	if plan, _ = replay.PlanStore(ctx, st, 0, regions); plan.Complete {
		t.Fatalf("plan from 0 over truncated partitions is complete: %+v", plan)
	}

	// Missing topics and batch-only stores are errors.
	if _, err := replay.PlanStore(ctx, api.Store{Name: "s", RTTopic: "nope_rt"}, 0, regions); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing topic: %v", err)
	}
	if _, err := replay.PlanStore(ctx, api.Store{Name: "s"}, 0, regions); err == nil {
		t.Fatal("planned a batch-only store")
	}

	// Lags from the same listing: a replica of partition 0 in east at
	// upstream offset 90 has 10 records to go.
	src, err := replay.ListSource(ctx, regions[0].Admin, "east", 0, rt, 1050)
	if err != nil {
		t.Fatal(err)
	}
	lags := replay.Lags("s", 2, 3, []server.PartitionStatus{status(0, true, true, up(0, 0, 90))}, []replay.Source{src})
	if l := lags[0]; l.Start != 50 || l.Next != 90 || l.End != 100 || l.Replayed != 40 || l.Remaining != 10 || !l.Started {
		t.Fatalf("lag %+v", l)
	}
}
