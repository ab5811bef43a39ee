package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/keycodec"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
)

// inspectRecord is one line of `topic inspect`.
type inspectRecord struct {
	Partition        int32           `json:"partition"`
	Offset           int64           `json:"offset"`
	Kind             string          `json:"kind"`
	Producer         string          `json:"producer,omitempty"`
	Segment          int32           `json:"segment"`
	Sequence         int32           `json:"sequence"`
	ProducerTime     int64           `json:"producerTimestamp"`
	LogicalTimestamp *int64          `json:"logicalTimestamp,omitempty"`
	Key              json.RawMessage `json:"key,omitempty"`
	Summary          string          `json:"summary"`
	Error            string          `json:"error,omitempty"`
}

func newTopicCmd(app *App) *cobra.Command {
	return newGroup("topic", "Inspect a store's Kafka topics",
		`  rialto topic inspect --store members --rt --limit 20
  rialto topic inspect --store members --version 2`,
		newTopicInspectCmd(app))
}

func newTopicInspectCmd(app *App) *cobra.Command {
	var store, region string
	var rt bool
	var version int32
	var limit int
	cmd := &cobra.Command{
		Use:   "inspect --store STORE (--rt [--region R] | --version N) [--limit N]",
		Short: "Print the records of a store's real-time or version topic",
		Long: `Print the records of the store's real-time topic (--rt, in --region, default
the first) or of a version topic (--version N, in --region), one line per
record: partition and offset, kind (put, delete, update, or the control
message), producer GUID, segment and sequence, producer and logical
timestamps, key, and a summary of the payload (values and updates as JSON
where the schema is known and the value is not compressed; the leader
footer of version-topic records says which RT record they came from).
Records are read from the start of every partition up to its end when the
command started, partition by partition; --limit caps the total.`,
		Example: `  rialto topic inspect --store members --rt
  rialto topic inspect --store members --rt --region region-2 --limit 10
  rialto topic inspect --store members --version 1 -o json`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if rt == (version != 0) {
				errs = append(errs, usageErrorf("want exactly one of --rt and --version N"))
			}
			if version < 0 {
				errs = append(errs, usageErrorf("--version %d: negative", version))
			}
			if limit < 0 {
				errs = append(errs, usageErrorf("--limit %d: negative", limit))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return runInspect(cmd.Context(), app, store, region, rt, version, limit)
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store (required)")
	f.BoolVar(&rt, "rt", false, "inspect the real-time topic")
	f.Int32Var(&version, "version", 0, "inspect the topic of this version")
	f.StringVar(&region, "region", "", "region (name or id) whose topic to read (default: the first)")
	f.IntVar(&limit, "limit", 0, "print at most this many records (0: all)")
	return cmd
}

func runInspect(ctx context.Context, app *App, store, regionSpec string, rt bool, version int32, limit int) error {
	st, err := app.store(ctx, store)
	if err != nil {
		return err
	}
	cl, err := app.cluster(ctx)
	if err != nil {
		return err
	}
	reg, err := pickRegion(cl, regionSpec)
	if err != nil {
		return err
	}
	topic, decodeValues := st.RTTopic, true
	if rt && topic == "" {
		return fmt.Errorf("store %s has no real-time topic (batch only)", store)
	}
	if !rt {
		v := findVersion(st, version)
		if v == nil {
			return fmt.Errorf("store %s has no version %d (see 'rialto version list --store %s')", store, version, store)
		}
		topic, decodeValues = v.Topic, v.Compression == "" || v.Compression == "none"
	}
	ks, err := avro.Parse(st.KeySchema)
	if err != nil {
		return fmt.Errorf("store %s: key schema: %w", store, err)
	}
	kc, err := app.kafkaClient(ctx, reg)
	if err != nil {
		return err
	}
	defer kc.Close()
	ends, err := kadm.NewClient(kc).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("region %s: topic %s: %w", reg.Name, topic, err)
	}
	starts, err := kadm.NewClient(kc).ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("region %s: topic %s: %w", reg.Name, topic, err)
	}
	want := map[int32]int64{} // partition → end offset to read up to
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		start, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > start.Offset {
			want[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().At(start.Offset)
		}
	})
	in := &inspector{store: st, keySchema: ks, decodeValues: decodeValues, cluster: cl,
		schemas: map[int32]avro.Schema{}, updates: map[int32]*partialupdate.Schema{}}
	var records []inspectRecord
	if len(want) > 0 {
		consumer, err := app.kafkaClient(ctx, reg, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
			kgo.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			return err
		}
		defer consumer.Close()
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		for len(want) > 0 {
			fs := consumer.PollFetches(rctx)
			if rctx.Err() != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("region %s: topic %s: reading timed out with partitions %v unfinished", reg.Name, topic, sortedPartitions(want))
			}
			var ferr error
			fs.EachError(func(_ string, p int32, err error) {
				ferr = fmt.Errorf("region %s: topic %s partition %d: %w", reg.Name, topic, p, err)
			})
			if ferr != nil {
				return ferr
			}
			fs.EachRecord(func(r *kgo.Record) {
				end, ok := want[r.Partition]
				if !ok || r.Offset >= end {
					return
				}
				records = append(records, in.record(r))
				if r.Offset+1 >= end {
					delete(want, r.Partition)
				}
			})
		}
	}
	sort.SliceStable(records, func(i, j int) bool {
		if records[i].Partition != records[j].Partition {
			return records[i].Partition < records[j].Partition
		}
		return records[i].Offset < records[j].Offset
	})
	if limit > 0 && len(records) > limit {
		records = records[:limit]
	}
	var text strings.Builder
	for _, r := range records {
		if app.Output == OutputJSON {
			if err := app.Print("", r); err != nil {
				return err
			}
			continue
		}
		text.WriteString(renderInspect(r))
		text.WriteByte('\n')
	}
	if app.Output == OutputJSON {
		return nil
	}
	fmt.Fprintf(&text, "%d records of %s in %s", len(records), topic, reg.Name)
	return app.Print(text.String(), nil)
}

func sortedPartitions(m map[int32]int64) []int32 {
	var out []int32
	for p := range m {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func renderInspect(r inspectRecord) string {
	logical := "-"
	if r.LogicalTimestamp != nil {
		logical = fmt.Sprint(*r.LogicalTimestamp)
	}
	key := string(r.Key)
	if key == "" {
		key = "-"
	}
	line := fmt.Sprintf("p%d@%d %s producer=%s seg=%d seq=%d ts=%d logical=%s key=%s %s",
		r.Partition, r.Offset, r.Kind, abbreviate(orDash(r.Producer), 8), r.Segment, r.Sequence, r.ProducerTime, logical, key, r.Summary)
	if r.Error != "" {
		line += " ERROR " + r.Error
	}
	return line
}

// inspector decodes records of one store's topic.
type inspector struct {
	store        api.Store
	keySchema    avro.Schema
	decodeValues bool
	cluster      api.Cluster
	schemas      map[int32]avro.Schema
	updates      map[int32]*partialupdate.Schema
}

func (in *inspector) schema(id int32) avro.Schema {
	if s, ok := in.schemas[id]; ok {
		return s
	}
	s, _ := schemaByID(in.store, id)
	in.schemas[id] = s
	return s
}

func (in *inspector) updateSchema(id int32) *partialupdate.Schema {
	if s, ok := in.updates[id]; ok {
		return s
	}
	var ps *partialupdate.Schema
	if s := in.schema(id); s != nil {
		ps, _ = partialupdate.Derive(s)
	}
	in.updates[id] = ps
	return ps
}

func (in *inspector) record(r *kgo.Record) inspectRecord {
	out := inspectRecord{Partition: r.Partition, Offset: r.Offset}
	rk, err := wire.ParseKey(r.Key)
	if err != nil {
		out.Kind, out.Error = "unknown", err.Error()
		return out
	}
	if rk.Key != nil && (rk.Kind == wire.KeyData || rk.Kind == wire.KeyUpdate || rk.Kind == wire.KeyChunk) {
		if kj, err := keycodec.AppendJSON(nil, in.keySchema, rk.Key); err == nil {
			out.Key = kj
		} else {
			out.Key, _ = json.Marshal(fmt.Sprintf("%x", rk.Key))
		}
	}
	env, err := wire.Decode(r.Value)
	if err != nil {
		out.Kind, out.Error = "unknown", err.Error()
		return out
	}
	p := env.Producer
	out.Producer, out.Segment, out.Sequence, out.ProducerTime = p.GUID.String(), p.Segment, p.Sequence, p.ProducerTimestamp
	if p.HasLogicalTimestamp {
		ts := p.LogicalTimestamp
		out.LogicalTimestamp = &ts
	}
	out.Kind = env.Type.String()
	var sum []string
	switch env.Type {
	case wire.TypePut:
		put := env.Put
		sum = append(sum, fmt.Sprintf("schema %d", put.SchemaID))
		switch {
		case put.Chunks != nil:
			sum = append(sum, fmt.Sprintf("chunked: %d chunks, %d B", len(put.Chunks.ChunkKeys), put.Chunks.Size))
		case in.decodeValues && in.schema(put.SchemaID) != nil:
			if js, err := partialupdate.ValueToJSON(in.schema(put.SchemaID), put.Value); err == nil {
				sum = append(sum, abbreviate(string(js), 120))
			} else {
				sum = append(sum, fmt.Sprintf("%d B (undecodable: %v)", len(put.Value), err))
			}
		default:
			sum = append(sum, fmt.Sprintf("%d B compressed", len(put.Value)))
		}
		if put.RMD != nil {
			sum = append(sum, fmt.Sprintf("rmd v%d %d B", put.RMD.Version, len(put.RMD.Data)))
		}
	case wire.TypeDelete:
		if env.Delete.RMD != nil {
			sum = append(sum, fmt.Sprintf("rmd v%d %d B", env.Delete.RMD.Version, len(env.Delete.RMD.Data)))
		}
	case wire.TypeUpdate:
		u := env.Update
		sum = append(sum, fmt.Sprintf("schema %d update schema %d", u.SchemaID, u.UpdateSchemaID))
		if ps := in.updateSchema(u.SchemaID); ps != nil {
			if dec, err := partialupdate.Decode(ps, u.Update); err == nil {
				if js, err := dec.JSON(); err == nil {
					sum = append(sum, abbreviate(string(js), 120))
				}
			}
		}
	case wire.TypeChunk:
		sum = append(sum, fmt.Sprintf("chunk %d, %d B", env.Chunk.Index, len(env.Chunk.Data)))
	case wire.TypeControl:
		out.Kind = env.Control.Type.String()
		sum = append(sum, in.control(env.Control))
	}
	if l := env.Leader; l != nil {
		sum = append(sum, fmt.Sprintf("from %s RT p%d@%d (leader term %d)", regionName(in.cluster, l.UpstreamRegion), l.UpstreamPartition, l.UpstreamOffset, l.LeaderTerm))
	}
	out.Summary = strings.Join(sum, "; ")
	return out
}

func (in *inspector) control(c wire.Control) string {
	switch c.Type {
	case wire.ControlStartOfPush:
		s := fmt.Sprintf("compression %s, sorted %t, chunked %t", c.StartOfPush.Compression, c.StartOfPush.Sorted, c.StartOfPush.Chunked)
		if n := len(c.StartOfPush.Dictionary); n > 0 {
			s += fmt.Sprintf(", dictionary %d B", n)
		}
		return s
	case wire.ControlEndOfSegment:
		return fmt.Sprintf("checksum %x, final %t", c.EndOfSegment.ChecksumValue, c.EndOfSegment.Final)
	case wire.ControlStartOfIncrementalPush, wire.ControlEndOfIncrementalPush:
		return "push " + c.IncrementalPush.PushID
	case wire.ControlTopicSwitch:
		var names []string
		for _, s := range c.TopicSwitch.Sources {
			names = append(names, fmt.Sprintf("%s (id %d)", s.Name, s.Region))
		}
		return fmt.Sprintf("replay %s of %s from %s", c.TopicSwitch.Topic, strings.Join(names, ", "),
			time.UnixMilli(c.TopicSwitch.RewindStart).UTC().Format(time.RFC3339))
	case wire.ControlVersionSwap:
		return fmt.Sprintf("v%d → v%d", c.VersionSwap.OldVersion, c.VersionSwap.NewVersion)
	}
	return ""
}
