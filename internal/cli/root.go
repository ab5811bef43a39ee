package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/kafkaconn"
)

// Defaults of the global flags.
const (
	DefaultController = "http://127.0.0.1:7070"
	ControllerEnv     = "RIALTO_CONTROLLER"
)

// Output formats of --output.
const (
	OutputText = "text"
	OutputJSON = "json"
)

// App is what every command shares: the process's streams and environment,
// and the global flags once parsed.
type App struct {
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string

	Controller  string // --controller
	Token       string // --token, else $RIALTO_TOKEN: never printed
	KafkaConfig string // --kafka-config
	Output      string // --output
	LogLevel    string // --log-level

	logger *slog.Logger

	// --kafka-config, read on first use (kafkaSecurity).
	kafkaOnce sync.Once
	kafkaUsed atomic.Bool // a command asked for it
	kafka     kafkaconn.Config
	kafkaOpts []kgo.Opt
	kafkaErr  error
	// checked holds each region's Check result by its brokers.
	checkMu sync.Mutex
	checked map[string]error
}

// Main runs the rialto command line args (without the program name) and
// returns the process exit code. ctx cancels long-running commands.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, &App{Stdout: stdout, Stderr: stderr, Getenv: os.Getenv}, args)
}

// run is Main with the App given (tests set its Getenv).
func run(ctx context.Context, app *App, args []string) int {
	root := NewRoot(app)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	err = app.explain(err)
	fmt.Fprintf(app.Stderr, "rialto: %s\n", oneLine(err))
	if isUsage(err) {
		return 2
	}
	return 1
}

// NewRoot builds the command tree around app.
func NewRoot(app *App) *cobra.Command {
	if app.Getenv == nil {
		app.Getenv = os.Getenv
	}
	controller := DefaultController
	if v := app.Getenv(ControllerEnv); v != "" {
		controller = v
	}
	// $RIALTO_TOKEN is read in init, not made the flag's default, which
	// --help would print.
	kafkaConfig := app.Getenv(KafkaConfigEnv)

	root := &cobra.Command{
		Use:   "rialto",
		Short: "Rialto: a nearline write layer and derived-data store",
		Long: `Rialto accepts full rows, deletes, partial updates and collection merges
from stream processors, services and sinks, and serves them from versioned
copies of each dataset, resolving concurrent writes from several regions
deterministically.`,
		Example: `  # Run everything on this machine
  rialto dev

  # Two active-active regions with a scratch data directory
  rialto dev --regions 2 --data-dir /tmp/rialto`,
		SilenceErrors: true, // Main prints the one-line reason
		SilenceUsage:  true,
		Args:          unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if f := cmd.Flags().Lookup("token"); f == nil || !f.Changed {
				app.Token = app.Getenv(TokenEnv)
			}
			app.Token = strings.TrimSpace(app.Token) // a pasted newline
			return app.init()
		},
	}
	root.SetOut(app.Stdout)
	root.SetErr(app.Stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usageErrorf("%v (see '%s --help')", err, cmd.CommandPath())
	})

	pf := root.PersistentFlags()
	pf.StringVar(&app.Controller, "controller", controller, "controller URL (env "+ControllerEnv+")")
	pf.StringVar(&app.Token, "token", "", "bearer token of the controller's admin API (env "+TokenEnv+", which other users cannot see in the process list)")
	pf.StringVar(&app.KafkaConfig, "kafka-config", kafkaConfig, `JSON file of TLS and SASL settings for the commands that talk to Kafka: the server's "kafka" section (env `+KafkaConfigEnv+")")
	pf.StringVarP(&app.Output, "output", "o", OutputText, "output format: text or json")
	pf.StringVar(&app.LogLevel, "log-level", "warn", "log level on stderr: debug, info, warn or error")

	root.AddCommand(
		newDevCmd(app),
		newServerCmd(app),
		newControllerCmd(app),
		newStoreCmd(app),
		newSchemaCmd(app),
		newWriteCmd(app),
		newReadCmd(app),
		newPushCmd(app),
		newVersionCmd(app),
		newReplayCmd(app),
		newTopicCmd(app),
		newSinkCmd(app),
	)
	return root
}

// init validates the global flags; it runs before every command.
func (app *App) init() error {
	var errs []error
	switch app.Output {
	case OutputText, OutputJSON:
	default:
		errs = append(errs, usageErrorf("--output %q: want text or json", app.Output))
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(app.LogLevel)); err != nil {
		errs = append(errs, usageErrorf("--log-level %q: want debug, info, warn or error", app.LogLevel))
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	app.logger = slog.New(slog.NewTextHandler(app.Stderr, &slog.HandlerOptions{Level: lvl}))
	return nil
}

// Logger returns the logger writing to stderr at --log-level.
func (app *App) Logger() *slog.Logger {
	if app.logger == nil {
		return slog.New(slog.NewTextHandler(app.Stderr, nil))
	}
	return app.logger
}

// Print writes a result: text (a newline is added if missing) for --output
// text, v as one line of JSON for --output json.
func (app *App) Print(text string, v any) error {
	if app.Output == OutputJSON {
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encoding output: %w", err)
		}
		_, err = fmt.Fprintf(app.Stdout, "%s\n", b)
		return err
	}
	if !strings.HasSuffix(text, "\n") {
		text += "\n"
	}
	_, err := io.WriteString(app.Stdout, text)
	return err
}

// newGroup returns a command that only holds subcommands: run without one
// it prints its help, and an unknown one is a usage error.
func newGroup(use, short, example string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    unknownSubcommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cmd.Help()
		},
	}
	c.AddCommand(subs...)
	return c
}

// unknownSubcommand is the Args of commands that hold subcommands: cobra
// hands it the words it could not match to one.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's own default, set lazily
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %q?", s[0])
	}
	return usageErrorf("%s", msg)
}

// noArgs is the Args of leaf commands that take no positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%q takes no arguments, got %q (see '%s --help')", cmd.CommandPath(), args[0], cmd.CommandPath())
	}
	return nil
}
