package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/server/storage"
)

type topicPartition struct {
	topic     string
	partition int32
}

// ingester consumes version topics into storage. One goroutine (run) owns
// every replica; others ask it to host or drop partitions through
// commands, and read progress through partitionStats.
type ingester struct {
	cl            *kgo.Client
	db            *storage.DB
	log           *slog.Logger
	compactionLag time.Duration
	maxPoll       int

	mu       sync.Mutex
	commands []ingestCommand
	wake     context.CancelFunc // cancels the poll in progress

	replicas map[topicPartition]*replica // owned by run
}

type ingestCommand struct {
	host  bool
	id    storage.PartitionID
	topic string
	stats *partitionStats
	done  chan error
}

func newIngester(cl *kgo.Client, db *storage.DB, log *slog.Logger, compactionLag time.Duration, maxPoll int) *ingester {
	return &ingester{cl: cl, db: db, log: log, compactionLag: compactionLag, maxPoll: maxPoll, replicas: map[topicPartition]*replica{}}
}

// host starts ingesting a partition from its checkpoint. It returns once
// the run loop has taken the partition on.
func (in *ingester) host(ctx context.Context, id storage.PartitionID, topic string, stats *partitionStats) error {
	return in.send(ctx, ingestCommand{host: true, id: id, topic: topic, stats: stats})
}

// drop stops ingesting a partition (its data stays until dropped from
// storage).
func (in *ingester) drop(ctx context.Context, id storage.PartitionID, topic string) error {
	return in.send(ctx, ingestCommand{id: id, topic: topic})
}

func (in *ingester) send(ctx context.Context, c ingestCommand) error {
	c.done = make(chan error, 1)
	in.mu.Lock()
	in.commands = append(in.commands, c)
	if in.wake != nil {
		in.wake()
	}
	in.mu.Unlock()
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run consumes until ctx ends.
func (in *ingester) run(ctx context.Context) {
	for {
		in.applyCommands()
		pollCtx, cancel := context.WithCancel(ctx)
		in.mu.Lock()
		in.wake = cancel
		pending := len(in.commands) > 0
		in.mu.Unlock()
		if pending {
			cancel()
		}
		fetches := in.cl.PollRecords(pollCtx, in.maxPoll)
		in.mu.Lock()
		in.wake = nil
		in.mu.Unlock()
		cancel()
		if ctx.Err() != nil {
			in.failPending(ctx.Err())
			return
		}
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) {
				in.log.Warn("fetch error", "topic", t, "partition", p, "err", err)
			}
		})
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			if r := in.replicas[topicPartition{fp.Topic, fp.Partition}]; r != nil {
				in.ingest(r, fp)
			}
		})
	}
}

func (in *ingester) failPending(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, c := range in.commands {
		c.done <- err
	}
	in.commands = nil
}

func (in *ingester) applyCommands() {
	in.mu.Lock()
	cmds := in.commands
	in.commands = nil
	in.mu.Unlock()
	for _, c := range cmds {
		tp := topicPartition{c.topic, c.id.Partition}
		if !c.host {
			if in.replicas[tp] != nil {
				in.cl.RemoveConsumePartitions(map[string][]int32{c.topic: {c.id.Partition}})
				delete(in.replicas, tp)
			}
			c.done <- nil
			continue
		}
		if in.replicas[tp] != nil {
			c.done <- nil
			continue
		}
		r, err := loadReplica(in.db, c.id, c.topic, in.log, c.stats, in.compactionLag)
		if err != nil {
			c.done <- err
			continue
		}
		in.replicas[tp] = r
		if r.ck.Failed == "" {
			in.startConsuming(r)
		} else {
			c.stats.failed.Store(&r.ck.Failed)
		}
		c.done <- nil
	}
}

func (in *ingester) startConsuming(r *replica) {
	in.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{
		r.topic: {r.id.Partition: kgo.NewOffset().At(r.ck.Offset)},
	})
}

// ingest applies one fetched partition's records as one batch with its
// checkpoint.
func (in *ingester) ingest(r *replica, fp kgo.FetchTopicPartition) {
	r.stats.highWatermark.Store(fp.HighWatermark)
	if r.ck.Failed != "" || len(fp.Records) == 0 {
		return
	}
	b, err := in.db.NewWriteOnlyBatch(r.id)
	if err != nil {
		in.log.Error("cannot start a batch", "partition", r.id.String(), "err", err)
		return
	}
	failed := false
	for _, rec := range fp.Records {
		if rec.Offset < r.ck.Offset {
			continue // fetched before a restart from the checkpoint
		}
		err := r.applyVT(b, rec.Key, rec.Value, rec.Offset, rec.Timestamp)
		if errors.Is(err, errPartitionFailed) {
			failed = true
			break
		}
		if err != nil {
			in.restart(r, b, fmt.Errorf("apply offset %d: %w", rec.Offset, err))
			return
		}
	}
	if err := r.checkpoint(b); err != nil {
		in.restart(r, b, err)
		return
	}
	if err := b.Commit(); err != nil {
		in.restart(r, nil, err)
		return
	}
	r.published()
	if failed {
		in.cl.RemoveConsumePartitions(map[string][]int32{r.topic: {r.id.Partition}})
	}
}

// restart throws away a replica's in-memory progress after a storage error
// and resumes from its last committed checkpoint, so nothing is applied
// twice or skipped.
func (in *ingester) restart(r *replica, b *storage.Batch, cause error) {
	if b != nil {
		b.Discard()
	}
	in.log.Error("storage error; resuming from the last checkpoint", "partition", r.id.String(), "err", cause)
	tp := topicPartition{r.topic, r.id.Partition}
	in.cl.RemoveConsumePartitions(map[string][]int32{r.topic: {r.id.Partition}})
	fresh, err := loadReplica(in.db, r.id, r.topic, in.log, r.stats, in.compactionLag)
	if err != nil {
		in.log.Error("cannot reload replica; partition stopped", "partition", r.id.String(), "err", err)
		msg := err.Error()
		r.stats.failed.Store(&msg)
		delete(in.replicas, tp)
		return
	}
	in.replicas[tp] = fresh
	in.startConsuming(fresh)
}
