package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka"
)

// MaxDevRegions bounds --regions: each region is a broker (and later a
// server) in this one process.
const MaxDevRegions = 8

// DevConfig is what `rialto dev` runs.
type DevConfig struct {
	// DataDir holds every region's state; see the package doc for the
	// layout and the default.
	DataDir string
	// Regions is how many regions run, each with its own broker (the flag
	// defaults to 1; the struct has no default).
	Regions int
	// ControllerAddr is where the controller will listen; default
	// 127.0.0.1:7070. Not used until the controller is part of the build.
	ControllerAddr string
	// KafkaPort is region 1's broker port, region N's is KafkaPort+N-1;
	// 0 (the default) picks free ports.
	KafkaPort int
}

// EnsureDefaults fills in DataDir and ControllerAddr if empty; getenv reads
// the environment.
func (c *DevConfig) EnsureDefaults(getenv func(string) string) {
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(getenv)
	}
	if c.ControllerAddr == "" {
		c.ControllerAddr = "127.0.0.1:7070"
	}
}

// Validate reports every problem at once, as usage errors.
func (c *DevConfig) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, usageErrorf("--data-dir: empty"))
	}
	if c.Regions < 1 || c.Regions > MaxDevRegions {
		errs = append(errs, usageErrorf("--regions %d: want 1 to %d", c.Regions, MaxDevRegions))
	}
	if c.KafkaPort < 0 || c.KafkaPort > 65535 {
		errs = append(errs, usageErrorf("--kafka-port %d: not a TCP port", c.KafkaPort))
	} else if c.KafkaPort != 0 && c.Regions >= 1 && c.KafkaPort+c.Regions-1 > 65535 {
		errs = append(errs, usageErrorf("--kafka-port %d: %d regions need ports up to %d", c.KafkaPort, c.Regions, c.KafkaPort+c.Regions-1))
	}
	if host, port, err := net.SplitHostPort(c.ControllerAddr); err != nil {
		errs = append(errs, usageErrorf("--controller-addr %q: want HOST:PORT", c.ControllerAddr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || host == "" {
		errs = append(errs, usageErrorf("--controller-addr %q: want HOST:PORT", c.ControllerAddr))
	}
	return errors.Join(errs...)
}

// defaultDataDir is $XDG_DATA_HOME/rialto/dev, ~/.local/share/rialto/dev,
// or ./rialto-data, the first whose base is known.
func defaultDataDir(getenv func(string) string) string {
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "rialto", "dev")
	}
	if home := getenv("HOME"); home != "" {
		return filepath.Join(home, ".local", "share", "rialto", "dev")
	}
	return "rialto-data"
}

// devRegion is one region's part of dev's output.
type devRegion struct {
	Region  int      `json:"region"`
	Kafka   []string `json:"kafka"`
	DataDir string   `json:"data_dir"`
}

// devStatus is dev's output before "ready".
type devStatus struct {
	DataDir    string      `json:"data_dir"`
	Regions    []devRegion `json:"regions"`
	Controller *string     `json:"controller"` // nil: not part of this build yet
	Servers    []string    `json:"servers"`    // empty: not part of this build yet
	Note       string      `json:"note"`
}

const devNote = "the controller and the servers are not part of this build yet; only the embedded Kafka brokers run"

func newDevCmd(app *App) *cobra.Command {
	var cfg DevConfig
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Rialto on this machine, in one process",
		Long: `Run Rialto on this machine in one process: an embedded Kafka-protocol
broker per region (state kept in --data-dir, so it survives restarts), the
controller and a server per region, all on 127.0.0.1. Prints each region's
endpoints, then one line "ready" once everything serves. Ctrl-C (SIGINT) or
SIGTERM shuts down cleanly.

In this build only the embedded brokers run; dev says so before "ready".

With --output json the endpoints are one JSON object on one line, still
followed by the line "ready".

The data directory defaults to $XDG_DATA_HOME/rialto/dev, or
~/.local/share/rialto/dev; region N keeps its broker in region-N/kafka.`,
		Example: `  # One region, state under ~/.local/share/rialto/dev
  rialto dev

  # Two active-active regions, a scratch data directory, fixed broker ports
  # (region 1 on 19092, region 2 on 19093)
  rialto dev --regions 2 --data-dir /tmp/rialto --kafka-port 19092`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.EnsureDefaults(app.Getenv)
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runDev(cmd.Context(), app, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", "", "directory for all state (default $XDG_DATA_HOME/rialto/dev or ~/.local/share/rialto/dev)")
	f.IntVar(&cfg.Regions, "regions", 1, fmt.Sprintf("number of active-active regions, 1 to %d", MaxDevRegions))
	f.StringVar(&cfg.ControllerAddr, "controller-addr", "127.0.0.1:7070", "address the controller listens on")
	f.IntVar(&cfg.KafkaPort, "kafka-port", 0, "region 1's broker port, region N's is this plus N-1 (0: free ports)")
	return cmd
}

// runDev starts everything, prints the endpoints and "ready", and blocks
// until ctx is cancelled; then it stops everything and returns nil.
func runDev(ctx context.Context, app *App, cfg DevConfig) error {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	log := app.Logger()

	var brokers []*embedkafka.Broker
	defer func() {
		for i := len(brokers) - 1; i >= 0; i-- {
			brokers[i].Close()
		}
	}()

	status := devStatus{DataDir: dataDir, Servers: []string{}, Note: devNote}
	for r := 1; r <= cfg.Regions; r++ {
		dir := filepath.Join(dataDir, fmt.Sprintf("region-%d", r), "kafka")
		opts := []embedkafka.Opt{
			embedkafka.DataDir(dir),
			embedkafka.ClusterID(fmt.Sprintf("rialto-dev-region-%d", r)),
			embedkafka.Logger(log.With("region", r)),
		}
		if cfg.KafkaPort != 0 {
			opts = append(opts, embedkafka.Ports(cfg.KafkaPort+r-1))
		}
		b, err := embedkafka.Start(ctx, opts...)
		if ctx.Err() != nil {
			if b != nil {
				b.Close()
			}
			return nil // interrupted while starting: a clean shutdown
		}
		if errors.Is(err, embedkafka.ErrDataDirInUse) {
			return fmt.Errorf("region %d: %w (is another rialto dev running on %s? stop it or pass another --data-dir)", r, err, dataDir)
		}
		if err != nil {
			return fmt.Errorf("region %d: starting the embedded broker: %w", r, err)
		}
		brokers = append(brokers, b)
		if err := pingBroker(ctx, b.Addrs()); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("region %d: embedded broker on %s does not answer: %w", r, strings.Join(b.Addrs(), ","), err)
		}
		status.Regions = append(status.Regions, devRegion{Region: r, Kafka: b.Addrs(), DataDir: dir})
	}

	var text strings.Builder
	fmt.Fprintf(&text, "data dir: %s\n", dataDir)
	for _, r := range status.Regions {
		fmt.Fprintf(&text, "region %d: kafka %s\n", r.Region, strings.Join(r.Kafka, ","))
	}
	fmt.Fprintf(&text, "note: %s (the controller will listen on %s)\n", devNote, cfg.ControllerAddr)
	if err := app.Print(text.String(), status); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(app.Stdout, "ready"); err != nil {
		return err
	}

	<-ctx.Done()
	fmt.Fprintln(app.Stderr, "rialto dev: shutting down")
	return nil
}

// pingBroker checks that a Kafka client gets answers from addrs, so that
// "ready" is printed only for brokers that serve.
func pingBroker(ctx context.Context, addrs []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return cl.Ping(ctx)
}
