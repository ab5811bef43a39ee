package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/spf13/cobra"

	rclient "github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/keycodec"
	"github.com/rialtodb/rialto/partialupdate"
)

// readOutput is `read get --output json`: exactly these members, "meta"
// only with --meta.
type readOutput struct {
	Store   string          `json:"store"`
	Key     json.RawMessage `json:"key"`
	Found   bool            `json:"found"`
	Value   json.RawMessage `json:"value"`
	Version int32           `json:"version"`
	Meta    json.RawMessage `json:"meta,omitempty"`
}

func newReadCmd(app *App) *cobra.Command {
	return newGroup("read", "Read keys from a store's current version",
		`  rialto read get --store members --key member-1 --meta
  rialto read batch --store members --keys keys.txt`,
		newReadGetCmd(app), newReadBatchCmd(app))
}

// readClient is a read client over the servers of --region.
func (app *App) readClient(ctx context.Context, regionSpec string) (*rclient.Client, api.Region, error) {
	cl, err := app.cluster(ctx)
	if err != nil {
		return nil, api.Region{}, err
	}
	reg, err := pickRegion(cl, regionSpec)
	if err != nil {
		return nil, reg, err
	}
	servers, err := app.regionServers(ctx, reg)
	if err != nil {
		return nil, reg, err
	}
	c, err := rclient.New(servers, rclient.Logger(app.Logger()), rclient.RefreshInterval(time.Hour))
	if err != nil {
		return nil, reg, err
	}
	return c, reg, nil
}

func newReadGetCmd(app *App) *cobra.Command {
	var store, key, region string
	var meta bool
	cmd := &cobra.Command{
		Use:   "get --store STORE --key KEY [--region R] [--meta]",
		Short: "Read one key",
		Long: `Read one key from the store's current version in one region (default the
first). With --meta the answer explains the value: per field the timestamp
that decided it and, for collections, the region of the last whole-field
write and each element's timestamp (scalar fields and merged elements carry
no region in the replication metadata; the explanation says so by leaving
it out).

--output json prints exactly one object:
  {"store":…, "key":…, "found":true|false, "value":…, "version":N}
plus "meta" with --meta.`,
		Example: `  rialto read get --store members --key member-1
  rialto read get --store members --key member-1 --meta -o json
  rialto read get --store features --key 42 --region region-2`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if !cmd.Flags().Changed("key") {
				errs = append(errs, usageErrorf("--key: required"))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := app.store(ctx, store)
			if err != nil {
				return err
			}
			ks, err := avro.Parse(st.KeySchema)
			if err != nil {
				return fmt.Errorf("store %s: key schema: %w", store, err)
			}
			if _, err := keycodec.FromText(ks, key); err != nil {
				return usageErrorf("--key %q: %v", key, err)
			}
			c, reg, err := app.readClient(ctx, region)
			if err != nil {
				return err
			}
			defer c.Close()
			rec, err := c.GetJSON(ctx, store, key, meta)
			if err != nil {
				return fmt.Errorf("store %s: reading %q in %s: %w", store, key, reg.Name, err)
			}
			out := readOutput{Store: rec.Store, Key: rec.Key, Found: rec.Found, Value: rec.Value, Version: rec.Version}
			if len(out.Value) == 0 {
				out.Value = json.RawMessage("null")
			}
			if meta {
				out.Meta = rec.Meta
				if len(out.Meta) == 0 {
					out.Meta = json.RawMessage("null")
				}
			}
			return app.Print(renderRead(out, meta), out)
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store (required)")
	f.StringVar(&key, "key", "", `key: the literal text for a "string" key schema, JSON otherwise (required)`)
	f.StringVar(&region, "region", "", "region (name or id) to read in (default: the first)")
	f.BoolVar(&meta, "meta", false, "explain the value: per-field timestamps and regions, per element for collections")
	return cmd
}

// renderRead is read get's text form.
func renderRead(r readOutput, meta bool) string {
	var b strings.Builder
	if r.Found {
		fmt.Fprintf(&b, "%s (store %s, version %d)\n", r.Value, r.Store, r.Version)
	} else {
		fmt.Fprintf(&b, "key %s not found (store %s, version %d)\n", r.Key, r.Store, r.Version)
	}
	if !meta || len(r.Meta) == 0 || string(r.Meta) == "null" {
		return b.String()
	}
	var ex conflict.Explanation
	if err := json.Unmarshal(r.Meta, &ex); err != nil {
		fmt.Fprintf(&b, "meta: %s\n", r.Meta)
		return b.String()
	}
	switch {
	case ex.Absent:
		b.WriteString("meta: no value and no replication metadata\n")
		return b.String()
	case ex.Tombstone:
		b.WriteString("meta: deleted (tombstone kept for conflict resolution)\n")
	}
	switch ex.Metadata {
	case conflict.MetadataNone:
		b.WriteString("meta: no replication metadata (batch data: every timestamp reads as 0)\n")
	case conflict.MetadataValueLevel:
		ts := "?"
		if ex.TS != nil {
			ts = fmtTS(*ex.TS)
		}
		fmt.Fprintf(&b, "meta: value-level, the whole value decided at ts %s (value-level metadata records no region)\n", ts)
	default:
		fmt.Fprintf(&b, "meta: %s (value schema %d)\n", ex.Metadata, ex.SchemaID)
	}
	if len(ex.Fields) == 0 {
		return b.String()
	}
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  FIELD\tKIND\tTS\tREGION\tVALUE")
	for _, f := range ex.Fields {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", f.Name, f.Kind, fmtTS(f.TS), fmtRegion(f.Region, f.Kind), abbreviate(string(f.Value), 60))
		for _, e := range f.Elements {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t\n", elementLabel(e), e.Source, fmtTS(e.TS), fmtRegion(e.Region, "element"))
		}
		for _, e := range f.Tombstones {
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t\n", elementLabel(e), "removed", fmtTS(e.TS), fmtRegion(e.Region, "element"))
		}
	}
	tw.Flush()
	return b.String()
}

func elementLabel(e conflict.ElementExplanation) string {
	if e.Key != nil {
		return fmt.Sprintf("%q", *e.Key) + abbreviateIf(": ", string(e.Value))
	}
	return abbreviate(string(e.Value), 40)
}

func abbreviateIf(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + abbreviate(s, 30)
}

func fmtTS(ts int64) string { return fmt.Sprint(ts) }

// fmtRegion prints a region id, or why there is none.
func fmtRegion(r *int32, kind string) string {
	switch {
	case r == nil && kind == "scalar":
		return "(not recorded)"
	case r == nil:
		return "-"
	case *r < 0:
		return "batch"
	}
	return fmt.Sprint(*r)
}

// batchOutput is one line of `read batch --output json`.
type batchOutput = readOutput

func newReadBatchCmd(app *App) *cobra.Command {
	var store, keysFile, region string
	cmd := &cobra.Command{
		Use:   "batch --store STORE --keys FILE|- [--region R]",
		Short: "Read many keys at once",
		Long: `Read the keys listed in a file (or standard input with -), one per line in
the --key form (blank lines skipped), from one version of the store: one
result per key in the order given. --output json prints one object per key
and line, as read get does.`,
		Example: `  printf 'member-1\nmember-2\n' | rialto read batch --store members --keys -
  rialto read batch --store features --keys ids.txt -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(required([2]string{"store", store}, [2]string{"keys", keysFile})...); err != nil {
				return err
			}
			ctx := cmd.Context()
			st, err := app.store(ctx, store)
			if err != nil {
				return err
			}
			ks, err := avro.Parse(st.KeySchema)
			if err != nil {
				return fmt.Errorf("store %s: key schema: %w", store, err)
			}
			texts, err := readKeyLines(keysFile, cmd.InOrStdin())
			if err != nil {
				return err
			}
			keys := make([][]byte, len(texts))
			var errs []error
			for i, t := range texts {
				if keys[i], err = keycodec.FromText(ks, t); err != nil {
					errs = append(errs, usageErrorf("--keys line %d %q: %v", i+1, t, err))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			c, reg, err := app.readClient(ctx, region)
			if err != nil {
				return err
			}
			defer c.Close()
			vals, err := c.BatchGetSerialized(ctx, store, keys)
			if err != nil {
				return fmt.Errorf("store %s: batch read in %s: %w", store, reg.Name, err)
			}
			schemas := map[int32]avro.Schema{}
			var text strings.Builder
			for i, v := range vals {
				kj, _ := keycodec.AppendJSON(nil, ks, keys[i])
				out := batchOutput{Store: store, Key: kj, Found: v.Found, Value: json.RawMessage("null"), Version: v.Version}
				if v.Found {
					sch := schemas[v.SchemaID]
					if sch == nil {
						if sch, err = schemaByID(st, v.SchemaID); err != nil {
							return err
						}
						schemas[v.SchemaID] = sch
					}
					js, err := partialupdate.ValueToJSON(sch, v.Bytes)
					if err != nil {
						return fmt.Errorf("store %s: key %s: value of schema %d: %w", store, kj, v.SchemaID, err)
					}
					out.Value = js
				}
				if app.Output == OutputJSON {
					if err := app.Print("", out); err != nil {
						return err
					}
					continue
				}
				if v.Found {
					fmt.Fprintf(&text, "%s\t%s\n", kj, out.Value)
				} else {
					fmt.Fprintf(&text, "%s\t(not found)\n", kj)
				}
			}
			if app.Output == OutputJSON {
				return nil
			}
			if len(vals) > 0 {
				fmt.Fprintf(&text, "%d keys read from store %s version %d in %s", len(vals), store, vals[0].Version, reg.Name)
			} else {
				text.WriteString("no keys given")
			}
			return app.Print(text.String(), nil)
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store (required)")
	f.StringVar(&keysFile, "keys", "", "file of keys, one per line, or - for standard input (required)")
	f.StringVar(&region, "region", "", "region (name or id) to read in (default: the first)")
	return cmd
}

// readKeyLines reads the non-blank lines of path ("-": in).
func readKeyLines(path string, in io.Reader) ([]string, error) {
	r := in
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, usageErrorf("--keys: %v", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if t := strings.TrimRight(sc.Text(), "\r"); strings.TrimSpace(t) != "" {
			out = append(out, t)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--keys %s: %w", path, err)
	}
	return out, nil
}
