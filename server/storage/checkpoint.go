package storage

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/rialtodb/rialto/internal/wire"
)

// checkpointVersion is written into every checkpoint; a server refuses
// checkpoints from a newer layout rather than misreading them.
const checkpointVersion = 1

// Checkpoint is where ingestion of one partition stands. It is written in
// the same batch as the data it covers.
type Checkpoint struct {
	// Offset is the next version-topic offset to consume.
	Offset int64 `json:"offset"`
	// DIV is the serialized data integrity validator state.
	DIV []byte `json:"div,omitempty"`

	// StartOfPush is set once the version's start-of-push was consumed; it
	// says how values are compressed.
	StartOfPush *PushInfo `json:"startOfPush,omitempty"`
	// EndOfPush is set once end-of-push was consumed.
	EndOfPush bool `json:"endOfPush,omitempty"`
	// Failed holds why ingestion of this partition stopped (a gap or
	// corruption before end-of-push); empty while healthy.
	Failed string `json:"failed,omitempty"`

	// TopicSwitch is the last topic switch consumed: which RT topics the
	// leader replays and from when.
	TopicSwitch *TopicSwitch `json:"topicSwitch,omitempty"`
	// Upstream holds, per (source region, RT partition), the next RT offset
	// to consume: every RT record before it is applied in this partition.
	Upstream []UpstreamOffset `json:"upstream,omitempty"`
	// UpstreamDIV holds, per (source region, RT partition), the serialized
	// validator of the RT records a leader consumed.
	UpstreamDIV []UpstreamDIV `json:"upstreamDiv,omitempty"`
	// OwnProducers are the writer GUIDs this server used while leading the
	// partition (newest last, at most maxOwnProducers). Their records in the
	// version topic are already applied locally up to Offset; after Offset
	// they are applied without validation, since the validator never saw
	// their segment starts.
	OwnProducers []wire.GUID `json:"ownProducers,omitempty"`
	// Fenced are writer GUIDs of leader runs a failed produce stopped
	// (newest last, at most maxOwnProducers). Records produced after a
	// failed one may still have landed, so such a writer's records after
	// Offset are not a prefix of its work: their footers name RT offsets
	// past writes that were never applied. They are skipped; the next
	// leader run redoes the work from this checkpoint.
	Fenced []wire.GUID `json:"fenced,omitempty"`
	// LeaderTerm is the highest leader term seen in footers.
	LeaderTerm int64 `json:"leaderTerm,omitempty"`

	// Records counts data records applied (puts, deletes).
	Records int64 `json:"records"`
	// DIVFaults counts faults by verdict name after end-of-push.
	DIVFaults map[string]int64 `json:"divFaults,omitempty"`
}

// PushInfo is what a start-of-push announced.
type PushInfo struct {
	Sorted      bool             `json:"sorted,omitempty"`
	Chunked     bool             `json:"chunked,omitempty"`
	Compression wire.Compression `json:"compression"`
	Dictionary  []byte           `json:"dictionary,omitempty"`
}

// TopicSwitch is a consumed topic switch.
type TopicSwitch struct {
	Sources     []wire.SourceRegion `json:"sources"`
	Topic       string              `json:"topic"`
	RewindStart int64               `json:"rewindStart"`
}

// UpstreamOffset is the replay position in one RT partition of one region.
type UpstreamOffset struct {
	Region    int32 `json:"region"`
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
}

const maxOwnProducers = 16

// AddOwnProducer records a writer GUID this server leads with.
func (c *Checkpoint) AddOwnProducer(g wire.GUID) {
	for _, have := range c.OwnProducers {
		if have == g {
			return
		}
	}
	c.OwnProducers = append(c.OwnProducers, g)
	if len(c.OwnProducers) > maxOwnProducers {
		c.OwnProducers = c.OwnProducers[len(c.OwnProducers)-maxOwnProducers:]
	}
}

// IsOwnProducer reports whether g is one of OwnProducers.
func (c *Checkpoint) IsOwnProducer(g wire.GUID) bool {
	for _, have := range c.OwnProducers {
		if have == g {
			return true
		}
	}
	return false
}

// Fence records a writer GUID whose records after Offset are skipped.
func (c *Checkpoint) Fence(g wire.GUID) {
	if c.IsFenced(g) {
		return
	}
	c.Fenced = append(c.Fenced, g)
	if len(c.Fenced) > maxOwnProducers {
		c.Fenced = c.Fenced[len(c.Fenced)-maxOwnProducers:]
	}
}

// IsFenced reports whether g is one of Fenced.
func (c *Checkpoint) IsFenced(g wire.GUID) bool {
	for _, have := range c.Fenced {
		if have == g {
			return true
		}
	}
	return false
}

// UpstreamDIV is a leader's validator state for one RT partition.
type UpstreamDIV struct {
	Region    int32  `json:"region"`
	Partition int32  `json:"partition"`
	State     []byte `json:"state"`
}

// UpstreamOffset returns the next offset to consume for (region, partition),
// or -1 when none is recorded.
func (c *Checkpoint) UpstreamOffset(region, partition int32) int64 {
	for _, u := range c.Upstream {
		if u.Region == region && u.Partition == partition {
			return u.Offset
		}
	}
	return -1
}

// SetUpstream records the next offset to consume for (region, partition),
// keeping the list sorted so that equal checkpoints encode equally.
func (c *Checkpoint) SetUpstream(region, partition int32, next int64) {
	for i := range c.Upstream {
		if c.Upstream[i].Region == region && c.Upstream[i].Partition == partition {
			c.Upstream[i].Offset = next
			return
		}
	}
	c.Upstream = append(c.Upstream, UpstreamOffset{region, partition, next})
	sort.Slice(c.Upstream, func(i, j int) bool {
		a, b := c.Upstream[i], c.Upstream[j]
		return a.Region < b.Region || (a.Region == b.Region && a.Partition < b.Partition)
	})
}

// Clone returns a deep copy.
func (c *Checkpoint) Clone() Checkpoint {
	out := *c
	out.DIV = append([]byte(nil), c.DIV...)
	if c.StartOfPush != nil {
		p := *c.StartOfPush
		p.Dictionary = append([]byte(nil), p.Dictionary...)
		out.StartOfPush = &p
	}
	if c.TopicSwitch != nil {
		t := *c.TopicSwitch
		t.Sources = append([]wire.SourceRegion(nil), t.Sources...)
		out.TopicSwitch = &t
	}
	out.Upstream = append([]UpstreamOffset(nil), c.Upstream...)
	out.UpstreamDIV = append([]UpstreamDIV(nil), c.UpstreamDIV...)
	out.OwnProducers = append([]wire.GUID(nil), c.OwnProducers...)
	out.Fenced = append([]wire.GUID(nil), c.Fenced...)
	if c.DIVFaults != nil {
		out.DIVFaults = make(map[string]int64, len(c.DIVFaults))
		for k, v := range c.DIVFaults {
			out.DIVFaults[k] = v
		}
	}
	return out
}

type checkpointEnvelope struct {
	V int `json:"v"`
	Checkpoint
}

func encodeCheckpoint(c *Checkpoint) ([]byte, error) {
	return json.Marshal(checkpointEnvelope{V: checkpointVersion, Checkpoint: *c})
}

func decodeCheckpoint(b []byte) (Checkpoint, error) {
	var env checkpointEnvelope
	if err := json.Unmarshal(b, &env); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint: %v", ErrCorruptRecord, err)
	}
	if env.V != checkpointVersion {
		return Checkpoint{}, fmt.Errorf("%w: checkpoint layout %d, this build reads %d", ErrCorruptRecord, env.V, checkpointVersion)
	}
	return env.Checkpoint, nil
}
