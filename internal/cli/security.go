package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/kafkaconn"
)

// Environment variables of the global security flags.
const (
	// TokenEnv is the controller's admin token when --token is not given.
	TokenEnv = "RIALTO_TOKEN"
	// KafkaConfigEnv names the --kafka-config file when the flag is not
	// given.
	KafkaConfigEnv = "RIALTO_KAFKA_CONFIG"
)

// LoadKafkaConfig reads a --kafka-config file: JSON holding a
// kafkaconn.Config, the same object as the "kafka" section of the server's
// and the controller's files. Unknown keys are errors; relative files in
// it are resolved against the file's directory. Every problem of the
// settings is reported at once; "" gives the zero Config (plaintext).
func LoadKafkaConfig(path string) (kafkaconn.Config, error) {
	var c kafkaconn.Config
	if path == "" {
		return c, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, fmt.Errorf("--kafka-config: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		hint := ""
		if strings.Contains(err.Error(), "unknown field") {
			hint = ` (the file holds only the "kafka" section: {"tls": {…}, "sasl": {…}})`
		}
		return c, fmt.Errorf("--kafka-config %s: %w%s", path, err, hint)
	}
	dir := filepath.Dir(path)
	resolve := func(f *string) {
		if *f != "" && !filepath.IsAbs(*f) {
			*f = filepath.Join(dir, *f)
		}
	}
	if c.TLS != nil {
		resolve(&c.TLS.CAFile)
		resolve(&c.TLS.CertFile)
		resolve(&c.TLS.KeyFile)
	}
	if c.SASL != nil {
		resolve(&c.SASL.PasswordFile)
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("--kafka-config %s: %w", path, errors.Join(kafkaconn.Problems(err, func(f string) string { return f })...))
	}
	return c, nil
}

// kafkaSecurity is --kafka-config, read and validated on first use (the
// commands that never reach Kafka never read it), with its franz-go
// options.
func (app *App) kafkaSecurity() (kafkaconn.Config, []kgo.Opt, error) {
	app.kafkaOnce.Do(func() {
		app.kafkaUsed.Store(true)
		app.kafka, app.kafkaErr = LoadKafkaConfig(app.KafkaConfig)
		if app.kafkaErr == nil {
			app.kafkaOpts, app.kafkaErr = app.kafka.Opts()
		}
	})
	return app.kafka, app.kafkaOpts, app.kafkaErr
}

// kafkaClient is a franz-go client of one region with --kafka-config's
// settings. The first client of a region checks that its brokers accept
// them, so a refusal fails at once naming the setting.
func (app *App) kafkaClient(ctx context.Context, r api.Region, opts ...kgo.Opt) (*kgo.Client, error) {
	sec, secOpts, err := app.kafkaSecurity()
	if err != nil {
		return nil, err
	}
	if err := app.checkKafka(ctx, r, sec); err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(r.Brokers...)}, secOpts...), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("region %s: kafka client: %w", r.Name, err)
	}
	return cl, nil
}

// checkKafka runs kafkaconn's Check once per region and returns its
// refusal; anything else (a cluster that cannot be reached) is left to the
// clients to report.
func (app *App) checkKafka(ctx context.Context, r api.Region, sec kafkaconn.Config) error {
	key := strings.Join(r.Brokers, ",")
	app.checkMu.Lock()
	err, done := app.checked[key]
	app.checkMu.Unlock()
	if done {
		return err
	}
	err = sec.Check(ctx, r.Brokers)
	if !kafkaconn.Refused(err) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		err = nil
	} else {
		err = fmt.Errorf("region %s: %w", r.Name, err)
	}
	app.checkMu.Lock()
	if app.checked == nil {
		app.checked = map[string]error{}
	}
	app.checked[key] = err
	app.checkMu.Unlock()
	return err
}

// explain adds what to do to the errors whose fix is a global flag: the
// controller's 401 (--token) and a Kafka cluster refusing the CLI's
// settings (--kafka-config). It never shows the token.
func (app *App) explain(err error) error {
	var hinted *hintError
	switch {
	case errors.As(err, &hinted):
	case client.Unauthorized(err) && app.Token == "":
		err = &hintError{err, "set --token or " + TokenEnv + " to the controller's admin token"}
	case client.Unauthorized(err):
		err = &hintError{err, "the controller refused the token given by --token or " + TokenEnv}
	case kafkaconn.Refused(err) && app.kafkaUsed.Load() && app.KafkaConfig == "":
		err = &hintError{err, "set --kafka-config or " + KafkaConfigEnv + " to a file of the cluster's TLS and SASL settings (docs/security.md)"}
	case kafkaconn.Refused(err) && app.kafkaUsed.Load():
		err = &hintError{err, "check the settings in --kafka-config " + app.KafkaConfig}
	}
	return err
}

// hintError is an error with what to do about it.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + "; " + e.hint }
func (e *hintError) Unwrap() error { return e.err }
