package connect_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
	"github.com/rialtodb/rialto/sink/connect"
)

const base = "name=secure\ntopics=clicks\nrialto.store=profiles\n"

func loadProperties(t *testing.T, dir, body string) (*connect.Config, error) {
	t.Helper()
	path := filepath.Join(dir, "sink.properties")
	if err := os.WriteFile(path, []byte(base+body), 0o600); err != nil {
		t.Fatal(err)
	}
	return connect.LoadFile(path)
}

// TestKafkaKeys: the rialto.kafka.* keys build the same kafkaconn.Config a
// server's "kafka" section does, with files relative to the config file.
func TestKafkaKeys(t *testing.T) {
	dir := t.TempDir()
	kafkaconntest.NewFiles(t, dir) // ca.pem, client.pem, client-key.pem, password
	cfg, err := loadProperties(t, dir, `rialto.kafka.tls.ca.file=ca.pem
rialto.kafka.tls.cert.file=client.pem
rialto.kafka.tls.key.file=client-key.pem
rialto.kafka.tls.server.name=kafka.internal
rialto.kafka.sasl.mechanism=scram-sha-512
rialto.kafka.sasl.user=rialto
rialto.kafka.sasl.password.file=password
`)
	if err != nil {
		t.Fatal(err)
	}
	want := kafkaconn.Config{
		TLS: &kafkaconn.TLS{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "client.pem"),
			KeyFile: filepath.Join(dir, "client-key.pem"), ServerName: "kafka.internal"},
		SASL: &kafkaconn.SASL{Mechanism: "scram-sha-512", User: "rialto", PasswordFile: filepath.Join(dir, "password")},
	}
	if *cfg.Kafka.TLS != *want.TLS || *cfg.Kafka.SASL != *want.SASL {
		t.Fatalf("got %v, want %v", cfg.Kafka, want)
	}
	if opts, err := cfg.Kafka.Opts(); err != nil || len(opts) != 2 {
		t.Fatalf("Opts: %d, %v", len(opts), err)
	}

	// An inline password is kept and never printed with the config.
	cfg, err = loadProperties(t, dir, "rialto.kafka.sasl.mechanism=PLAIN\nrialto.kafka.sasl.user=u\nrialto.kafka.sasl.password="+kafkaconntest.Password+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Kafka.TLS != nil || string(cfg.Kafka.SASL.Password) != kafkaconntest.Password {
		t.Fatalf("inline password: %v", cfg.Kafka)
	}
	for _, verb := range []string{"%v", "%+v", "%#v"} {
		if out := fmt.Sprintf(verb, cfg); strings.Contains(out, kafkaconntest.Password) {
			t.Fatalf("%s of the config shows the password: %s", verb, out)
		}
	}

	// rialto.kafka.tls=true alone: TLS with the system roots.
	cfg, err = loadProperties(t, dir, "rialto.kafka.tls=true\n")
	if err != nil || cfg.Kafka.TLS == nil || *cfg.Kafka.TLS != (kafkaconn.TLS{}) || cfg.Kafka.SASL != nil {
		t.Fatalf("rialto.kafka.tls=true: %v %v", cfg, err)
	}
	// No key: plaintext, as before.
	cfg, err = loadProperties(t, dir, "")
	if err != nil || cfg.Kafka != (kafkaconn.Config{}) {
		t.Fatalf("no rialto.kafka key: %v %v", cfg, err)
	}
}

func TestKafkaKeysReportEveryProblem(t *testing.T) {
	dir := t.TempDir()
	_, err := loadProperties(t, dir, `rialto.kafka.tls=false
rialto.kafka.tls.ca.file=missing.pem
rialto.kafka.tls.cert.file=client.pem
rialto.kafka.sasl.mechanism=GSSAPI
rialto.kafka.sasl.password=`+kafkaconntest.Password+`
rialto.kafka.sasl.passwrd=typo
`)
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{
		"rialto.kafka.tls=false: contradicts the rialto.kafka.tls.* keys given",
		"rialto.kafka.tls.ca.file: " + filepath.Join(dir, "missing.pem") + ": no such file or directory",
		"rialto.kafka.tls.key.file: required with a client certificate",
		`rialto.kafka.sasl.mechanism: unknown mechanism "GSSAPI"`,
		"rialto.kafka.sasl.user: required",
		"rialto.kafka.sasl.passwrd: unknown key",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), kafkaconntest.Password) {
		t.Errorf("error shows the password: %v", err)
	}
	if !strings.Contains(err.Error(), "invalid sink config (6 problems)") {
		t.Errorf("not reported as one config error: %v", err)
	}
}

// TestControllerToken: rialto.controller.token is sent as the bearer token
// but never printed with the config; without it, the ControllerToken
// option (the CLI's --token) is sent.
func TestControllerToken(t *testing.T) {
	const token = "admin-s3cret"
	cfg, err := loadProperties(t, t.TempDir(), "rialto.controller.token="+token+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.ControllerToken) != token {
		t.Fatalf("token %q", string(cfg.ControllerToken))
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "token", cfg.ControllerToken, "config", cfg)
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{logged.String(), string(js)}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		outs = append(outs, fmt.Sprintf(verb, cfg), fmt.Sprintf(verb, *cfg))
	}
	for _, out := range outs {
		if strings.Contains(out, token) {
			t.Fatalf("the config shows the token: %s", out)
		}
	}

	var got []string
	var mu sync.Mutex
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"error":"a valid bearer token is required"}`)
	}))
	defer ctl.Close()
	cfg.ControllerURL = ctl.URL
	fromFlag := *cfg
	fromFlag.ControllerToken = ""
	ctx := context.Background()
	for _, c := range []*connect.Config{cfg, &fromFlag} {
		if _, err := connect.New(ctx, c, connect.ControllerToken("from-the-flag")); !client.Unauthorized(err) {
			t.Fatalf("New against a controller that refuses: %v", err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "Bearer "+token || got[1] != "Bearer from-the-flag" {
		t.Fatalf("Authorization headers %q", got)
	}
}
