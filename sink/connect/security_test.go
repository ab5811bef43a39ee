package connect_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
