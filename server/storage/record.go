package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Flags describe a stored value record.
type Flags uint8

const (
	FlagTombstone Flags = 0x01 // deleted; kept for its replication metadata
	FlagChunked   Flags = 0x02 // Value holds a chunk manifest, not the value
	// FlagRaw marks a value stored uncompressed whatever the version's
	// compression: a leader stores what it resolved before the writer
	// compressed it for the version topic, so it never pays to decompress
	// its own writes again.
	FlagRaw Flags = 0x04
)

// Record is a stored value.
type Record struct {
	SchemaID int32
	Flags    Flags
	// Value is the value as the version topic carried it (compressed per the
	// version's start-of-push), or an encoded chunk manifest when FlagChunked.
	Value []byte
}

// Tombstone reports whether the record is a delete.
func (r Record) Tombstone() bool { return r.Flags&FlagTombstone != 0 }

// ErrCorruptRecord is returned for stored bytes this package did not write.
var ErrCorruptRecord = errors.New("storage: corrupt stored record")

func appendRecord(dst []byte, r Record) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.SchemaID))
	dst = append(dst, byte(r.Flags))
	return append(dst, r.Value...)
}

func parseRecord(b []byte) (Record, error) {
	r, err := parseRecordInPlace(b)
	r.Value = append([]byte(nil), r.Value...)
	return r, err
}

// parseRecordInPlace is parseRecord with the value aliasing b.
func parseRecordInPlace(b []byte) (Record, error) {
	if len(b) < 5 {
		return Record{}, fmt.Errorf("%w: %d bytes", ErrCorruptRecord, len(b))
	}
	return Record{
		SchemaID: int32(binary.BigEndian.Uint32(b)),
		Flags:    Flags(b[4]),
		Value:    b[5:],
	}, nil
}

// RMD is stored replication metadata.
type RMD struct {
	Version int32
	Data    []byte
}

func appendRMD(dst []byte, r RMD) []byte {
	return append(binary.BigEndian.AppendUint32(dst, uint32(r.Version)), r.Data...)
}

func parseRMD(b []byte) (RMD, error) {
	if len(b) < 4 {
		return RMD{}, fmt.Errorf("%w: rmd of %d bytes", ErrCorruptRecord, len(b))
	}
	return RMD{Version: int32(binary.BigEndian.Uint32(b)), Data: append([]byte(nil), b[4:]...)}, nil
}

// AppendManifest encodes chunk keys for a chunked value record.
func AppendManifest(dst []byte, size int64, chunkKeys [][]byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(size))
	dst = binary.AppendUvarint(dst, uint64(len(chunkKeys)))
	for _, k := range chunkKeys {
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
	}
	return dst
}

// ParseManifest decodes what AppendManifest wrote.
func ParseManifest(b []byte) (size int64, chunkKeys [][]byte, err error) {
	s, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, nil, fmt.Errorf("%w: manifest size", ErrCorruptRecord)
	}
	b = b[n:]
	count, n := binary.Uvarint(b)
	if n <= 0 || count > uint64(len(b)) {
		return 0, nil, fmt.Errorf("%w: manifest count", ErrCorruptRecord)
	}
	b = b[n:]
	for i := uint64(0); i < count; i++ {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return 0, nil, fmt.Errorf("%w: manifest key %d", ErrCorruptRecord, i)
		}
		chunkKeys = append(chunkKeys, b[n:n+int(l)])
		b = b[n+int(l):]
	}
	if len(b) != 0 {
		return 0, nil, fmt.Errorf("%w: %d bytes after the manifest", ErrCorruptRecord, len(b))
	}
	return int64(s), chunkKeys, nil
}
