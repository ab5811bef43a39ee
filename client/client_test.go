package client

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rialtodb/rialto/internal/avrox"
)

// fakeServer speaks enough of the server's API for routing tests: one
// store "s", version 1, one partition, string keys; a key's value is its
// own bytes under schema id 7. fail, when set, answers every read with
// that status.
type fakeServer struct {
	*httptest.Server
	fail    int
	reads   atomic.Int64 // key and batch requests
	batches atomic.Int64
}

func newFake(t *testing.T, fail int) *fakeServer {
	f := &fakeServer{fail: fail}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"current":{"s":1},"versions":[{"store":"s","version":1,"partitions":1}],
			"partitions":[{"store":"s","version":1,"partition":0,"endOfPush":true,"readyToServe":true}]}`)
	})
	mux.HandleFunc("GET /v1/stores/s/schema", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"store":"s","version":1,"partitions":1,"keySchema":"string"}`)
	})
	errorAnswer := func(w http.ResponseWriter) bool {
		if f.fail == 0 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.fail)
		io.WriteString(w, `{"error":"fake failure"}`)
		return true
	}
	mux.HandleFunc("GET /v1/stores/s/keys/{key}", func(w http.ResponseWriter, r *http.Request) {
		f.reads.Add(1)
		if errorAnswer(w) {
			return
		}
		k, err := base64.RawURLEncoding.DecodeString(r.PathValue("key"))
		if err != nil || r.URL.Query().Get("keyEncoding") != "base64" || r.URL.Query().Get("version") != "1" {
			w.WriteHeader(400)
			return
		}
		if string(k) == "missing" {
			w.Header().Set("X-Rialto-Found", "false")
			w.WriteHeader(404)
			return
		}
		w.Header().Set("X-Rialto-Schema-Id", "7")
		w.Write(k)
	})
	mux.HandleFunc("POST /v1/stores/s/batch-get", func(w http.ResponseWriter, r *http.Request) {
		f.reads.Add(1)
		f.batches.Add(1)
		if errorAnswer(w) {
			return
		}
		// The binary request: version, count, then each key as Avro bytes.
		body, _ := io.ReadAll(r.Body)
		version, n, err := avrox.ReadLong(body)
		if err != nil || r.Header.Get("Content-Type") != "application/x-rialto-keys" || version != 1 {
			w.WriteHeader(400)
			return
		}
		body = body[n:]
		count, n, _ := avrox.ReadLong(body)
		body = body[n:]
		b := avrox.AppendLong(nil, 1)
		b = avrox.AppendLong(b, count)
		for range count {
			l, n, err := avrox.ReadLong(body)
			if err != nil || int(l) > len(body)-n {
				w.WriteHeader(400)
				return
			}
			k := body[n : n+int(l)]
			body = body[n+int(l):]
			if string(k) == "missing" {
				b = append(b, 0)
				continue
			}
			b = append(b, 1)
			b = avrox.AppendLong(b, 7)
			b = avrox.AppendBytes(b, k)
		}
		w.Write(b)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newClient(t *testing.T, servers []string, opts ...Opt) *Client {
	t.Helper()
	c, err := New(servers, append([]Opt{Logger(quiet()), RefreshInterval(-1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := New(nil)
	if err == nil || !strings.Contains(err.Error(), "at least one") {
		t.Fatalf("no servers: %v", err)
	}
	_, err = New([]string{"ftp://x", "://nohost"}, StatusTimeout(-1), MaxBatchKeys(-1))
	for _, want := range []string{`"ftp://x"`, `"://nohost"`, "StatusTimeout", "MaxBatchKeys"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
	c, err := New([]string{"127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.servers[0] != "http://127.0.0.1:1" {
		t.Errorf("bare host:port became %q", c.servers[0])
	}
	c.Close()
	c.Close() // twice is fine
	if _, err := c.Get(context.Background(), "s", "k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v", err)
	}
}

func TestGetRetriesAnotherReplica(t *testing.T) {
	for _, code := range []int{503, 421, 500} {
		bad, good := newFake(t, code), newFake(t, 0)
		c := newClient(t, []string{bad.URL, good.URL})
		for range 4 { // the rotation starts on each replica at least once
			v, err := c.Get(context.Background(), "s", "hello")
			if err != nil || !v.Found || string(v.Bytes) != "hello" || v.SchemaID != 7 || v.Version != 1 {
				t.Fatalf("%d: Get = %+v, %v", code, v, err)
			}
		}
		if bad.reads.Load() == 0 {
			t.Fatalf("%d: the failing replica was never tried", code)
		}
		v, err := c.Get(context.Background(), "s", "missing")
		if err != nil || v.Found {
			t.Fatalf("missing key: %+v, %v", v, err)
		}
		vs, err := c.BatchGet(context.Background(), "s", []any{"a", "missing", "b"})
		if err != nil || len(vs) != 3 || string(vs[0].Bytes) != "a" || vs[1].Found || string(vs[2].Bytes) != "b" {
			t.Fatalf("%d: BatchGet = %+v, %v", code, vs, err)
		}
	}
}

func TestBadRequestIsNotRetried(t *testing.T) {
	bad, good := newFake(t, 400), newFake(t, 400)
	c := newClient(t, []string{bad.URL, good.URL})
	_, err := c.Get(context.Background(), "s", "k")
	var se *ServerError
	if !errors.As(err, &se) || se.Status != 400 || se.Message != "fake failure" || se.Retryable() {
		t.Fatalf("Get: %v", err)
	}
	if n := bad.reads.Load() + good.reads.Load(); n != 1 {
		t.Fatalf("a 400 was sent %d times", n)
	}
}

func TestEveryReplicaDown(t *testing.T) {
	a, b := newFake(t, 503), newFake(t, 503)
	c := newClient(t, []string{a.URL, b.URL})
	_, err := c.Get(context.Background(), "s", "k")
	var se *ServerError
	if !errors.As(err, &se) || se.Status != 503 {
		t.Fatalf("Get: %v", err)
	}
	// Each replica tried, then once more after a refresh.
	if n := a.reads.Load() + b.reads.Load(); n != 4 {
		t.Fatalf("%d reads, want 4", n)
	}
	if _, err := c.BatchGet(context.Background(), "s", []any{"x"}); !errors.As(err, &se) {
		t.Fatalf("BatchGet: %v", err)
	}
}

func TestBatchSplitsAndKeepsOrder(t *testing.T) {
	f := newFake(t, 0)
	c := newClient(t, []string{f.URL}, MaxBatchKeys(2))
	keys := []any{"k0", "k1", "missing", "k3", "k4"}
	vs, err := c.BatchGet(context.Background(), "s", keys)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if k := keys[i].(string); v.Found != (k != "missing") || (v.Found && string(v.Bytes) != k) {
			t.Fatalf("result %d = %+v for %s", i, v, k)
		}
	}
	if n := f.batches.Load(); n != 3 {
		t.Fatalf("%d requests for 5 keys at 2 per request", n)
	}
	if vs, err := c.BatchGet(context.Background(), "s", nil); err != nil || len(vs) != 0 {
		t.Fatalf("empty batch: %v %v", vs, err)
	}
}

func TestUnknownStore(t *testing.T) {
	c := newClient(t, []string{newFake(t, 0).URL})
	if _, err := c.Get(context.Background(), "other", "k"); !errors.Is(err, ErrUnknownStore) {
		t.Fatalf("Get: %v", err)
	}
}

func TestDecodeBatchRejectsMalformed(t *testing.T) {
	good := avrox.AppendLong(avrox.AppendLong(nil, 1), 2)
	good = append(good, 0, 1)
	good = avrox.AppendLong(good, 3)
	good = avrox.AppendBytes(good, []byte("v"))
	out := make([]Value, 2)
	if err := decodeBatch("s", good, 1, []int{0, 1}, out); err != nil || out[0].Found || string(out[1].Bytes) != "v" || out[1].SchemaID != 3 {
		t.Fatalf("good answer: %v %+v", err, out)
	}
	for name, b := range map[string][]byte{
		"empty":         nil,
		"other version": append(avrox.AppendLong(nil, 2), good[1:]...),
		"count":         append(avrox.AppendLong(avrox.AppendLong(nil, 1), 3), good[2:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(append([]byte(nil), good...), 0),
		"bad tag":       append(append([]byte(nil), good[:2]...), 9),
	} {
		if err := decodeBatch("s", b, 1, []int{0, 1}, make([]Value, 2)); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
