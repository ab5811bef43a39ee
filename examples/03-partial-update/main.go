// Command 03-partial-update changes some fields of a row without reading it
// first and merges into its collections (a list and a map), then reads the
// row back with the explanation of which write decided each field and
// element, against a running `rialto dev`.
//
//	go run ./cmd/rialto dev                 # in one terminal
//	go run ./examples/03-partial-update     # in another
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	"github.com/hamba/avro/v2"

	rclient "github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

const store = "example_profiles"

const schema = `{"type":"record","name":"Profile","namespace":"rialto.examples","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"nickname","type":["null","string"],"default":null},
	{"name":"skills","type":{"type":"array","items":"string"},"default":[]},
	{"name":"scores","type":{"type":"map","values":"double"},"default":{}}
]}`

func main() {
	controller := flag.String("controller", envOr("RIALTO_CONTROLLER", client.DefaultURL), "controller URL")
	servers := flag.String("servers", "http://127.0.0.1:7071", "read API of the servers, comma-separated")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, client.New(*controller), strings.Split(*servers, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ctl *client.Client, servers []string) error {
	// Partial updates on; active-active keeps per-field and per-element
	// timestamps (replication metadata) even with one region.
	st, err := ctl.Store(ctx, store)
	if client.NotFound(err) {
		cfg := api.DefaultStoreConfig
		cfg.Partitions, cfg.PartialUpdate, cfg.ActiveActive = 2, true, true
		st, err = ctl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: schema, Config: &cfg})
	}
	if err != nil {
		return err
	}
	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return err
	}
	w, err := writer.New(writer.Brokers(cl.Regions[0].Brokers...), writer.Topic(st.RTTopic), writer.Schemas(ctl.SchemaProvider(store)))
	if err != nil {
		return err
	}
	defer w.Close(context.Background())

	// The update schema is derived from the value schema.
	derived, err := partialupdate.Derive(avro.MustParse(schema))
	if err != nil {
		return err
	}

	key := fmt.Sprintf("user-%d", time.Now().UnixNano()%1_000_000)
	t0 := time.Now().UnixMilli()
	steps := []struct {
		what string
		ts   int64
		b    *partialupdate.Builder
	}{
		{"set name, add skills, put a score", t0,
			partialupdate.NewBuilder(derived).Set("name", "Ada").AddToList("skills", "go", "avro").PutEntry("scores", "q1", 7.5)},
		{"set the nullable nickname, add and remove skills", t0 + 1,
			partialupdate.NewBuilder(derived).Set("nickname", "ada").AddToList("skills", "kafka").RemoveFromList("skills", "avro")},
		// Older than the first update: its set of "name" loses (t0-1 < t0),
		// its merge into "skills" still applies (a merge never loses to
		// another merge; SEMANTICS §6). Merged elements are kept in
		// timestamp order, so "pebble" comes first.
		{"a late, older update", t0 - 1,
			partialupdate.NewBuilder(derived).Set("name", "Ada (stale)").AddToList("skills", "pebble").RemoveKeys("scores", "q0")},
	}
	for _, s := range steps {
		u, err := s.b.Build() // every mistake, naming the field, or the update
		if err != nil {
			return err
		}
		js, _ := u.JSON()
		res, err := w.Update(ctx, key, u, writer.WithTimestamp(s.ts))
		if err != nil {
			return err
		}
		fmt.Printf("update at ts %d (%s): %s → partition %d offset %d\n", s.ts, s.what, js, res.Partition, res.Offset)
	}
	// A mistake is caught before anything is written.
	if _, err := partialupdate.NewBuilder(derived).AddToList("name", "x").Build(); err != nil {
		fmt.Printf("refused: %v\n", err)
	}

	rc, err := rclient.New(servers)
	if err != nil {
		return err
	}
	defer rc.Close()
	for {
		rec, err := rc.GetJSON(ctx, store, key, true)
		if err == nil && rec.Found && strings.Contains(string(rec.Value), "pebble") {
			fmt.Printf("read %s: %s\n", key, rec.Value)
			var meta struct {
				Fields []struct {
					Name     string          `json:"name"`
					TS       int64           `json:"ts"`
					Value    json.RawMessage `json:"value"`
					Elements []struct {
						Key    *string         `json:"key"`
						Value  json.RawMessage `json:"value"`
						TS     int64           `json:"ts"`
						Source string          `json:"source"`
					} `json:"elements"`
				} `json:"fields"`
			}
			if err := json.Unmarshal(rec.Meta, &meta); err != nil {
				return err
			}
			for _, f := range meta.Fields {
				fmt.Printf("  %-8s %-24s decided at ts %d\n", f.Name, f.Value, f.TS)
				for _, e := range f.Elements {
					label := string(e.Value)
					if e.Key != nil {
						label = *e.Key + "=" + label
					}
					fmt.Printf("      %-20s %s at ts %d\n", label, e.Source, e.TS)
				}
			}
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read %s: %v (last error %v)", key, ctx.Err(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
