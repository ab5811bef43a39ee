package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/sink/connect"
)

// DefaultSinkMetricsAddr is where `rialto sink` serves /metrics.
const DefaultSinkMetricsAddr = "127.0.0.1:9464"

// SinkConfig is the flags of `rialto sink`.
type SinkConfig struct {
	ConfigFile  string // --config
	MetricsAddr string // --metrics-addr ("off": none)
}

// EnsureDefaults fills what was left empty.
func (c *SinkConfig) EnsureDefaults() {
	if c.MetricsAddr == "" {
		c.MetricsAddr = DefaultSinkMetricsAddr
	}
}

// Validate reports every problem at once, as usage errors.
func (c *SinkConfig) Validate() error {
	var errs []error
	if c.ConfigFile == "" {
		errs = append(errs, usageErrorf("--config: required"))
	}
	if c.MetricsAddr != "off" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, usageErrorf("--metrics-addr %q: want host:port or off", c.MetricsAddr))
		}
	}
	return errors.Join(errs...)
}

func newSinkCmd(app *App) *cobra.Command {
	var cfg SinkConfig
	cmd := &cobra.Command{
		Use:   "sink --config FILE",
		Short: "Run a Kafka Connect–style sink from topics into a store",
		Long: `Run a Kafka Connect–style sink: consume topics as consumer group
connect-<name> and write their records to a Rialto store through its RT topic.
The file is Java properties or JSON (Connect's REST form, flat or under
"config") with Connect's key names (name, topics | topics.regex, tasks.max,
key.converter, value.converter, errors.*) and Rialto's under rialto.* — see
package sink/connect and examples/04-connect-sink. Every problem of the file
is reported at once before anything starts. Offsets are committed only after
the writer acknowledged the records; Ctrl-C drains what was read, commits and
stops. Metrics (Connect's names, dashes as underscores) are served on
http://<metrics-addr>/metrics.`,
		Example: `  rialto sink --config examples/04-connect-sink/profiles-put.properties
  rialto sink --config clicks.json --metrics-addr 0.0.0.0:9464

  # clicks.properties
  name=clicks
  topics=clicks
  value.converter=json
  rialto.store=profiles
  rialto.write.mode=update
  rialto.update.list.add=item:recent
  errors.tolerance=all
  errors.deadletterqueue.topic.name=clicks-dlq`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.EnsureDefaults()
			if err := cfg.Validate(); err != nil {
				return err
			}
			return runSink(cmd.Context(), app, cfg)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.ConfigFile, "config", "", "connector config, Java properties or JSON (required)")
	f.StringVar(&cfg.MetricsAddr, "metrics-addr", DefaultSinkMetricsAddr, "address of the /metrics endpoint, or off")
	return cmd
}

func runSink(ctx context.Context, app *App, cfg SinkConfig) error {
	cc, err := connect.LoadFile(cfg.ConfigFile)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	log := app.Logger().With("part", "sink")
	s, err := connect.New(ctx, cc, connect.Controller(app.Controller), connect.ControllerToken(app.Token),
		connect.Logger(log), connect.Registerer(reg))
	if client.Unauthorized(err) && cc.ControllerToken != "" {
		return &hintError{err, "the controller refused rialto.controller.token of " + cfg.ConfigFile}
	}
	if err != nil {
		return err
	}
	metricsURL := ""
	var srv *http.Server
	if cfg.MetricsAddr != "off" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			s.Close()
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go srv.Serve(ln)
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(sctx)
		}()
		metricsURL = "http://" + ln.Addr().String() + "/metrics"
	}
	text := fmt.Sprintf("sink %s running: group %s → store %s", cc.Name, cc.Group(), cc.Store)
	if metricsURL != "" {
		text += "\nmetrics on " + metricsURL
	}
	if err := app.Print(text, map[string]string{"sink": cc.Name, "group": cc.Group(), "store": cc.Store, "metrics": metricsURL}); err != nil {
		s.Close()
		return err
	}
	err = s.Run(ctx)
	if err != nil {
		return fmt.Errorf("sink %s: %w", cc.Name, err)
	}
	if ctx.Err() != nil {
		fmt.Fprintf(app.Stderr, "rialto sink: %s drained and stopped\n", cc.Name)
	}
	return nil
}
