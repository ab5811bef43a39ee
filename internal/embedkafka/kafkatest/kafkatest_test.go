package kafkatest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
)

// TestTopicCreatedAndDeleted runs against whichever cluster New picks.
func TestTopicCreatedAndDeleted(t *testing.T) {
	env := kafkatest.New(t)
	if len(env.Brokers()) == 0 {
		t.Fatal("no brokers")
	}
	adm := env.Admin(t)

	var name string
	t.Run("sub", func(t *testing.T) {
		name = env.Topic(t, 3, map[string]string{"cleanup.policy": "compact"})
		if !strings.HasPrefix(name, kafkatest.TopicPrefix+"TestTopicCreatedAndDeleted_sub-") {
			t.Errorf("topic name %q lacks the prefix and test name", name)
		}
		td := topicDetail(t, adm, name)
		if len(td.Partitions) != 3 {
			t.Errorf("topic has %d partitions, want 3", len(td.Partitions))
		}
		rcs, err := adm.DescribeTopicConfigs(context.Background(), name)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := rcs.On(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		var policy string
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" {
				policy = c.MaybeValue()
			}
		}
		if policy != "compact" {
			t.Errorf("cleanup.policy = %q, want compact", policy)
		}

		// Produce and read back through a Client.
		cl := env.Client(t, kgo.DefaultProduceTopic(name), kgo.ConsumeTopics(name))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		fs := cl.PollRecords(ctx, 1)
		if fs.NumRecords() != 1 || string(fs.Records()[0].Value) != "v" {
			t.Fatalf("read back %d records (errors %v)", fs.NumRecords(), fs.Errors())
		}
	})
	// The subtest's cleanup deleted the topic.
	topics, err := adm.ListTopics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if topics.Has(name) {
		t.Fatalf("topic %s still exists after its test ended", name)
	}
}

func TestTopicNamesUnique(t *testing.T) {
	env := kafkatest.New(t)
	a, b := env.Topic(t, 1, nil), env.Topic(t, -1, nil)
	if a == b {
		t.Fatalf("two Topic calls gave the same name %s", a)
	}
}

func TestRequireEmbedded(t *testing.T) {
	env := kafkatest.New(t, embedkafka.DataDir(t.TempDir()))
	b := env.RequireEmbedded(t) // skips on a real cluster
	if env.Embedded() != b || b == nil {
		t.Fatal("RequireEmbedded did not return the embedded broker")
	}
	topic := env.Topic(t, 1, nil)
	if err := b.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The topic survived the restart (data dir) and is still deleted on cleanup.
	topicDetail(t, env.Admin(t), topic)
}

func topicDetail(t *testing.T, adm *kadm.Client, name string) kadm.TopicDetail {
	t.Helper()
	tds, err := adm.ListTopics(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	td, ok := tds[name]
	if !ok || td.Err != nil {
		t.Fatalf("topic %s not found: %v", name, td.Err)
	}
	return td
}

// TestRealClusterPath exercises the RIALTO_KAFKA_BROKERS path by pointing it
// at a broker this test starts itself, the way CI would point it at Kafka.
func TestRealClusterPath(t *testing.T) {
	b, err := embedkafka.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	t.Setenv(kafkatest.BrokersEnv, " "+strings.Join(b.Addrs(), " , ")+",")

	env := kafkatest.New(t)
	if env.Embedded() != nil {
		t.Fatal("Embedded() non-nil with RIALTO_KAFKA_BROKERS set")
	}
	if got := strings.Join(env.Brokers(), ","); got != strings.Join(b.Addrs(), ",") {
		t.Fatalf("Brokers() = %s, want %v", got, b.Addrs())
	}
	name := env.Topic(t, 2, nil) // replication factor -1: the broker's default
	topicDetail(t, env.Admin(t), name)

	skipped := t.Run("needs-kfake", func(t *testing.T) {
		env.RequireEmbedded(t)
		t.Fatal("RequireEmbedded did not skip on a real cluster")
	})
	if !skipped {
		t.Fatal("subtest failed")
	}
}
