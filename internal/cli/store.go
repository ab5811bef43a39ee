package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/rialtodb/rialto/controller/api"
)

// storeFlags are the store configuration flags of store create and store
// update; only flags given on the command line change the configuration.
type storeFlags struct {
	partitions      int32
	partialUpdate   bool
	activeActive    bool
	hybridRewind    time.Duration
	hybridOffsetLag int64
	replayPolicy    string
	compression     string
	chunking        bool
	versionsToKeep  int
	rtRetention     time.Duration
}

func (sf *storeFlags) register(f *pflag.FlagSet) {
	d := api.DefaultStoreConfig
	f.Int32Var(&sf.partitions, "partitions", d.Partitions, "partitions of the store's topics (takes effect at the next full push on update)")
	f.BoolVar(&sf.partialUpdate, "partial-update", d.PartialUpdate, "accept partial updates and collection merges")
	f.BoolVar(&sf.activeActive, "active-active", d.ActiveActive, "accept writes in every region and resolve conflicts with replication metadata")
	f.DurationVar(&sf.hybridRewind, "hybrid-rewind", time.Duration(d.HybridRewind), "how far before end-of-push a new version replays the real-time buffer (0: batch only, no nearline writes)")
	f.Int64Var(&sf.hybridOffsetLag, "hybrid-offset-lag", d.HybridOffsetLag, "replay lag (records) under which a partition of a new version is ready to serve")
	f.StringVar(&sf.replayPolicy, "replay-policy", d.ReplayPolicy, "replay from end-of-push or start-of-push minus the rewind")
	f.StringVar(&sf.compression, "compression", d.Compression, "value compression of version topics: none, gzip, zstd or zstd-dict")
	f.BoolVar(&sf.chunking, "chunking", d.Chunking, "split values above the writer's threshold into chunks")
	f.IntVar(&sf.versionsToKeep, "versions-to-keep", d.VersionsToKeep, "the current version and its backups")
	f.DurationVar(&sf.rtRetention, "rt-retention", time.Duration(d.RTRetention), "retention of the real-time topic (at least the rewind plus a margin)")
}

// apply copies the flags given on the command line into cfg and reports
// whether any was, and every bad value at once.
func (sf *storeFlags) apply(f *pflag.FlagSet, cfg *api.StoreConfig) (changed bool, err error) {
	var errs []error
	set := func(name string, fn func()) {
		if f.Changed(name) {
			changed = true
			fn()
		}
	}
	set("partitions", func() {
		if sf.partitions < 1 {
			errs = append(errs, usageErrorf("--partitions %d: want at least 1", sf.partitions))
		}
		cfg.Partitions = sf.partitions
	})
	set("partial-update", func() { cfg.PartialUpdate = sf.partialUpdate })
	set("active-active", func() { cfg.ActiveActive = sf.activeActive })
	set("hybrid-rewind", func() {
		if sf.hybridRewind < 0 {
			errs = append(errs, usageErrorf("--hybrid-rewind %s: negative", sf.hybridRewind))
		}
		cfg.HybridRewind = api.Duration(sf.hybridRewind)
	})
	set("hybrid-offset-lag", func() {
		if sf.hybridOffsetLag < 0 {
			errs = append(errs, usageErrorf("--hybrid-offset-lag %d: negative", sf.hybridOffsetLag))
		}
		cfg.HybridOffsetLag = sf.hybridOffsetLag
	})
	set("replay-policy", func() {
		if sf.replayPolicy != api.ReplayFromEndOfPush && sf.replayPolicy != api.ReplayFromStartOfPush {
			errs = append(errs, usageErrorf("--replay-policy %q: want %s or %s", sf.replayPolicy, api.ReplayFromEndOfPush, api.ReplayFromStartOfPush))
		}
		cfg.ReplayPolicy = sf.replayPolicy
	})
	set("compression", func() {
		switch sf.compression {
		case "none", "gzip", "zstd", "zstd-dict":
		default:
			errs = append(errs, usageErrorf("--compression %q: want none, gzip, zstd or zstd-dict", sf.compression))
		}
		cfg.Compression = sf.compression
	})
	set("chunking", func() { cfg.Chunking = sf.chunking })
	set("versions-to-keep", func() {
		if sf.versionsToKeep < 1 {
			errs = append(errs, usageErrorf("--versions-to-keep %d: want at least 1", sf.versionsToKeep))
		}
		cfg.VersionsToKeep = sf.versionsToKeep
	})
	set("rt-retention", func() {
		if sf.rtRetention < 0 {
			errs = append(errs, usageErrorf("--rt-retention %s: negative", sf.rtRetention))
		}
		cfg.RTRetention = api.Duration(sf.rtRetention)
	})
	return changed, errors.Join(errs...)
}

// oneArg is the Args of commands taking exactly one positional argument.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch len(args) {
		case 1:
			return nil
		case 0:
			return usageErrorf("%s: missing %s (see '%s --help')", cmd.CommandPath(), what, cmd.CommandPath())
		default:
			return usageErrorf("%s takes one %s, got %q (see '%s --help')", cmd.CommandPath(), what, args, cmd.CommandPath())
		}
	}
}

// required reports the required string flags left empty, as usage errors.
func required(flags ...[2]string) []error {
	var errs []error
	for _, f := range flags {
		if f[1] == "" {
			errs = append(errs, usageErrorf("--%s: required", f[0]))
		}
	}
	return errs
}

func newStoreCmd(app *App) *cobra.Command {
	return newGroup("store", "Create, list, describe, update and delete stores",
		`  rialto store create --name members --key-schema string --value-schema member.avsc --partial-update
  rialto store list
  rialto store describe members
  rialto store update members --versions-to-keep 3
  rialto store delete members`,
		newStoreCreateCmd(app), newStoreListCmd(app), newStoreDescribeCmd(app), newStoreUpdateCmd(app), newStoreDeleteCmd(app), newStoreChecksumCmd(app))
}

func newStoreCreateCmd(app *App) *cobra.Command {
	var sf storeFlags
	var name, keySchema, valueSchema string
	cmd := &cobra.Command{
		Use:   "create --name STORE --key-schema SCHEMA --value-schema FILE|JSON [config flags]",
		Short: "Create a store with its key schema and first value schema",
		Long: `Create a store. The key schema is an Avro schema (a primitive name such as
string or long, JSON, or a file); the value schema is an Avro record schema
as JSON or a file. Configuration flags not given take their defaults. The
store gets an empty version 1 at once, so nearline writes and reads work
right away.`,
		Example: `  # A store of members keyed by a string, with partial updates
  rialto store create --name members --key-schema string \
      --value-schema '{"type":"record","name":"Member","fields":[{"name":"name","type":"string","default":""},{"name":"tags","type":{"type":"array","items":"string"},"default":[]}]}' \
      --partial-update

  # Active-active, 8 partitions, zstd with a dictionary, from a schema file
  rialto store create --name features --key-schema long --value-schema feature.avsc \
      --active-active --partitions 8 --compression zstd-dict`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"name", name}, [2]string{"key-schema", keySchema}, [2]string{"value-schema", valueSchema})
			cfg := api.DefaultStoreConfig
			if _, err := sf.apply(cmd.Flags(), &cfg); err != nil {
				errs = append(errs, err)
			}
			var ks, vs string
			var err error
			if keySchema != "" {
				if ks, err = schemaArg("--key-schema", keySchema); err != nil {
					errs = append(errs, err)
				}
			}
			if valueSchema != "" {
				if vs, err = schemaArg("--value-schema", valueSchema); err != nil {
					errs = append(errs, err)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			st, err := app.ctl().CreateStore(cmd.Context(), api.CreateStoreRequest{Name: name, KeySchema: ks, ValueSchema: vs, Config: &cfg})
			if err != nil {
				return err
			}
			return app.Print(fmt.Sprintf("store %s created (version %d current, real-time topic %s)", st.Name, st.CurrentVersion, st.RTTopic), st)
		},
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "store name (required)")
	f.StringVar(&keySchema, "key-schema", "", "Avro key schema: a primitive name (string, long, ...), JSON or a file (required)")
	f.StringVar(&valueSchema, "value-schema", "", "Avro value schema: JSON or a file (required)")
	sf.register(f)
	return cmd
}

func newStoreListCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Short:   "List the stores",
		Example: "  rialto store list\n  rialto store list -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stores, err := app.ctl().Stores(cmd.Context())
			if err != nil {
				return err
			}
			if app.Output == OutputJSON {
				if stores == nil {
					stores = []api.Store{}
				}
				return app.Print("", stores)
			}
			if len(stores) == 0 {
				return app.Print("no stores", nil)
			}
			var b strings.Builder
			tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tCURRENT\tVERSIONS\tPARTITIONS\tPARTIAL-UPDATE\tACTIVE-ACTIVE\tRT TOPIC")
			for _, s := range stores {
				fmt.Fprintf(tw, "%s\tv%d\t%d\t%d\t%t\t%t\t%s\n", s.Name, s.CurrentVersion, len(s.Versions), s.Config.Partitions,
					s.Config.PartialUpdate, s.Config.ActiveActive, orDash(s.RTTopic))
			}
			tw.Flush()
			return app.Print(b.String(), nil)
		},
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newStoreDescribeCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "describe STORE",
		Short:   "Show a store's schemas, configuration and versions",
		Example: "  rialto store describe members\n  rialto store describe members -o json",
		Args:    oneArg("STORE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := app.store(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return app.Print(describeStore(st), st)
		},
	}
}

func describeStore(st api.Store) string {
	var b strings.Builder
	c := st.Config
	fmt.Fprintf(&b, "store %s (revision %d)\n", st.Name, st.Revision)
	fmt.Fprintf(&b, "key schema: %s\n", st.KeySchema)
	for _, s := range st.ValueSchemas {
		mark := ""
		if s.ID == st.SupersetID {
			mark = " (superset)"
		}
		fmt.Fprintf(&b, "value schema %d%s: %s\n", s.ID, mark, s.Schema)
	}
	fmt.Fprintf(&b, "real-time topic: %s\n", orDash(st.RTTopic))
	fmt.Fprintf(&b, "config: partitions %d, partial-update %t, active-active %t, hybrid-rewind %s, hybrid-offset-lag %d,\n",
		c.Partitions, c.PartialUpdate, c.ActiveActive, time.Duration(c.HybridRewind), c.HybridOffsetLag)
	fmt.Fprintf(&b, "        replay-policy %s, compression %s, chunking %t, versions-to-keep %d, rt-retention %s\n",
		c.ReplayPolicy, c.Compression, c.Chunking, c.VersionsToKeep, time.Duration(c.RTRetention))
	fmt.Fprintf(&b, "current version: %d\n", st.CurrentVersion)
	b.WriteString(versionTable(st.Versions))
	return b.String()
}

func newStoreUpdateCmd(app *App) *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "update STORE [config flags]",
		Short: "Change a store's configuration",
		Long: `Change a store's configuration: only the flags given change. Partitions,
compression and chunking take effect at the next full push.`,
		Example: `  rialto store update members --versions-to-keep 3
  rialto store update members --partial-update
  rialto store update members --hybrid-rewind 2h --hybrid-offset-lag 100`,
		Args: oneArg("STORE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var probe api.StoreConfig
			changed, err := sf.apply(cmd.Flags(), &probe)
			if err != nil {
				return err
			}
			if !changed {
				return usageErrorf("store update %s: no configuration flag given, nothing to change (see 'rialto store update --help')", args[0])
			}
			st, err := app.store(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			cfg := st.Config
			sf.apply(cmd.Flags(), &cfg)
			st, err = app.ctl().UpdateStore(cmd.Context(), st.Name, cfg)
			if err != nil {
				return err
			}
			return app.Print(fmt.Sprintf("store %s updated (revision %d)", st.Name, st.Revision), st)
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func newStoreDeleteCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:     "delete STORE",
		Short:   "Delete a store and its topics",
		Example: "  rialto store delete members",
		Args:    oneArg("STORE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := app.store(cmd.Context(), args[0]); err != nil {
				return err
			}
			if err := app.ctl().DeleteStore(cmd.Context(), args[0]); err != nil {
				return err
			}
			return app.Print("store "+args[0]+" deleted", map[string]string{"deleted": args[0]})
		},
	}
}

func newSchemaCmd(app *App) *cobra.Command {
	return newGroup("schema", "Register value schemas",
		"  rialto schema add --store members member-v2.avsc",
		newSchemaAddCmd(app))
}

func newSchemaAddCmd(app *App) *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:   "add --store STORE FILE|JSON",
		Short: "Register a new value schema of a store",
		Long: `Register a new value schema. It must be compatible with every registered
one (new fields need defaults); the controller derives its update and
replication-metadata schemas.`,
		Example: `  rialto schema add --store members member-v2.avsc
  rialto schema add --store members '{"type":"record","name":"Member","fields":[{"name":"name","type":"string","default":""},{"name":"age","type":"int","default":0}]}'`,
		Args: oneArg("schema (FILE or JSON)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			errs := required([2]string{"store", store})
			schema, err := schemaArg("schema", args[0])
			if err != nil {
				errs = append(errs, err)
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if _, err := app.store(cmd.Context(), store); err != nil {
				return err
			}
			s, err := app.ctl().AddSchema(cmd.Context(), store, schema)
			if err != nil {
				return err
			}
			text := fmt.Sprintf("store %s: value schema %d registered", store, s.ID)
			if s.UpdateSchemaID != 0 {
				text += fmt.Sprintf(" (update schema %d)", s.UpdateSchemaID)
			}
			return app.Print(text, s)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	return cmd
}
