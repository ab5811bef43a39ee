package wire

import (
	"errors"
	"fmt"
)

// ErrChunk is wrapped by every error Reassemble returns: a chunk that is
// missing, out of place, or whose sizes do not add up to the manifest's.
var ErrChunk = errors.New("wire: bad chunked value")

// ChunkLookup returns the decoded chunk stored under a chunk record key, or
// ok == false when no such record was seen. The returned chunk's Data may
// alias the caller's storage; Reassemble copies it.
type ChunkLookup func(chunkKey []byte) (c Chunk, ok bool, err error)

// Reassemble appends to dst the (still compressed) value a chunk manifest
// describes, fetching each chunk with lookup. It checks that every chunk
// exists, that chunk i of the manifest is a chunk record with index i, and
// that the pieces add up to the manifest's size; any failure returns an
// error wrapping ErrChunk and dst unchanged.
//
// A writer puts a large value as chunk records followed by a put whose
// manifest lists their keys (see the package doc), all in the same
// partition, so a consumer that keeps the chunk records it has seen for a
// partition (the server keeps them in its store) can rebuild the value when
// the manifest arrives.
func Reassemble(dst []byte, m *ChunkManifest, lookup ChunkLookup) ([]byte, error) {
	if m == nil {
		return dst, fmt.Errorf("%w: no manifest", ErrChunk)
	}
	if m.Size < 0 {
		return dst, fmt.Errorf("%w: negative size %d", ErrChunk, m.Size)
	}
	start := len(dst)
	var got int64
	for i, k := range m.ChunkKeys {
		rk, err := ParseKey(k)
		if err != nil {
			return dst[:start], fmt.Errorf("%w: chunk %d: %w", ErrChunk, i, err)
		}
		if rk.Kind != KeyChunk || rk.ChunkIndex != int32(i) {
			return dst[:start], fmt.Errorf("%w: manifest entry %d is a %s key with index %d", ErrChunk, i, rk.Kind, rk.ChunkIndex)
		}
		c, ok, err := lookup(k)
		if err != nil {
			return dst[:start], fmt.Errorf("%w: chunk %d: %w", ErrChunk, i, err)
		}
		if !ok {
			return dst[:start], fmt.Errorf("%w: chunk %d of %d (segment %d, sequence %d) is missing", ErrChunk, i, len(m.ChunkKeys), rk.Segment, rk.Sequence)
		}
		if c.Index != int32(i) {
			return dst[:start], fmt.Errorf("%w: chunk %d carries index %d", ErrChunk, i, c.Index)
		}
		got += int64(len(c.Data))
		if got > m.Size {
			return dst[:start], fmt.Errorf("%w: chunks exceed the manifest's %d bytes", ErrChunk, m.Size)
		}
		if i == 0 {
			dst = growBytes(dst, int(m.Size))
		}
		dst = append(dst, c.Data...)
	}
	if got != m.Size {
		return dst[:start], fmt.Errorf("%w: chunks hold %d bytes, manifest says %d", ErrChunk, got, m.Size)
	}
	return dst, nil
}

// growBytes makes room for n more bytes in one allocation.
func growBytes(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	nb := make([]byte, len(b), len(b)+n)
	copy(nb, b)
	return nb
}
