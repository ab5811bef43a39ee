package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/div"
	"github.com/rialtodb/rialto/internal/rtoffsets"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

// leaderTask leads one version partition: after the version topic's topic
// switch it replays every source region's RT partition into the version,
// resolving each write against local state and producing the result to the
// version topic with a leader footer.
//
// Order of work for one polled RT batch (this is what keeps invariant 4
// with a leader): resolve every record into an indexed batch (later records
// of the batch see earlier results), produce the results, wait for the
// version topic to acknowledge them, then commit the batch together with
// the upstream offsets and the version-topic offset after the last
// acknowledged record. A crash before the commit loses the local batch but
// not the produced records: the next leader (or this one, restarted) first
// re-consumes the version topic as a follower, learning the upstream
// offsets from the leader footers, and resumes RT after them.
type leaderTask struct {
	s      *Server
	spec   VersionSpec
	id     storage.PartitionID
	stats  *partitionStats
	merger merger
	term   int64
	log    *slog.Logger
	// discard is set when the partition is being dropped (leaderHandle).
	discard *atomic.Bool
}

type rtBatch struct {
	region  int32
	hwm     int64
	records []*kgo.Record
}

// run leads until ctx ends or an error forces a restart from the
// checkpoint (the caller restarts it).
func (l *leaderTask) run(ctx context.Context) error {
	r, err := l.takeOver(ctx)
	if err != nil {
		return err
	}
	defer l.giveBack(r)
	l.stats.leader.Store(true)
	defer l.stats.leader.Store(false)

	sop := r.ck.StartOfPush
	wopts := []writer.Opt{
		writer.Brokers(l.s.cfg.Brokers...), writer.Topic(l.spec.Topic), writer.Kind(writer.KindVersion),
		writer.Partitions(l.spec.Partitions), writer.KafkaOpts(l.s.cfg.KafkaOpts...), writer.Logger(l.log),
	}
	if sop != nil && sop.Compression != wire.CompressionNone {
		wopts = append(wopts, writer.Compression(sop.Compression, sop.Dictionary))
	}
	vtw, err := writer.New(wopts...)
	if err != nil {
		return fmt.Errorf("leader %s: version topic writer: %w", l.id, err)
	}
	defer func() {
		// End the open segments, so the next leader's followers see
		// them final; not for a partition being dropped. On a healthy
		// cluster this takes milliseconds; the bound keeps a leader of a
		// deleted topic (whose version was just retired, before the plan
		// says so) from holding up the rebalance that stopped it. A
		// segment left open costs only DIV noise.
		wait := 3 * time.Second
		if l.discard != nil && l.discard.Load() {
			wait = 0
		}
		cctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		vtw.Close(cctx)
	}()

	r.ck.AddOwnProducer(vtw.GUID())
	ts := r.ck.TopicSwitch
	validators := map[int32]*div.Validator{}
	batches := make(chan rtBatch, 1) // one batch in hand per region: back-pressure
	var wg sync.WaitGroup
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer func() { stopPolling(); wg.Wait() }()
	for _, src := range ts.Sources {
		v := div.New(0)
		for _, st := range r.ck.UpstreamDIV {
			if st.Region == src.Region && st.Partition == l.id.Partition {
				if err := v.UnmarshalBinary(st.State); err != nil {
					return fmt.Errorf("leader %s: region %d validator: %w", l.id, src.Region, err)
				}
			}
		}
		validators[src.Region] = v
		next := r.ck.UpstreamOffset(src.Region, l.id.Partition)
		if next < 0 {
			if next, err = l.rewindOffset(ctx, src, ts.Topic, ts.RewindStart); err != nil {
				return err
			}
		}
		start := kgo.NewOffset().At(next)
		cl, err := kgo.NewClient(append([]kgo.Opt{
			kgo.SeedBrokers(l.s.regionBrokers(src)...),
			kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{ts.Topic: {l.id.Partition: start}}),
			kgo.FetchMaxWait(50 * time.Millisecond),
			noFetchSessions,
		}, l.s.cfg.KafkaOpts...)...)
		if err != nil {
			return fmt.Errorf("leader %s: region %d client: %w", l.id, src.Region, err)
		}
		wg.Add(1)
		go func(region int32) {
			defer wg.Done()
			defer cl.Close()
			for {
				fs := cl.PollRecords(pollCtx, l.s.cfg.MaxPollRecords)
				if pollCtx.Err() != nil {
					return
				}
				fs.EachError(func(t string, p int32, err error) {
					l.log.Warn("real-time fetch error", "region", region, "topic", t, "partition", p, "err", err)
				})
				fs.EachPartition(func(fp kgo.FetchTopicPartition) {
					l.stats.setRTLag(region, fp.HighWatermark, -1)
					if len(fp.Records) == 0 {
						return
					}
					select {
					case batches <- rtBatch{region: region, hwm: fp.HighWatermark, records: fp.Records}:
					case <-pollCtx.Done():
					}
				})
			}
		}(src.Region)
	}
	l.log.Info("leading", "sources", len(ts.Sources), "rewindStart", ts.RewindStart)

	for {
		select {
		case <-ctx.Done():
			return nil
		case b := <-batches:
			if err := l.apply(ctx, r, vtw, validators[b.region], b); err != nil {
				return err
			}
		}
	}
}

// takeOver waits until the follower has consumed the version topic's topic
// switch and caught up to its end, then takes the replica from the ingester.
func (l *leaderTask) takeOver(ctx context.Context) (*replica, error) {
	adm := kadm.NewClient(l.s.vt)
	for {
		ends, err := adm.ListEndOffsets(ctx, l.spec.Topic)
		if err == nil {
			if o, ok := ends.Lookup(l.spec.Topic, l.id.Partition); ok && o.Err == nil {
				r, err := l.s.in.handOver(ctx, l.id, l.spec.Topic, o.Offset)
				if err != nil {
					return nil, err
				}
				if r != nil {
					return r, nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// giveBack returns the partition to the ingester, which resumes it from the
// committed checkpoint as a follower.
func (l *leaderTask) giveBack(r *replica) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch err := l.s.in.adopt(ctx, l.id, l.spec.Topic, l.stats); {
	case err == nil, errors.Is(err, errIngesterStopped):
		// Stopped with the server: the checkpoint is where the next start
		// resumes, nothing to report.
	default:
		l.log.Error("cannot return the partition to follower ingestion", "err", err)
	}
}

// apply resolves one RT batch, produces the results and commits them.
func (l *leaderTask) apply(ctx context.Context, r *replica, vtw *writer.Writer, v *div.Validator, rb rtBatch) error {
	wb, err := l.s.db.NewWriteOnlyBatch(l.id)
	if err != nil {
		return err
	}
	b := newLeaderBatch(l.s.db, l.id, wb)
	var (
		mu      sync.Mutex
		lastVT  int64 = -1
		prodErr error
		env     wire.Envelope
	)
	ack := func(res writer.Result, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil && prodErr == nil {
			prodErr = err
		}
		if err == nil && res.Offset > lastVT {
			lastVT = res.Offset
		}
	}
	var last int64 = -1
	for _, rec := range rb.records {
		last = rec.Offset
		res := v.ValidateRecord(rec.Key, rec.Value, &env)
		if res.Verdict != div.OK {
			l.stats.divFault(res.Verdict)
			if res.Verdict != div.Duplicate {
				l.log.Warn("real-time data integrity fault", "region", rb.region, "offset", rec.Offset, "verdict", res.Verdict.String(), "reason", res.Reason)
			}
		}
		if res.Drop() {
			continue
		}
		if err := l.applyOne(ctx, b, r, vtw, rb.region, rec, &env, ack); err != nil {
			wb.Discard()
			return err
		}
	}
	if err := vtw.Flush(ctx); err != nil {
		wb.Discard()
		return fmt.Errorf("leader %s: flush: %w", l.id, err)
	}
	mu.Lock()
	perr, lvt := prodErr, lastVT
	mu.Unlock()
	if perr != nil {
		wb.Discard()
		if err := l.fence(vtw.GUID()); err != nil {
			return fmt.Errorf("leader %s: produce to version topic: %w; fencing its writer: %w", l.id, perr, err)
		}
		return fmt.Errorf("leader %s: produce to version topic: %w", l.id, perr)
	}
	if lvt >= r.ck.Offset {
		r.ck.Offset = lvt + 1
	}
	r.ck.SetUpstream(rb.region, l.id.Partition, last+1)
	state, _ := v.MarshalBinary()
	setUpstreamDIV(&r.ck, rb.region, l.id.Partition, state)
	if err := r.checkpoint(wb); err != nil {
		wb.Discard()
		return err
	}
	if crashNow("leader-before-commit", l.id) {
		wb.Discard()
		return errCrashed
	}
	if err := wb.Commit(); err != nil {
		return err
	}
	r.published()
	l.stats.setRTLag(rb.region, rb.hwm, last+1)
	return nil
}

// fence commits the checkpoint with this run's version-topic writer
// fenced, after one of its records failed. franz-go fails the records it
// has buffered when one fails, not those the leader hands it next, so
// records produced after the failed one may have landed: what the writer
// left in the version topic is not a prefix of what it produced. The
// follower this partition goes back to would learn the upstream offsets
// from those records' footers and the next run would resume the RT topic
// past writes that never reached the version (acknowledged writes lost;
// server/faults_test.go's TestFaultsProduceErrors found it). Fenced, the
// writer's records after the checkpoint are skipped (Checkpoint.Fenced),
// and the next run redoes the batch from the checkpoint. The fence is
// committed before the restart, so a crash cannot forget it.
func (l *leaderTask) fence(g wire.GUID) error {
	ck, _, err := l.s.db.Checkpoint(l.id)
	if err != nil {
		return err
	}
	ck.Fence(g)
	wb, err := l.s.db.NewWriteOnlyBatch(l.id)
	if err != nil {
		return err
	}
	if err := wb.SetCheckpoint(&ck); err != nil {
		wb.Discard()
		return err
	}
	return wb.Commit()
}

func setUpstreamDIV(ck *storage.Checkpoint, region, partition int32, state []byte) {
	for i := range ck.UpstreamDIV {
		if ck.UpstreamDIV[i].Region == region && ck.UpstreamDIV[i].Partition == partition {
			ck.UpstreamDIV[i].State = state
			return
		}
	}
	ck.UpstreamDIV = append(ck.UpstreamDIV, storage.UpstreamDIV{Region: region, Partition: partition, State: state})
}

// applyOne resolves one RT record into the batch and produces the result.
// A record that cannot be resolved (bad schema id, undecodable update) is
// logged, counted and skipped: one bad record never stalls a partition.
func (l *leaderTask) applyOne(ctx context.Context, b *leaderBatch, r *replica, vtw *writer.Writer, region int32, rec *kgo.Record, e *wire.Envelope, ack func(writer.Result, error)) error {
	rk, err := wire.ParseKey(rec.Key)
	if err != nil {
		l.skip(region, rec.Offset, err)
		return nil
	}
	w := rtWrite{typ: e.Type, ts: e.Producer.Timestamp(), region: region}
	switch e.Type {
	case wire.TypeControl:
		return nil // segment framing and incremental-push markers carry no data
	case wire.TypeChunk:
		// Kept until its manifest arrives; the manifest's put removes it.
		return b.putChunk(rec.Key, e.Chunk.Data)
	case wire.TypePut:
		w.schemaID, w.payload = e.Put.SchemaID, e.Put.Value
		if m := e.Put.Chunks; m != nil {
			w.payload, err = wire.Reassemble(nil, m, b.chunkLookup())
			if err != nil {
				l.skip(region, rec.Offset, err)
				return nil
			}
			for _, k := range m.ChunkKeys {
				if err := b.deleteChunk(k); err != nil {
					return err
				}
			}
		}
	case wire.TypeDelete:
	case wire.TypeUpdate:
		w.schemaID, w.updateSchemaID, w.payload = e.Update.SchemaID, e.Update.UpdateSchemaID, e.Update.Update
	}
	if w.typ != wire.TypeDelete {
		l.awaitSchema(ctx, w.schemaID)
	}
	cur, err := l.current(b, r, rk.Key)
	if err != nil {
		return err
	}
	m, err := l.merger.merge(cur, w)
	if err != nil {
		l.skip(region, rec.Offset, err)
		return nil
	}
	if m.ignored {
		return nil
	}
	opts := []writer.CallOpt{
		writer.ToPartition(l.id.Partition),
		writer.WithTimestamp(w.ts),
		writer.WithLeader(wire.Leader{UpstreamRegion: region, UpstreamPartition: l.id.Partition, UpstreamOffset: rec.Offset, LeaderTerm: l.term}),
	}
	if m.rmd != nil {
		opts = append(opts, writer.WithRMD(m.rmdVer, m.rmd))
		if err := b.putRMD(rk.Key, storage.RMD{Version: m.rmdVer, Data: m.rmd}); err != nil {
			return err
		}
	}
	if m.delete {
		if m.rmd != nil {
			err = b.put(rk.Key, storage.Record{SchemaID: m.schemaID, Flags: storage.FlagTombstone})
			// The tombstone's schema is the one its RMD is read with:
			// followers, and the next leader rebuilding from the version
			// topic, must store the same id, or they cannot resolve the
			// key's next write (and their checksums differ).
			opts = append(opts, writer.WithSchemaID(m.schemaID))
		} else {
			err = b.delete(rk.Key)
		}
		if err != nil {
			return err
		}
		return vtw.DeleteBytesAsync(ctx, rk.Key, ack, opts...)
	}
	if err := b.put(rk.Key, storage.Record{SchemaID: m.schemaID, Flags: storage.FlagRaw, Value: m.value}); err != nil {
		return err
	}
	r.ck.Records++
	return vtw.PutBytesAsync(ctx, rk.Key, m.schemaID, m.value, ack, opts...)
}

// rewindOffset is where a leader without a recorded upstream offset starts
// reading src's RT partition: the first record at or after the rewind
// start, listed as the replay planner lists it (rtoffsets: the end first,
// so no record produced while listing is skipped, which kgo's AfterMilli
// did to a store written to right after its creation).
func (l *leaderTask) rewindOffset(ctx context.Context, src wire.SourceRegion, topic string, rewindStart int64) (int64, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(l.s.regionBrokers(src)...)}, l.s.cfg.KafkaOpts...)...)
	if err != nil {
		return 0, fmt.Errorf("leader %s: region %d admin client: %w", l.id, src.Region, err)
	}
	defer cl.Close()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	listed, err := rtoffsets.List(lctx, kadm.NewClient(cl), topic, rewindStart)
	if err != nil {
		return 0, fmt.Errorf("leader %s: region %d's RT %w", l.id, src.Region, err)
	}
	off, ok := listed.Start[l.id.Partition]
	if !ok {
		return 0, fmt.Errorf("leader %s: region %d's RT topic %s has no partition %d", l.id, src.Region, topic, l.id.Partition)
	}
	return off, nil
}

// regionBrokers is where a leader reads source region src: the brokers
// the configuration lists for it now, else the ones the topic switch
// recorded.
func (s *Server) regionBrokers(src wire.SourceRegion) []string {
	for _, r := range s.cfg.Regions {
		if r.ID == src.Region {
			return r.Brokers
		}
	}
	return src.Brokers
}

// schemaSyncTimeout bounds a leader's wait for the admin log to bring a
// schema id it has not seen.
const schemaSyncTimeout = 10 * time.Second

// awaitSchema makes sure a write's value schema is known before it is
// merged: a schema registered just before the write may not have reached
// this server's copy of the admin log yet, and skipping the write would
// lose it. An id still unknown once the admin log is applied to its end
// is left to the merge, which fails and skips the record.
func (l *leaderTask) awaitSchema(ctx context.Context, id int32) {
	if l.spec.Schemas == nil {
		return
	}
	if _, err := l.spec.Schemas.ValueSchema(id); err == nil {
		return
	}
	if l.s.syncAdminLog(ctx, schemaSyncTimeout) {
		l.log.Info("waited for the admin log to register a value schema", "schema", id)
	}
}

func (l *leaderTask) skip(region int32, offset int64, err error) {
	l.stats.skipped.Add(1)
	l.log.Warn("real-time record skipped", "region", region, "offset", offset, "err", err)
}

// current reads the stored state of key, seeing the batch's own writes.
func (l *leaderTask) current(b *leaderBatch, r *replica, key []byte) (current, error) {
	rec, ok, err := b.get(key)
	if err != nil || !ok {
		return current{}, err
	}
	c := current{exists: true, tombstone: rec.Tombstone(), schemaID: rec.SchemaID}
	if !c.tombstone {
		c.value, err = decodeStored(rec, b.chunkLookup(), r.codec)
		if err != nil {
			return current{}, fmt.Errorf("leader %s: stored value: %w", l.id, err)
		}
	}
	if !l.spec.ActiveActive {
		// Single-region stores keep no RMD (lastWriterMerger never reads
		// it): skipping the lookup saves a quarter of the leader's time.
		return c, nil
	}
	rmd, ok, err := b.getRMD(key)
	if err != nil {
		return current{}, err
	}
	if ok {
		c.rmd, c.rmdVer = rmd.Data, rmd.Version
	}
	return c, nil
}

// leaderBatch is a write-only storage batch plus a map of what it will
// store, so the leader reads its own uncommitted results without an
// indexed batch (reads through one, and keeping its index, were more than
// half of the leader's time). Keys it does not hold are read from the DB.
type leaderBatch struct {
	db     *storage.DB
	id     storage.PartitionID
	b      *storage.Batch
	vals   map[string]pendingValue
	chunks map[string][]byte // chunk key → data; nil: deleted
}

type pendingValue struct {
	rec     storage.Record
	deleted bool         // removed with its RMD
	rmd     *storage.RMD // set with the value, or nil: no RMD
}

func newLeaderBatch(db *storage.DB, id storage.PartitionID, b *storage.Batch) *leaderBatch {
	return &leaderBatch{db: db, id: id, b: b, vals: map[string]pendingValue{}, chunks: map[string][]byte{}}
}

func (lb *leaderBatch) put(key []byte, rec storage.Record) error {
	pv := lb.vals[string(key)]
	pv.rec, pv.deleted = rec, false
	lb.vals[string(key)] = pv
	return lb.b.Put(key, rec)
}

// putRMD must come before put of the same key's value (applyOne's order),
// or be the RMD of a tombstone.
func (lb *leaderBatch) putRMD(key []byte, r storage.RMD) error {
	pv := lb.vals[string(key)]
	pv.rmd = &r
	lb.vals[string(key)] = pv
	return lb.b.PutRMD(key, r)
}

func (lb *leaderBatch) delete(key []byte) error {
	lb.vals[string(key)] = pendingValue{deleted: true}
	return lb.b.Delete(key)
}

func (lb *leaderBatch) putChunk(k, data []byte) error {
	lb.chunks[string(k)] = data
	return lb.b.PutChunk(k, data)
}

func (lb *leaderBatch) deleteChunk(k []byte) error {
	lb.chunks[string(k)] = nil
	return lb.b.DeleteChunk(k)
}

func (lb *leaderBatch) get(key []byte) (storage.Record, bool, error) {
	if pv, ok := lb.vals[string(key)]; ok {
		return pv.rec, !pv.deleted, nil
	}
	return lb.db.Get(lb.id, key)
}

func (lb *leaderBatch) getRMD(key []byte) (storage.RMD, bool, error) {
	if pv, ok := lb.vals[string(key)]; ok {
		if pv.deleted || pv.rmd == nil {
			return storage.RMD{}, false, nil
		}
		return *pv.rmd, true, nil
	}
	return lb.db.GetRMD(lb.id, key)
}

func (lb *leaderBatch) chunkLookup() wire.ChunkLookup {
	return func(k []byte) (wire.Chunk, bool, error) {
		data, pending := lb.chunks[string(k)]
		if !pending {
			var ok bool
			var err error
			if data, ok, err = lb.db.GetChunk(lb.id, k); err != nil || !ok {
				return wire.Chunk{}, ok, err
			}
		} else if data == nil {
			return wire.Chunk{}, false, nil
		}
		rk, err := wire.ParseKey(k)
		if err != nil {
			return wire.Chunk{}, false, err
		}
		return wire.Chunk{Index: rk.ChunkIndex, Data: data}, true, nil
	}
}

// decodeStored turns a stored record into the uncompressed value:
// reassembling chunks and decompressing unless the leader stored it raw.
func decodeStored(rec storage.Record, chunks wire.ChunkLookup, codec *valuecomp.Codec) ([]byte, error) {
	raw := rec.Value
	if rec.Flags&storage.FlagChunked != 0 {
		size, keys, err := storage.ParseManifest(rec.Value)
		if err != nil {
			return nil, err
		}
		if raw, err = wire.Reassemble(nil, &wire.ChunkManifest{ChunkKeys: keys, Size: size}, chunks); err != nil {
			return nil, err
		}
	}
	if rec.Flags&storage.FlagRaw != 0 || codec == nil {
		return raw, nil
	}
	return codec.Decompress(nil, raw)
}
