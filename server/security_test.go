package server_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
	"github.com/rialtodb/rialto/server"
	"github.com/rialtodb/rialto/writer"
)

// The tests here run only on the embedded broker (kafkaconntest skips
// them against RIALTO_KAFKA_BROKERS): it is the one made to require TLS
// and SCRAM.

const secureValueSchema = `{"type":"record","name":"Profile","fields":[{"name":"name","type":"string","default":""}]}`

// refusalBound is how long New may take to refuse a wrong password: the
// refusal must come back at once, not after the client's retries.
const refusalBound = 5 * time.Second

func quietSecureLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// TestKafkaSectionEndToEnd: a writer writes a version through TLS and
// SCRAM-SHA-512; a server configured only by its "kafka" section (parsed
// from JSON, no KafkaOpts) ingests it, and a read returns the value.
func TestKafkaSectionEndToEnd(t *testing.T) {
	sc := kafkaconntest.Start(t)
	ctx := context.Background()
	const store, partitions = "secure", int32(2)
	topic := store + "_v1"
	compact := "compact"
	sc.Topic(t, topic, partitions, map[string]*string{"cleanup.policy": &compact})

	// The writer: the password given inline, the CA only (no client
	// certificate), options through writer.KafkaOpts.
	wsec := kafkaconn.Config{
		TLS:  &kafkaconn.TLS{CAFile: sc.CAFile},
		SASL: &kafkaconn.SASL{Mechanism: kafkaconn.MechanismScramSHA512, User: kafkaconntest.User, Password: kafkaconntest.Password},
	}
	kopts, err := wsec.Opts()
	if err != nil {
		t.Fatal(err)
	}
	ss, err := writer.NewStaticSchemas(`"string"`, secureValueSchema)
	if err != nil {
		t.Fatal(err)
	}
	w, err := writer.New(writer.Brokers(sc.Brokers()...), writer.Topic(topic), writer.Kind(writer.KindVersion),
		writer.Schemas(ss), writer.KafkaOpts(kopts...), writer.Logger(quietSecureLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctx)
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"alice", "Alice"}, {"bob", "Bob"}} {
		if _, err := w.Put(ctx, kv[0], map[string]any{"name": kv[1]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}

	// The server: brokers, data and the kafka section from its file.
	cfg, err := server.ParseConfig([]byte(`{
		"brokers": ["` + strings.Join(sc.Brokers(), `","`) + `"],
		"dataDir": "` + t.TempDir() + `",
		"httpAddr": "127.0.0.1:0",
		"kafka": {
			"tls": {"caFile": "` + sc.CAFile + `", "certFile": "` + sc.CertFile + `", "keyFile": "` + sc.KeyFile + `"},
			"sasl": {"mechanism": "SCRAM-SHA-512", "user": "` + kafkaconntest.User + `", "passwordFile": "` + sc.PasswordFile + `"}
		}}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.KafkaOpts) != 0 {
		t.Fatal("the file set KafkaOpts")
	}
	cfg.Logger = quietSecureLogger()
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })

	src, err := server.NewStaticSchemaSource(secureValueSchema)
	if err != nil {
		t.Fatal(err)
	}
	spec := server.VersionSpec{Store: store, Version: 1, Topic: topic, Partitions: partitions, KeySchema: avro.MustParse(`"string"`), Schemas: src}
	if err := s.Host(ctx, spec, 0, 1); err != nil {
		t.Fatal(err)
	}
	s.SetCurrentVersion(store, 1)
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get("http://" + s.Addr() + "/v1/stores/" + store + "/keys/alice")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			if !strings.Contains(string(body), `"Alice"`) {
				t.Fatalf("read alice: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alice not readable within a minute: %d %s", resp.StatusCode, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKafkaSectionRefused: New refuses a wrong password, a missing TLS
// section and an untrusted CA at once, saying which setting is wrong and
// never showing the password.
func TestKafkaSectionRefused(t *testing.T) {
	sc := kafkaconntest.Start(t)
	const wrong = "not-the-password"
	for _, tc := range []struct {
		name     string
		edit     func(*kafkaconn.Config)
		sentinel error
		want     string
	}{
		{"wrong password", func(c *kafkaconn.Config) { c.SASL.PasswordFile, c.SASL.Password = "", wrong },
			kafkaconn.ErrAuthentication, `kafka authentication failed: ` + sc.Brokers()[0] + ` closed the connection during SASL SCRAM-SHA-512 as user "rialto" (wrong user or password`},
		{"plaintext", func(c *kafkaconn.Config) { c.TLS = nil },
			kafkaconn.ErrTLS, "it probably requires TLS, which the configuration does not turn on"},
		{"untrusted CA", func(c *kafkaconn.Config) { c.TLS.CAFile = sc.OtherCAFile },
			kafkaconn.ErrTLS, "certificate signed by unknown authority"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sec := sc.Config()
			tc.edit(&sec)
			start := time.Now()
			s, err := server.New(server.Config{Brokers: sc.Brokers(), DataDir: t.TempDir(), Logger: quietSecureLogger(), Kafka: sec})
			took := time.Since(start)
			if err == nil {
				s.Close()
				t.Fatal("New accepted settings the broker refuses")
			}
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v\nwant %v saying %q", err, tc.sentinel, tc.want)
			}
			if strings.Contains(err.Error(), wrong) || strings.Contains(err.Error(), kafkaconntest.Password) {
				t.Fatalf("error shows a password: %v", err)
			}
			if took > refusalBound {
				t.Fatalf("New took %v to refuse, want under %v", took, refusalBound)
			}
		})
	}
}

// TestPlaintextWriterAgainstTLS: a client without TLS fails clearly
// against the TLS listener (franz-go's own diagnosis), not by hanging.
func TestPlaintextWriterAgainstTLS(t *testing.T) {
	sc := kafkaconntest.Start(t)
	start := time.Now()
	w, err := writer.New(writer.Brokers(sc.Brokers()...), writer.Topic("anything_rt"), writer.Logger(quietSecureLogger()))
	if err == nil {
		w.Close(context.Background())
		t.Fatal("a plaintext writer got in")
	}
	if !strings.Contains(err.Error(), "is TLS missing?") || time.Since(start) > refusalBound {
		t.Fatalf("plaintext writer: %v after %v", err, time.Since(start))
	}
}

func TestKafkaSectionValidated(t *testing.T) {
	cfg, err := server.ParseConfig([]byte(`{"brokers": ["k:9093"], "dataDir": "/tmp/x",
		"kafka": {"tls": {"certFile": "/nonexistent/c.pem"}, "sasl": {"mechanism": "GSSAPI", "password": "` + kafkaconntest.Password + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = server.New(cfg)
	if err == nil {
		t.Fatal("New accepted a bad kafka section")
	}
	for _, want := range []string{"kafka.tls.keyFile: required with a client certificate", `kafka.sasl.mechanism: unknown mechanism "GSSAPI"`, "kafka.sasl.user: required"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), kafkaconntest.Password) {
		t.Errorf("error shows the password: %v", err)
	}
	if _, err := server.ParseConfig([]byte(`{"kafka": {"sasl": {"pasword": "x"}}}`)); err == nil {
		t.Error("a misspelt kafka key was accepted")
	}
}

// TestNoListenerByDefault: a server configured without httpAddr opens no
// port at all (the binaries' examples name a loopback or a chosen
// address).
func TestNoListenerByDefault(t *testing.T) {
	var c server.Config
	c.EnsureDefaults()
	if c.HTTPAddr != "" {
		t.Fatalf("default httpAddr %q, want none", c.HTTPAddr)
	}
	env := kafkatest.New(t)
	s, err := server.New(server.Config{Brokers: env.Brokers(), DataDir: t.TempDir(), Logger: quietSecureLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Addr() != "" {
		t.Fatalf("a server without httpAddr listens on %s", s.Addr())
	}
}
