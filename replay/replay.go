package replay

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/rtoffsets"
	"github.com/rialtodb/rialto/server"
)

// ErrNotHybrid is returned for the rewind start of a store without
// nearline writes (HybridRewind 0): its versions replay nothing.
var ErrNotHybrid = errors.New("replay: the store is batch-only (hybrid rewind 0)")

// Hybrid reports whether versions of st replay an RT buffer.
func Hybrid(st api.Store) bool { return st.RTTopic != "" && st.Config.HybridRewind > 0 }

// RewindStart is where replay into version v begins in the RT topics, in
// ms since the epoch: v's end-of-push time minus the store's rewind
// (api.ReplayFromEndOfPush, the default, also for an empty policy) or its
// start-of-push time minus the rewind (api.ReplayFromStartOfPush). It is
// never negative. It fails when the store is batch-only, the policy is
// unknown, or v lacks the time the policy needs.
func RewindStart(cfg api.StoreConfig, v api.Version) (int64, error) {
	if cfg.HybridRewind <= 0 {
		return 0, ErrNotHybrid
	}
	var from time.Time
	switch cfg.ReplayPolicy {
	case api.ReplayFromEndOfPush, "":
		from = v.EndOfPushAt
	case api.ReplayFromStartOfPush:
		from = v.StartOfPushAt
	default:
		return 0, fmt.Errorf("replay: unknown replay policy %q (want %s or %s)", cfg.ReplayPolicy, api.ReplayFromEndOfPush, api.ReplayFromStartOfPush)
	}
	if from.IsZero() {
		return 0, fmt.Errorf("replay: version %d has no %s time yet", v.Number, policyName(cfg.ReplayPolicy))
	}
	return max(0, from.Add(-time.Duration(cfg.HybridRewind)).UnixMilli()), nil
}

func policyName(p string) string {
	if p == "" {
		return api.ReplayFromEndOfPush
	}
	return p
}

// NextRewindStart is the rewind start a push finishing at now would get:
// now minus the rewind. A dry run plans with it.
func NextRewindStart(cfg api.StoreConfig, now time.Time) (int64, error) {
	if cfg.HybridRewind <= 0 {
		return 0, ErrNotHybrid
	}
	return max(0, now.Add(-time.Duration(cfg.HybridRewind)).UnixMilli()), nil
}

// Source is one region's RT topic as listed at one moment: per RT
// partition, the offset of the rewind start (the first record at or after
// it, or the end when there is none), the log-start offset (what
// retention left) and the end offset.
type Source struct {
	Region   string
	RegionID int32
	Topic    string
	Start    map[int32]int64
	LogStart map[int32]int64
	End      map[int32]int64
}

// ListSource lists a region's RT topic for a rewind start (ms since the
// epoch) with rtoffsets.List: the end, the log start, then the rewind
// start's offset. Missing topics and partition errors fail.
func ListSource(ctx context.Context, adm *kadm.Client, region string, regionID int32, topic string, rewindStart int64) (Source, error) {
	l, err := rtoffsets.List(ctx, adm, topic, rewindStart)
	if errors.Is(err, rtoffsets.ErrNoTopic) {
		return Source{}, fmt.Errorf("replay: region %s: RT %w", region, err)
	}
	if err != nil {
		return Source{}, fmt.Errorf("replay: region %s: %w", region, err)
	}
	return Source{Region: region, RegionID: regionID, Topic: topic, Start: l.Start, LogStart: l.LogStart, End: l.End}, nil
}

// Available reports whether an RT partition still holds everything from
// the rewind start: nothing was ever deleted (log start 0), or a retained
// record precedes the rewind start's (start > log start), so whatever
// retention removed was older. When the first retained record is already
// at or after the rewind start and records before it are gone, the
// deleted ones may have been inside the window: not available. (kfake,
// like Kafka, never lists an offset below the log start for a timestamp,
// so start ≥ log start always holds and equality is the doubtful case.)
func Available(start, logStart int64) bool { return logStart == 0 || start > logStart }

// Plan is the dry run of a replay from rewindStart over the listed
// sources: per RT partition of every region, the rewind start's offset,
// the end, the records to replay and whether they are all still there.
// Complete is false when any partition is not Available. Partitions are
// ordered by region, then partition.
func Plan(store string, rewindStart int64, sources []Source) api.ReplayPlan {
	plan := api.ReplayPlan{Store: store, RewindStart: rewindStart, Complete: true}
	for _, s := range sources {
		for _, p := range sortedKeys(s.End) {
			start, end := s.Start[p], s.End[p]
			pp := api.PartitionPlan{
				Region: s.Region, Partition: p, StartOffset: start, EndOffset: end,
				Records: max(0, end-start), Available: Available(start, s.LogStart[p]),
			}
			plan.Records += pp.Records
			plan.Complete = plan.Complete && pp.Available
			plan.Partitions = append(plan.Partitions, pp)
		}
	}
	return plan
}

// Region is one region's admin client, for PlanStore.
type Region struct {
	Name  string
	ID    int32
	Admin *kadm.Client
}

// PlanStore lists the store's RT topic in every region and plans a replay
// from rewindStart (NextRewindStart for the next push).
func PlanStore(ctx context.Context, st api.Store, rewindStart int64, regions []Region) (api.ReplayPlan, error) {
	if st.RTTopic == "" {
		return api.ReplayPlan{}, fmt.Errorf("replay: store %s has no RT topic: %w", st.Name, ErrNotHybrid)
	}
	var sources []Source
	for _, r := range regions {
		s, err := ListSource(ctx, r.Admin, r.Name, r.ID, st.RTTopic, rewindStart)
		if err != nil {
			return api.ReplayPlan{}, err
		}
		sources = append(sources, s)
	}
	return Plan(st.Name, rewindStart, sources), nil
}

// Lag is the bookkeeping of one RT partition replayed into one partition
// of a version — the seeds' "start of buffer replay" arithmetic: replay
// began at Start, the replicas have processed up to Next, the RT topic
// ends at End; Replayed = Next − Start of Total = End − Start, Remaining =
// End − Next.
type Lag struct {
	Region    string
	RegionID  int32
	Partition int32
	Start     int64
	Next      int64
	End       int64
	Total     int64
	Replayed  int64
	Remaining int64
	// Started: a replica of the partition leads it (and so consumes the
	// RT topic) or has processed some of it.
	Started bool
}

// NewLag computes the arithmetic for one RT partition; next below start
// (nothing processed yet) counts from start, and an end below next (the
// end was listed before the replicas reported) leaves nothing remaining.
func NewLag(start, next, end int64) Lag {
	next = max(next, start)
	end = max(end, start)
	return Lag{Start: start, Next: next, End: end, Total: end - start,
		Replayed: min(next, end) - start, Remaining: max(0, end-next)}
}

// Lags computes the replay bookkeeping of every partition of a version
// (partitions 0..partitions-1) against every source, from the statuses its
// replicas reported (statuses of other versions are ignored; with several
// replicas, Next is the furthest one). Ordered by partition, then source.
func Lags(store string, version, partitions int32, statuses []server.PartitionStatus, sources []Source) []Lag {
	byPart := replicas(store, version, statuses)
	var out []Lag
	for p := range partitions {
		for _, s := range sources {
			next, started := int64(-1), false
			for _, st := range byPart[p] {
				started = started || st.Leader
				for _, u := range st.Upstream {
					if u.Region == s.RegionID && u.Partition == p {
						next, started = max(next, u.Offset), true
					}
				}
			}
			l := NewLag(s.Start[p], next, s.End[p])
			l.Region, l.RegionID, l.Partition, l.Started = s.Region, s.RegionID, p, started
			out = append(out, l)
		}
	}
	return out
}

func replicas(store string, version int32, statuses []server.PartitionStatus) map[int32][]server.PartitionStatus {
	out := map[int32][]server.PartitionStatus{}
	for _, st := range statuses {
		if st.Store == store && st.Version == version {
			out[st.Partition] = append(out[st.Partition], st)
		}
	}
	return out
}

// Status decides whether version v of st is ready to serve (ARCHITECTURE
// invariant 5), from the statuses of the replicas in one serving region
// and the RT sources that region's leaders replay (its own for a
// single-region store, every region's for an active-active one). A
// partition is ready to serve when
//
//  1. some replica reports ReadyToServe (end-of-push consumed, caught up
//     with the version topic, not failed), and
//  2. for a hybrid store: replay has started — a replica leads the
//     partition or has processed RT records — and the remaining RT records
//     summed over the sources are at most st.Config.HybridOffsetLag.
//
// Without sources (RT offsets not listed), the leaders' own ReplayLag
// stands in for Remaining. The version is Ready when every partition of
// 0..v.Partitions-1 is. Failed names the first failed replica, if any.
func Status(st api.Store, v api.Version, region string, statuses []server.PartitionStatus, sources []Source, regionNames map[int32]string) (rs api.ReplayStatus, failed string) {
	rs = api.ReplayStatus{Store: st.Name, Version: v.Number, RewindStart: v.RewindStart, Ready: true}
	byPart := replicas(st.Name, v.Number, statuses)
	lags := map[int32][]Lag{}
	for _, l := range Lags(st.Name, v.Number, v.Partitions, statuses, sources) {
		lags[l.Partition] = append(lags[l.Partition], l)
	}
	hybrid := Hybrid(st)
	for p := range v.Partitions {
		pr := api.PartitionReplay{Region: region, Partition: p, Lag: map[string]int64{}}
		var served, leader bool
		for _, r := range byPart[p] {
			if r.Failed != "" && failed == "" {
				failed = fmt.Sprintf("partition %d: %s", p, r.Failed)
			}
			pr.EndOfPush = pr.EndOfPush || r.EndOfPush
			served = served || r.ReadyToServe
			leader = leader || r.Leader
			if len(sources) == 0 && r.Leader {
				for id, lag := range r.ReplayLag {
					name := regionNames[id]
					if name == "" {
						name = fmt.Sprint(id)
					}
					pr.Lag[name] = max(pr.Lag[name], lag)
				}
			}
		}
		pr.ReadyToServe = served
		if hybrid {
			started := leader
			for _, l := range lags[p] {
				pr.Lag[l.Region] = l.Remaining
				started = started || l.Started
			}
			var total int64
			for _, n := range pr.Lag {
				total += n
			}
			pr.ReadyToServe = served && started && total <= st.Config.HybridOffsetLag
		}
		rs.Ready = rs.Ready && pr.ReadyToServe
		rs.Partitions = append(rs.Partitions, pr)
	}
	if v.Partitions <= 0 {
		rs.Ready = false
	}
	return rs, failed
}

func sortedKeys(m map[int32]int64) []int32 {
	out := make([]int32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
