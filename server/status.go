package server

import (
	"sync"
	"sync/atomic"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/server/storage"
)

// partitionStats is what any goroutine may read about a replica while its
// owner ingests: progress, readiness, faults and the value codec reads use.
// The owner publishes after every commit, so readers never see progress
// that is not durable.
type partitionStats struct {
	records       atomic.Int64
	bytes         atomic.Int64 // version-topic key and value bytes consumed (since start)
	offset        atomic.Int64 // next version-topic offset to consume
	highWatermark atomic.Int64 // version-topic end offset last seen
	endOfPush     atomic.Bool
	compacted     atomic.Bool // the bulk load is compacted (see ingester.compactLoaded)
	failed        atomic.Pointer[string]
	codec         atomic.Pointer[valuecomp.Codec]
	faults        [div.NumVerdicts]atomic.Int64

	leader  atomic.Bool
	skipped atomic.Int64 // RT records a leader could not resolve

	mu       sync.Mutex
	upstream []storage.UpstreamOffset
	rtLag    map[int32]regionLag
}

type regionLag struct{ end, next int64 }

// setRTLag records a source region's RT end offset and, when next >= 0,
// the next offset to replay.
func (s *partitionStats) setRTLag(region int32, end, next int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rtLag == nil {
		s.rtLag = map[int32]regionLag{}
	}
	l := s.rtLag[region]
	l.end = max(l.end, end)
	if next >= 0 {
		l.next = next
	}
	s.rtLag[region] = l
}

func (s *partitionStats) divFault(v div.Verdict) {
	if int(v) < len(s.faults) {
		s.faults[v].Add(1)
	}
}

func (s *partitionStats) setUpstream(u []storage.UpstreamOffset) {
	s.mu.Lock()
	s.upstream = append(s.upstream[:0], u...)
	s.mu.Unlock()
}

// Upstream returns the processed upstream offsets (next offset to consume
// per source region and RT partition).
func (s *partitionStats) Upstream() []storage.UpstreamOffset {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]storage.UpstreamOffset(nil), s.upstream...)
}

// PartitionStatus is a snapshot of one replica, as the server reports it.
type PartitionStatus struct {
	Store     string `json:"store"`
	Version   int32  `json:"version"`
	Partition int32  `json:"partition"`
	Topic     string `json:"topic"`
	// Offset is the next version-topic offset to consume; Lag is how far
	// behind the topic's end it is.
	Offset int64 `json:"offset"`
	Lag    int64 `json:"lag"`
	// Records counts applied puts and deletes.
	Records int64 `json:"records"`
	// Bytes counts version-topic bytes (keys and values) consumed since the
	// server started.
	Bytes     int64 `json:"bytes"`
	EndOfPush bool  `json:"endOfPush"`
	// Compacted: the batch data loaded before end-of-push has been
	// compacted into one level, so a read consults one table per key.
	// Done once, right after end-of-push is committed.
	Compacted bool `json:"compacted"`
	// Failed says why ingestion stopped, if it did.
	Failed string `json:"failed,omitempty"`
	// Upstream is the processed RT position per (region, RT partition): a
	// write at an earlier offset is readable here.
	Upstream []storage.UpstreamOffset `json:"upstream,omitempty"`
	// Leader is set while this server leads the partition; ReplayLag is then
	// how many RT records each source region has that are not replayed yet.
	Leader    bool            `json:"leader,omitempty"`
	ReplayLag map[int32]int64 `json:"replayLag,omitempty"`
	// Skipped counts RT records the leader could not resolve (bad input).
	Skipped int64 `json:"skipped,omitempty"`
	// Faults counts data integrity faults by kind.
	Faults map[string]int64 `json:"faults,omitempty"`
	// ReadyToServe: end-of-push seen and the bulk load compacted, caught up
	// with the version topic, not failed.
	ReadyToServe bool `json:"readyToServe"`
}

func (s *partitionStats) snapshot(id storage.PartitionID, topic string) PartitionStatus {
	st := PartitionStatus{
		Store: id.Store, Version: id.Version, Partition: id.Partition, Topic: topic,
		Offset: s.offset.Load(), Records: s.records.Load(), Bytes: s.bytes.Load(), EndOfPush: s.endOfPush.Load(),
		Compacted: s.compacted.Load(),
		Upstream:  s.Upstream(),
	}
	if hw := s.highWatermark.Load(); hw > st.Offset {
		st.Lag = hw - st.Offset
	}
	st.Leader, st.Skipped = s.leader.Load(), s.skipped.Load()
	s.mu.Lock()
	for region, l := range s.rtLag {
		if st.ReplayLag == nil {
			st.ReplayLag = map[int32]int64{}
		}
		st.ReplayLag[region] = max(0, l.end-l.next)
	}
	s.mu.Unlock()
	if st.Leader {
		st.Lag = 0 // a leader writes the version topic; it is its own end
	}
	if f := s.failed.Load(); f != nil {
		st.Failed = *f
	}
	for _, v := range div.Verdicts() {
		if n := s.faults[v].Load(); n > 0 && v != div.OK {
			if st.Faults == nil {
				st.Faults = map[string]int64{}
			}
			st.Faults[v.String()] = n
		}
	}
	st.ReadyToServe = st.EndOfPush && st.Compacted && st.Failed == "" && st.Lag == 0
	return st
}
