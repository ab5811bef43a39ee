package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/embedkafka"
	"github.com/rialtodb/rialto/server"
)

// DefaultDevServerPort is region 1's server port in rialto dev (region N:
// 7070+N), beside the controller's 7070.
const DefaultDevServerPort = 7071

// MaxDevRegions bounds --regions: each region is a broker and a server in
// this one process.
const MaxDevRegions = 8

// DevConfig is what `rialto dev` runs.
type DevConfig struct {
	// DataDir holds every region's state; see the package doc for the
	// layout and the default.
	DataDir string
	// Regions is how many regions run, each with its own broker and server
	// (the flag defaults to 1; the struct has no default).
	Regions int
	// ControllerAddr is where the controller's admin API listens; default
	// 127.0.0.1:7070. Port 0 picks a free port (tests).
	ControllerAddr string
	// KafkaPort is region 1's broker port, region N's is KafkaPort+N-1;
	// 0 (the default) picks free ports.
	KafkaPort int
	// ServerPort is region 1's server (read API) port, region N's is
	// ServerPort+N-1; 0 picks free ports. The flag's default is
	// DefaultDevServerPort, so programs using the Go read client find the
	// servers at fixed addresses.
	ServerPort int
	// ReadyTimeout bounds the wait for everything to serve. Default 2m.
	ReadyTimeout time.Duration
}

// EnsureDefaults fills in DataDir, ControllerAddr and ReadyTimeout if
// empty; getenv reads the environment.
func (c *DevConfig) EnsureDefaults(getenv func(string) string) {
	if c.DataDir == "" {
		c.DataDir = defaultDataDir(getenv)
	}
	if c.ControllerAddr == "" {
		c.ControllerAddr = "127.0.0.1:7070"
	}
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 2 * time.Minute
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
	for _, p := range []struct {
		flag string
		port int
	}{{"--kafka-port", c.KafkaPort}, {"--server-port", c.ServerPort}} {
		if p.port < 0 || p.port > 65535 {
			errs = append(errs, usageErrorf("%s %d: not a TCP port", p.flag, p.port))
		} else if p.port != 0 && c.Regions >= 1 && p.port+c.Regions-1 > 65535 {
			errs = append(errs, usageErrorf("%s %d: %d regions need ports up to %d", p.flag, p.port, c.Regions, p.port+c.Regions-1))
		}
	}
	if host, port, err := net.SplitHostPort(c.ControllerAddr); err != nil {
		errs = append(errs, usageErrorf("--controller-addr %q: want HOST:PORT", c.ControllerAddr))
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 || host == "" {
		errs = append(errs, usageErrorf("--controller-addr %q: want HOST:PORT", c.ControllerAddr))
	}
	if c.ReadyTimeout < 0 {
		errs = append(errs, usageErrorf("--ready-timeout %s: negative", c.ReadyTimeout))
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
	Region  int32    `json:"region"` // the region id, 1-based
	Name    string   `json:"name"`
	Kafka   []string `json:"kafka"`
	Server  string   `json:"server"` // the server's read API, http://host:port
	DataDir string   `json:"data_dir"`
}

// devStatus is dev's output before "ready".
type devStatus struct {
	DataDir    string      `json:"data_dir"`
	Controller string      `json:"controller"` // the admin API, http://host:port
	Regions    []devRegion `json:"regions"`
}

// devRegionName is the name of region id r in rialto dev.
func devRegionName(r int) string { return fmt.Sprintf("region-%d", r) }

func newDevCmd(app *App) *cobra.Command {
	var cfg DevConfig
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run Rialto on this machine, in one process",
		Long: `Run Rialto on this machine in one process: an embedded Kafka-protocol
broker per region (state kept in --data-dir, so it survives restarts), the
controller (127.0.0.1:7070), and a storage server per region (region N's
read API on 127.0.0.1:7070+N), all on loopback. Prints the
endpoints, then one line "ready" once everything serves: the controller is
elected and every server has joined its region's placement group and is
ready to serve. Ctrl-C (SIGINT) or SIGTERM shuts down cleanly.

Regions are numbered 1..N and named region-1..region-N; every region has
its own broker and server, and the controller knows them all, so
--regions 2 is an active-active setup on one machine. Commands such as
'rialto write put --region 2' choose the region by name or number.

With --output json the endpoints are one JSON object on one line, still
followed by the line "ready".

The data directory defaults to $XDG_DATA_HOME/rialto/dev, or
~/.local/share/rialto/dev; region N keeps its broker in region-N/kafka and
its server's Pebble database in region-N/server.`,
		Example: `  # One region, the controller on 127.0.0.1:7070
  rialto dev

  # Two active-active regions, a scratch data directory, fixed broker ports
  # (region 1 on 19092, region 2 on 19093)
  rialto dev --regions 2 --data-dir /tmp/rialto --kafka-port 19092

  # Another controller port (then pass --controller to the other commands)
  rialto dev --controller-addr 127.0.0.1:7171`,
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
	f.StringVar(&cfg.ControllerAddr, "controller-addr", "127.0.0.1:7070", "address the controller's admin API listens on (port 0: a free port)")
	f.IntVar(&cfg.KafkaPort, "kafka-port", 0, "region 1's broker port, region N's is this plus N-1 (0: free ports)")
	f.IntVar(&cfg.ServerPort, "server-port", DefaultDevServerPort, "region 1's server read port, region N's is this plus N-1 (0: free ports)")
	f.DurationVar(&cfg.ReadyTimeout, "ready-timeout", 2*time.Minute, "how long to wait for everything to serve")
	return cmd
}

// devPart is one long-running part of dev (the controller or a server):
// Run in a goroutine, Close after it returned.
type devPart struct {
	name  string
	run   func(context.Context) error
	close func()
}

// runDev starts everything, prints the endpoints and "ready", and blocks
// until ctx is cancelled; then it stops everything and returns nil. A part
// that fails while running stops dev with its error.
func runDev(ctx context.Context, app *App, cfg DevConfig) (err error) {
	dataDir, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("data dir %s: %w", cfg.DataDir, err)
	}
	log := app.Logger()

	// Shutdown order: the parts (servers, controller) first, then the
	// brokers they talk to.
	var brokers []*embedkafka.Broker
	defer func() {
		for i := len(brokers) - 1; i >= 0; i-- {
			brokers[i].Close()
		}
	}()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		parts   []devPart
		errOnce sync.Once
		partErr error
	)
	defer func() {
		cancel()
		wg.Wait()
		for i := len(parts) - 1; i >= 0; i-- {
			parts[i].close()
		}
	}()
	start := func(p devPart) {
		parts = append(parts, p)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := p.run(runCtx); err != nil && runCtx.Err() == nil {
				errOnce.Do(func() { partErr = fmt.Errorf("%s: %w", p.name, err) })
				cancel()
			}
		}()
	}
	failed := func() error {
		if ctx.Err() != nil {
			return nil // interrupted: a clean shutdown
		}
		wg.Wait() // the part that cancelled runCtx has recorded why
		return partErr
	}

	status := devStatus{DataDir: dataDir}
	var regions []api.Region
	for r := 1; r <= cfg.Regions; r++ {
		dir := filepath.Join(dataDir, devRegionName(r), "kafka")
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
			return nil
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
		regions = append(regions, api.Region{ID: int32(r), Name: devRegionName(r), Brokers: b.Addrs()})
		status.Regions = append(status.Regions, devRegion{Region: int32(r), Name: devRegionName(r), Kafka: b.Addrs(),
			DataDir: filepath.Join(dataDir, devRegionName(r))})
	}

	ctl, err := controller.New(controller.Config{
		Regions: regions, LocalRegion: 1, HTTPAddr: cfg.ControllerAddr, ReplicationFactor: 1,
		MonitorInterval: 200 * time.Millisecond, Logger: log.With("part", "controller"),
	})
	if err != nil {
		if strings.Contains(err.Error(), "address already in use") {
			return fmt.Errorf("%w (is another rialto dev running? stop it or pass --controller-addr)", err)
		}
		return err
	}
	start(devPart{name: "controller", run: ctl.Run, close: ctl.Close})
	status.Controller = "http://" + ctl.Addr()

	var servers []*server.Server
	for i, reg := range regions {
		addr := "127.0.0.1:0"
		if cfg.ServerPort != 0 {
			addr = fmt.Sprintf("127.0.0.1:%d", cfg.ServerPort+i)
		}
		srv, err := server.New(server.Config{
			Brokers: reg.Brokers, DataDir: filepath.Join(dataDir, reg.Name, "server"),
			ServerID: "dev-" + reg.Name, AdminTopic: "_rialto_admin", HTTPAddr: addr,
			ReplicationFactor: 1, SessionTimeout: 6 * time.Second,
			// The brokers get new ports on each start: versions created
			// before a restart recorded the old ones.
			Regions: regions,
			Logger:  log.With("part", "server", "region", reg.Name),
		})
		if err != nil {
			if strings.Contains(err.Error(), "address already in use") {
				return fmt.Errorf("region %s: %w (is another rialto dev running? stop it or pass --server-port)", reg.Name, err)
			}
			return fmt.Errorf("region %s: %w", reg.Name, err)
		}
		start(devPart{name: "server of " + reg.Name, run: srv.Run, close: func() { srv.Close() }})
		servers = append(servers, srv)
		status.Regions[i].Server = "http://" + srv.Addr()
	}

	if err := waitDevReady(runCtx, cfg.ReadyTimeout, ctl, servers); err != nil {
		if f := failed(); f != nil || ctx.Err() != nil {
			return f
		}
		return err
	}

	var text strings.Builder
	fmt.Fprintf(&text, "data dir: %s\n", dataDir)
	fmt.Fprintf(&text, "controller: %s\n", status.Controller)
	for _, r := range status.Regions {
		fmt.Fprintf(&text, "region %d (%s): kafka %s, server %s\n", r.Region, r.Name, strings.Join(r.Kafka, ","), r.Server)
	}
	if status.Controller != DefaultController {
		fmt.Fprintf(&text, "the other commands need --controller %s (or %s=%s)\n", status.Controller, ControllerEnv, status.Controller)
	}
	if err := app.Print(text.String(), status); err != nil {
		return err
	}
	if _, err := fmt.Fprintln(app.Stdout, "ready"); err != nil {
		return err
	}

	<-runCtx.Done()
	if f := failed(); f != nil {
		return f
	}
	fmt.Fprintln(app.Stderr, "rialto dev: shutting down")
	return nil
}

// waitDevReady waits until the controller is elected and every server has
// a placement plan (it joined its group) and answers /readyz with 200.
func waitDevReady(ctx context.Context, timeout time.Duration, ctl *controller.Controller, servers []*server.Server) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	var waiting string
	for {
		waiting = ""
		if !ctl.Leader() {
			waiting = "the controller to be elected"
		}
		for i, s := range servers {
			if waiting != "" {
				break
			}
			if _, ok := s.Plan(); !ok {
				waiting = fmt.Sprintf("the server of %s to join its placement group", devRegionName(i+1))
				break
			}
			if code := httpStatus(ctx, hc, "http://"+s.Addr()+"/readyz"); code != http.StatusOK {
				waiting = fmt.Sprintf("the server of %s to be ready (readyz %d)", devRegionName(i+1), code)
			}
		}
		if waiting == "" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready after %s: still waiting for %s", timeout, waiting)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// httpStatus is the status code of GET url, or 0 when there is no answer.
func httpStatus(ctx context.Context, hc *http.Client, url string) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
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
