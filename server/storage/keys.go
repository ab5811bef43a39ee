package storage

import (
	"encoding/binary"
	"fmt"
	"math"
)

// PartitionID names one partition of one version of one store.
type PartitionID struct {
	Store     string
	Version   int32
	Partition int32
}

func (p PartitionID) String() string {
	return fmt.Sprintf("%s_v%d/%d", p.Store, p.Version, p.Partition)
}

const (
	spaceValue      = 'v'
	spaceRMD        = 'r'
	spaceChunk      = 'c'
	spaceCheckpoint = 'k'
)

func appendStorePrefix(dst []byte, store string) []byte {
	dst = append(dst, 0x01)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(store)))
	return append(dst, store...)
}

func appendVersionPrefix(dst []byte, store string, version int32) []byte {
	return binary.BigEndian.AppendUint32(appendStorePrefix(dst, store), uint32(version))
}

func appendPrefix(dst []byte, p PartitionID) []byte {
	return binary.BigEndian.AppendUint32(appendVersionPrefix(dst, p.Store, p.Version), uint32(p.Partition))
}

func appendKey(dst []byte, p PartitionID, space byte, key []byte) []byte {
	return append(append(appendPrefix(dst, p), space), key...)
}

// validStore reports whether a store name fits the layout.
func validStore(s string) error {
	if s == "" || len(s) > math.MaxUint16 {
		return fmt.Errorf("storage: store name of %d bytes", len(s))
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil // every byte 0xff: no upper bound
}
