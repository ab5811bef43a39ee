package div

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"

	"github.com/rialtodb/rialto/internal/wire"
)

// Verdict classifies one record.
type Verdict uint8

const (
	OK Verdict = iota
	Duplicate
	Missing
	Corrupt
	Unregistered
)

var verdictNames = [...]string{"ok", "duplicate", "missing", "corrupt", "unregistered"}

func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", v)
}

// NumVerdicts is how many verdicts there are.
const NumVerdicts = 5

// Verdicts lists every verdict, for metrics labels.
func Verdicts() []Verdict { return []Verdict{OK, Duplicate, Missing, Corrupt, Unregistered} }

// Result is the verdict on one record, with what the caller needs to log it.
type Result struct {
	Verdict  Verdict
	Producer wire.GUID
	Segment  int32
	Sequence int32
	// Reason says what was wrong, for every verdict but OK.
	Reason string
	// SegmentEnded is set on an end-of-segment; Final when it was final.
	SegmentEnded, Final bool
	// Undecodable is set (with Corrupt) when the value did not decode.
	Undecodable bool
}

// Drop reports whether the record must not be applied: duplicates and
// undecodable records are dropped. Records after a gap are kept: they are
// real data, and the gap is what is reported.
func (r Result) Drop() bool {
	return r.Verdict == Duplicate || r.Undecodable
}

// DefaultMaxProducers bounds the producers one Validator tracks.
const DefaultMaxProducers = 4096

// Validator follows the records of one partition. It is not safe for
// concurrent use; one ingestion task owns it.
type Validator struct {
	maxProducers int
	producers    map[wire.GUID]*producerState
	clock        uint64 // advances per record, orders eviction by recency
}

type producerState struct {
	segment  int32
	sequence int32 // last sequence accepted in segment
	crc      wire.SegmentChecksum
	ended    bool // the segment's end-of-segment was seen
	final    bool // … and it was final
	gapped   bool // a gap was seen in this segment: its checksum is moot
	lastSeen uint64
}

// New returns a validator tracking at most maxProducers producers
// (DefaultMaxProducers when maxProducers <= 0).
func New(maxProducers int) *Validator {
	if maxProducers <= 0 {
		maxProducers = DefaultMaxProducers
	}
	return &Validator{maxProducers: maxProducers, producers: make(map[wire.GUID]*producerState)}
}

// ValidateRecord decodes a Kafka record's value and validates it. A value
// that does not decode is Corrupt and Undecodable (Drop reports true); it
// changes no state. The decoded envelope is returned for the caller to
// apply when the verdict allows.
func (v *Validator) ValidateRecord(key, value []byte, e *wire.Envelope) Result {
	if err := wire.DecodeInto(e, value); err != nil {
		return Result{Verdict: Corrupt, Undecodable: true, Reason: err.Error()}
	}
	return v.Validate(key, value, e)
}

// Validate classifies a record whose value decoded into e. key and value are
// the raw Kafka bytes (they feed the segment checksum).
func (v *Validator) Validate(key, value []byte, e *wire.Envelope) Result {
	p := &e.Producer
	r := Result{Producer: p.GUID, Segment: p.Segment, Sequence: p.Sequence}
	isStart := e.Type == wire.TypeControl && e.Control.Type == wire.ControlStartOfSegment
	isEnd := e.Type == wire.TypeControl && e.Control.Type == wire.ControlEndOfSegment
	v.clock++

	st, known := v.producers[p.GUID]
	if !known {
		if !isStart || p.Sequence != 0 {
			r.Verdict = Unregistered
			r.Reason = fmt.Sprintf("first record of producer %s is %s at segment %d sequence %d, not a start-of-segment", p.GUID, describe(e), p.Segment, p.Sequence)
			// Track it from here so that one unregistered producer is
			// reported once and its later records are checked.
			v.put(p.GUID, &producerState{segment: p.Segment, sequence: p.Sequence, gapped: true, lastSeen: v.clock})
			return r
		}
		v.put(p.GUID, &producerState{segment: p.Segment, sequence: 0, lastSeen: v.clock})
		return r
	}
	st.lastSeen = v.clock

	switch {
	case p.Segment < st.segment:
		r.Verdict = Duplicate
		r.Reason = fmt.Sprintf("segment %d is older than the current segment %d", p.Segment, st.segment)
		return r
	case p.Segment > st.segment:
		// A new segment. It must begin with its start at sequence 0; a
		// skipped segment in between is not a fault (see guarantee 3 for
		// abandoned ones), but a missing start is.
		*st = producerState{segment: p.Segment, lastSeen: v.clock}
		if !isStart || p.Sequence != 0 {
			st.sequence, st.gapped = p.Sequence, true
			r.Verdict = Missing
			r.Reason = fmt.Sprintf("segment %d starts at sequence %d with %s; its start-of-segment was lost", p.Segment, p.Sequence, describe(e))
		}
		return r
	}

	// Same segment.
	switch {
	case p.Sequence <= st.sequence || (st.ended && p.Sequence > st.sequence):
		if st.ended && p.Sequence > st.sequence {
			r.Verdict = Missing
			r.Reason = fmt.Sprintf("sequence %d after the end of segment %d", p.Sequence, p.Segment)
			return r
		}
		r.Verdict = Duplicate
		r.Reason = fmt.Sprintf("sequence %d already seen (last %d) in segment %d", p.Sequence, st.sequence, p.Segment)
		return r
	case p.Sequence > st.sequence+1:
		r.Verdict = Missing
		r.Reason = fmt.Sprintf("sequence jumps from %d to %d in segment %d: %d records lost", st.sequence, p.Sequence, p.Segment, p.Sequence-st.sequence-1)
		st.gapped = true
	}
	st.sequence = p.Sequence
	if !isEnd {
		st.crc.Add(key, value)
		return r
	}
	eos := &e.Control.EndOfSegment
	st.ended, st.final = true, eos.Final
	r.SegmentEnded, r.Final = true, eos.Final
	if r.Verdict == OK && !st.gapped && eos.ChecksumType == wire.ChecksumCRC32C && !bytes.Equal(eos.ChecksumValue, st.crc.Sum()) {
		r.Verdict = Corrupt
		r.Reason = fmt.Sprintf("segment %d checksum %x, computed %x", p.Segment, eos.ChecksumValue, st.crc.Sum())
	}
	return r
}

func describe(e *wire.Envelope) string {
	if e.Type == wire.TypeControl {
		return e.Control.Type.String()
	}
	return e.Type.String()
}

// put adds a producer, evicting one when the limit is reached.
func (v *Validator) put(g wire.GUID, st *producerState) {
	if len(v.producers) >= v.maxProducers {
		var victim wire.GUID
		var best *producerState
		for id, s := range v.producers {
			// Prefer producers that closed; among equals the least recent.
			if best == nil || (s.final && !best.final) || (s.final == best.final && s.lastSeen < best.lastSeen) {
				victim, best = id, s
			}
		}
		delete(v.producers, victim)
	}
	v.producers[g] = st
}

// Producers returns how many producers are tracked.
func (v *Validator) Producers() int { return len(v.producers) }

// stateVersion is the first byte of MarshalBinary's output.
const stateVersion = 1

// ErrBadState is returned by UnmarshalBinary for bytes it did not write.
var ErrBadState = errors.New("div: malformed validator state")

const producerStateSize = 16 + 4 + 4 + 4 + 1 + 8

// MarshalBinary serializes the validator's state for a checkpoint, in a
// deterministic order (by producer GUID).
func (v *Validator) MarshalBinary() ([]byte, error) {
	ids := make([]wire.GUID, 0, len(v.producers))
	for id := range v.producers {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	out := make([]byte, 0, 1+4+8+len(ids)*producerStateSize)
	out = append(out, stateVersion)
	out = binary.BigEndian.AppendUint32(out, uint32(v.maxProducers))
	out = binary.BigEndian.AppendUint64(out, v.clock)
	for _, id := range ids {
		s := v.producers[id]
		out = append(out, id[:]...)
		out = binary.BigEndian.AppendUint32(out, uint32(s.segment))
		out = binary.BigEndian.AppendUint32(out, uint32(s.sequence))
		out = binary.BigEndian.AppendUint32(out, s.crc.Value())
		var flags byte
		if s.ended {
			flags |= 1
		}
		if s.final {
			flags |= 2
		}
		if s.gapped {
			flags |= 4
		}
		out = append(out, flags)
		out = binary.BigEndian.AppendUint64(out, s.lastSeen)
	}
	return out, nil
}

// UnmarshalBinary restores a state written by MarshalBinary.
func (v *Validator) UnmarshalBinary(b []byte) error {
	if len(b) < 13 || b[0] != stateVersion || (len(b)-13)%producerStateSize != 0 {
		return fmt.Errorf("%w: %d bytes", ErrBadState, len(b))
	}
	max := int(binary.BigEndian.Uint32(b[1:]))
	n := (len(b) - 13) / producerStateSize
	if max <= 0 || n > max {
		return fmt.Errorf("%w: %d producers, limit %d", ErrBadState, n, max)
	}
	producers := make(map[wire.GUID]*producerState, n)
	for rest := b[13:]; len(rest) > 0; rest = rest[producerStateSize:] {
		var id wire.GUID
		copy(id[:], rest)
		flags := rest[28]
		if flags > 7 {
			return fmt.Errorf("%w: flags %d", ErrBadState, flags)
		}
		producers[id] = &producerState{
			segment:  int32(binary.BigEndian.Uint32(rest[16:])),
			sequence: int32(binary.BigEndian.Uint32(rest[20:])),
			crc:      wire.SegmentChecksumFrom(binary.BigEndian.Uint32(rest[24:])),
			ended:    flags&1 != 0,
			final:    flags&2 != 0,
			gapped:   flags&4 != 0,
			lastSeen: binary.BigEndian.Uint64(rest[29:]),
		}
	}
	if len(producers) != n {
		return fmt.Errorf("%w: a producer appears twice", ErrBadState)
	}
	v.maxProducers, v.clock, v.producers = max, binary.BigEndian.Uint64(b[5:]), producers
	return nil
}
