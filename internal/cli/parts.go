package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rialtodb/rialto/controller"
	"github.com/rialtodb/rialto/server"
)

// LoadControllerConfig reads a controller configuration file: JSON with
// the field names of controller.Config's json tags, durations as strings
// such as "500ms". Unknown keys are errors. Defaults are not applied;
// controller.New applies them.
func LoadControllerConfig(path string) (controller.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return controller.Config{}, fmt.Errorf("controller config: %w", err)
	}
	return ParseControllerConfig(data)
}

// ParseControllerConfig is LoadControllerConfig on bytes.
func ParseControllerConfig(data []byte) (controller.Config, error) {
	type plain controller.Config // the durations are overridden below
	var file struct {
		plain
		VersionCompactionLag jsonDuration `json:"versionCompactionLag"`
		MonitorInterval      jsonDuration `json:"monitorInterval"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&file); err != nil {
		return controller.Config{}, fmt.Errorf("controller config: %w", err)
	}
	c := controller.Config(file.plain)
	c.VersionCompactionLag, c.MonitorInterval = time.Duration(file.VersionCompactionLag), time.Duration(file.MonitorInterval)
	return c, nil
}

// jsonDuration reads "10s"-style strings.
type jsonDuration time.Duration

func (d *jsonDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"10s\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = jsonDuration(v)
	return nil
}

// runPart runs a server or controller until ctx ends, then closes it.
func runPart(ctx context.Context, app *App, what, addr string, run func(context.Context) error, closeFn func()) error {
	defer closeFn()
	app.Logger().Info(what+" running", "addr", addr)
	text, url := fmt.Sprintf("%s listening on http://%s", what, addr), "http://"+addr
	if addr == "" {
		// A server without httpAddr opens no port.
		text, url = what+" running without an HTTP listener (no httpAddr)", ""
	}
	if err := app.Print(text, map[string]string{"part": what, "addr": url}); err != nil {
		return err
	}
	err := run(ctx)
	if ctx.Err() != nil {
		fmt.Fprintf(app.Stderr, "rialto %s: shutting down\n", what)
		return nil
	}
	if err == nil {
		err = errors.New("stopped")
	}
	return fmt.Errorf("%s: %w", what, err)
}

func newServerCmd(app *App) *cobra.Command {
	var path, dataDir, serverID, httpAddr, adminTopic, brokers string
	cmd := &cobra.Command{
		Use:   "server --config FILE",
		Short: "Run a storage server against a Kafka cluster",
		Long: `Run a storage server: it follows the controller's admin log in its region's
Kafka cluster, takes partitions through the servers' placement group, ingests
their version topics (leading some: replaying RT topics into them), and serves
reads. The configuration file is JSON with the fields of the server's config
(docs/config.md); flags given override the file. Ctrl-C stops it cleanly.`,
		Example: `  rialto server --config server.json
  rialto server --config server.json --server-id server-2 --data-dir /var/lib/rialto/server-2 --http-addr 10.0.0.2:7071

  # server.json
  {"brokers": ["kafka-1:9092"], "dataDir": "/var/lib/rialto", "serverId": "server-1",
   "adminTopic": "_rialto_admin", "httpAddr": "0.0.0.0:7071", "advertiseAddr": "http://10.0.0.1:7071"}`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageErrorf("--config: required")
			}
			cfg, err := server.LoadConfig(path)
			if err != nil {
				return err
			}
			f := cmd.Flags()
			if f.Changed("data-dir") {
				cfg.DataDir = dataDir
			}
			if f.Changed("server-id") {
				cfg.ServerID = serverID
			}
			if f.Changed("http-addr") {
				cfg.HTTPAddr = httpAddr
			}
			if f.Changed("admin-topic") {
				cfg.AdminTopic = adminTopic
			}
			if f.Changed("brokers") {
				cfg.Brokers = splitList(brokers)
			}
			cfg.Logger = app.Logger().With("part", "server")
			srv, err := server.New(cfg)
			if err != nil {
				return err
			}
			return runPart(cmd.Context(), app, "server", srv.Addr(), srv.Run, func() { srv.Close() })
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "config", "", "configuration file, JSON (required)")
	f.StringVar(&brokers, "brokers", "", "seed brokers, comma-separated (overrides the file)")
	f.StringVar(&dataDir, "data-dir", "", "Pebble data directory (overrides the file)")
	f.StringVar(&serverID, "server-id", "", "stable server identity in the placement group (overrides the file)")
	f.StringVar(&httpAddr, "http-addr", "", "read API address (overrides the file)")
	f.StringVar(&adminTopic, "admin-topic", "", "the controller's admin log topic (overrides the file)")
	return cmd
}

func newControllerCmd(app *App) *cobra.Command {
	var path, httpAddr string
	cmd := &cobra.Command{
		Use:   "controller --config FILE",
		Short: "Run a controller against Kafka clusters",
		Long: `Run a controller: it keeps the metadata (stores, schemas, versions) in a
compacted admin log in every region, is elected per region through a Kafka
group, drives the version lifecycle, and serves the admin API the other
commands use. The configuration file is JSON with the fields of the
controller's config (docs/config.md), durations as strings such as "500ms";
flags given override the file. Ctrl-C stops it cleanly.`,
		Example: `  rialto controller --config controller.json

  # controller.json: two regions, this controller in region 1
  {"regions": [{"id": 1, "name": "us", "brokers": ["kafka-us:9092"]},
               {"id": 2, "name": "eu", "brokers": ["kafka-eu:9092"]}],
   "localRegion": 1, "httpAddr": "0.0.0.0:7070"}`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if path == "" {
				return usageErrorf("--config: required")
			}
			cfg, err := LoadControllerConfig(path)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("http-addr") {
				cfg.HTTPAddr = httpAddr
			}
			cfg.Logger = app.Logger().With("part", "controller")
			ctl, err := controller.New(cfg)
			if err != nil {
				return err
			}
			return runPart(cmd.Context(), app, "controller", ctl.Addr(), ctl.Run, ctl.Close)
		},
	}
	f := cmd.Flags()
	f.StringVar(&path, "config", "", "configuration file, JSON (required)")
	f.StringVar(&httpAddr, "http-addr", "", "admin API address (overrides the file)")
	return cmd
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
