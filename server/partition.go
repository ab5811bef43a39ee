package server

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server/storage"
)

// errPartitionFailed stops ingestion of a partition whose version-topic data
// cannot be trusted (a gap or corruption before end-of-push).
var errPartitionFailed = errors.New("partition ingestion failed")

// replica is one server's copy of one version partition: the checkpointed
// ingestion state plus what is derived from it (validator, value codec).
// One goroutine owns a replica at a time.
type replica struct {
	id    storage.PartitionID
	topic string
	ck    storage.Checkpoint
	div   *div.Validator
	codec *valuecomp.Codec // from start-of-push; nil means values are not compressed
	log   *slog.Logger
	stats *partitionStats

	// compactionLag is how long after being written a version-topic record
	// may be removed by compaction (the topic's min.compaction.lag.ms). A
	// sequence gap in records older than that is what compaction leaves,
	// not data loss.
	compactionLag time.Duration
	now           func() time.Time

	env wire.Envelope // scratch, reused per record

	compacting bool // the post-push compaction was started (ingester.compactLoaded)
}

// loadReplica restores a replica from its checkpoint, or starts it empty.
func loadReplica(db *storage.DB, id storage.PartitionID, topic string, log *slog.Logger, stats *partitionStats, compactionLag time.Duration) (*replica, error) {
	r := &replica{id: id, topic: topic, div: div.New(0), log: log.With("partition", id.String()), stats: stats, compactionLag: compactionLag, now: time.Now}
	ck, ok, err := db.Checkpoint(id)
	if err != nil {
		return nil, fmt.Errorf("server: %s: %w", id, err)
	}
	if ok {
		r.ck = ck
		if len(ck.DIV) > 0 {
			if err := r.div.UnmarshalBinary(ck.DIV); err != nil {
				return nil, fmt.Errorf("server: %s: validator state: %w", id, err)
			}
		}
		if err := r.openCodec(); err != nil {
			return nil, err
		}
	}
	stats.endOfPush.Store(r.ck.EndOfPush)
	// A checkpoint past end-of-push was compacted by an earlier run (or,
	// if that run died mid-compaction, reads are slower until Pebble's own
	// compactions catch up: correct either way, so not redone).
	stats.compacted.Store(r.ck.EndOfPush)
	r.compacting = r.ck.EndOfPush
	r.published() // what the checkpoint says is durable: readers may see it
	return r, nil
}

func (r *replica) openCodec() error {
	// The old codec is not closed here: a concurrent read may still hold
	// it. A codec used only through whole-value calls starts no goroutines,
	// so dropping it is enough.
	r.codec = nil
	sop := r.ck.StartOfPush
	if sop == nil || sop.Compression == wire.CompressionNone {
		r.stats.codec.Store(nil)
		return nil
	}
	c, err := valuecomp.New(sop.Compression, sop.Dictionary)
	if err != nil {
		return fmt.Errorf("server: %s: start-of-push compression: %w", r.id, err)
	}
	r.codec = c
	r.stats.codec.Store(c)
	return nil
}

// applyVT applies one version-topic record to the batch and advances the
// checkpoint past it. It returns errPartitionFailed once the partition has
// failed; the checkpoint then records why, and nothing more is applied.
func (r *replica) applyVT(b *storage.Batch, key, value []byte, offset int64, ts time.Time) error {
	if r.ck.Failed != "" {
		return errPartitionFailed
	}
	r.ck.Offset = offset + 1
	if err := wire.DecodeInto(&r.env, value); err != nil {
		r.stats.divFault(div.Corrupt)
		if !r.ck.EndOfPush {
			r.ck.Failed = fmt.Sprintf("offset %d: undecodable record: %v", offset, err)
			r.log.Error("version topic record does not decode; ingestion of this partition stops", "offset", offset, "err", err)
			return errPartitionFailed
		}
		r.log.Warn("version topic record does not decode; skipped", "offset", offset, "err", err)
		return nil
	}
	if r.ck.IsFenced(r.env.Producer.GUID) {
		// A leader run a failed produce stopped; the next run redid its
		// batch (Checkpoint.Fenced).
		return nil
	}
	res := div.Result{Verdict: div.OK}
	if !r.ck.IsOwnProducer(r.env.Producer.GUID) {
		res = r.div.Validate(key, value, &r.env)
	}
	if res.Verdict != div.OK {
		r.stats.divFault(res.Verdict)
		if !r.tolerate(res, ts) {
			r.ck.Failed = fmt.Sprintf("offset %d: %s: %s", offset, res.Verdict, res.Reason)
			r.log.Error("version topic data cannot be trusted; ingestion of this partition stops", "offset", offset, "verdict", res.Verdict.String(), "reason", res.Reason)
			return errPartitionFailed
		}
		if r.ck.DIVFaults == nil {
			r.ck.DIVFaults = map[string]int64{}
		}
		r.ck.DIVFaults[res.Verdict.String()]++
		if res.Verdict != div.Duplicate {
			r.log.Warn("data integrity fault after end-of-push", "offset", offset, "verdict", res.Verdict.String(), "reason", res.Reason)
		}
	}
	if res.Drop() {
		return nil
	}
	e := &r.env
	rk, err := wire.ParseKey(key)
	if err != nil {
		r.stats.divFault(div.Corrupt)
		r.log.Warn("record key unreadable; skipped", "offset", offset, "err", err)
		return nil
	}
	if e.Leader != nil {
		r.ck.SetUpstream(e.Leader.UpstreamRegion, e.Leader.UpstreamPartition, e.Leader.UpstreamOffset+1)
		r.ck.LeaderTerm = max(r.ck.LeaderTerm, e.Leader.LeaderTerm)
	}
	switch e.Type {
	case wire.TypePut:
		rec := storage.Record{SchemaID: e.Put.SchemaID, Value: e.Put.Value}
		if m := e.Put.Chunks; m != nil {
			rec.Flags = storage.FlagChunked
			rec.Value = storage.AppendManifest(nil, m.Size, m.ChunkKeys)
		}
		if err := b.Put(rk.Key, rec); err != nil {
			return err
		}
		if e.Put.RMD != nil {
			if err := b.PutRMD(rk.Key, storage.RMD{Version: e.Put.RMD.Version, Data: e.Put.RMD.Data}); err != nil {
				return err
			}
		}
		r.ck.Records++
	case wire.TypeDelete:
		if e.Delete.RMD != nil {
			// Keep a tombstone: its timestamps make older writes lose.
			if err := b.Put(rk.Key, storage.Record{SchemaID: e.Delete.SchemaID, Flags: storage.FlagTombstone}); err != nil {
				return err
			}
			if err := b.PutRMD(rk.Key, storage.RMD{Version: e.Delete.RMD.Version, Data: e.Delete.RMD.Data}); err != nil {
				return err
			}
		} else if err := b.Delete(rk.Key); err != nil {
			return err
		}
		r.ck.Records++
	case wire.TypeChunk:
		if err := b.PutChunk(key, e.Chunk.Data); err != nil {
			return err
		}
	case wire.TypeUpdate:
		// Invariant 3: version topics never hold updates. Count and skip
		// rather than apply something no leader resolved.
		r.stats.divFault(div.Corrupt)
		r.log.Error("partial update found in a version topic; skipped", "offset", offset)
	case wire.TypeControl:
		if err := r.applyControl(&e.Control); err != nil {
			return err
		}
	}
	return nil
}

// tolerate decides whether a fault lets ingestion go on. Duplicates are
// always dropped. After end-of-push faults are counted and logged, never
// fatal: the data was already served. Before it, a gap in records older than
// the compaction lag is compaction's doing; anything else fails the
// partition so that a broken push never becomes current.
func (r *replica) tolerate(res div.Result, ts time.Time) bool {
	switch {
	case res.Verdict == div.Duplicate:
		return true
	case r.ck.EndOfPush:
		return true
	case (res.Verdict == div.Missing || res.Verdict == div.Unregistered) && r.compactionLag > 0 && r.now().Sub(ts) > r.compactionLag:
		return true
	}
	return false
}

func (r *replica) applyControl(c *wire.Control) error {
	switch c.Type {
	case wire.ControlStartOfPush:
		s := c.StartOfPush
		r.ck.StartOfPush = &storage.PushInfo{Sorted: s.Sorted, Chunked: s.Chunked, Compression: s.Compression, Dictionary: append([]byte(nil), s.Dictionary...)}
		if err := r.openCodec(); err != nil {
			r.ck.Failed = err.Error()
			return errPartitionFailed
		}
	case wire.ControlEndOfPush:
		r.ck.EndOfPush = true
		r.stats.endOfPush.Store(true)
	case wire.ControlTopicSwitch:
		t := c.TopicSwitch
		sources := make([]wire.SourceRegion, len(t.Sources))
		for i, s := range t.Sources {
			sources[i] = wire.SourceRegion{Region: s.Region, Name: s.Name, Brokers: append([]string(nil), s.Brokers...)}
		}
		r.ck.TopicSwitch = &storage.TopicSwitch{Sources: sources, Topic: t.Topic, RewindStart: t.RewindStart}
	}
	return nil
}

// checkpoint writes the replica's checkpoint into the batch that holds the
// data it covers (invariant 4).
func (r *replica) checkpoint(b *storage.Batch) error {
	st, err := r.div.MarshalBinary()
	if err != nil {
		return err
	}
	r.ck.DIV = st
	return b.SetCheckpoint(&r.ck)
}

// published copies what others may read about the replica after a commit.
func (r *replica) published() {
	r.stats.records.Store(r.ck.Records)
	r.stats.offset.Store(r.ck.Offset)
	r.stats.setUpstream(r.ck.Upstream)
	if r.ck.Failed != "" {
		r.stats.failed.Store(&r.ck.Failed)
	}
}
