package wire

import (
	"encoding/binary"
	"hash/crc32"
)

// ChecksumType names the checksum an end-of-segment carries.
type ChecksumType int32

const (
	ChecksumNone   ChecksumType = 0
	ChecksumCRC32C ChecksumType = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// SegmentChecksum accumulates the checksum of one segment: CRC32-C over the
// key and value bytes of every record the producer wrote to the partition
// after the start-of-segment and before the end-of-segment, in order. Both
// the writer and the validator compute it the same way.
type SegmentChecksum struct{ crc uint32 }

// Add folds one record into the checksum.
func (c *SegmentChecksum) Add(key, value []byte) {
	var lens [8]byte
	// Lengths go in too, so that moving a byte from key to value is caught.
	binary.BigEndian.PutUint32(lens[:4], uint32(len(key)))
	binary.BigEndian.PutUint32(lens[4:], uint32(len(value)))
	c.crc = crc32.Update(c.crc, castagnoli, lens[:])
	c.crc = crc32.Update(c.crc, castagnoli, key)
	c.crc = crc32.Update(c.crc, castagnoli, value)
}

// Sum returns the checksum as the 4 big-endian bytes end-of-segment carries.
func (c *SegmentChecksum) Sum() []byte {
	return binary.BigEndian.AppendUint32(nil, c.crc)
}

// Value returns the checksum as a number.
func (c *SegmentChecksum) Value() uint32 { return c.crc }

// Reset starts a new segment.
func (c *SegmentChecksum) Reset() { c.crc = 0 }

// SegmentChecksumFrom resumes a checksum from a Value saved in a checkpoint.
func SegmentChecksumFrom(v uint32) SegmentChecksum { return SegmentChecksum{crc: v} }
