package crash

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/wire"
)

// leaderOverlaps reads a version topic and reports, per partition, where
// the data records of two leaders' writers interleave: two servers led the
// partition at once, each resolving RT writes against its own state, and
// the followers applied both. A leader's writer that ends after the next
// one began only by a control record (its end-of-segment) is not counted.
// It explains mismatches; it is not itself a pass/fail criterion.
func leaderOverlaps(ctx context.Context, brokers []string, topic string, partitions int32) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return nil, err
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	cl.Close()
	if err != nil {
		return nil, err
	}
	var out []string
	for p := range partitions {
		end, ok := ends.Lookup(topic, p)
		if !ok || end.Err != nil || end.Offset == 0 {
			continue
		}
		found, err := partitionOverlaps(ctx, brokers, topic, p, end.Offset)
		if err != nil {
			return out, err
		}
		out = append(out, found...)
	}
	return out, nil
}

func partitionOverlaps(ctx context.Context, brokers []string, topic string, p int32, end int64) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	type span struct {
		guid        wire.GUID
		first, last int64
	}
	var spans []span // in order of first record
	at := map[wire.GUID]int{}
	var env wire.Envelope
	next := int64(0)
	for next < end {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading %s partition %d: %w", topic, p, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			env.Reset()
			if wire.DecodeInto(&env, r.Value) != nil || env.Leader == nil {
				return // control records and the push's records
			}
			if i, ok := at[env.Producer.GUID]; ok {
				spans[i].last = r.Offset
				return
			}
			at[env.Producer.GUID] = len(spans)
			spans = append(spans, span{guid: env.Producer.GUID, first: r.Offset, last: r.Offset})
		})
	}
	var out []string
	for i, a := range spans {
		for _, b := range spans[i+1:] {
			if b.first < a.last {
				out = append(out, fmt.Sprintf("%s partition %d: leaders %x and %x both produced between offsets %d and %d",
					topic, p, a.guid[:4], b.guid[:4], b.first, min(a.last, b.last)))
			}
		}
	}
	return out, nil
}
