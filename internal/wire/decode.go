package wire

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// Decode parses a record value. Byte slices in the result alias b.
func Decode(b []byte) (*Envelope, error) {
	e := new(Envelope)
	if err := DecodeInto(e, b); err != nil {
		return nil, err
	}
	return e, nil
}

// DecodeInto parses a record value into e, which it resets first. Byte
// slices in e alias b. On error e holds no meaningful data.
func DecodeInto(e *Envelope, b []byte) (err error) {
	e.Reset()
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes, too short for a header", ErrMalformed, len(b))
	}
	if b[0] != Magic {
		return fmt.Errorf("%w: magic byte 0x%02x, want 0x%02x", ErrMalformed, b[0], Magic)
	}
	if b[1] != ProtocolVersion {
		return fmt.Errorf("%w: protocol version %d, this build reads %d", ErrMalformed, b[1], ProtocolVersion)
	}
	d := decoder{b: b, off: 2}
	d.envelope(e)
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d trailing bytes", len(d.b)-d.off)
	}
	return d.err
}

// decoder reads Avro binary; the first error sticks and every later read
// returns zero values, so the parsing code reads straight through.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) long() int64 {
	if d.err != nil {
		return 0
	}
	var u uint64
	var shift uint
	for i := 0; ; i++ {
		if d.off >= len(d.b) {
			d.fail("truncated varint")
			return 0
		}
		c := d.b[d.off]
		d.off++
		if i == 9 && c > 1 {
			d.fail("varint overflows 64 bits")
			return 0
		}
		u |= uint64(c&0x7f) << shift
		if c < 0x80 {
			break
		}
		shift += 7
	}
	return int64(u>>1) ^ -int64(u&1)
}

func (d *decoder) int() int32 {
	v := d.long()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.fail("int %d out of range", v)
		return 0
	}
	return int32(v)
}

func (d *decoder) bool() bool {
	if d.err != nil {
		return false
	}
	if d.off >= len(d.b) {
		d.fail("truncated boolean")
		return false
	}
	c := d.b[d.off]
	d.off++
	if c > 1 {
		d.fail("boolean byte %d", c)
	}
	return c == 1
}

func (d *decoder) bytes() []byte {
	n := d.long()
	if d.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(d.b)-d.off) {
		d.fail("length %d exceeds the %d bytes left", n, len(d.b)-d.off)
		return nil
	}
	out := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return out
}

func (d *decoder) string() string {
	b := d.bytes()
	if d.err == nil && !utf8.Valid(b) {
		d.fail("string is not UTF-8")
	}
	return string(b)
}

// branch reads a union branch index and checks it is below n.
func (d *decoder) branch(n int64) int64 {
	v := d.long()
	if d.err == nil && (v < 0 || v >= n) {
		d.fail("union branch %d of %d", v, n)
	}
	return v
}

// blockCount reads an array block count; a negative count is followed by the
// block's byte size, which we do not need. Each element takes at least
// minElem bytes, which bounds counts by what is left.
func (d *decoder) blockCount(minElem int) int {
	n := d.long()
	if d.err != nil {
		return 0
	}
	if n < 0 {
		if n == math.MinInt64 {
			d.fail("array block count overflows")
			return 0
		}
		n = -n
		d.long() // block size in bytes
	}
	if n > int64(len(d.b)-d.off)/int64(minElem) {
		d.fail("array block of %d elements exceeds the %d bytes left", n, len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func (d *decoder) envelope(e *Envelope) {
	t := d.int()
	if d.err == nil && (t < int32(TypePut) || t > int32(TypeChunk)) {
		d.fail("unknown message type %d", t)
		return
	}
	e.Type = MessageType(t)
	p := &e.Producer
	if d.err == nil {
		if len(d.b)-d.off < 16 {
			d.fail("truncated producer GUID")
			return
		}
		copy(p.GUID[:], d.b[d.off:])
		d.off += 16
	}
	p.Segment = d.int()
	p.Sequence = d.int()
	p.ProducerTimestamp = d.long()
	if d.branch(2) == 1 {
		p.HasLogicalTimestamp = true
		p.LogicalTimestamp = d.long()
	}
	if br := d.branch(5); d.err == nil && br != int64(e.Type) {
		d.fail("payload branch %d does not match message type %s", br, e.Type)
		return
	}
	switch e.Type {
	case TypePut:
		e.Put.SchemaID = d.int()
		e.Put.Value = d.bytes()
		e.Put.RMD = d.rmd()
		if d.branch(2) == 1 {
			m := &ChunkManifest{}
			for n := d.blockCount(1); n > 0 && d.err == nil; n = d.blockCount(1) {
				for i := 0; i < n; i++ {
					m.ChunkKeys = append(m.ChunkKeys, d.bytes())
				}
			}
			m.Size = d.long()
			e.Put.Chunks = m
		}
	case TypeDelete:
		e.Delete.SchemaID = d.int()
		e.Delete.RMD = d.rmd()
	case TypeUpdate:
		e.Update.SchemaID = d.int()
		e.Update.UpdateSchemaID = d.int()
		e.Update.Update = d.bytes()
	case TypeControl:
		d.control(&e.Control)
	case TypeChunk:
		e.Chunk.Index = d.int()
		e.Chunk.Data = d.bytes()
	}
	if d.branch(2) == 1 {
		e.Leader = &Leader{
			UpstreamRegion:    d.int(),
			UpstreamPartition: d.int(),
			UpstreamOffset:    d.long(),
			LeaderTerm:        d.long(),
		}
	}
}

func (d *decoder) rmd() *RMD {
	if d.branch(2) == 0 || d.err != nil {
		return nil
	}
	return &RMD{Version: d.int(), Data: d.bytes()}
}

func (d *decoder) control(c *Control) {
	t := d.int()
	if d.err == nil && (t < int32(ControlStartOfPush) || t > int32(ControlVersionSwap)) {
		d.fail("unknown control type %d", t)
		return
	}
	c.Type = ControlType(t)
	if br := d.branch(8); d.err == nil && br != int64(c.Type) {
		d.fail("control body branch %d does not match control type %s", br, c.Type)
		return
	}
	switch c.Type {
	case ControlStartOfPush:
		s := &c.StartOfPush
		s.Sorted = d.bool()
		s.Chunked = d.bool()
		s.Compression = Compression(d.int())
		if d.branch(2) == 1 {
			s.Dictionary = d.bytes()
			if s.Dictionary == nil && d.err == nil {
				s.Dictionary = []byte{}
			}
		}
	case ControlEndOfPush:
	case ControlStartOfSegment:
		c.StartOfSegment.ChecksumType = ChecksumType(d.int())
	case ControlEndOfSegment:
		s := &c.EndOfSegment
		s.ChecksumType = ChecksumType(d.int())
		s.ChecksumValue = d.bytes()
		s.Final = d.bool()
	case ControlStartOfIncrementalPush, ControlEndOfIncrementalPush:
		c.IncrementalPush.PushID = d.string()
	case ControlTopicSwitch:
		t := &c.TopicSwitch
		// A source takes at least 3 bytes: region, name length, brokers count.
		for n := d.blockCount(3); n > 0 && d.err == nil; n = d.blockCount(3) {
			for i := 0; i < n && d.err == nil; i++ {
				s := SourceRegion{Region: d.int(), Name: d.string()}
				for m := d.blockCount(1); m > 0 && d.err == nil; m = d.blockCount(1) {
					for j := 0; j < m; j++ {
						s.Brokers = append(s.Brokers, d.string())
					}
				}
				t.Sources = append(t.Sources, s)
			}
		}
		t.Topic = d.string()
		t.RewindStart = d.long()
	case ControlVersionSwap:
		c.VersionSwap.OldVersion = d.int()
		c.VersionSwap.NewVersion = d.int()
	}
}
