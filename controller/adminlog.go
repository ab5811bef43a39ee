package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
)

// ensureTopic creates a topic in a region unless it exists.
func (c *Controller) ensureTopic(ctx context.Context, r *regionClients, topic string, partitions int32, configs map[string]*string) error {
	resp, err := r.adm.CreateTopic(ctx, partitions, c.cfg.ReplicationFactor, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return err
	}
	return nil
}

// deleteTopics deletes topics in every region; missing topics are fine.
func (c *Controller) deleteTopics(ctx context.Context, topics ...string) error {
	var errs []error
	for _, r := range c.regions {
		resps, err := r.adm.DeleteTopics(ctx, topics...)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", r.region.Name, err))
			continue
		}
		for _, t := range resps {
			if t.Err != nil && !errors.Is(t.Err, kerr.UnknownTopicOrPartition) {
				errs = append(errs, fmt.Errorf("region %s: delete %s: %w", r.region.Name, t.Topic, t.Err))
			}
		}
	}
	return errors.Join(errs...)
}

func recordKey(rec api.AdminRecord) string {
	if rec.Kind == "store" && rec.Store != nil {
		return "store/" + rec.Store.Name
	}
	return rec.Kind
}

// appendLog writes a record to the admin log of every region and waits for
// every acknowledgement (guarantee 1).
func (c *Controller) appendLog(ctx context.Context, rec api.AdminRecord) error {
	value, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	key := []byte(recordKey(rec))
	for _, r := range c.regions {
		res := r.cl.ProduceSync(ctx, &kgo.Record{Topic: c.cfg.AdminTopic, Partition: 0, Key: key, Value: value})
		if err := res.FirstErr(); err != nil {
			return fmt.Errorf("admin log of region %s: %w", r.region.Name, err)
		}
	}
	return nil
}

// apply puts an admin record into memdb unless memdb already holds a
// newer revision of the store (guarantee 5).
func (c *Controller) apply(rec api.AdminRecord) error {
	if rec.Kind != "store" || rec.Store == nil {
		return nil
	}
	txn := c.db.Txn(true)
	defer txn.Abort()
	cur, ok, err := getStore(txn, rec.Store.Name)
	if err != nil {
		return err
	}
	if ok && cur.Revision >= rec.Store.Revision {
		return nil
	}
	if rec.Deleted {
		if err := deleteStore(txn, rec.Store.Name); err != nil {
			return err
		}
	} else if err := putStore(txn, *rec.Store); err != nil {
		return err
	}
	txn.Commit()
	for {
		old := c.revision.Load()
		if rec.Store.Revision <= old || c.revision.CompareAndSwap(old, rec.Store.Revision) {
			break
		}
	}
	return nil
}

// tailAdminLog replays the local region's admin log from the start, closes
// caught once it reached the end it saw at start, and keeps applying what
// other controllers write.
func (c *Controller) tailAdminLog(ctx context.Context) error {
	ends, err := c.local.adm.ListEndOffsets(ctx, c.cfg.AdminTopic)
	if err != nil {
		return fmt.Errorf("controller: admin log end: %w", err)
	}
	end, _ := ends.Lookup(c.cfg.AdminTopic, 0)
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.local.region.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{c.cfg.AdminTopic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200 * time.Millisecond),
	}, c.cfg.KafkaOpts...)...)
	if err != nil {
		return err
	}
	defer cl.Close()
	caught := end.Offset <= 0
	if caught {
		close(c.caught)
	}
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				c.log.Warn("admin log fetch", "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			defer c.applied.Store(r.Offset + 1)
			if r.Value == nil {
				return // compaction tombstone
			}
			var rec api.AdminRecord
			if err := json.Unmarshal(r.Value, &rec); err != nil {
				c.log.Error("unreadable admin log record; skipped", "offset", r.Offset, "err", err)
			} else if err := c.apply(rec); err != nil {
				c.log.Error("admin log record not applied", "offset", r.Offset, "err", err)
			}
			if !caught && r.Offset+1 >= end.Offset {
				caught = true
				close(c.caught)
			}
		})
	}
	return nil
}

// catchUp waits until the tail has applied every admin log record written
// so far. A controller elected right after the previous one stopped may not
// have fetched that one's last changes yet; changing a store from the older
// copy would reuse a revision, and one of the two changes would be lost.
func (c *Controller) catchUp(ctx context.Context) error {
	var end int64
	for {
		ends, err := c.local.adm.ListEndOffsets(ctx, c.cfg.AdminTopic)
		if err == nil {
			o, ok := ends.Lookup(c.cfg.AdminTopic, 0)
			if ok && o.Err == nil {
				end = o.Offset
				break
			}
			err = o.Err
			if !ok {
				err = errors.New("no partition 0 in the answer")
			}
		}
		c.log.Warn("admin log end unknown; retrying before leading", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	for c.applied.Load() < end {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// resign stops leading when the admin topic's partition is among those
// taken away.
func (c *Controller) resign(taken map[string][]int32) {
	if len(taken[c.cfg.AdminTopic]) > 0 {
		c.leader.Store(false)
	}
}

// elect joins the controller group; the member assigned the admin topic's
// partition leads. It waits for the admin log replay, and then for every
// record written until it was elected, before leading.
func (c *Controller) elect(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.local.region.Brokers...),
		kgo.ConsumerGroup(c.cfg.Group),
		kgo.ConsumeTopics(c.cfg.AdminTopic),
		kgo.DisableAutoCommit(),
		kgo.SessionTimeout(10 * time.Second),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if len(m[c.cfg.AdminTopic]) > 0 {
				select {
				case <-c.caught:
				case <-ctx.Done():
					return
				}
				if c.catchUp(ctx) != nil {
					return
				}
				c.leader.Store(true)
				c.log.Info("elected the region's active controller")
			}
		}),
		// franz-go calls these at the end of every group session, with
		// only the partitions taken away (the default balancer is
		// cooperative): a standby joining must not unseat the leader, who
		// keeps the partition and is not told again that it has it.
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { c.resign(m) }),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) { c.resign(m) }),
	}, c.cfg.KafkaOpts...)...)
	if err != nil {
		return err
	}
	defer func() {
		c.leader.Store(false)
		cl.Close() // leaves the group: another controller takes over at once
	}()
	for ctx.Err() == nil {
		cl.PollFetches(ctx) // keeps membership; the records are the tail's business
	}
	return nil
}
