package controller_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rialtodb/rialto/controller"
	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/kafkaconn"
	"github.com/rialtodb/rialto/kafkaconn/kafkaconntest"
)

func quietLog() *slog.Logger { return slog.New(slog.DiscardHandler) }

// runController starts a controller of one region on brokers and waits
// until it is elected; it is stopped when t ends.
func runController(t *testing.T, cfg controller.Config) *controller.Controller {
	t.Helper()
	cfg.HTTPAddr, cfg.ReplicationFactor, cfg.MonitorInterval, cfg.Logger = "127.0.0.1:0", 1, 100*time.Millisecond, quietLog()
	ctl, err := controller.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; ctl.Close() })
	deadline := time.Now().Add(30 * time.Second)
	for !ctl.Leader() {
		if time.Now().After(deadline) {
			t.Fatal("controller not elected within 30s")
		}
		time.Sleep(25 * time.Millisecond)
	}
	return ctl
}

// uniqueNames gives the controller its own admin topic and groups, so
// that the test leaves a shared real cluster as it found it.
func uniqueNames(t *testing.T, env *kafkatest.Env, cfg *controller.Config) {
	cfg.AdminTopic = env.Topic(t, 1, map[string]string{"cleanup.policy": "compact"})
	suffix := strings.TrimPrefix(cfg.AdminTopic, kafkatest.TopicPrefix)
	cfg.Group, cfg.ServerGroup = "ctl-"+suffix, "servers-"+suffix
}

type answer struct {
	code int
	hdr  http.Header
	body string
}

// do sends a request with the given Authorization header ("": none).
func do(t *testing.T, method, url, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}
}

// TestAdminAPIToken: with a token set, every endpoint answers 401 with a
// clear JSON error to a request without it or with a wrong one, and the
// right one gets in (the Go client included).
func TestAdminAPIToken(t *testing.T) {
	env := kafkatest.New(t)
	cfg := controller.Config{Regions: []api.Region{{ID: 0, Name: "local", Brokers: env.Brokers()}}, Token: "s3cret-token"}
	uniqueNames(t, env, &cfg)
	ctl := runController(t, cfg)
	base := "http://" + ctl.Addr()
	for _, tc := range []struct{ name, method, path, auth, body string }{
		{"no token", "GET", "/v1/cluster", "", ""},
		{"wrong token", "GET", "/v1/cluster", "Bearer guess", ""},
		{"the token without the scheme", "GET", "/v1/stores", "s3cret-token", ""},
		{"the token as basic auth", "GET", "/v1/stores", "Basic s3cret-token", ""},
		{"a prefix of the token", "GET", "/v1/stores", "Bearer s3cret", ""},
		{"a write without token", "POST", "/v1/stores", "", `{"name":"x"}`},
		{"an unknown path without token", "GET", "/nothing", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, base+tc.path, tc.auth, tc.body)
			if a.code != http.StatusUnauthorized {
				t.Fatalf("%s %s: %d %s, want 401", tc.method, tc.path, a.code, a.body)
			}
			if a.body != `{"error":"a valid bearer token is required"}`+"\n" || a.hdr.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 body %q, WWW-Authenticate %q", a.body, a.hdr.Get("WWW-Authenticate"))
			}
		})
	}
	if a := do(t, "GET", base+"/v1/cluster", "Bearer s3cret-token", ""); a.code != http.StatusOK || !strings.Contains(a.body, `"local"`) {
		t.Fatalf("with the token: %d %s", a.code, a.body)
	}
	ctx := context.Background()
	if _, err := client.New(base, client.Token("s3cret-token")).Stores(ctx); err != nil {
		t.Fatalf("client with the token: %v", err)
	}
	if _, err := client.New(base).Stores(ctx); err == nil || !strings.Contains(err.Error(), "a valid bearer token is required") {
		t.Fatalf("client without the token: %v", err)
	}
}

// TestAdminAPIBodyLimit: a body over maxRequestBytes is refused with 413
// and says the limit; nothing is created.
func TestAdminAPIBodyLimit(t *testing.T) {
	env := kafkatest.New(t)
	cfg := controller.Config{Regions: []api.Region{{ID: 0, Name: "local", Brokers: env.Brokers()}}, MaxRequestBytes: 1024}
	uniqueNames(t, env, &cfg)
	ctl := runController(t, cfg)
	base := "http://" + ctl.Addr()
	big := `{"name":"big","keySchema":"\"string\"","valueSchema":"` + strings.Repeat(" ", 2048) + `\"string\""}`
	a := do(t, "POST", base+"/v1/stores", "", big)
	if a.code != http.StatusRequestEntityTooLarge || a.body != `{"error":"request body over 1024 bytes"}`+"\n" {
		t.Fatalf("oversized body: %d %s, want 413 naming the limit", a.code, a.body)
	}
	if a := do(t, "GET", base+"/v1/stores", "", ""); a.code != http.StatusOK || strings.Contains(a.body, `"big"`) {
		t.Fatalf("after the refused body: %d %s", a.code, a.body)
	}
}

// TestDefaultListenAddressIsLoopback: a controller configured without an
// address listens on loopback only.
func TestDefaultListenAddressIsLoopback(t *testing.T) {
	var cfg controller.Config
	cfg.EnsureDefaults()
	host, _, err := net.SplitHostPort(cfg.HTTPAddr)
	if err != nil {
		t.Fatal(err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("default httpAddr %q is not a loopback address", cfg.HTTPAddr)
	}
}

// TestKafkaSectionController: a controller configured by its kafka section
// is elected, creates a store (its topics and admin log records) over TLS
// and SCRAM-SHA-512; with a wrong password New refuses at once.
func TestKafkaSectionController(t *testing.T) {
	sc := kafkaconntest.Start(t)
	region := []api.Region{{ID: 0, Name: "local", Brokers: sc.Brokers()}}
	ctl := runController(t, controller.Config{Regions: region, Kafka: sc.Config()})
	st, err := client.New("http://"+ctl.Addr()).CreateStore(context.Background(),
		api.CreateStoreRequest{Name: "secure", KeySchema: `"string"`, ValueSchema: `"string"`})
	if err != nil {
		t.Fatal(err)
	}
	if st.CurrentVersion != 1 {
		t.Fatalf("store over TLS+SCRAM: current version %d, want 1", st.CurrentVersion)
	}

	bad := sc.Config()
	bad.SASL.PasswordFile, bad.SASL.Password = "", "not-the-password"
	start := time.Now()
	c, err := controller.New(controller.Config{Regions: region, HTTPAddr: "127.0.0.1:0", Kafka: bad, Logger: quietLog()})
	if err == nil {
		c.Close()
		t.Fatal("New accepted a wrong password")
	}
	if !errors.Is(err, kafkaconn.ErrAuthentication) || !strings.Contains(err.Error(), "controller: region local: kafka authentication failed") ||
		strings.Contains(err.Error(), "not-the-password") || time.Since(start) > 5*time.Second {
		t.Fatalf("wrong password: %v after %v", err, time.Since(start))
	}
	_, err = controller.New(controller.Config{Regions: region, Kafka: kafkaconn.Config{SASL: &kafkaconn.SASL{Mechanism: "SCRAM"}}})
	if err == nil || !strings.Contains(err.Error(), `kafka.sasl.mechanism: unknown mechanism "SCRAM"`) || !strings.Contains(err.Error(), "kafka.sasl.user: required") {
		t.Fatalf("bad kafka section: %v", err)
	}
}
