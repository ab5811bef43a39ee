package wire

import (
	"errors"
	"fmt"
)

// Magic and ProtocolVersion open every record value.
const (
	Magic           byte = 0x52 // 'R'
	ProtocolVersion byte = 1
)

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("wire: malformed record")

// GUID identifies one producer (one writer instance) for data integrity
// validation.
type GUID [16]byte

func (g GUID) String() string { return fmt.Sprintf("%x", g[:]) }

// MessageType is the kind of an envelope and the branch of its payload union.
type MessageType int32

const (
	TypePut     MessageType = 0
	TypeDelete  MessageType = 1
	TypeUpdate  MessageType = 2
	TypeControl MessageType = 3
	TypeChunk   MessageType = 4
)

func (t MessageType) String() string {
	switch t {
	case TypePut:
		return "put"
	case TypeDelete:
		return "delete"
	case TypeUpdate:
		return "update"
	case TypeControl:
		return "control"
	case TypeChunk:
		return "chunk"
	}
	return fmt.Sprintf("type(%d)", int32(t))
}

// ControlType is the kind of a control message and the branch of its body.
type ControlType int32

const (
	ControlStartOfPush            ControlType = 0
	ControlEndOfPush              ControlType = 1
	ControlStartOfSegment         ControlType = 2
	ControlEndOfSegment           ControlType = 3
	ControlStartOfIncrementalPush ControlType = 4
	ControlEndOfIncrementalPush   ControlType = 5
	ControlTopicSwitch            ControlType = 6
	ControlVersionSwap            ControlType = 7
)

var controlNames = [...]string{
	"start-of-push", "end-of-push", "start-of-segment", "end-of-segment",
	"start-of-incremental-push", "end-of-incremental-push", "topic-switch", "version-swap",
}

func (t ControlType) String() string {
	if t >= 0 && int(t) < len(controlNames) {
		return controlNames[t]
	}
	return fmt.Sprintf("control(%d)", int32(t))
}

// Compression names how put values of a version are compressed.
type Compression int32

const (
	CompressionNone     Compression = 0
	CompressionGzip     Compression = 1
	CompressionZstd     Compression = 2
	CompressionZstdDict Compression = 3
)

var compressionNames = [...]string{"none", "gzip", "zstd", "zstd-dict"}

func (c Compression) String() string {
	if c >= 0 && int(c) < len(compressionNames) {
		return compressionNames[c]
	}
	return fmt.Sprintf("compression(%d)", int32(c))
}

// ParseCompression parses "none", "gzip", "zstd" or "zstd-dict".
func ParseCompression(s string) (Compression, error) {
	for i, n := range compressionNames {
		if n == s {
			return Compression(i), nil
		}
	}
	return 0, fmt.Errorf("unknown compression %q (want none, gzip, zstd or zstd-dict)", s)
}

// Producer is the data integrity metadata every record carries.
type Producer struct {
	GUID              GUID
	Segment           int32
	Sequence          int32
	ProducerTimestamp int64 // the producer's clock, ms since the epoch
	// LogicalTimestamp orders the write when HasLogicalTimestamp is set.
	LogicalTimestamp    int64
	HasLogicalTimestamp bool
}

// Timestamp is the timestamp that orders the write: the logical one when
// given, otherwise the producer's clock.
func (p *Producer) Timestamp() int64 {
	if p.HasLogicalTimestamp {
		return p.LogicalTimestamp
	}
	return p.ProducerTimestamp
}

// RMD is serialized replication metadata riding with a put or delete.
type RMD struct {
	Version int32 // RMD protocol version
	Data    []byte
}

// ChunkManifest replaces a put's value when the value was split into chunks.
type ChunkManifest struct {
	ChunkKeys [][]byte // Kafka record keys of the chunks, in order
	Size      int64    // total size of the (compressed) value
}

// Put writes a whole value.
type Put struct {
	SchemaID int32
	Value    []byte // empty when Chunks is set
	RMD      *RMD
	Chunks   *ChunkManifest
}

// Delete removes a value.
type Delete struct {
	SchemaID int32 // the value schema the RMD was derived from; 0 without RMD
	RMD      *RMD
}

// Update is a partial update: the update bytes are written in the update
// schema derived from the value schema.
type Update struct {
	SchemaID       int32
	UpdateSchemaID int32
	Update         []byte
}

// Chunk is one piece of a large value.
type Chunk struct {
	Index int32
	Data  []byte
}

// StartOfPush opens a batch push into a version topic.
type StartOfPush struct {
	Sorted      bool
	Chunked     bool
	Compression Compression
	Dictionary  []byte // zstd dictionary when Compression is CompressionZstdDict
}

// StartOfSegment opens a segment of one producer in one partition.
type StartOfSegment struct {
	ChecksumType ChecksumType
}

// EndOfSegment closes a segment. Final is set when the producer closed.
type EndOfSegment struct {
	ChecksumType  ChecksumType
	ChecksumValue []byte
	Final         bool
}

// IncrementalPush brackets an incremental push through the RT topic.
type IncrementalPush struct {
	PushID string
}

// SourceRegion is one region whose RT topic a leader consumes after a topic switch.
type SourceRegion struct {
	Region  int32
	Name    string
	Brokers []string
}

// TopicSwitch tells the leaders of a version to start consuming RT topics
// from RewindStart (ms since the epoch).
type TopicSwitch struct {
	Sources     []SourceRegion
	Topic       string
	RewindStart int64
}

// VersionSwap marks the moment a store's current version changed.
type VersionSwap struct {
	OldVersion int32
	NewVersion int32
}

// Control is a control message; the field matching Type is the body.
type Control struct {
	Type            ControlType
	StartOfPush     StartOfPush
	StartOfSegment  StartOfSegment
	EndOfSegment    EndOfSegment
	IncrementalPush IncrementalPush // start or end of incremental push
	TopicSwitch     TopicSwitch
	VersionSwap     VersionSwap
}

// Leader is the footer a leader adds when it produces a resolved RT write to
// a version topic: where the write came from.
type Leader struct {
	UpstreamRegion    int32
	UpstreamPartition int32
	UpstreamOffset    int64
	LeaderTerm        int64
}

// Envelope is one decoded record value. The payload field matching Type is
// meaningful; the others are zero.
type Envelope struct {
	Type     MessageType
	Producer Producer
	Put      Put
	Delete   Delete
	Update   Update
	Control  Control
	Chunk    Chunk
	Leader   *Leader
}

// Reset clears e for reuse with DecodeInto.
func (e *Envelope) Reset() { *e = Envelope{} }
