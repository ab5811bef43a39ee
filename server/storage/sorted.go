package storage

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// SortedReader reads keys of one partition in ascending order through one
// iterator: each read seeks forward from the previous position instead of
// descending the LSM from the top as Get does. For a batch of 5 000 keys
// among 1 M it took 12.9 ms against 21 ms for Get calls (one goroutine,
// shared machine). The values it returns are copies in its Arena, valid
// after Close until the arena is reset. Not safe for concurrent use; Close
// it.
type SortedReader struct {
	p     PartitionID
	it    *pebble.Iterator
	key   []byte
	last  []byte
	arena *Arena
}

// ErrUnsorted is returned when SortedReader is asked for a key below the
// previous one.
var ErrUnsorted = errors.New("storage: sorted reader keys must ascend")

// NewSortedReader opens a reader over partition p's values that copies
// them into arena (a new one if nil).
func (db *DB) NewSortedReader(p PartitionID, arena *Arena) (*SortedReader, error) {
	lower := appendKey(nil, p, spaceValue, nil)
	it, err := db.pdb.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: prefixEnd(lower)})
	if err != nil {
		return nil, err
	}
	if arena == nil {
		arena = &Arena{}
	}
	return &SortedReader{p: p, it: it, arena: arena}, nil
}

// Get reads key, which must not be below the previous key read.
func (r *SortedReader) Get(key []byte) (Record, bool, error) {
	if r.last != nil && bytes.Compare(key, r.last) < 0 {
		return Record{}, false, ErrUnsorted
	}
	r.last = append(r.last[:0], key...)
	r.key = appendKey(r.key[:0], r.p, spaceValue, key)
	if !r.it.SeekGE(r.key) || !bytes.Equal(r.it.Key(), r.key) {
		return Record{}, false, r.it.Error()
	}
	v, err := r.it.ValueAndErr()
	if err != nil {
		return Record{}, false, err
	}
	rec, err := parseRecordInPlace(r.arena.Copy(v))
	if err != nil {
		return Record{}, false, fmt.Errorf("%s key %x: %w", r.p, key, err)
	}
	return rec, true, nil
}

// Close releases the iterator.
func (r *SortedReader) Close() error { return r.it.Close() }
