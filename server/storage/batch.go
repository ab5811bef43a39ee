package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Batch collects the writes of one partition and the checkpoint that covers
// them. Reads through the batch see its own writes. Not safe for concurrent
// use.
type Batch struct {
	db      *DB
	p       PartitionID
	b       *pebble.Batch
	indexed bool
	key     []byte // scratch
	val     []byte // scratch
}

// NewBatch starts a batch for partition p whose reads see its own writes
// (a leader resolving writes needs that).
func (db *DB) NewBatch(p PartitionID) (*Batch, error) {
	if err := validStore(p.Store); err != nil {
		return nil, err
	}
	return &Batch{db: db, p: p, b: db.pdb.NewIndexedBatch(), indexed: true}, nil
}

// NewWriteOnlyBatch starts a batch that cannot be read from; it is cheaper
// to build (no index), which is what a follower applying a version topic
// wants. Its Get methods return ErrWriteOnly.
func (db *DB) NewWriteOnlyBatch(p PartitionID) (*Batch, error) {
	if err := validStore(p.Store); err != nil {
		return nil, err
	}
	return &Batch{db: db, p: p, b: db.pdb.NewBatch()}, nil
}

// ErrWriteOnly is returned by reads through a write-only batch.
var ErrWriteOnly = errors.New("storage: read through a write-only batch")

// Partition is the partition the batch writes.
func (b *Batch) Partition() PartitionID { return b.p }

// Put stores a value record (replacing any tombstone).
func (b *Batch) Put(key []byte, r Record) error {
	b.key = appendKey(b.key[:0], b.p, spaceValue, key)
	b.val = appendRecord(b.val[:0], r)
	return b.b.Set(b.key, b.val, nil)
}

// PutRMD stores replication metadata beside a value.
func (b *Batch) PutRMD(key []byte, r RMD) error {
	b.key = appendKey(b.key[:0], b.p, spaceRMD, key)
	b.val = appendRMD(b.val[:0], r)
	return b.b.Set(b.key, b.val, nil)
}

// Delete removes a value and its RMD entirely (no tombstone kept). Stores
// with replication metadata keep tombstones with Put(FlagTombstone) instead.
func (b *Batch) Delete(key []byte) error {
	b.key = appendKey(b.key[:0], b.p, spaceValue, key)
	if err := b.b.Delete(b.key, nil); err != nil {
		return err
	}
	b.key = appendKey(b.key[:0], b.p, spaceRMD, key)
	return b.b.Delete(b.key, nil)
}

// PutChunk stores one chunk of a large value under its Kafka chunk key.
func (b *Batch) PutChunk(chunkKey, data []byte) error {
	b.key = appendKey(b.key[:0], b.p, spaceChunk, chunkKey)
	return b.b.Set(b.key, data, nil)
}

// DeleteChunk removes a chunk.
func (b *Batch) DeleteChunk(chunkKey []byte) error {
	b.key = appendKey(b.key[:0], b.p, spaceChunk, chunkKey)
	return b.b.Delete(b.key, nil)
}

// Get reads a value record, seeing the batch's own writes.
func (b *Batch) Get(key []byte) (Record, bool, error) {
	if !b.indexed {
		return Record{}, false, ErrWriteOnly
	}
	return getRecord(b.b, appendKey(nil, b.p, spaceValue, key))
}

// GetRMD reads replication metadata, seeing the batch's own writes.
func (b *Batch) GetRMD(key []byte) (RMD, bool, error) {
	if !b.indexed {
		return RMD{}, false, ErrWriteOnly
	}
	return getRMD(b.b, appendKey(nil, b.p, spaceRMD, key))
}

// GetChunk reads a chunk, seeing the batch's own writes.
func (b *Batch) GetChunk(chunkKey []byte) ([]byte, bool, error) {
	if !b.indexed {
		return nil, false, ErrWriteOnly
	}
	return getRaw(b.b, appendKey(nil, b.p, spaceChunk, chunkKey))
}

// SetCheckpoint records where ingestion stands once this batch is committed.
func (b *Batch) SetCheckpoint(c *Checkpoint) error {
	v, err := encodeCheckpoint(c)
	if err != nil {
		return fmt.Errorf("storage: %s: encode checkpoint: %w", b.p, err)
	}
	return b.b.Set(appendKey(nil, b.p, spaceCheckpoint, nil), v, nil)
}

// Len is the batch's size in bytes.
func (b *Batch) Len() int { return b.b.Len() }

// Count is the number of writes in the batch.
func (b *Batch) Count() uint32 { return b.b.Count() }

// Commit applies the batch atomically and closes it.
func (b *Batch) Commit() error {
	defer b.b.Close()
	if err := b.b.Commit(b.db.wopts); err != nil {
		return fmt.Errorf("storage: %s: commit: %w", b.p, err)
	}
	return nil
}

// Discard drops the batch without applying it.
func (b *Batch) Discard() { b.b.Close() }
