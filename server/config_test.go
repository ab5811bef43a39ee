package server

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
)

func TestParseConfig(t *testing.T) {
	c, err := ParseConfig([]byte(`{"brokers":["127.0.0.1:9092"],"dataDir":"/tmp/x","serverId":"a","httpAddr":"127.0.0.1:7071",
		"compactionLag":"1h","sessionTimeout":"7s","http":{"maxBatchKeys":5}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.CompactionLag != time.Hour || c.SessionTimeout != 7*time.Second || c.HTTP.MaxBatchKeys != 5 || c.ServerID != "a" || c.HTTPAddr != "127.0.0.1:7071" {
		t.Fatalf("parsed %+v", c)
	}
	for _, bad := range []string{`{"brokerz":[]}`, `{"compactionLag":5}`, `{"sessionTimeout":"soon"}`, `[`} {
		if _, err := ParseConfig([]byte(bad)); err == nil {
			t.Errorf("ParseConfig(%s) accepted", bad)
		}
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Config{CacheSize: -1, CompactionLag: -1, SessionTimeout: -1, MaxPollRecords: -1,
		Regions: []api.Region{{ID: 1, Name: "us", Brokers: []string{"k:9092"}}, {ID: 1, Name: "eu"}}}
	err := c.Validate()
	if err == nil {
		t.Fatal("invalid config accepted")
	}
	for _, want := range []string{"brokers", "dataDir", "cacheSize", "compactionLag", "sessionTimeout", "maxPollRecords",
		"regions[1]: region id 1 is listed twice", "regions[1] (eu): brokers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s: %v", want, err)
		}
	}
}

func TestRunServesHTTP(t *testing.T) {
	env := kafkatest.New(t)
	s, err := New(Config{Brokers: env.Brokers(), DataDir: t.TempDir(), Logger: quietLogger(), HTTPAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	resp, err := http.Get("http://" + s.Addr() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: %s", resp.Status)
	}
	resp, err = http.Get("http://" + s.Addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics does not look like Prometheus text")
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get("http://" + s.Addr() + "/healthz"); err == nil {
		t.Fatal("still serving after Close")
	}
}
