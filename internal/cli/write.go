package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/keycodec"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/writer"
)

// writeFlags are the flags every write command shares.
type writeFlags struct {
	store       string
	key         string
	timestamp   int64
	region      string
	wait        bool
	waitTimeout time.Duration
	tsSet       bool // --timestamp given
}

func (wf *writeFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&wf.store, "store", "", "store (required)")
	f.StringVar(&wf.key, "key", "", `key: the literal text for a "string" key schema, JSON otherwise (required)`)
	f.Int64Var(&wf.timestamp, "timestamp", 0, "logical timestamp in ms since the epoch (default: the producer's clock)")
	f.StringVar(&wf.region, "region", "", "region (name or id) whose real-time topic receives the write (default: the first)")
	f.BoolVar(&wf.wait, "wait", false, "return only when the write is readable in the current version of every region that applies it (all regions for active-active stores)")
	f.DurationVar(&wf.waitTimeout, "wait-timeout", 30*time.Second, "how long --wait waits before failing")
}

func (wf *writeFlags) validate(cmd *cobra.Command) []error {
	errs := required([2]string{"store", wf.store})
	if !cmd.Flags().Changed("key") {
		errs = append(errs, usageErrorf("--key: required"))
	}
	wf.tsSet = cmd.Flags().Changed("timestamp")
	if wf.tsSet && wf.timestamp < 0 {
		errs = append(errs, usageErrorf("--timestamp %d: negative", wf.timestamp))
	}
	if wf.waitTimeout <= 0 {
		errs = append(errs, usageErrorf("--wait-timeout %s: must be positive", wf.waitTimeout))
	}
	return errs
}

// writeTarget is what a write needs to know before writing anything: the
// store, its serialized key, and the region receiving it.
type writeTarget struct {
	store   api.Store
	cluster api.Cluster
	region  api.Region
	key     []byte
	keyJSON json.RawMessage
}

func (app *App) writeTarget(ctx context.Context, wf *writeFlags) (*writeTarget, error) {
	st, err := app.store(ctx, wf.store)
	if err != nil {
		return nil, err
	}
	if st.RTTopic == "" {
		return nil, fmt.Errorf("store %s takes no nearline writes (batch only: hybrid rewind 0); push instead", st.Name)
	}
	cl, err := app.cluster(ctx)
	if err != nil {
		return nil, err
	}
	reg, err := pickRegion(cl, wf.region)
	if err != nil {
		return nil, err
	}
	if !st.Config.ActiveActive && wf.region != "" && reg.ID != cl.Regions[0].ID {
		app.Logger().Warn("store is not active-active: only this region applies the write", "store", st.Name, "region", reg.Name)
	}
	ks, err := avro.Parse(st.KeySchema)
	if err != nil {
		return nil, fmt.Errorf("store %s: key schema: %w", st.Name, err)
	}
	kb, err := keycodec.FromText(ks, wf.key)
	if err != nil {
		return nil, usageErrorf("--key %q: %v", wf.key, err)
	}
	kj, err := keycodec.AppendJSON(nil, ks, kb)
	if err != nil {
		return nil, usageErrorf("--key %q: %v", wf.key, err)
	}
	return &writeTarget{store: st, cluster: cl, region: reg, key: kb, keyJSON: kj}, nil
}

// writeOutput is the result of a write command.
type writeOutput struct {
	Store     string          `json:"store"`
	Key       json.RawMessage `json:"key"`
	Op        string          `json:"op"`
	Region    string          `json:"region"`
	RegionID  int32           `json:"regionId"`
	Topic     string          `json:"topic"`
	Partition int32           `json:"partition"`
	Offset    int64           `json:"offset"`
	Timestamp *int64          `json:"timestamp,omitempty"`
	// Readable lists, with --wait, the regions and versions that serve it.
	Readable []readableIn `json:"readable,omitempty"`
}

type readableIn struct {
	Region  string `json:"region"`
	Version int32  `json:"version"`
}

// doWrite opens a writer on the region's RT topic, runs one write, and
// with --wait waits until every region's current version has it.
func (app *App) doWrite(ctx context.Context, wf *writeFlags, t *writeTarget, op string,
	write func(w *writer.Writer, opts ...writer.CallOpt) (writer.Result, error)) error {
	sec, _, err := app.kafkaSecurity()
	if err != nil {
		return err
	}
	w, err := writer.New(writer.Brokers(t.region.Brokers...), writer.Topic(t.store.RTTopic), writer.Security(sec),
		writer.Schemas(app.ctl().SchemaProvider(t.store.Name)), writer.Logger(app.Logger()))
	if err != nil {
		return fmt.Errorf("store %s: region %s: %w", t.store.Name, t.region.Name, err)
	}
	var opts []writer.CallOpt
	out := writeOutput{Store: t.store.Name, Key: t.keyJSON, Op: op, Region: t.region.Name, RegionID: t.region.ID, Topic: t.store.RTTopic}
	if wf.tsSet {
		opts = append(opts, writer.WithTimestamp(wf.timestamp))
		ts := wf.timestamp
		out.Timestamp = &ts
	}
	res, err := write(w, opts...)
	if cerr := w.Close(context.WithoutCancel(ctx)); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store %s: %s %s: %w", t.store.Name, op, t.keyJSON, err)
	}
	out.Partition, out.Offset = res.Partition, res.Offset
	text := fmt.Sprintf("store %s: %s %s written to %s (%s partition %d offset %d)", t.store.Name, op, t.keyJSON, t.region.Name,
		t.store.RTTopic, res.Partition, res.Offset)
	if wf.wait {
		readable, err := app.waitReadable(ctx, t, res, wf.waitTimeout)
		if err != nil {
			return err
		}
		out.Readable = readable
		var parts []string
		for _, r := range readable {
			parts = append(parts, fmt.Sprintf("%s v%d", r.Region, r.Version))
		}
		text += "; readable in " + strings.Join(parts, ", ")
	}
	return app.Print(text, out)
}

// waitReadable polls the servers of every region that applies the write
// until each serves it: the ready replicas of the key's partition in the
// store's current version report a processed upstream offset past the
// write's, for the write's region and RT partition (the leader's footer
// carries it to followers too). Active-active stores apply every region's
// writes in every region; other stores only in the region written to. It
// fails after timeout naming the regions that lag and why.
func (app *App) waitReadable(ctx context.Context, t *writeTarget, res writer.Result, timeout time.Duration) ([]readableIn, error) {
	deadline := time.Now().Add(timeout)
	regions := []api.Region{t.region}
	if t.store.Config.ActiveActive {
		regions = t.cluster.Regions
	}
	for {
		st, err := app.ctl().Store(ctx, t.store.Name)
		if err != nil {
			return nil, err
		}
		var lagging []string
		var readable []readableIn
		for _, r := range regions {
			if why := app.regionLag(ctx, r, st.Name, st.CurrentVersion, t.region, res); why == "" {
				readable = append(readable, readableIn{Region: r.Name, Version: st.CurrentVersion})
			} else {
				lagging = append(lagging, fmt.Sprintf("%s (%s)", r.Name, why))
			}
		}
		if len(lagging) == 0 {
			return readable, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("--wait: store %s: the write (%s partition %d offset %d) is not readable after %s in %s",
				t.store.Name, t.region.Name, res.Partition, res.Offset, timeout, strings.Join(lagging, "; "))
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// regionLag says why region r does not serve the write in version v yet,
// or "" when it does.
func (app *App) regionLag(ctx context.Context, r api.Region, store string, v int32, src api.Region, res writer.Result) string {
	if v == 0 {
		return "no current version"
	}
	servers, err := app.regionServers(ctx, r)
	if err != nil {
		return err.Error()
	}
	hosted, ready, served := 0, 0, 0
	behind, sawNothing := int64(-1), false
	for _, s := range servers {
		status, err := serverStatus(ctx, s)
		if err != nil {
			continue
		}
		for _, p := range status.Partitions {
			if p.Store != store || p.Version != v || p.Partition != res.Partition {
				continue
			}
			hosted++
			if !p.ReadyToServe {
				continue
			}
			ready++
			next := int64(-1)
			for _, u := range p.Upstream {
				if u.Region == src.ID && u.Partition == res.Partition {
					next = u.Offset
				}
			}
			switch {
			case next > res.Offset:
				served++
			case next < 0:
				sawNothing = true
			case behind < 0 || next < behind:
				behind = next
			}
		}
	}
	switch {
	case hosted == 0:
		return fmt.Sprintf("no server hosts v%d partition %d", v, res.Partition)
	case ready == 0:
		return fmt.Sprintf("v%d partition %d is not ready to serve", v, res.Partition)
	case served == ready:
		return ""
	case behind >= 0:
		return fmt.Sprintf("v%d partition %d has processed %s's RT up to offset %d, the write is at %d", v, res.Partition, src.Name, behind, res.Offset)
	case sawNothing:
		return fmt.Sprintf("v%d partition %d has processed nothing of %s's RT partition %d yet", v, res.Partition, src.Name, res.Partition)
	}
	return fmt.Sprintf("v%d partition %d: %d of %d ready replicas serve it", v, res.Partition, served, ready)
}

func newWriteCmd(app *App) *cobra.Command {
	return newGroup("write", "Write puts, partial updates and deletes through a store's real-time topic",
		`  rialto write put --store members --key member-1 --value '{"name":"Ada","tags":["go"]}'
  rialto write update --store members --key member-1 --set '{"name":"Ada L."}' --add tags='"avro"'
  rialto write delete --store members --key member-1 --wait`,
		newWritePutCmd(app), newWriteUpdateCmd(app), newWriteDeleteCmd(app))
}

func newWritePutCmd(app *App) *cobra.Command {
	var wf writeFlags
	var value string
	cmd := &cobra.Command{
		Use:   "put --store STORE --key KEY --value JSON",
		Short: "Write a whole value",
		Long: `Write a whole value of the store's newest value schema, given as a plain
JSON object: one member per field (members left out take the field's
default), unions as their bare value, null for null.`,
		Example: `  rialto write put --store members --key member-1 --value '{"name":"Ada","tags":["go"]}'

  # At a logical timestamp, into region 2's real-time topic, and wait until
  # every region serves it
  rialto write put --store members --key member-1 --value '{"name":"Ada"}' \
      --timestamp 1700000000000 --region 2 --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := wf.validate(cmd)
			if !cmd.Flags().Changed("value") {
				errs = append(errs, usageErrorf("--value: required"))
			} else if err := jsonObject("--value", value); err != nil {
				errs = append(errs, err)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := app.writeTarget(ctx, &wf)
			if err != nil {
				return err
			}
			latest, err := latestSchema(t.store)
			if err != nil {
				return err
			}
			vs, err := avro.Parse(latest.Schema)
			if err != nil {
				return fmt.Errorf("store %s: value schema %d: %w", t.store.Name, latest.ID, err)
			}
			vb, err := partialupdate.ValueFromJSON(vs, []byte(value))
			if err != nil {
				return usageErrorf("--value: %v", err)
			}
			return app.doWrite(ctx, &wf, t, "put", func(w *writer.Writer, opts ...writer.CallOpt) (writer.Result, error) {
				return w.PutBytes(ctx, t.key, latest.ID, vb, opts...)
			})
		},
	}
	wf.register(cmd)
	cmd.Flags().StringVar(&value, "value", "", "the value as a JSON object (required)")
	return cmd
}

func newWriteDeleteCmd(app *App) *cobra.Command {
	var wf writeFlags
	cmd := &cobra.Command{
		Use:   "delete --store STORE --key KEY",
		Short: "Delete a key",
		Example: `  rialto write delete --store members --key member-1
  rialto write delete --store members --key member-1 --timestamp 1700000000000 --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(wf.validate(cmd)...); err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := app.writeTarget(ctx, &wf)
			if err != nil {
				return err
			}
			return app.doWrite(ctx, &wf, t, "delete", func(w *writer.Writer, opts ...writer.CallOpt) (writer.Result, error) {
				return w.DeleteBytes(ctx, t.key, opts...)
			})
		},
	}
	wf.register(cmd)
	return cmd
}

func newWriteUpdateCmd(app *App) *cobra.Command {
	var wf writeFlags
	var set string
	var add, remove, put, removeKeys []string
	cmd := &cobra.Command{
		Use:   "update --store STORE --key KEY [--set JSON] [--add FIELD=JSON]... [--remove FIELD=JSON]... [--put FIELD=JSONOBJECT]... [--remove-keys FIELD=JSON]...",
		Short: "Write a partial update: set some fields, merge into collections",
		Long: `Write a partial update (the store needs --partial-update). Fields not named
are left alone.

  --set JSON               a JSON object of fields to replace (null where nullable;
                           a list or map value replaces the whole collection)
  --add FIELD=JSON         add elements to a list field (a JSON array of elements,
                           or one element); each element not present is appended
  --remove FIELD=JSON      remove every occurrence of the elements from a list field
  --put FIELD=JSONOBJECT   put entries into a map field (existing keys overwritten)
  --remove-keys FIELD=JSON remove keys (a JSON array of strings, or one string)
                           from a map field

The repeated flags may name one field several times; a field may be added to
and removed from in one update, but not set and merged. Errors name the field.`,
		Example: `  rialto write update --store members --key member-1 --set '{"name":"Ada L."}'
  rialto write update --store members --key member-1 --add tags='["avro","kafka"]' --remove tags='"java"'
  rialto write update --store members --key member-1 --put scores='{"q1":7.5}' --remove-keys scores='"q0"'
  rialto write update --store members --key member-1 --add tags='"go"' --timestamp 1700000000000 --wait`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := wf.validate(cmd)
			doc, derr := updateDocument(set, add, remove, put, removeKeys)
			if derr != nil {
				errs = append(errs, derr)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			ctx := cmd.Context()
			t, err := app.writeTarget(ctx, &wf)
			if err != nil {
				return err
			}
			if !t.store.Config.PartialUpdate {
				return fmt.Errorf("store %s does not take partial updates (enable with 'rialto store update %s --partial-update')", t.store.Name, t.store.Name)
			}
			latest, err := latestSchema(t.store)
			if err != nil {
				return err
			}
			if latest.UpdateSchemaID == 0 {
				return fmt.Errorf("store %s: value schema %d has no update schema", t.store.Name, latest.ID)
			}
			vs, err := avro.Parse(latest.Schema)
			if err != nil {
				return fmt.Errorf("store %s: value schema %d: %w", t.store.Name, latest.ID, err)
			}
			ps, err := partialupdate.Derive(vs)
			if err != nil {
				return fmt.Errorf("store %s: value schema %d: %w", t.store.Name, latest.ID, err)
			}
			u, err := partialupdate.ParseJSON(ps, doc)
			if err != nil {
				return usageErrorf("%s", updateError(err))
			}
			ub, err := u.Encode()
			if err != nil {
				return fmt.Errorf("store %s: encoding the update: %w", t.store.Name, err)
			}
			return app.doWrite(ctx, &wf, t, "update", func(w *writer.Writer, opts ...writer.CallOpt) (writer.Result, error) {
				return w.UpdateBytes(ctx, t.key, latest.ID, latest.UpdateSchemaID, ub, opts...)
			})
		},
	}
	wf.register(cmd)
	f := cmd.Flags()
	f.StringVar(&set, "set", "", "JSON object of fields to replace")
	f.StringArrayVar(&add, "add", nil, "FIELD=JSON: add elements (array or one element) to a list field (repeatable)")
	f.StringArrayVar(&remove, "remove", nil, "FIELD=JSON: remove elements (array or one element) from a list field (repeatable)")
	f.StringArrayVar(&put, "put", nil, "FIELD=JSONOBJECT: put entries into a map field (repeatable)")
	f.StringArrayVar(&removeKeys, "remove-keys", nil, "FIELD=JSON: remove keys (array or one string) from a map field (repeatable)")
	return cmd
}

// updateError turns partialupdate's errors (one per problem, joined) into
// one line without the package prefix.
func updateError(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimPrefix(l, "partialupdate: ")
	}
	return strings.Join(lines, "; ")
}

// jsonObject checks that s is one JSON object.
func jsonObject(flag, s string) error {
	t := strings.TrimSpace(s)
	if !json.Valid([]byte(t)) {
		return usageErrorf("%s: not valid JSON: %s", flag, jsonError(t))
	}
	if !strings.HasPrefix(t, "{") {
		return usageErrorf("%s: want a JSON object of fields, got %s", flag, abbreviate(t, 40))
	}
	return nil
}

func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// updateDocument assembles the JSON form of an update (package
// partialupdate's "set", "add", "remove", "put", "removeKeys") from the
// flags. A FIELD=JSON operand that is not an array is one element; the
// operands of one field are concatenated in flag order.
func updateDocument(set string, add, remove, put, removeKeys []string) ([]byte, error) {
	var errs []error
	var doc bytes.Buffer
	doc.WriteByte('{')
	member := func(name string, body []byte) {
		if doc.Len() > 1 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, "%q:", name)
		doc.Write(body)
	}
	if set != "" {
		if err := jsonObject("--set", set); err != nil {
			errs = append(errs, err)
		} else {
			member("set", []byte(strings.TrimSpace(set)))
		}
	}
	lists := func(flag, name string, args []string, object bool) {
		if len(args) == 0 {
			return
		}
		var order []string
		items := map[string][]json.RawMessage{}
		for _, a := range args {
			field, val, ok := strings.Cut(a, "=")
			field = strings.TrimSpace(field)
			if !ok || field == "" {
				errs = append(errs, usageErrorf("%s %q: want FIELD=JSON", flag, a))
				continue
			}
			val = strings.TrimSpace(val)
			if !json.Valid([]byte(val)) {
				errs = append(errs, usageErrorf("%s %s: not valid JSON: %s", flag, field, jsonError(val)))
				continue
			}
			if _, seen := items[field]; !seen {
				order = append(order, field)
				items[field] = nil
			}
			switch {
			case object && !strings.HasPrefix(val, "{"):
				errs = append(errs, usageErrorf("%s %s: want a JSON object of entries, got %s", flag, field, abbreviate(val, 40)))
			case object:
				items[field] = append(items[field], json.RawMessage(val))
			case strings.HasPrefix(val, "["):
				var elems []json.RawMessage
				json.Unmarshal([]byte(val), &elems)
				items[field] = append(items[field], elems...)
			default:
				items[field] = append(items[field], json.RawMessage(val))
			}
		}
		var body bytes.Buffer
		body.WriteByte('{')
		for i, field := range order {
			if i > 0 {
				body.WriteByte(',')
			}
			fmt.Fprintf(&body, "%q:", field)
			if object {
				body.Write(mergeObjects(items[field]))
				continue
			}
			body.WriteByte('[')
			for j, e := range items[field] {
				if j > 0 {
					body.WriteByte(',')
				}
				body.Write(e)
			}
			body.WriteByte(']')
		}
		body.WriteByte('}')
		member(name, body.Bytes())
	}
	lists("--add", "add", add, false)
	lists("--remove", "remove", remove, false)
	lists("--put", "put", put, true)
	lists("--remove-keys", "removeKeys", removeKeys, false)
	doc.WriteByte('}')
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if doc.Len() == 2 {
		return nil, usageErrorf("nothing to update: give --set, --add, --remove, --put or --remove-keys")
	}
	return doc.Bytes(), nil
}

// mergeObjects concatenates the members of JSON objects into one object,
// keeping their order (a later duplicate key wins when partialupdate reads
// it, as mapUnion would).
func mergeObjects(objs []json.RawMessage) []byte {
	if len(objs) == 1 {
		return objs[0]
	}
	var out bytes.Buffer
	out.WriteByte('{')
	n := 0
	for _, o := range objs {
		inner := bytes.TrimSpace(o)
		inner = bytes.TrimSpace(inner[1 : len(inner)-1])
		if len(inner) == 0 {
			continue
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.Write(inner)
		n++
	}
	out.WriteByte('}')
	return out.Bytes()
}
