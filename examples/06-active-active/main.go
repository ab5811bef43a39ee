// Command 06-active-active writes the same keys in two regions at once and
// shows both regions converge on the same value, against
// `rialto dev --regions 2` (each region its own broker and server).
//
//	go run ./cmd/rialto dev --regions 2     # in one terminal
//	go run ./examples/06-active-active      # in another
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

const store = "example_aa"

const schema = `{"type":"record","name":"Cart","namespace":"rialto.examples","fields":[
	{"name":"owner","type":"string","default":""},
	{"name":"items","type":{"type":"array","items":"string"},"default":[]}
]}`

func main() {
	controller := flag.String("controller", envOr("RIALTO_CONTROLLER", client.DefaultURL), "controller URL")
	servers := flag.String("region-servers", "http://127.0.0.1:7071,http://127.0.0.1:7072", "read API of each region's server, in region order, comma-separated")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, client.New(*controller), strings.Split(*servers, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ctl *client.Client, servers []string) error {
	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return err
	}
	if len(cl.Regions) < 2 || len(servers) < 2 {
		return fmt.Errorf("this example needs two regions (rialto dev --regions 2) and a server of each; the controller has %d", len(cl.Regions))
	}
	st, err := ctl.Store(ctx, store)
	if client.NotFound(err) {
		cfg := api.DefaultStoreConfig
		cfg.Partitions, cfg.ActiveActive, cfg.PartialUpdate = 2, true, true
		st, err = ctl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: schema, Config: &cfg})
	}
	if err != nil {
		return err
	}

	// One writer per region: the same RT topic name, each region's brokers.
	writers := make([]*writer.Writer, 2)
	for i := range writers {
		w, err := writer.New(writer.Brokers(cl.Regions[i].Brokers...), writer.Topic(st.RTTopic), writer.Schemas(ctl.SchemaProvider(store)))
		if err != nil {
			return err
		}
		defer w.Close(context.Background())
		writers[i] = w
	}
	derived, err := partialupdate.Derive(avro.MustParse(schema))
	if err != nil {
		return err
	}

	key := fmt.Sprintf("cart-%d", time.Now().UnixNano()%1_000_000)
	ts := time.Now().UnixMilli()
	// 1. The same logical timestamp, different values, one per region. The
	// resolution is a pure function of the values, timestamps and regions,
	// so every region picks the same winner whatever order it sees them in:
	// a scalar tie keeps the larger value, a collection tie the write of
	// the larger region id (SEMANTICS §5, §6).
	for i, owner := range []string{"ada", "grace"} {
		v := map[string]any{"owner": owner, "items": []any{fmt.Sprintf("from-%s", cl.Regions[i].Name)}}
		if _, err := writers[i].Put(ctx, key, v, writer.WithTimestamp(ts)); err != nil {
			return err
		}
		fmt.Printf("%s: put %s at ts %d: %v\n", cl.Regions[i].Name, key, ts, v)
	}
	// 2. Concurrent merges into the list from both regions: both are kept.
	for i, item := range []string{"apple", "bread"} {
		u, err := partialupdate.NewBuilder(derived).AddToList("items", item).Build()
		if err != nil {
			return err
		}
		if _, err := writers[i].Update(ctx, key, u, writer.WithTimestamp(ts+1)); err != nil {
			return err
		}
		fmt.Printf("%s: add %q to items at ts %d\n", cl.Regions[i].Name, item, ts+1)
	}

	// 3. Read in both regions until each has applied all four writes.
	var values []string
	for i, srv := range servers[:2] {
		rc, err := rclient.New([]string{srv})
		if err != nil {
			return err
		}
		defer rc.Close()
		for {
			rec, err := rc.GetJSON(ctx, store, key, true)
			if err == nil && rec.Found && strings.Contains(string(rec.Value), "apple") && strings.Contains(string(rec.Value), "bread") {
				var meta struct {
					Fields []struct {
						Name   string `json:"name"`
						Region *int32 `json:"region"`
					} `json:"fields"`
				}
				json.Unmarshal(rec.Meta, &meta)
				decided := "?"
				for _, f := range meta.Fields {
					if f.Name == "items" && f.Region != nil {
						decided = fmt.Sprint(*f.Region)
					}
				}
				fmt.Printf("%s reads %s (the items list was last set by region %s)\n", cl.Regions[i].Name, rec.Value, decided)
				values = append(values, string(rec.Value))
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("%s: read %s: %v (last error %v)", cl.Regions[i].Name, key, ctx.Err(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if values[0] != values[1] {
		return fmt.Errorf("the regions disagree: %s vs %s", values[0], values[1])
	}
	fmt.Println("both regions serve the same value")
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
