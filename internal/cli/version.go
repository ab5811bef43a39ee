package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/replay"
)

func newVersionCmd(app *App) *cobra.Command {
	return newGroup("version", "List, swap, roll back and kill store versions",
		`  rialto version list --store members
  rialto version swap --store members --to 3
  rialto version rollback --store members
  rialto version kill --store members --version 4`,
		newVersionListCmd(app), newVersionSwapCmd(app), newVersionRollbackCmd(app), newVersionKillCmd(app))
}

func versionTable(vs []api.Version) string {
	if len(vs) == 0 {
		return "no versions\n"
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tROLE\tSTATUS\tPARTITIONS\tCOMPRESSION\tTOPIC\tCREATED\tNOTE")
	for _, v := range vs {
		note := v.Error
		if note == "" && v.RewindStart > 0 {
			note = "replayed from " + time.UnixMilli(v.RewindStart).UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", v.Number, v.Role, v.Status, v.Partitions, v.Compression, v.Topic,
			v.CreatedAt.UTC().Format(time.RFC3339), note)
	}
	tw.Flush()
	return b.String()
}

func newVersionListCmd(app *App) *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:     "list --store STORE",
		Short:   "List a store's versions with their role and status",
		Example: "  rialto version list --store members\n  rialto version list --store members -o json",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(required([2]string{"store", store})...); err != nil {
				return err
			}
			st, err := app.store(cmd.Context(), store)
			if err != nil {
				return err
			}
			vs := st.Versions
			if vs == nil {
				vs = []api.Version{}
			}
			return app.Print(fmt.Sprintf("store %s: current version %d\n%s", st.Name, st.CurrentVersion, versionTable(vs)), vs)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	return cmd
}

func newVersionSwapCmd(app *App) *cobra.Command {
	var store string
	var to int32
	cmd := &cobra.Command{
		Use:   "swap --store STORE --to N",
		Short: "Make a ready version current",
		Long: `Make version N current. The controller refuses a version that is not
ready to serve in every region (end-of-push seen and replay caught up).`,
		Example: "  rialto version swap --store members --to 3",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if to <= 0 {
				errs = append(errs, usageErrorf("--to: a version number is required"))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if _, err := app.store(cmd.Context(), store); err != nil {
				return err
			}
			st, err := app.ctl().Swap(cmd.Context(), store, to)
			if err != nil {
				return err
			}
			return app.Print(fmt.Sprintf("store %s: version %d is current", st.Name, st.CurrentVersion), st)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	cmd.Flags().Int32Var(&to, "to", 0, "version to make current (required)")
	return cmd
}

func newVersionRollbackCmd(app *App) *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:   "rollback --store STORE",
		Short: "Make the newest older backup version current again",
		Long: `Roll back: the newest backup older than the current version becomes
current again (one not rolled back from, when there is one). Backups of
hybrid stores kept applying nearline writes, so the data is fresh. The
version rolled back from stays a backup (swap --to brings it back) and is
the first to retire when a later push exceeds --versions-to-keep.`,
		Example: "  rialto version rollback --store members",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(required([2]string{"store", store})...); err != nil {
				return err
			}
			before, err := app.store(cmd.Context(), store)
			if err != nil {
				return err
			}
			st, err := app.ctl().Rollback(cmd.Context(), store)
			if err != nil {
				return err
			}
			return app.Print(fmt.Sprintf("store %s: rolled back from version %d to version %d", st.Name, before.CurrentVersion, st.CurrentVersion), st)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	return cmd
}

func newVersionKillCmd(app *App) *cobra.Command {
	var store string
	var version int32
	cmd := &cobra.Command{
		Use:     "kill --store STORE --version N",
		Short:   "Kill a version whose push is in flight",
		Example: "  rialto version kill --store members --version 4",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if version <= 0 {
				errs = append(errs, usageErrorf("--version: a version number is required"))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if _, err := app.store(cmd.Context(), store); err != nil {
				return err
			}
			v, err := app.ctl().KillPush(cmd.Context(), store, version)
			if err != nil {
				return err
			}
			return app.Print(fmt.Sprintf("store %s: version %d killed (status %s)", store, v.Number, v.Status), v)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	cmd.Flags().Int32Var(&version, "version", 0, "version to kill (required)")
	return cmd
}

func newReplayCmd(app *App) *cobra.Command {
	return newGroup("replay", "Watch a version's replay of the real-time buffer, plan the next one",
		`  rialto replay status --store members --watch
  rialto replay plan --store members`,
		newReplayStatusCmd(app), newReplayPlanCmd(app))
}

// renderReplayStatus draws the per-partition lag of one status.
func renderReplayStatus(st api.Store, rs api.ReplayStatus) string {
	var b strings.Builder
	state := "replaying"
	switch {
	case st.CurrentVersion == rs.Version:
		state = "current"
	case rs.Ready:
		state = "ready to serve"
	}
	for _, v := range st.Versions {
		if v.Number == rs.Version && v.Role != api.RoleFuture && v.Role != api.RoleCurrent {
			state = v.Role + ", " + v.Status
		}
	}
	fmt.Fprintf(&b, "store %s version %d: %s", rs.Store, rs.Version, state)
	if rs.RewindStart > 0 {
		fmt.Fprintf(&b, " (rewind start %s)", time.UnixMilli(rs.RewindStart).UTC().Format(time.RFC3339))
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tPARTITION\tEND-OF-PUSH\tLAG\tREADY")
	total := map[string]int64{}
	for _, p := range rs.Partitions {
		var lags []string
		for _, r := range sortedLagRegions(p.Lag) {
			lags = append(lags, fmt.Sprintf("%s %d", r, p.Lag[r]))
			total[r] += p.Lag[r]
		}
		lag := strings.Join(lags, ", ")
		if lag == "" {
			lag = "-"
		}
		fmt.Fprintf(tw, "%s\t%d\t%t\t%s\t%t\n", orDash(p.Region), p.Partition, p.EndOfPush, lag, p.ReadyToServe)
	}
	tw.Flush()
	var parts []string
	for _, r := range sortedLagRegions(total) {
		parts = append(parts, fmt.Sprintf("%s %d", r, total[r]))
	}
	if len(parts) > 0 {
		fmt.Fprintf(&b, "total lag: %s\n", strings.Join(parts, ", "))
	}
	return b.String()
}

func sortedLagRegions(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for r := range m {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

func newReplayStatusCmd(app *App) *cobra.Command {
	var store string
	var version int32
	var watch bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "status --store STORE [--version N] [--watch]",
		Short: "Show a version's replay progress per partition",
		Long: `Show how far each partition of a version (default: the newest) has replayed
the real-time buffer: end-of-push seen, the lag per source region (RT
records not yet replayed) and whether it is ready to serve. With --watch
the status is redrawn every --interval until the version is current (or
fails, or Ctrl-C); with --output json each poll is one line.`,
		Example: `  rialto replay status --store members
  rialto replay status --store members --version 3 --watch`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			errs := required([2]string{"store", store})
			if version < 0 {
				errs = append(errs, usageErrorf("--version %d: negative", version))
			}
			if interval <= 0 {
				errs = append(errs, usageErrorf("--interval %s: must be positive", interval))
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			return runReplayStatus(cmd.Context(), app, store, version, watch, interval)
		},
	}
	f := cmd.Flags()
	f.StringVar(&store, "store", "", "store (required)")
	f.Int32Var(&version, "version", 0, "version (default the newest)")
	f.BoolVar(&watch, "watch", false, "redraw until the version is current")
	f.DurationVar(&interval, "interval", time.Second, "how often --watch polls")
	return cmd
}

func runReplayStatus(ctx context.Context, app *App, store string, version int32, watch bool, interval time.Duration) error {
	ctl := app.ctl()
	st, err := app.store(ctx, store)
	if err != nil {
		return err
	}
	if version > 0 && findVersion(st, version) == nil {
		return fmt.Errorf("store %s has no version %d (see 'rialto version list --store %s')", store, version, store)
	}
	term := isTerminal(app.Stdout) && app.Output == OutputText
	for {
		rs, err := ctl.ReplayStatus(ctx, store, version)
		if err != nil {
			if watch && ctx.Err() != nil {
				return nil
			}
			return err
		}
		if version == 0 {
			version = rs.Version // keep watching the same version
		}
		if st, err = ctl.Store(ctx, store); err != nil {
			if watch && ctx.Err() != nil {
				return nil
			}
			return err
		}
		text := renderReplayStatus(st, rs)
		if term && watch {
			text = "\x1b[H\x1b[2J" + text // redraw in place
		}
		if err := app.Print(text, rs); err != nil {
			return err
		}
		if !watch {
			return nil
		}
		v := findVersion(st, version)
		switch {
		case v == nil:
			return fmt.Errorf("store %s: version %d is gone (retired or deleted)", store, version)
		case v.Status == api.StatusError || v.Status == api.StatusKilled:
			return fmt.Errorf("store %s: version %d %s: %s", store, version, v.Status, orDash(v.Error))
		case st.CurrentVersion == version || v.Role == api.RoleBackup:
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func findVersion(st api.Store, n int32) *api.Version {
	for i := range st.Versions {
		if st.Versions[i].Number == n {
			return &st.Versions[i]
		}
	}
	return nil
}

func newReplayPlanCmd(app *App) *cobra.Command {
	var store string
	cmd := &cobra.Command{
		Use:   "plan --store STORE",
		Short: "Dry run of the next replay: what a push finishing now would replay",
		Long: `Plan the replay a full push finishing now would do: per RT partition of every
region, the offset of the rewind start, the end, the records to replay and
whether retention still holds them all. Nothing is changed.`,
		Example: "  rialto replay plan --store members",
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(required([2]string{"store", store})...); err != nil {
				return err
			}
			plan, err := app.replayPlan(cmd.Context(), store)
			if err != nil {
				return err
			}
			return app.Print(renderPlan(plan), plan)
		},
	}
	cmd.Flags().StringVar(&store, "store", "", "store (required)")
	return cmd
}

// replayPlan asks the controller for the plan; a controller without the
// plan endpoint gets it computed here with package replay, from the same
// offsets (the RT topic of every region).
func (app *App) replayPlan(ctx context.Context, store string) (api.ReplayPlan, error) {
	st, err := app.store(ctx, store)
	if err != nil {
		return api.ReplayPlan{}, err
	}
	plan, err := app.ctl().ReplayPlan(ctx, store)
	var ae *client.APIError
	if err == nil || !errors.As(err, &ae) || !strings.HasPrefix(ae.Reason, "no endpoint") {
		return plan, err
	}
	if !replay.Hybrid(st) {
		return api.ReplayPlan{}, fmt.Errorf("store %s is batch only (no real-time topic or hybrid rewind 0): a push replays nothing", store)
	}
	rewind, err := replay.NextRewindStart(st.Config, time.Now())
	if err != nil {
		return api.ReplayPlan{}, fmt.Errorf("store %s: %w", store, err)
	}
	cl, err := app.cluster(ctx)
	if err != nil {
		return api.ReplayPlan{}, err
	}
	var regions []replay.Region
	for _, r := range cl.Regions {
		kc, err := app.kafkaClient(ctx, r)
		if err != nil {
			return api.ReplayPlan{}, err
		}
		defer kc.Close()
		regions = append(regions, replay.Region{Name: r.Name, ID: r.ID, Admin: kadm.NewClient(kc)})
	}
	return replay.PlanStore(ctx, st, rewind, regions)
}

func renderPlan(p api.ReplayPlan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "store %s: a push finishing now replays %d records from %s", p.Store, p.Records,
		time.UnixMilli(p.RewindStart).UTC().Format(time.RFC3339))
	if !p.Complete {
		b.WriteString("; INCOMPLETE: retention already deleted records the replay needs")
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "REGION\tPARTITION\tSTART\tEND\tRECORDS\tAVAILABLE")
	for _, pp := range p.Partitions {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%t\n", pp.Region, pp.Partition, pp.StartOffset, pp.EndOffset, pp.Records, pp.Available)
	}
	tw.Flush()
	return b.String()
}
