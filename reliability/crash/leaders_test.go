package crash

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

// TestLeaderOverlaps: two writers with leader footers interleaved in one
// partition are reported once; a handover (one after the other) is not.
func TestLeaderOverlaps(t *testing.T) {
	ctx := context.Background()
	b, err := embedkafka.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 2, 1, nil, "s_v1"); err != nil {
		t.Fatal(err)
	}
	newWriter := func() *writer.Writer {
		w, err := writer.New(writer.Brokers(b.Addrs()...), writer.Topic("s_v1"), writer.Kind(writer.KindVersion), writer.Partitions(2))
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	put := func(w *writer.Writer, p int32, n int) {
		for i := range n {
			if _, err := w.PutBytes(ctx, []byte{'k', byte(i)}, 1, []byte{0}, writer.ToPartition(p),
				writer.WithLeader(wire.Leader{UpstreamRegion: 1, UpstreamPartition: p, UpstreamOffset: int64(i)})); err != nil {
				t.Fatal(err)
			}
		}
	}
	a, c := newWriter(), newWriter()
	put(a, 0, 3) // partition 0: a, then c, then a again: two leaders at once
	put(c, 0, 2)
	put(a, 0, 2)
	put(a, 1, 3) // partition 1: a handover from a to c, then a's end-of-segment
	put(c, 1, 3)
	a.Close(ctx)
	c.Close(ctx)
	got, err := leaderOverlaps(ctx, b.Addrs(), "s_v1", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !strings.Contains(got[0], "s_v1 partition 0: leaders") {
		t.Fatalf("overlaps: %q, want one in partition 0", got)
	}
}
