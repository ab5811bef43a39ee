package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/push"
	"github.com/rialtodb/rialto/writer"
)

// PushConfig is what `rialto push` runs.
type PushConfig struct {
	Store string
	// Input is the file to push; "-" reads standard input.
	Input string
	// Format is auto, jsonl or avro (default auto: by the file name, else
	// sniffed).
	Format string
	// Incremental pushes through the store's RT topic into every live
	// version instead of creating a new one.
	Incremental bool
	// NoWait returns after end-of-push instead of waiting until the new
	// version is current.
	NoWait bool
	// PushID names an incremental push (default random).
	PushID string
	// PollInterval is how often the wait asks the controller (default 1s).
	PollInterval time.Duration
	// Progress forces the progress bar on or off; nil draws it when stderr
	// is a terminal.
	Progress *bool
}

// EnsureDefaults fills in Format and PollInterval.
func (c *PushConfig) EnsureDefaults() {
	if c.Format == "" {
		c.Format = "auto"
	}
	if c.PollInterval == 0 {
		c.PollInterval = time.Second
	}
}

// Validate reports every problem at once, as usage errors.
func (c *PushConfig) Validate() error {
	var errs []error
	if c.Store == "" {
		errs = append(errs, usageErrorf("--store: required"))
	}
	if c.Input == "" {
		errs = append(errs, usageErrorf("--input: required (a file, or - for standard input)"))
	}
	if _, err := push.ParseFormat(c.Format); err != nil {
		errs = append(errs, usageErrorf("--format: %v", err))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, usageErrorf("--poll-interval %s: must be positive", c.PollInterval))
	}
	if c.PushID != "" && !c.Incremental {
		errs = append(errs, usageErrorf("--push-id: only for --incremental"))
	}
	if c.NoWait && c.Incremental {
		errs = append(errs, usageErrorf("--no-wait: an incremental push never waits"))
	}
	return errors.Join(errs...)
}

// pushOutput is the result line of `rialto push`.
type pushOutput struct {
	push.Result
	Current bool `json:"current"` // the version became current before push returned
}

func newPushCmd(app *App) *cobra.Command {
	var cfg PushConfig
	var progress string
	cmd := &cobra.Command{
		Use:   "push --store STORE --input FILE",
		Short: "Push a file of records into a store (a new version, or incrementally)",
		Long: `Push loads records into a store. A full push (the default) writes a new
version: the records are validated against the store's value schema, written
between start-of-push and end-of-push, and the version becomes current once
the servers have loaded it and replayed the real-time buffer. Any bad record
or failure kills the version; nothing half-pushed becomes current. An
incremental push writes the records through the store's real-time topic into
every live version.

Input is JSON lines, one object per line:
  {"key": "member-1", "value": {"name": "Ada"}, "timestamp": 1700000000000}
("timestamp", optional, is the record's logical time in ms), or an Avro
object container file whose records have the fields key, value and
optionally timestamp.`,
		Example: `  # Full push; wait until the new version serves
  rialto push --store members --input members.jsonl

  # Return once end-of-push is written
  rialto push --store members --input members.avro --no-wait

  # Add records to every live version through the real-time topic
  rialto push --store members --input delta.jsonl --incremental`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch progress {
			case "auto":
			case "on", "off":
				on := progress == "on"
				cfg.Progress = &on
			default:
				return usageErrorf("--progress %q: want auto, on or off", progress)
			}
			cfg.EnsureDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runPush(cmd.Context(), app, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.Store, "store", "", "store to push into (required)")
	f.StringVarP(&cfg.Input, "input", "i", "", "file to push, - for standard input (required)")
	f.StringVar(&cfg.Format, "format", "auto", "input format: auto, jsonl or avro")
	f.BoolVar(&cfg.Incremental, "incremental", false, "push through the real-time topic into every live version")
	f.BoolVar(&cfg.NoWait, "no-wait", false, "return after end-of-push; don't wait for the version to become current")
	f.StringVar(&cfg.PushID, "push-id", "", "name of an incremental push (default random)")
	f.DurationVar(&cfg.PollInterval, "poll-interval", time.Second, "how often to ask the controller while waiting")
	f.StringVar(&progress, "progress", "auto", "progress bar on stderr: auto (when a terminal), on or off")
	return cmd
}

func runPush(ctx context.Context, app *App, cfg PushConfig) error {
	format, _ := push.ParseFormat(cfg.Format) // validated
	in, err := push.OpenFile(cfg.Input)
	if err != nil {
		return err
	}
	defer in.Close()
	if format != push.FormatAuto {
		in.Format = format
	}
	sec, _, err := app.kafkaSecurity()
	if err != nil {
		return err
	}
	ctl := app.ctl()
	show := isTerminal(app.Stderr)
	if cfg.Progress != nil {
		show = *cfg.Progress
	}
	bar := newProgressBar(app.Stderr, show)
	opts := []push.Opt{push.OnProgress(bar.push), push.Logger(app.Logger()), push.WriterOpts(writer.Security(sec))}
	if cfg.PushID != "" {
		opts = append(opts, push.PushID(cfg.PushID))
	}

	if cfg.Incremental {
		res, err := push.Incremental(ctx, ctl, cfg.Store, in.Input, opts...)
		bar.done()
		if err != nil {
			return err
		}
		return app.Print(fmt.Sprintf("store %s: incremental push %s wrote %d records (%s) into %s in %s",
			res.Store, res.PushID, res.Records, byteSize(res.InputBytes), res.Topic, res.Duration.Round(time.Millisecond)),
			pushOutput{Result: res})
	}

	res, err := push.Full(ctx, ctl, cfg.Store, in.Input, opts...)
	if err != nil {
		bar.done()
		return err
	}
	out := pushOutput{Result: res}
	text := fmt.Sprintf("store %s: version %d pushed: %d records (%s) in %s",
		res.Store, res.Version, res.Records, byteSize(res.InputBytes), res.Duration.Round(time.Millisecond))
	if res.DictionaryBytes > 0 {
		text += fmt.Sprintf(", zstd dictionary %s trained in %s", byteSize(int64(res.DictionaryBytes)), res.Training.Round(time.Millisecond))
	}
	if cfg.NoWait {
		bar.done()
		return app.Print(text+"; not waiting for it to become current", out)
	}
	err = push.Wait(ctx, ctl, cfg.Store, res.Version, cfg.PollInterval, func(rs api.ReplayStatus) { bar.replay(res.Version, rs) })
	bar.done()
	switch {
	case err == nil:
		out.Current = true
		return app.Print(text+"; now current", out)
	case ctx.Err() != nil:
		// Interrupted while waiting: the push itself is complete.
		return app.Print(text+"; stopped waiting before it became current", out)
	}
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressBar draws one self-overwriting status line on a terminal. It
// is ours rather than a library's: what the push shows (bytes of a known
// total, else records, then the replay lag) is one line of formatting, and
// no dependency is worth that.
type progressBar struct {
	w     io.Writer
	on    bool
	start time.Time

	mu    sync.Mutex
	width int // length of the last line drawn, to blank it out
}

const barCells = 30

func newProgressBar(w io.Writer, on bool) *progressBar {
	return &progressBar{w: w, on: on, start: time.Now()}
}

func (b *progressBar) draw(line string) {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	pad := ""
	if n := b.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	fmt.Fprintf(b.w, "\r%s%s", line, pad)
	b.width = len(line)
}

// push draws the push's progress.
func (b *progressBar) push(p push.Progress) { b.draw(renderPush(p, time.Since(b.start))) }

// replay draws the wait for the version to become current.
func (b *progressBar) replay(version int32, rs api.ReplayStatus) {
	b.draw(renderReplay(version, rs))
}

// done ends the line so that what follows starts on a fresh one.
func (b *progressBar) done() {
	if !b.on {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.width > 0 {
		fmt.Fprintln(b.w)
		b.width = 0
	}
}

func renderPush(p push.Progress, elapsed time.Duration) string {
	rate := ""
	if s := elapsed.Seconds(); s > 0 && p.Records > 0 {
		rate = fmt.Sprintf("  %.0f rec/s", float64(p.Records)/s)
	}
	switch p.Phase {
	case "training":
		return "training a zstd dictionary on the first records…"
	case "validating":
		if p.TotalBytes > 0 {
			return fmt.Sprintf("validating   %d records  %s / %s", p.Records, byteSize(p.Bytes), byteSize(p.TotalBytes))
		}
		return fmt.Sprintf("validating   %d records  %s", p.Records, byteSize(p.Bytes))
	case "end-of-push", "done":
		return fmt.Sprintf("%-12s %d records (%s)%s", p.Phase, p.Records, byteSize(p.Bytes), rate)
	}
	if p.TotalBytes > 0 {
		frac := min(1, float64(p.Bytes)/float64(p.TotalBytes))
		full := int(frac * barCells)
		bar := strings.Repeat("=", full)
		if full < barCells {
			bar += ">" + strings.Repeat(" ", barCells-full-1)
		}
		return fmt.Sprintf("[%s] %3.0f%%  %d records  %s / %s%s", bar, frac*100, p.Records, byteSize(p.Bytes), byteSize(p.TotalBytes), rate)
	}
	return fmt.Sprintf("%d records  %s%s", p.Records, byteSize(p.Bytes), rate)
}

func renderReplay(version int32, rs api.ReplayStatus) string {
	ready := 0
	lag := map[string]int64{}
	for _, p := range rs.Partitions {
		if p.ReadyToServe {
			ready++
		}
		for r, n := range p.Lag {
			lag[r] += n
		}
	}
	regions := make([]string, 0, len(lag))
	for r := range lag {
		regions = append(regions, r)
	}
	sort.Strings(regions)
	var parts []string
	for _, r := range regions {
		parts = append(parts, fmt.Sprintf("%s %d", r, lag[r]))
	}
	s := fmt.Sprintf("waiting for version %d: %d/%d partitions ready", version, ready, len(rs.Partitions))
	if len(parts) > 0 {
		s += ", replay lag " + strings.Join(parts, ", ")
	}
	return s
}

// byteSize renders n bytes with a binary unit.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
