package rtoffsets_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/rtoffsets"
)

// TestList: an empty partition starts at its end, a rewind start in the
// past at the first record, one in the future at the end; a missing topic
// is ErrNoTopic.
func TestList(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 2, nil)
	ctx := context.Background()
	cl := env.Client(t, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for range 3 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: 1, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	adm := kadm.NewClient(cl)
	for _, tc := range []struct {
		name       string
		rewind     int64
		p0, p1     int64 // want Start
		end0, end1 int64
	}{
		{"past", time.Now().Add(-time.Hour).UnixMilli(), 0, 0, 0, 3},
		{"future", time.Now().Add(time.Hour).UnixMilli(), 0, 3, 0, 3},
	} {
		l, err := rtoffsets.List(ctx, adm, topic, tc.rewind)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if l.Start[0] != tc.p0 || l.Start[1] != tc.p1 || l.End[0] != tc.end0 || l.End[1] != tc.end1 {
			t.Errorf("%s: start %v end %v, want start [%d %d] end [%d %d]", tc.name, l.Start, l.End, tc.p0, tc.p1, tc.end0, tc.end1)
		}
	}
	if _, err := rtoffsets.List(ctx, adm, topic+"-missing", 0); !errors.Is(err, rtoffsets.ErrNoTopic) {
		t.Errorf("missing topic: %v, want ErrNoTopic", err)
	}
}
