// Command 01-writer writes rows into a store with the writer library and
// reads them back with the read client, against a running `rialto dev`.
//
//	go run ./cmd/rialto dev          # in one terminal
//	go run ./examples/01-writer      # in another
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strings"
	"time"

	rclient "github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/writer"
)

const store = "example_writer"

const schema = `{"type":"record","name":"Visit","namespace":"rialto.examples","fields":[
	{"name":"page","type":"string","default":""},
	{"name":"count","type":"long","default":0}
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
	// 1. The store: created once, reused by later runs.
	st, err := ctl.Store(ctx, store)
	if client.NotFound(err) {
		cfg := api.DefaultStoreConfig
		cfg.Partitions = 2
		st, err = ctl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: schema, Config: &cfg})
	}
	if err != nil {
		return err
	}

	// 2. A writer on the store's real-time topic in the controller's region.
	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return err
	}
	w, err := writer.New(
		writer.Brokers(cl.Regions[0].Brokers...),
		writer.Topic(st.RTTopic),
		writer.Schemas(ctl.SchemaProvider(store)), // key and value schemas from the controller
	)
	if err != nil {
		return err
	}
	defer w.Close(context.Background())

	// 3. Synchronous puts: each returns once Kafka acknowledged it.
	now := time.Now().UnixMilli()
	for i, page := range []string{"/home", "/docs", "/pricing"} {
		key := fmt.Sprintf("visitor-%d", i+1)
		res, err := w.Put(ctx, key, map[string]any{"page": page, "count": int64(i + 1)}, writer.WithTimestamp(now))
		if err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
		fmt.Printf("put %s → partition %d offset %d\n", key, res.Partition, res.Offset)
	}
	// Asynchronous puts, then Flush: every callback has run when it returns.
	for i := 4; i <= 6; i++ {
		key := fmt.Sprintf("visitor-%d", i)
		err := w.PutAsync(ctx, key, map[string]any{"page": "/blog", "count": int64(i)}, func(r writer.Result, err error) {
			if err != nil {
				log.Printf("async put %s failed: %v", key, err)
			}
		}, writer.WithTimestamp(now))
		if err != nil {
			return err
		}
	}
	if err := w.Flush(ctx); err != nil {
		return err
	}
	// A delete, one millisecond later.
	if _, err := w.Delete(ctx, "visitor-6", writer.WithTimestamp(now+1)); err != nil {
		return err
	}

	// 4. Read back through the servers (nearline: poll until applied).
	rc, err := rclient.New(servers)
	if err != nil {
		return err
	}
	defer rc.Close()
	for _, key := range []string{"visitor-1", "visitor-5", "visitor-6"} {
		want := key != "visitor-6"
		for {
			rec, err := rc.GetJSON(ctx, store, key, false)
			if err == nil && rec.Found == want {
				if want {
					fmt.Printf("read %s: %s (version %d)\n", key, rec.Value, rec.Version)
				} else {
					fmt.Printf("read %s: deleted (version %d)\n", key, rec.Version)
				}
				break
			}
			if ctx.Err() != nil {
				return fmt.Errorf("read %s: %v (last error %v)", key, ctx.Err(), err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
