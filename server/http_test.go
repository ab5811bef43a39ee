package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/client"
	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/keycodec"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

const httpValueSchema = `{"type":"record","name":"Profile","namespace":"rialto.test","fields":[
	{"name":"name","type":"string","default":""},
	{"name":"count","type":"long","default":0},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]},
	{"name":"email","type":["null","string"],"default":null}
]}`

const httpRecordKey = `{"type":"record","name":"EventKey","namespace":"rialto.test","fields":[{"name":"id","type":"long"},{"name":"region","type":"string"}]}`

// httpPush writes one version topic with the writer: start-of-push, the
// records the test asks for, and end-of-push when the test says.
type httpPush struct {
	store      string
	topic      string
	partitions int32
	keySchema  avro.Schema
	value      avro.Schema
	w          *writer.Writer
	want       map[string][]byte // serialized key → value bytes; absent: missing
}

func newHTTPPush(t *testing.T, env *kafkatest.Env, store, keySchema string, partitions int32) *httpPush {
	t.Helper()
	ss, err := writer.NewStaticSchemas(keySchema, httpValueSchema)
	if err != nil {
		t.Fatal(err)
	}
	p := &httpPush{store: store, partitions: partitions, keySchema: ss.Key, value: ss.Values[1], want: map[string][]byte{}}
	p.topic = env.Topic(t, partitions, map[string]string{"cleanup.policy": "compact"})
	p.w, err = writer.New(writer.Brokers(env.Brokers()...), writer.Topic(p.topic), writer.Kind(writer.KindVersion), writer.Schemas(ss),
		writer.Compression(wire.CompressionZstd, nil), writer.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.w.Close(context.Background()) })
	if err := p.w.StartOfPush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *httpPush) key(t *testing.T, k any) []byte {
	t.Helper()
	b, err := keycodec.Serialize(p.keySchema, k)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (p *httpPush) put(t *testing.T, k any, v map[string]any, opts ...writer.CallOpt) {
	t.Helper()
	b, err := avro.Marshal(p.value, v)
	if err != nil {
		t.Fatal(err)
	}
	kb := p.key(t, k)
	if err := p.w.PutBytesAsync(context.Background(), kb, 1, b, func(_ writer.Result, err error) {
		if err != nil {
			t.Errorf("put: %v", err)
		}
	}, opts...); err != nil {
		t.Fatal(err)
	}
	p.want[string(kb)] = b
}

func (p *httpPush) del(t *testing.T, k any, opts ...writer.CallOpt) {
	t.Helper()
	kb := p.key(t, k)
	if err := p.w.DeleteBytesAsync(context.Background(), kb, func(_ writer.Result, err error) {
		if err != nil {
			t.Errorf("delete: %v", err)
		}
	}, opts...); err != nil {
		t.Fatal(err)
	}
	delete(p.want, string(kb))
}

func (p *httpPush) endOfPush(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if err := p.w.EndOfPush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.w.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func (p *httpPush) spec(t *testing.T) VersionSpec {
	src, err := NewStaticSchemaSource(httpValueSchema)
	if err != nil {
		t.Fatal(err)
	}
	return VersionSpec{Store: p.store, Version: 1, Topic: p.topic, Partitions: p.partitions, KeySchema: p.keySchema, Schemas: src}
}

func profile(i int) map[string]any {
	return map[string]any{"name": fmt.Sprintf("name-%d", i), "count": int64(i), "tags": []any{"t"}, "email": nil}
}

func hostAll(t *testing.T, s *Server, spec VersionSpec) {
	t.Helper()
	var ps []int32
	for p := range spec.Partitions {
		ps = append(ps, p)
	}
	if err := s.Host(context.Background(), spec, ps...); err != nil {
		t.Fatal(err)
	}
}

func httpFront(t *testing.T, s *Server, opts HTTPOptions) (*HTTPHandler, string) {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	h, err := s.Handler(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return h, ts.URL
}

type httpAnswer struct {
	code int
	hdr  http.Header
	body []byte
}

func (a httpAnswer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", a.code, err, a.body)
	}
	return m
}

// errorLine returns the answer's {"error"} and checks the shape.
func (a httpAnswer) errorLine(t *testing.T) string {
	t.Helper()
	m := a.json(t)
	msg, ok := m["error"].(string)
	if !ok || len(m) != 1 || strings.Contains(msg, "\n") {
		t.Fatalf("error answer is not {\"error\": one line}: %s", a.body)
	}
	return msg
}

func httpDo(t *testing.T, method, u string, body []byte, hdr ...string) httpAnswer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return httpAnswer{resp.StatusCode, resp.Header, b}
}

func wantCode(t *testing.T, a httpAnswer, code int, contains ...string) {
	t.Helper()
	if a.code != code {
		t.Fatalf("status %d, want %d: %s", a.code, code, a.body)
	}
	if code >= 400 && a.hdr.Get("Content-Type") == ContentTypeJSON {
		msg := a.errorLine(t)
		for _, c := range contains {
			if !strings.Contains(msg, c) {
				t.Fatalf("error %q does not mention %q", msg, c)
			}
		}
	}
}

func TestHTTPReads(t *testing.T) {
	env := kafkatest.New(t)
	ctx := context.Background()

	// A store with record keys, pushed completely.
	events := newHTTPPush(t, env, "events", httpRecordKey, 2)
	for i := range 20 {
		events.put(t, map[string]any{"id": int64(i), "region": "eu"}, profile(i))
	}
	events.endOfPush(t)

	// A store with string keys whose push is still running: some values
	// carry value-level RMD, one key is a tombstone with RMD, one a plain
	// delete.
	users := newHTTPPush(t, env, "users", `"string"`, 4)
	for i := range 60 {
		var opts []writer.CallOpt
		if i < 3 {
			opts = append(opts, writer.WithRMD(1, conflict.ValueLevelRMD(int64(1000+i))))
		}
		users.put(t, fmt.Sprintf("user-%d", i), profile(i), opts...)
	}
	users.put(t, "a/b c?d", profile(100))
	users.del(t, "user-5", writer.WithRMD(1, conflict.ValueLevelRMD(2000)), writer.WithSchemaID(1))
	users.del(t, "user-6")
	if err := users.w.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	s := startServer(t, env.Brokers(), t.TempDir())
	h, base := httpFront(t, s, HTTPOptions{MaxBatchKeys: 100, MaxBodyBytes: 64 << 10})
	hostAll(t, s, events.spec(t))
	hostAll(t, s, users.spec(t))
	s.SetCurrentVersion("events", 1)
	s.SetCurrentVersion("users", 1)

	t.Run("not ready until end-of-push", func(t *testing.T) {
		a := httpDo(t, "GET", base+"/readyz", nil)
		if a.code != http.StatusServiceUnavailable {
			t.Fatalf("readyz %d before end-of-push: %s", a.code, a.body)
		}
		if !strings.Contains(string(a.body), "end-of-push not consumed yet") || !strings.Contains(string(a.body), `"store":"users"`) {
			t.Fatalf("readyz does not say which partitions wait: %s", a.body)
		}
		a = httpDo(t, "GET", base+"/v1/stores/users/keys/user-1", nil)
		wantCode(t, a, http.StatusServiceUnavailable, "not ready", "end-of-push")
		if a.hdr.Get("Retry-After") == "" {
			t.Fatal("503 without Retry-After")
		}
	})

	users.endOfPush(t)
	waitFor(t, time.Minute, "/readyz to answer 200", func() bool {
		return httpDo(t, "GET", base+"/readyz", nil).code == http.StatusOK
	})
	if nr := h.Ready(); len(nr) != 0 {
		t.Fatalf("Ready() = %v after /readyz answered 200", nr)
	}

	t.Run("single JSON", func(t *testing.T) {
		a := httpDo(t, "GET", base+"/v1/stores/users/keys/user-7", nil)
		wantCode(t, a, http.StatusOK)
		want := `{"store":"users","key":"user-7","found":true,"value":{"name":"name-7","count":7,"tags":["t"],"email":null},"version":1,"schemaId":1}`
		if got := strings.TrimSpace(string(a.body)); got != want {
			t.Fatalf("got  %s\nwant %s", got, want)
		}
		// Path-escaped text with a slash, a space and a question mark.
		a = httpDo(t, "GET", base+"/v1/stores/users/keys/"+url.PathEscape("a/b c?d")+"?version=1", nil)
		wantCode(t, a, http.StatusOK)
		if m := a.json(t); m["key"] != "a/b c?d" || m["found"] != true {
			t.Fatalf("escaped key: %s", a.body)
		}
		// A record key given as its JSON.
		a = httpDo(t, "GET", base+"/v1/stores/events/keys/"+url.PathEscape(`{"id":3,"region":"eu"}`), nil)
		wantCode(t, a, http.StatusOK)
		if got := strings.TrimSpace(string(a.body)); !strings.HasPrefix(got, `{"store":"events","key":{"id":3,"region":"eu"},"found":true,"value":{"name":"name-3"`) {
			t.Fatalf("record key: %s", got)
		}
	})

	t.Run("not found and tombstone", func(t *testing.T) {
		for _, k := range []string{"nobody", "user-5", "user-6"} {
			a := httpDo(t, "GET", base+"/v1/stores/users/keys/"+k, nil)
			wantCode(t, a, http.StatusOK)
			want := fmt.Sprintf(`{"store":"users","key":%q,"found":false,"value":null,"version":1}`, k)
			if got := strings.TrimSpace(string(a.body)); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
			a = httpDo(t, "GET", base+"/v1/stores/users/keys/"+k+"?format=avro", nil)
			if a.code != http.StatusNotFound || a.hdr.Get(HeaderFound) != "false" || len(a.body) != 0 {
				t.Fatalf("binary get of %s: %d %v %q", k, a.code, a.hdr, a.body)
			}
		}
	})

	t.Run("single binary", func(t *testing.T) {
		for _, hdr := range [][]string{nil, {"Accept", "avro/binary"}} {
			u := base + "/v1/stores/users/keys/user-9"
			if hdr == nil {
				u += "?format=avro"
			}
			a := httpDo(t, "GET", u, nil, hdr...)
			wantCode(t, a, http.StatusOK)
			if !bytes.Equal(a.body, users.want["user-9"]) || a.hdr.Get(HeaderSchemaID) != "1" || a.hdr.Get(HeaderVersion) != "1" || a.hdr.Get("Content-Type") != ContentTypeAvro {
				t.Fatalf("binary get: %v %x, want %x", a.hdr, a.body, users.want["user-9"])
			}
		}
	})

	t.Run("meta", func(t *testing.T) {
		type meta struct {
			Metadata  string `json:"metadata"`
			TS        *int64 `json:"ts"`
			Tombstone bool   `json:"tombstone"`
			Absent    bool   `json:"absent"`
			Fields    []struct {
				Name string `json:"name"`
				TS   int64  `json:"ts"`
			} `json:"fields"`
		}
		get := func(k string) (map[string]json.RawMessage, meta) {
			a := httpDo(t, "GET", base+"/v1/stores/users/keys/"+k+"?meta=1", nil)
			wantCode(t, a, http.StatusOK)
			var top map[string]json.RawMessage
			if err := json.Unmarshal(a.body, &top); err != nil {
				t.Fatal(err)
			}
			var m meta
			if err := json.Unmarshal(top["meta"], &m); err != nil {
				t.Fatalf("meta of %s: %v: %s", k, err, a.body)
			}
			return top, m
		}
		_, m := get("user-1")
		if m.Metadata != conflict.MetadataValueLevel || m.TS == nil || *m.TS != 1001 || len(m.Fields) != 4 || m.Fields[0].Name != "name" || m.Fields[0].TS != 1001 {
			t.Fatalf("user-1 meta: %+v", m)
		}
		_, m = get("user-20") // batch data without RMD
		if m.Metadata != conflict.MetadataNone || len(m.Fields) != 4 || m.Fields[1].TS != 0 {
			t.Fatalf("user-20 meta: %+v", m)
		}
		top, m := get("user-5")
		if string(top["found"]) != "false" || !m.Tombstone || m.Metadata != conflict.MetadataValueLevel || *m.TS != 2000 {
			t.Fatalf("tombstone meta: %+v", m)
		}
		_, m = get("nobody")
		if !m.Absent {
			t.Fatalf("missing key meta: %+v", m)
		}
		wantCode(t, httpDo(t, "GET", base+"/v1/stores/users/keys/user-1?meta=1&format=avro", nil), http.StatusBadRequest, "meta")
	})

	t.Run("batch JSON", func(t *testing.T) {
		body := `{"keys":["user-3","nobody","user-5","user-0","a/b c?d"]}`
		a := httpDo(t, "POST", base+"/v1/stores/users/batch-get", []byte(body))
		wantCode(t, a, http.StatusOK)
		var resp struct {
			Store   string `json:"store"`
			Version int32  `json:"version"`
			Results []struct {
				Key   string          `json:"key"`
				Found bool            `json:"found"`
				Value json.RawMessage `json:"value"`
			} `json:"results"`
		}
		if err := json.Unmarshal(a.body, &resp); err != nil {
			t.Fatal(err)
		}
		wantKeys := []string{"user-3", "nobody", "user-5", "user-0", "a/b c?d"}
		wantFound := []bool{true, false, false, true, true}
		if resp.Store != "users" || resp.Version != 1 || len(resp.Results) != len(wantKeys) {
			t.Fatalf("batch: %s", a.body)
		}
		for i, r := range resp.Results {
			if r.Key != wantKeys[i] || r.Found != wantFound[i] {
				t.Fatalf("result %d: %+v", i, r)
			}
			if r.Found {
				vb, err := avrox.FromJSON(users.value, r.Value)
				if same, _ := avrox.Equal(users.value, vb, users.want[r.Key]); err != nil || !same {
					t.Fatalf("result %d value %s does not read back (%v)", i, r.Value, err)
				}
			} else if string(r.Value) != "null" {
				t.Fatalf("result %d: missing key with value %s", i, r.Value)
			}
		}
		// Record keys as JSON, explicit version in the body.
		a = httpDo(t, "POST", base+"/v1/stores/events/batch-get", []byte(`{"version":1,"keys":[{"id":19,"region":"eu"},{"id":19,"region":"us"}]}`))
		wantCode(t, a, http.StatusOK)
		if !strings.Contains(string(a.body), `{"key":{"id":19,"region":"eu"},"found":true,"value":{"name":"name-19"`) ||
			!strings.Contains(string(a.body), `{"key":{"id":19,"region":"us"},"found":false,"value":null}`) {
			t.Fatalf("record-key batch: %s", a.body)
		}
	})

	t.Run("batch binary", func(t *testing.T) {
		keys := []string{"user-1", "user-6", "user-59", "nobody"}
		js, _ := json.Marshal(map[string]any{"keys": keys})
		a := httpDo(t, "POST", base+"/v1/stores/users/batch-get?format=avro", js)
		wantCode(t, a, http.StatusOK)
		b := a.body
		v, n, _ := avrox.ReadLong(b)
		b = b[n:]
		cnt, n, _ := avrox.ReadLong(b)
		b = b[n:]
		if v != 1 || cnt != int64(len(keys)) || a.hdr.Get("Content-Type") != ContentTypeBatch {
			t.Fatalf("batch header: version %d count %d", v, cnt)
		}
		for _, k := range keys {
			want, ok := users.want[k]
			tag := b[0]
			b = b[1:]
			if (tag == 1) != ok {
				t.Fatalf("%s: tag %d, want found=%v", k, tag, ok)
			}
			if !ok {
				continue
			}
			id, n, _ := avrox.ReadLong(b)
			b = b[n:]
			l, n, _ := avrox.ReadLong(b)
			b = b[n:]
			if id != 1 || !bytes.Equal(b[:l], want) {
				t.Fatalf("%s: schema %d value %x, want %x", k, id, b[:l], want)
			}
			b = b[l:]
		}
		if len(b) != 0 {
			t.Fatalf("%d trailing bytes", len(b))
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			method, path, body string
			code               int
			says               []string
		}{
			{"GET", "/v1/stores/nostore/keys/x", "", 404, []string{`"nostore"`, "no current version"}},
			{"GET", "/v1/stores/users/keys/x?version=7", "", 404, []string{"no version 7"}},
			{"GET", "/v1/stores/users/keys/x?version=abc", "", 400, []string{"version"}},
			{"GET", "/v1/stores/users/keys/x?format=xml", "", 400, []string{"format"}},
			{"GET", "/v1/stores/events/keys/" + url.PathEscape(`{"id":"x"}`), "", 400, []string{"key", "id"}},
			{"GET", "/v1/stores/events/keys/" + url.PathEscape(`{"id":1}`), "", 400, []string{"key", "region"}},
			{"GET", "/v1/stores/events/keys/notjson", "", 400, []string{"key"}},
			{"GET", "/v1/stores/users/keys/@@?keyEncoding=base64", "", 400, []string{"base64"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["a",42]}`, 400, []string{"keys[1]", "42"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["a"],"extra":1}`, 400, []string{"extra"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["a"]} {}`, 400, []string{"trailing"}},
			{"POST", "/v1/stores/users/batch-get", `not json`, 400, []string{"body"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["a"],"keyEncoding":"hex"}`, 400, []string{"keyEncoding"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["a"],"version":9}`, 404, []string{"no version 9"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":[` + strings.Repeat(`"k",`, 100) + `"k"]}`, 413, []string{"101 keys", "limit of 100 keys", "maxBatchKeys"}},
			{"POST", "/v1/stores/users/batch-get", `{"keys":["` + strings.Repeat("x", 70<<10) + `"]}`, 413, []string{"limit of 65536 bytes", "maxBodyBytes"}},
			{"DELETE", "/v1/stores/users/keys/x", "", 404, []string{"no endpoint DELETE"}},
			{"GET", "/v2/nothing", "", 404, []string{"no endpoint"}},
		} {
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			a := httpDo(t, tc.method, base+tc.path, body)
			if a.code != tc.code {
				t.Errorf("%s %s: status %d, want %d: %s", tc.method, tc.path, a.code, tc.code, a.body)
				continue
			}
			if tc.code == 405 {
				continue // net/http's own answer
			}
			msg := a.errorLine(t)
			for _, w := range tc.says {
				if !strings.Contains(msg, w) {
					t.Errorf("%s %s: error %q does not mention %q", tc.method, tc.path, msg, w)
				}
			}
		}
	})

	t.Run("status, schema, health", func(t *testing.T) {
		a := httpDo(t, "GET", base+"/v1/status", nil)
		wantCode(t, a, http.StatusOK)
		var st StatusResponse
		if err := json.Unmarshal(a.body, &st); err != nil {
			t.Fatal(err)
		}
		if st.Current["users"] != 1 || st.Current["events"] != 1 || len(st.Versions) != 2 || len(st.Partitions) != 6 {
			t.Fatalf("status: %s", a.body)
		}
		for _, v := range st.Versions {
			if !v.Current || (v.Store == "users" && v.Partitions != 4) || (v.Store == "events" && v.Partitions != 2) {
				t.Fatalf("version %+v", v)
			}
		}
		a = httpDo(t, "GET", base+"/v1/stores/events/schema", nil)
		wantCode(t, a, http.StatusOK)
		var sr SchemaResponse
		if err := json.Unmarshal(a.body, &sr); err != nil {
			t.Fatal(err)
		}
		ks, err := avro.ParseBytes(sr.KeySchema)
		if err != nil || sr.Partitions != 2 || sr.Version != 1 || ks.Fingerprint() != events.keySchema.Fingerprint() {
			t.Fatalf("schema: %s (%v)", a.body, err)
		}
		wantCode(t, httpDo(t, "GET", base+"/healthz", nil), http.StatusOK)
	})
}

// TestHTTPBatchParallel reads a batch large enough to be split over
// goroutines and checks every result lands at its position.
// TestHTTPBatchParallel reads a batch with one goroutine per CPU (at
// least two): over three partitions each worker takes whole partitions;
// over one, the partition's sorted keys are split between the workers.
func TestHTTPBatchParallel(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(max(2, runtime.GOMAXPROCS(0))))
	for _, partitions := range []int{3, 1} {
		t.Run(fmt.Sprintf("partitions=%d", partitions), func(t *testing.T) {
			testHTTPBatchParallel(t, partitions)
		})
	}
}

func testHTTPBatchParallel(t *testing.T, partitions int) {
	env := kafkatest.New(t)
	users := newHTTPPush(t, env, "users", `"string"`, int32(partitions))
	const n = 3000
	for i := range n {
		if i%7 != 0 {
			users.put(t, fmt.Sprintf("u%d", i), profile(i))
		}
	}
	users.endOfPush(t)
	s := startServer(t, env.Brokers(), t.TempDir())
	_, base := httpFront(t, s, HTTPOptions{ParallelBatchKeys: 64})
	hostAll(t, s, users.spec(t))
	s.SetCurrentVersion("users", 1)
	waitFor(t, time.Minute, "ready", func() bool { return allReady(s, partitions) })

	keys := make([]string, 0, n+10)
	for i := n + 9; i >= 0; i-- { // some never written
		keys = append(keys, fmt.Sprintf("u%d", i))
	}
	js, _ := json.Marshal(map[string]any{"keys": keys})
	a := httpDo(t, "POST", base+"/v1/stores/users/batch-get?format=avro", js)
	wantCode(t, a, http.StatusOK)

	// The binary request of the same keys gets the same answer.
	bin := avrox.AppendLong(nil, 0) // the current version
	bin = avrox.AppendLong(bin, int64(len(keys)))
	for _, k := range keys {
		bin = avrox.AppendBytes(bin, []byte(k)) // a "string" key serializes as its bytes
	}
	ab := httpDo(t, "POST", base+"/v1/stores/users/batch-get?format=avro", bin, "Content-Type", ContentTypeKeys)
	wantCode(t, ab, http.StatusOK)
	if !bytes.Equal(ab.body, a.body) {
		t.Fatal("binary and JSON requests of the same keys answer differently")
	}
	b := a.body
	_, n1, _ := avrox.ReadLong(b)
	cnt, n2, _ := avrox.ReadLong(b[n1:])
	b = b[n1+n2:]
	if cnt != int64(len(keys)) {
		t.Fatalf("%d results for %d keys", cnt, len(keys))
	}
	for _, k := range keys {
		want, ok := users.want[k]
		tag := b[0]
		b = b[1:]
		if (tag == 1) != ok {
			t.Fatalf("%s: tag %d, want found=%v", k, tag, ok)
		}
		if ok {
			_, n, _ := avrox.ReadLong(b)
			l, m, _ := avrox.ReadLong(b[n:])
			b = b[n+m:]
			if !bytes.Equal(b[:l], want) {
				t.Fatalf("%s: wrong value", k)
			}
			b = b[l:]
		}
	}
}

func TestHTTPBatchBinaryRequestErrors(t *testing.T) {
	env := kafkatest.New(t)
	users := newHTTPPush(t, env, "users", `"string"`, 1)
	users.put(t, "a", profile(1))
	users.endOfPush(t)
	s := startServer(t, env.Brokers(), t.TempDir())
	_, base := httpFront(t, s, HTTPOptions{MaxBatchKeys: 3, MaxBodyBytes: 64})
	hostAll(t, s, users.spec(t))
	s.SetCurrentVersion("users", 1)
	waitFor(t, time.Minute, "ready", func() bool { return allReady(s, 1) })

	long := func(vs ...int64) []byte {
		var b []byte
		for _, v := range vs {
			b = avrox.AppendLong(b, v)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		body []byte
		code int
		want []string
	}{
		{"ok", append(long(0, 2), avrox.AppendBytes(avrox.AppendBytes(nil, []byte("a")), []byte("zz"))...), 200, nil},
		{"empty body", nil, 400, []string{"bad version"}},
		{"negative version", long(-1, 0), 400, []string{"bad version"}},
		{"unknown version", long(9, 0), 404, []string{"no version 9"}},
		{"count beyond the body", long(0, 50), 400, []string{"bad key count"}},
		{"too many keys", append(long(0, 4), []byte{0, 0, 0, 0}...), 413, []string{"4 keys", "limit of 3", "maxBatchKeys"}},
		{"key longer than the body", append(long(0, 1), long(20)...), 400, []string{"key 0", "bad length"}},
		{"trailing bytes", append(append(long(0, 1), avrox.AppendBytes(nil, []byte("a"))...), 7), 400, []string{"after the last key"}},
		{"over the body limit", append(long(0, 1), avrox.AppendBytes(nil, bytes.Repeat([]byte("k"), 100))...), 413, []string{"maxBodyBytes"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := httpDo(t, "POST", base+"/v1/stores/users/batch-get?format=avro", tc.body, "Content-Type", ContentTypeKeys)
			wantCode(t, a, tc.code, tc.want...)
		})
	}
}

func TestHTTPServeShutsDownGracefully(t *testing.T) {
	s := &Server{versions: map[versionKey]*hostedVersion{}, current: map[string]int32{}}
	h, err := s.Handler(HTTPOptions{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := listenLoopback()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, 5*time.Second) }()
	a := httpDo(t, "GET", "http://"+ln.Addr().String()+"/healthz", nil)
	wantCode(t, a, http.StatusOK)
	a = httpDo(t, "GET", "http://"+ln.Addr().String()+"/readyz", nil)
	wantCode(t, a, http.StatusOK) // nothing current: nothing to wait for
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
	if _, err := s.Handler(HTTPOptions{MaxBatchKeys: -1, MaxBodyBytes: -2}); err == nil || !strings.Contains(err.Error(), "maxBatchKeys") || !strings.Contains(err.Error(), "maxBodyBytes") {
		t.Fatalf("Validate does not report every problem: %v", err)
	}
}

func listenLoopback() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestClientRoutesAcrossServers runs two servers hosting different
// partitions of one version and reads through the Go client: every key
// reaches the server that holds it; when one server's API goes away and
// the other also hosts its partitions, reads fail over.
func TestClientRoutesAcrossServers(t *testing.T) {
	env := kafkatest.New(t)
	ctx := context.Background()
	users := newHTTPPush(t, env, "users", `"string"`, 4)
	const n = 400
	for i := range n {
		if i%10 != 3 {
			users.put(t, fmt.Sprintf("u%d", i), profile(i))
		}
	}
	users.endOfPush(t)
	spec := users.spec(t)

	a := startServer(t, env.Brokers(), t.TempDir())
	b := startServer(t, env.Brokers(), t.TempDir())
	ha, _ := a.Handler(HTTPOptions{Logger: quietLogger()})
	hb, baseB := httpFront(t, b, HTTPOptions{})
	tsA := httptest.NewServer(ha)
	defer tsA.Close()
	if err := a.Host(ctx, spec, 0, 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Host(ctx, spec, 2, 3); err != nil {
		t.Fatal(err)
	}
	a.SetCurrentVersion("users", 1)
	b.SetCurrentVersion("users", 1)
	waitFor(t, time.Minute, "both servers ready", func() bool { return allReady(a, 2) && allReady(b, 2) })

	c, err := client.New([]string{tsA.URL, baseB}, client.Logger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	keys := make([]any, 0, n+5)
	for i := range n + 5 {
		keys = append(keys, fmt.Sprintf("u%d", i))
	}
	check := func(what string, got []client.Value) {
		t.Helper()
		if len(got) != len(keys) {
			t.Fatalf("%s: %d results for %d keys", what, len(got), len(keys))
		}
		for i, v := range got {
			want, ok := users.want[keys[i].(string)]
			if v.Found != ok || !bytes.Equal(v.Bytes, want) || v.Version != 1 || (ok && v.SchemaID != 1) {
				t.Fatalf("%s: %s = %+v, want found=%v %x", what, keys[i], v, ok, want)
			}
		}
	}
	single := make([]client.Value, len(keys))
	for i, k := range keys {
		if single[i], err = c.Get(ctx, "users", k); err != nil {
			t.Fatalf("Get %s: %v", k, err)
		}
	}
	check("Get", single)
	batch, err := c.BatchGet(ctx, "users", keys)
	if err != nil {
		t.Fatal(err)
	}
	check("BatchGet", batch)

	rec, err := c.GetJSON(ctx, "users", "u1", true)
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Found || string(rec.Key) != `"u1"` || rec.Version != 1 || !strings.HasPrefix(string(rec.Value), `{"name":"name-1"`) || len(rec.Meta) == 0 {
		t.Fatalf("GetJSON: %+v", rec)
	}
	if _, err := c.Get(ctx, "nostore", "x"); !errors.Is(err, client.ErrUnknownStore) {
		t.Fatalf("unknown store: %v", err)
	}
	if _, err := c.Get(ctx, "users", 42); !errors.Is(err, client.ErrBadKey) {
		t.Fatalf("int key for a string key schema: %v", err)
	}

	// Both servers answered their own partitions, neither was misdirected.
	for name, h := range map[string]*HTTPHandler{"a": ha, "b": hb} {
		m := scrapeRegistry(t, h)
		if m[`rialto_read_keys_total{op="single",result="found"}`] == 0 || m[`rialto_read_keys_total{op="batch",result="found"}`] == 0 {
			t.Errorf("server %s served no reads: %v", name, m)
		}
		if m[`rialto_read_requests_total{code="421",op="single"}`]+m[`rialto_read_requests_total{code="421",op="batch"}`] != 0 {
			t.Errorf("server %s was sent keys it does not host", name)
		}
	}
	// A server asked for a partition it does not host says so.
	var p2 string
	for i := range n {
		if k := fmt.Sprintf("u%d", i); wire.Partition([]byte(k), 4) == 2 {
			p2 = k
			break
		}
	}
	ans := httpDo(t, "GET", tsA.URL+"/v1/stores/users/keys/"+p2, nil)
	wantCode(t, ans, http.StatusMisdirectedRequest, "partition 2 is not hosted", "/v1/status")

	// Fail-over: b takes partitions 0 and 1 as well, then a's API dies.
	if err := b.Host(ctx, spec, 0, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "b ready on every partition", func() bool { return allReady(b, 4) })
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	tsA.Close()
	for i, k := range keys {
		if single[i], err = c.Get(ctx, "users", k); err != nil {
			t.Fatalf("Get %s after a's API died: %v", k, err)
		}
	}
	check("Get after fail-over", single)
	batch, err = c.BatchGet(ctx, "users", keys)
	if err != nil {
		t.Fatal(err)
	}
	check("BatchGet after fail-over", batch)
}

// scrapeRegistry reads a handler's registry without HTTP.
func scrapeRegistry(t *testing.T, h *HTTPHandler) map[string]float64 {
	t.Helper()
	ts := httptest.NewServer(h.Metrics().Handler())
	defer ts.Close()
	return scrape(t, ts.URL) // the registry's handler answers on any path
}
