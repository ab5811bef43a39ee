// Package kafkatest gives a test a Kafka cluster: the embedded kfake broker
// by default, or a real cluster when the environment variable
// RIALTO_KAFKA_BROKERS holds its comma-separated seed brokers.
//
//	func TestSomething(t *testing.T) {
//		env := kafkatest.New(t)
//		topic := env.Topic(t, 8, nil)            // unique name, deleted after the test
//		cl := env.Client(t, kgo.DefaultProduceTopic(topic))
//		...
//	}
//
// A test that needs what only kfake can do (faults, Restart, Control) calls
// env.RequireEmbedded(t), which skips it against a real cluster.
//
// Guarantees:
//
//  1. Everything New, Client, Admin and Topic create is released by
//     t.Cleanup: topics are deleted (on a real cluster too), then clients
//     closed, then the embedded broker stopped.
//  2. Topic names are unique per call ("rialto-test-<test name>-<random>"),
//     so tests may run in parallel and against a shared cluster.
//  3. Topic returns only once every partition has a leader, so a produce
//     right after it does not race the topic's creation.
//
// Options given to New configure the embedded broker and are ignored on a
// real cluster; a test that passes TLS or SASL options must also pass the
// matching kgo options to Client.
package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
)

// BrokersEnv names the environment variable that points tests at a real
// cluster.
const BrokersEnv = "RIALTO_KAFKA_BROKERS"

// TopicPrefix starts the name of every topic Topic creates.
const TopicPrefix = "rialto-test-"

// timeout bounds each admin call this package makes.
const timeout = 30 * time.Second

// Env is a Kafka cluster for one test (and its subtests).
type Env struct {
	brokers  []string
	embedded *embedkafka.Broker

	adminOnce sync.Once
	adminCl   *kgo.Client
	adminErr  error
}

// New returns a cluster for t: a new embedded broker started with opts, or
// the real cluster named by RIALTO_KAFKA_BROKERS. It fails t if the cluster
// cannot be started or reached.
func New(t testing.TB, opts ...embedkafka.Opt) *Env {
	t.Helper()
	e := &Env{}
	if seeds := RealBrokers(); len(seeds) > 0 {
		e.brokers = seeds
	} else {
		b, err := embedkafka.Start(context.Background(), opts...)
		if err != nil {
			t.Fatalf("kafkatest: starting the embedded broker: %v", err)
		}
		t.Cleanup(b.Close)
		e.embedded = b
		e.brokers = b.Addrs()
	}
	t.Cleanup(func() {
		if e.adminCl != nil {
			e.adminCl.Close()
		}
	})
	if e.embedded == nil {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if _, err := e.admin(t).BrokerMetadata(ctx); err != nil {
			t.Fatalf("kafkatest: %s=%s is not reachable: %v", BrokersEnv, strings.Join(e.brokers, ","), err)
		}
	}
	return e
}

// RealBrokers returns the seed brokers named by RIALTO_KAFKA_BROKERS, or
// nil when tests run on the embedded broker.
func RealBrokers() []string {
	var seeds []string
	for s := range strings.SplitSeq(os.Getenv(BrokersEnv), ",") {
		if s = strings.TrimSpace(s); s != "" {
			seeds = append(seeds, s)
		}
	}
	return seeds
}

// Brokers returns the seed brokers.
func (e *Env) Brokers() []string { return append([]string(nil), e.brokers...) }

// Embedded returns the embedded broker, or nil on a real cluster.
func (e *Env) Embedded() *embedkafka.Broker { return e.embedded }

// RequireEmbedded returns the embedded broker, skipping t on a real
// cluster. Call it first in tests that inject faults or restart the broker.
func (e *Env) RequireEmbedded(t testing.TB) *embedkafka.Broker {
	t.Helper()
	if e.embedded == nil {
		t.Skipf("kafkatest: needs the embedded kfake broker (fault injection, restart), but %s points at a real cluster", BrokersEnv)
	}
	return e.embedded
}

// Client returns a client seeded with the cluster's brokers plus opts,
// closed when t ends. It fails t if the options are invalid.
func (e *Env) Client(t testing.TB, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: new client: %v", err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client over a new Client, closed when t ends.
func (e *Env) Admin(t testing.TB) *kadm.Client {
	t.Helper()
	return kadm.NewClient(e.Client(t))
}

// Topic creates a topic with a unique name and returns the name; it is
// deleted when t ends. partitions -1 takes the broker's default. configs are
// topic configs (nil for none). The replication factor is 1 on the embedded
// broker and the broker's default.replication.factor on a real cluster.
func (e *Env) Topic(t testing.TB, partitions int32, configs map[string]string) string {
	t.Helper()
	name := topicName(t.Name())
	adm := e.admin(t)

	var rf int16 = -1 // broker default; needs Kafka 2.4+
	if e.embedded != nil {
		rf = 1
	}
	var cfgs map[string]*string
	if len(configs) > 0 {
		cfgs = make(map[string]*string, len(configs))
		for k, v := range configs {
			cfgs[k] = &v
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, rf, cfgs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("kafkatest: creating topic %s (%d partitions, configs %v): %v", name, partitions, configs, err)
	}
	t.Cleanup(func() { e.deleteTopic(t, name) })

	if err := waitForLeaders(ctx, adm, name); err != nil {
		t.Fatalf("kafkatest: topic %s: %v", name, err)
	}
	return name
}

// admin returns the Env's own admin client, shared by Topic and its
// cleanups and closed when the test that called New ends.
func (e *Env) admin(t testing.TB) *kadm.Client {
	t.Helper()
	e.adminOnce.Do(func() {
		e.adminCl, e.adminErr = kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	})
	if e.adminErr != nil {
		t.Fatalf("kafkatest: admin client: %v", e.adminErr)
	}
	return kadm.NewClient(e.adminCl)
}

func (e *Env) deleteTopic(t testing.TB, name string) {
	if e.embedded != nil && e.embedded.Cluster() == nil {
		return // the test closed the embedded broker: nothing is left to leak
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	resps, err := kadm.NewClient(e.adminCl).DeleteTopics(ctx, name)
	if err == nil {
		var r kadm.DeleteTopicResponse
		if r, err = resps.On(name, nil); err == nil {
			err = r.Err
		}
	}
	switch {
	case err == nil, errors.Is(err, kerr.UnknownTopicOrPartition):
		// Deleted, or the test deleted it itself.
	default:
		t.Errorf("kafkatest: deleting topic %s: %v", name, err)
	}
}

// waitForLeaders polls metadata until every partition of topic has a
// leader: a real cluster creates topics asynchronously.
func waitForLeaders(ctx context.Context, adm *kadm.Client, topic string) error {
	var last error
	for {
		tds, err := adm.ListTopics(ctx, topic)
		if err == nil {
			last = ready(tds, topic)
			if last == nil {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("partitions without a leader: %w (last: %v)", ctx.Err(), last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func ready(tds kadm.TopicDetails, topic string) error {
	td, ok := tds[topic]
	if !ok {
		return errors.New("not in metadata yet")
	}
	if td.Err != nil {
		return td.Err
	}
	if len(td.Partitions) == 0 {
		return errors.New("no partitions in metadata yet")
	}
	for _, p := range td.Partitions {
		if p.Err != nil {
			return fmt.Errorf("partition %d: %w", p.Partition, p.Err)
		}
		if p.Leader < 0 {
			return fmt.Errorf("partition %d has no leader", p.Partition)
		}
	}
	return nil
}

// topicName is TopicPrefix, the test name cut to what a topic name allows,
// and 8 random hex digits.
func topicName(testName string) string {
	var b strings.Builder
	b.WriteString(TopicPrefix)
	n := 0
	for _, r := range testName {
		if n == 60 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
		n++
	}
	var rnd [4]byte
	_, _ = rand.Read(rnd[:]) // crypto/rand.Read never fails
	b.WriteByte('-')
	b.WriteString(hex.EncodeToString(rnd[:]))
	return b.String()
}
