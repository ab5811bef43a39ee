package wire

import (
	"encoding/binary"
	"fmt"
)

// KeyKind is the first byte of every Kafka record key Rialto writes.
type KeyKind byte

const (
	KeyData    KeyKind = 0x00 // puts and deletes: one compaction key per user key
	KeyUpdate  KeyKind = 0x01 // partial updates (RT topics only)
	KeyControl KeyKind = 0x02 // control messages: unique per producer/segment/sequence
	KeyChunk   KeyKind = 0x03 // chunks of a large value: unique, never compacted away
)

func (k KeyKind) String() string {
	switch k {
	case KeyData:
		return "data"
	case KeyUpdate:
		return "update"
	case KeyControl:
		return "control"
	case KeyChunk:
		return "chunk"
	}
	return fmt.Sprintf("kind(0x%02x)", byte(k))
}

const (
	controlKeyLen = 1 + 16 + 4 + 4
	chunkKeyHead  = 1 + 16 + 4 + 4 + 4
)

// AppendDataKey appends the key of a put or delete of key.
func AppendDataKey(dst, key []byte) []byte {
	return append(append(dst, byte(KeyData)), key...)
}

// AppendUpdateKey appends the key of a partial update of key.
func AppendUpdateKey(dst, key []byte) []byte {
	return append(append(dst, byte(KeyUpdate)), key...)
}

// AppendControlKey appends the key of a control message.
func AppendControlKey(dst []byte, guid GUID, segment, sequence int32) []byte {
	dst = append(dst, byte(KeyControl))
	dst = append(dst, guid[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(segment))
	return binary.BigEndian.AppendUint32(dst, uint32(sequence))
}

// AppendChunkKey appends the key of chunk index of a value of key.
func AppendChunkKey(dst []byte, guid GUID, segment, sequence, index int32, key []byte) []byte {
	dst = append(dst, byte(KeyChunk))
	dst = append(dst, guid[:]...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(segment))
	dst = binary.BigEndian.AppendUint32(dst, uint32(sequence))
	dst = binary.BigEndian.AppendUint32(dst, uint32(index))
	return append(dst, key...)
}

// RecordKey is a parsed Kafka record key.
type RecordKey struct {
	Kind KeyKind
	// Key is the serialized user key (data, update and chunk keys); it
	// aliases the parsed bytes.
	Key []byte
	// GUID, Segment and Sequence identify a control or chunk record.
	GUID     GUID
	Segment  int32
	Sequence int32
	// ChunkIndex is the position of a chunk in its value.
	ChunkIndex int32
}

// ParseKey parses a Kafka record key written by Rialto.
func ParseKey(b []byte) (RecordKey, error) {
	if len(b) == 0 {
		return RecordKey{}, fmt.Errorf("%w: empty record key", ErrMalformed)
	}
	k := RecordKey{Kind: KeyKind(b[0])}
	switch k.Kind {
	case KeyData, KeyUpdate:
		k.Key = b[1:]
	case KeyControl:
		if len(b) != controlKeyLen {
			return RecordKey{}, fmt.Errorf("%w: control key of %d bytes, want %d", ErrMalformed, len(b), controlKeyLen)
		}
		copy(k.GUID[:], b[1:17])
		k.Segment = int32(binary.BigEndian.Uint32(b[17:]))
		k.Sequence = int32(binary.BigEndian.Uint32(b[21:]))
	case KeyChunk:
		if len(b) < chunkKeyHead {
			return RecordKey{}, fmt.Errorf("%w: chunk key of %d bytes, want at least %d", ErrMalformed, len(b), chunkKeyHead)
		}
		copy(k.GUID[:], b[1:17])
		k.Segment = int32(binary.BigEndian.Uint32(b[17:]))
		k.Sequence = int32(binary.BigEndian.Uint32(b[21:]))
		k.ChunkIndex = int32(binary.BigEndian.Uint32(b[25:]))
		k.Key = b[chunkKeyHead:]
	default:
		return RecordKey{}, fmt.Errorf("%w: unknown key kind 0x%02x", ErrMalformed, b[0])
	}
	return k, nil
}
