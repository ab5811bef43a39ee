// Package rtoffsets lists where a replay of a real-time topic starts: per
// partition, the first record at or after a rewind start, with the
// log-start and end offsets listed in the same pass. The replay planner
// and a leader starting without a recorded upstream offset both use it,
// so they agree on the offset.
//
// The end offsets are listed before the by-time ones. kgo's AfterMilli
// (and kadm's ListOffsetsAfterMilli on its own) ask in the other order,
// answering "the end" when nothing is at or after the time yet: records
// produced between the two answers are then skipped. Listed first, the end
// is a bound the by-time answer is clamped to.
package rtoffsets

import (
	"context"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Listed is one topic's offsets as listed at one moment.
type Listed struct {
	// Start is the first record at or after the rewind start, clamped
	// into [LogStart, End].
	Start    map[int32]int64
	LogStart map[int32]int64
	End      map[int32]int64
}

// ErrNoTopic is returned (wrapped) when the topic does not exist.
var ErrNoTopic = errors.New("does not exist")

// List lists topic's offsets for a rewind start in ms since the epoch.
// Partition errors fail.
func List(ctx context.Context, adm *kadm.Client, topic string, rewindStart int64) (Listed, error) {
	l := Listed{Start: map[int32]int64{}, LogStart: map[int32]int64{}, End: map[int32]int64{}}
	fill := func(what string, listed kadm.ListedOffsets, err error, into map[int32]int64) error {
		if err == nil {
			err = listed.Error()
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %s %w: %w", topic, ErrNoTopic, err)
		}
		if err != nil {
			return fmt.Errorf("%s offsets of %s: %w", what, topic, err)
		}
		if _, ok := listed[topic]; !ok {
			return fmt.Errorf("topic %s %w", topic, ErrNoTopic)
		}
		listed.Each(func(o kadm.ListedOffset) { into[o.Partition] = o.Offset })
		return nil
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err := fill("end", ends, err, l.End); err != nil {
		return l, err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err := fill("log-start", starts, err, l.LogStart); err != nil {
		return l, err
	}
	after, err := adm.ListOffsetsAfterMilli(ctx, rewindStart, topic)
	if err := fill("rewind-start", after, err, l.Start); err != nil {
		return l, err
	}
	for p, o := range l.Start {
		// No record at or after the rewind start: kadm answers the end
		// (or -1 from a broker that found none); the end was listed
		// first, so clamp into [log start, end] as of that listing.
		if o < 0 || o > l.End[p] {
			l.Start[p] = l.End[p]
		}
		l.Start[p] = max(l.Start[p], l.LogStart[p])
	}
	return l, nil
}
