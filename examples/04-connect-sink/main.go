// Command 04-connect-sink feeds the Kafka Connect–style sink of this
// directory's profiles-put.properties: it produces a few dozen JSON
// profiles — one a tombstone, one a record the store cannot take — into the
// topic the config names, on the broker of a running `rialto dev`. With
// -dead-letters it prints the config's dead-letter topic instead.
//
//	go run ./cmd/rialto dev                                               # terminal 1
//	rialto store create --name example_connect --key-schema string \
//	    --value-schema examples/04-connect-sink/profile.avsc --partial-update
//	go run ./examples/04-connect-sink                                     # feed profiles-json
//	rialto sink --config examples/04-connect-sink/profiles-put.properties # terminal 2
//	rialto read get --store example_connect --key user-01
//	go run ./examples/04-connect-sink -dead-letters
//
// See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/sink"
	"github.com/rialtodb/rialto/sink/connect"
)

// The records the feeder produces, in order. Keys are user-01 … user-30.
const (
	users     = 30
	rewritten = "user-01" // written twice: the later row replaces the earlier
	partial   = "user-02" // written again without "clicks": a put is the whole row
	deleted   = "user-07" // a tombstone after its row: the sink deletes it
	poison    = "user-13" // a second row with "clicks" a string: dead-lettered
)

func main() {
	config := flag.String("config", "examples/04-connect-sink/profiles-put.properties", "the sink's config: its topic, dead-letter topic and store")
	controller := flag.String("controller", envOr("RIALTO_CONTROLLER", client.DefaultURL), "controller URL (finds the brokers)")
	brokers := flag.String("brokers", "", "Kafka seed brokers, comma-separated (default: the config's bootstrap.servers, else the controller's local region)")
	partitions := flag.Int("partitions", 2, "partitions of the source topic when it is created")
	deadLetters := flag.Bool("dead-letters", false, "print the config's dead-letter topic instead of feeding")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, *config, *controller, *brokers, int32(*partitions), *deadLetters); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, configFile, controller, brokers string, partitions int32, deadLetters bool) error {
	cfg, err := connect.LoadFile(configFile)
	if err != nil {
		return err
	}
	if len(cfg.Topics) != 1 {
		return fmt.Errorf("%s: want exactly one topic in topics=, got %q", configFile, cfg.Topics)
	}
	ctl := client.New(controller)
	if cfg.ControllerURL != "" {
		ctl = client.New(cfg.ControllerURL)
	}
	seeds, err := seedBrokers(ctx, ctl, cfg, brokers)
	if err != nil {
		return err
	}
	kopts, err := cfg.Kafka.Opts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(kopts, kgo.SeedBrokers(seeds...))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	if deadLetters {
		return printDeadLetters(ctx, cl, cfg)
	}
	if _, err := ctl.Store(ctx, cfg.Store); client.NotFound(err) {
		return fmt.Errorf("store %s does not exist; create it first:\n  rialto store create --name %s --key-schema string --value-schema examples/04-connect-sink/profile.avsc --partial-update", cfg.Store, cfg.Store)
	} else if err != nil {
		return err
	}
	return feed(ctx, cl, cfg.Topics[0], partitions)
}

// seedBrokers: the flag, else the config's bootstrap.servers, else the
// brokers of the controller's local region (rialto dev's broker).
func seedBrokers(ctx context.Context, ctl *client.Client, cfg *connect.Config, flagValue string) ([]string, error) {
	if flagValue != "" {
		return strings.Split(flagValue, ","), nil
	}
	if len(cfg.BootstrapServers) > 0 {
		return cfg.BootstrapServers, nil
	}
	cluster, err := ctl.Cluster(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range cluster.Regions {
		if r.ID == cluster.LocalRegion && len(r.Brokers) > 0 {
			return r.Brokers, nil
		}
	}
	return nil, fmt.Errorf("the controller names no brokers for region %d", cluster.LocalRegion)
}

// feed creates the topic if needed and produces the sample records.
func feed(ctx context.Context, cl *kgo.Client, topic string, partitions int32) error {
	adm := kadm.NewClient(cl)
	_, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	switch {
	case errors.Is(err, kerr.TopicAlreadyExists):
		fmt.Printf("topic %s exists\n", topic)
	case err != nil:
		return fmt.Errorf("create topic %s: %w", topic, err)
	default:
		fmt.Printf("created topic %s with %d partitions\n", topic, partitions)
	}

	type row struct {
		Name   string `json:"name"`
		Clicks any    `json:"clicks,omitempty"`
	}
	var recs []*kgo.Record
	put := func(key string, v row) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err)
		}
		recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(key), Value: b})
	}
	for i := 1; i <= users; i++ {
		put(fmt.Sprintf("user-%02d", i), row{Name: fmt.Sprintf("User %02d", i), Clicks: i})
	}
	put(rewritten, row{Name: "Ada Lovelace", Clicks: 42})
	// No "clicks": a put is the whole row, so it takes the schema's default, 0.
	put(partial, row{Name: "Grace Hopper"})
	// A tombstone: no value.
	recs = append(recs, &kgo.Record{Topic: topic, Key: []byte(deleted)})
	// "clicks" is a long in the store: the sink cannot convert this record.
	put(poison, row{Name: "Mallory", Clicks: "lots"})

	// One call: the records of a key share a partition and keep their order.
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce to %s: %w", topic, err)
	}
	fmt.Printf("produced %d records to %s: %d rows, a tombstone for %s, a poison record for %s (\"clicks\" is a string)\n",
		len(recs), topic, len(recs)-2, deleted, poison)
	return nil
}

// printDeadLetters prints every record of the dead-letter topic up to its
// end now, with the __connect.errors.* headers that say why.
func printDeadLetters(ctx context.Context, cl *kgo.Client, cfg *connect.Config) error {
	if cfg.DLQTopic == "" {
		return fmt.Errorf("the config names no errors.deadletterqueue.topic.name")
	}
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, cfg.DLQTopic)
	if err != nil {
		return err
	}
	want := map[int32]int64{}
	offsets := map[string]map[int32]kgo.Offset{cfg.DLQTopic: {}}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
			offsets[cfg.DLQTopic][o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if err := ends.Error(); err != nil && !errors.Is(err, kerr.UnknownTopicOrPartition) {
		return err
	}
	n := 0
	if len(want) > 0 {
		cl.AddConsumePartitions(offsets)
	}
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading %s: %w", cfg.DLQTopic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return fmt.Errorf("reading %s: %w", cfg.DLQTopic, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok || r.Offset >= end {
				return
			}
			n++
			h := map[string]string{}
			for _, x := range r.Headers {
				h[x.Key] = string(x.Value)
			}
			fmt.Printf("dead letter %s/%d@%d: key %s, value %s\n  from %s/%s@%s, stage %s: %s\n",
				r.Topic, r.Partition, r.Offset, r.Key, r.Value,
				h[sink.HeaderTopic], h[sink.HeaderPartition], h[sink.HeaderOffset], h[sink.HeaderStage], h[sink.HeaderExceptionMsg])
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	fmt.Printf("dead letters in %s: %d\n", cfg.DLQTopic, n)
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
