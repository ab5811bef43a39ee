// Command 05-push-replay-rollback walks a hybrid store through its version
// lifecycle against a running `rialto dev`: nearline writes into version N,
// a full push building version N+1 while the real-time buffer is replayed
// into it, the swap once every partition is caught up, a nearline write
// that reaches both versions, and a rollback that returns to version N with
// that write in it.
//
//	go run ./cmd/rialto dev                        # in one terminal
//	go run ./examples/05-push-replay-rollback      # in another
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"time"

	rclient "github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/writer"
)

const store = "example_catalog"

const schema = `{"type":"record","name":"Item","namespace":"rialto.examples","fields":[
	{"name":"title","type":"string","default":""},
	{"name":"price","type":"double","default":0},
	{"name":"stock","type":"long","default":0}
]}`

func main() {
	controller := flag.String("controller", envOr("RIALTO_CONTROLLER", client.DefaultURL), "controller URL")
	servers := flag.String("servers", "http://127.0.0.1:7071", "read API of the servers, comma-separated")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := run(ctx, client.New(*controller), strings.Split(*servers, ",")); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, ctl *client.Client, servers []string) error {
	// A hybrid store: a new version replays the last hour of nearline
	// writes and serves once no partition lags by more than 10 records.
	st, err := ctl.Store(ctx, store)
	if client.NotFound(err) {
		cfg := api.DefaultStoreConfig
		cfg.Partitions, cfg.HybridRewind, cfg.HybridOffsetLag, cfg.VersionsToKeep = 2, api.Duration(time.Hour), 10, 2
		st, err = ctl.CreateStore(ctx, api.CreateStoreRequest{Name: store, KeySchema: `"string"`, ValueSchema: schema, Config: &cfg})
	}
	if err != nil {
		return err
	}
	fmt.Printf("store %s: version %d is current\n", store, st.CurrentVersion)

	cl, err := ctl.Cluster(ctx)
	if err != nil {
		return err
	}
	w, err := writer.New(writer.Brokers(cl.Regions[0].Brokers...), writer.Topic(st.RTTopic), writer.Schemas(ctl.SchemaProvider(store)))
	if err != nil {
		return err
	}
	defer w.Close(context.Background())
	rc, err := rclient.New(servers)
	if err != nil {
		return err
	}
	defer rc.Close()

	// 1. A nearline write: the price of sku-1 changes (newer than the batch).
	if _, err := w.Put(ctx, "sku-1", map[string]any{"title": "Lamp", "price": 19.5, "stock": int64(3)}); err != nil {
		return err
	}

	// 2. A full push of the nightly batch builds the next version. Its
	// sku-1 row is older than the nearline write (timestamp 1), so the
	// replay of the real-time buffer puts the newer price back on top.
	batch := strings.Join([]string{
		`{"key":"sku-1","value":{"title":"Lamp","price":25.0,"stock":10},"timestamp":1}`,
		`{"key":"sku-2","value":{"title":"Desk","price":120.0,"stock":2},"timestamp":1}`,
		`{"key":"sku-3","value":{"title":"Chair","price":60.0,"stock":7},"timestamp":1}`,
	}, "\n") + "\n"
	res, err := push.Full(ctx, ctl, store, push.Input{Reader: strings.NewReader(batch), Name: "nightly.jsonl", Format: push.FormatJSONL})
	if err != nil {
		return err // the version was killed: nothing half-pushed serves
	}
	fmt.Printf("pushed version %d: %d records\n", res.Version, res.Records)
	err = push.Wait(ctx, ctl, store, res.Version, 200*time.Millisecond, func(rs api.ReplayStatus) {
		lag := map[string]int64{}
		for _, p := range rs.Partitions {
			for r, n := range p.Lag {
				lag[r] += n
			}
		}
		fmt.Printf("  replaying into version %d: ready %t, lag %v\n", rs.Version, rs.Ready, sortedLag(lag))
	})
	if err != nil {
		return err
	}
	fmt.Printf("version %d is current\n", res.Version)
	if err := show(ctx, rc, res.Version, "sku-1", `"price":19.5`); err != nil { // the replayed nearline write
		return err
	}
	if err := show(ctx, rc, res.Version, "sku-3", "Chair"); err != nil { // only in the batch
		return err
	}

	// 3. A nearline write now reaches the current version and the backup:
	// both keep applying the real-time topic.
	if _, err := w.Put(ctx, "sku-2", map[string]any{"title": "Desk", "price": 99.0, "stock": int64(1)}); err != nil {
		return err
	}

	// 4. Roll back: the backup serves again, with the fresh write.
	back, err := ctl.Rollback(ctx, store)
	if err != nil {
		return err
	}
	fmt.Printf("rolled back to version %d\n", back.CurrentVersion)
	return show(ctx, rc, back.CurrentVersion, "sku-2", `"price":99`)
}

// show reads key until the given version serves a value containing want
// (reads are nearline: a write is visible once the server applied it).
func show(ctx context.Context, rc *rclient.Client, version int32, key, want string) error {
	for {
		rec, err := rc.GetJSON(ctx, store, key, false)
		if err == nil && rec.Found && rec.Version == version && strings.Contains(string(rec.Value), want) {
			fmt.Printf("  read %s from version %d: %s\n", key, rec.Version, rec.Value)
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("read %s in version %d: %v (last error %v)", key, version, ctx.Err(), err)
		}
		rc.Refresh(ctx) // the servers' current version just changed
		time.Sleep(100 * time.Millisecond)
	}
}

func sortedLag(m map[string]int64) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
