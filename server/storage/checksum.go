package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// View is a consistent read-only view of one partition: a Pebble snapshot,
// so its records, RMD, chunks and checkpoint all belong to one committed
// state even while the partition is being written. Not safe for concurrent
// use; Close it (a snapshot pins what it sees from compaction).
type View struct {
	p    PartitionID
	snap *pebble.Snapshot
	key  []byte // scratch
}

// View opens a view of partition p.
func (db *DB) View(p PartitionID) (*View, error) {
	if err := validStore(p.Store); err != nil {
		return nil, err
	}
	return &View{p: p, snap: db.pdb.NewSnapshot()}, nil
}

// Close releases the snapshot. It is safe to call twice.
func (v *View) Close() error {
	if v.snap == nil {
		return nil
	}
	err := v.snap.Close()
	v.snap = nil
	return err
}

// Partition is the partition the view reads.
func (v *View) Partition() PartitionID { return v.p }

// Checkpoint returns the checkpoint the view's data is at, and whether one
// exists.
func (v *View) Checkpoint() (Checkpoint, bool, error) {
	b, ok, err := getRaw(v.snap, appendKey(nil, v.p, spaceCheckpoint, nil))
	if err != nil || !ok {
		return Checkpoint{}, ok, err
	}
	c, err := decodeCheckpoint(b)
	return c, err == nil, err
}

// GetChunk returns a chunk by its Kafka chunk key.
func (v *View) GetChunk(chunkKey []byte) ([]byte, bool, error) {
	v.key = appendKey(v.key[:0], v.p, spaceChunk, chunkKey)
	return getRaw(v.snap, v.key)
}

// Entry is what the view holds for one key: its value record, its RMD, or
// both. Key, Record.Value and RMD.Data are valid only during the callback.
type Entry struct {
	Key       []byte
	Record    Record
	HasRecord bool
	RMD       RMD
	HasRMD    bool
}

// Each calls fn for every key that has a value record (tombstones
// included) or replication metadata, in ascending key order, pairing the
// two. Chunk records and the checkpoint are not entries. An error from fn
// stops the walk and is returned.
func (v *View) Each(fn func(e *Entry) error) error {
	vlo := appendKey(nil, v.p, spaceValue, nil)
	rlo := appendKey(nil, v.p, spaceRMD, nil)
	vit, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: vlo, UpperBound: prefixEnd(vlo)})
	if err != nil {
		return err
	}
	defer vit.Close()
	rit, err := v.snap.NewIter(&pebble.IterOptions{LowerBound: rlo, UpperBound: prefixEnd(rlo)})
	if err != nil {
		return err
	}
	defer rit.Close()

	vok, rok := vit.First(), rit.First()
	var e Entry
	for vok || rok {
		e = Entry{}
		var vkey, rkey []byte
		if vok {
			vkey = vit.Key()[len(vlo):]
		}
		if rok {
			rkey = rit.Key()[len(rlo):]
		}
		c := 0 // which sides hold the smallest key: -1 value only, 1 RMD only, 0 both
		switch {
		case !rok:
			c = -1
		case !vok:
			c = 1
		default:
			c = bytes.Compare(vkey, rkey)
		}
		if c <= 0 {
			b, err := vit.ValueAndErr()
			if err != nil {
				return err
			}
			if len(b) < 5 {
				return fmt.Errorf("%w: %s key %x: value record of %d bytes", ErrCorruptRecord, v.p, vkey, len(b))
			}
			e.Key, e.HasRecord = vkey, true
			e.Record = Record{SchemaID: int32(binary.BigEndian.Uint32(b)), Flags: Flags(b[4]), Value: b[5:]}
		}
		if c >= 0 {
			b, err := rit.ValueAndErr()
			if err != nil {
				return err
			}
			if len(b) < 4 {
				return fmt.Errorf("%w: %s key %x: rmd of %d bytes", ErrCorruptRecord, v.p, rkey, len(b))
			}
			e.Key, e.HasRMD = rkey, true
			e.RMD = RMD{Version: int32(binary.BigEndian.Uint32(b)), Data: b[4:]}
		}
		if err := fn(&e); err != nil {
			return err
		}
		if c <= 0 {
			vok = vit.Next()
		}
		if c >= 0 {
			rok = rit.Next()
		}
	}
	if err := vit.Error(); err != nil {
		return err
	}
	return rit.Error()
}
