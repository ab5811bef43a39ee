package client

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/internal/keycodec"
	"github.com/rialtodb/rialto/internal/wire"
)

// Errors.
var (
	// ErrUnknownStore: no server reports a current version of the store.
	ErrUnknownStore = errors.New("client: no server serves the store")
	// ErrNoReplica: no reachable server serves the key's partition.
	ErrNoReplica = errors.New("client: no server serves the partition")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("client: closed")
	// ErrBadKey wraps a key that does not fit the store's key schema.
	ErrBadKey = keycodec.ErrBadKey
)

// ServerError is a server's error answer.
type ServerError struct {
	Server  string // base URL
	Status  int    // HTTP status
	Message string // the server's one-line reason
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("client: %s answered %d: %s", e.Server, e.Status, e.Message)
}

// Retryable reports whether another replica (or a refreshed route) may
// answer: 421 not hosted, 503 not ready, any other 5xx.
func (e *ServerError) Retryable() bool {
	return e.Status == http.StatusMisdirectedRequest || e.Status >= 500
}

// Value is one read result.
type Value struct {
	Found    bool
	SchemaID int32  // the value schema of Bytes
	Bytes    []byte // Avro binary
	Version  int32  // the store version read
}

// Record is the JSON form of a single get, as GET
// /v1/stores/{store}/keys/{key} returns it (what `rialto read get
// --output json` prints).
type Record struct {
	Store    string          `json:"store"`
	Key      json.RawMessage `json:"key"`
	Found    bool            `json:"found"`
	Value    json.RawMessage `json:"value"`
	Version  int32           `json:"version"`
	SchemaID int32           `json:"schemaId,omitempty"`
	Meta     json.RawMessage `json:"meta,omitempty"`
}

// Opt configures a Client.
type Opt func(*config)

type config struct {
	hc              *http.Client
	refreshInterval time.Duration
	statusTimeout   time.Duration
	maxBatchKeys    int
	log             *slog.Logger
}

// HTTPClient sets the HTTP client. Default: a client with keep-alive
// connections (64 idle per server) and no overall timeout (use contexts).
func HTTPClient(hc *http.Client) Opt { return func(c *config) { c.hc = hc } }

// RefreshInterval sets how often the routing table is refreshed in the
// background. Default 30s; 0 keeps the default, negative disables the
// background refresh (failures still refresh).
func RefreshInterval(d time.Duration) Opt { return func(c *config) { c.refreshInterval = d } }

// StatusTimeout bounds one server's /v1/status call. Default 3s.
func StatusTimeout(d time.Duration) Opt { return func(c *config) { c.statusTimeout = d } }

// MaxBatchKeys bounds the keys of one request to one server; larger
// batches are split. Default 5 000 (the servers' limit defaults to 10 000).
func MaxBatchKeys(n int) Opt { return func(c *config) { c.maxBatchKeys = n } }

// Logger receives routing changes and failures. Default slog.Default().
func Logger(l *slog.Logger) Opt { return func(c *config) { c.log = l } }

// Client reads from Rialto servers. It is safe for concurrent use.
type Client struct {
	cfg     config
	servers []string

	mu      sync.RWMutex
	table   *table
	schemas map[storeVersion]*keySchema
	gen     atomic.Int64 // bumped by every refresh

	refreshMu sync.Mutex
	rr        atomic.Uint64 // spreads reads over ready replicas

	life  context.Context // ends with Close
	close context.CancelFunc
	done  chan struct{}
}

type storeVersion struct {
	store   string
	version int32
}

type keySchema struct{ s avro.Schema }

// table is one routing snapshot; it is never modified once published.
type table struct {
	stores map[string]*route
}

type route struct {
	version    int32
	partitions int32
	replicas   [][]string // by partition: servers, ready first
}

// New returns a client over the given servers (base URLs such as
// "http://10.0.0.1:7071"; a bare host:port gets http://). It does not
// block: the routing table is built on the first read.
func New(servers []string, opts ...Opt) (*Client, error) {
	cfg := config{}
	for _, o := range opts {
		o(&cfg)
	}
	var errs []error
	if len(servers) == 0 {
		errs = append(errs, errors.New("servers: at least one is required"))
	}
	var bases []string
	for _, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("servers: %q is not an http(s) base URL", s))
			continue
		}
		bases = append(bases, s)
	}
	if cfg.statusTimeout < 0 {
		errs = append(errs, fmt.Errorf("StatusTimeout: %s is negative", cfg.statusTimeout))
	}
	if cfg.maxBatchKeys < 0 {
		errs = append(errs, fmt.Errorf("MaxBatchKeys: %d is negative", cfg.maxBatchKeys))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if cfg.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 64
		tr.MaxIdleConns = 64 * len(bases)
		cfg.hc = &http.Client{Transport: tr}
	}
	if cfg.refreshInterval == 0 {
		cfg.refreshInterval = 30 * time.Second
	}
	if cfg.statusTimeout == 0 {
		cfg.statusTimeout = 3 * time.Second
	}
	if cfg.maxBatchKeys == 0 {
		cfg.maxBatchKeys = 5000
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	c := &Client{cfg: cfg, servers: bases, table: &table{stores: map[string]*route{}}, schemas: map[storeVersion]*keySchema{},
		done: make(chan struct{})}
	c.life, c.close = context.WithCancel(context.Background())
	go c.refresher()
	return c, nil
}

// Close stops the background refresh and waits for it. Safe to call twice.
func (c *Client) Close() error {
	c.close()
	<-c.done
	return nil
}

func (c *Client) closed() bool { return c.life.Err() != nil }

func (c *Client) refresher() {
	defer close(c.done)
	if c.cfg.refreshInterval < 0 {
		<-c.life.Done()
		return
	}
	t := time.NewTicker(c.cfg.refreshInterval)
	defer t.Stop()
	for {
		select {
		case <-c.life.Done():
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(c.life, c.cfg.statusTimeout+time.Second)
			if err := c.refresh(ctx, c.gen.Load()); err != nil && c.life.Err() == nil {
				c.cfg.log.Warn("rialto client: routing refresh failed", "err", err)
			}
			cancel()
		}
	}
}

// Refresh rebuilds the routing table from every server's /v1/status now.
func (c *Client) Refresh(ctx context.Context) error { return c.refresh(ctx, c.gen.Load()) }

// statusResponse mirrors the server's GET /v1/status body.
type statusResponse struct {
	Current  map[string]int32 `json:"current"`
	Versions []struct {
		Store      string `json:"store"`
		Version    int32  `json:"version"`
		Partitions int32  `json:"partitions"`
	} `json:"versions"`
	Partitions []struct {
		Store        string `json:"store"`
		Version      int32  `json:"version"`
		Partition    int32  `json:"partition"`
		EndOfPush    bool   `json:"endOfPush"`
		Failed       string `json:"failed"`
		ReadyToServe bool   `json:"readyToServe"`
	} `json:"partitions"`
}

// refresh rebuilds the table unless another refresh finished since the
// caller saw generation seen.
func (c *Client) refresh(ctx context.Context, seen int64) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.gen.Load() != seen {
		return nil
	}
	type answer struct {
		server string
		st     *statusResponse
		err    error
	}
	answers := make([]answer, len(c.servers))
	var wg sync.WaitGroup
	for i, srv := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, err := c.status(ctx, srv)
			answers[i] = answer{srv, st, err}
		}()
	}
	wg.Wait()

	type ver struct {
		partitions int32
		ready      map[int32][]string
		serving    map[int32][]string
	}
	current := map[string]int32{}
	versions := map[storeVersion]*ver{}
	var errs []error
	for _, a := range answers {
		if a.err != nil {
			errs = append(errs, a.err)
			continue
		}
		for store, v := range a.st.Current {
			current[store] = max(current[store], v)
		}
		for _, hv := range a.st.Versions {
			k := storeVersion{hv.Store, hv.Version}
			if versions[k] == nil {
				versions[k] = &ver{partitions: hv.Partitions, ready: map[int32][]string{}, serving: map[int32][]string{}}
			}
		}
		for _, p := range a.st.Partitions {
			v := versions[storeVersion{p.Store, p.Version}]
			switch {
			case v == nil || p.Failed != "" || !p.EndOfPush:
			case p.ReadyToServe:
				v.ready[p.Partition] = append(v.ready[p.Partition], a.server)
			default: // serving, but behind the version topic
				v.serving[p.Partition] = append(v.serving[p.Partition], a.server)
			}
		}
	}
	if len(errs) == len(answers) {
		return fmt.Errorf("client: no server answered /v1/status: %w", errors.Join(errs...))
	}
	t := &table{stores: map[string]*route{}}
	for store, cv := range current {
		v := versions[storeVersion{store, cv}]
		if v == nil || v.partitions <= 0 {
			continue
		}
		r := &route{version: cv, partitions: v.partitions, replicas: make([][]string, v.partitions)}
		for p := range v.partitions {
			r.replicas[p] = append(append([]string(nil), v.ready[p]...), v.serving[p]...)
		}
		t.stores[store] = r
	}
	c.mu.Lock()
	c.table = t
	c.mu.Unlock()
	c.gen.Add(1)
	for _, err := range errs {
		c.cfg.log.Warn("rialto client: server left out of routing", "err", err)
	}
	return nil
}

func (c *Client) status(ctx context.Context, srv string) (*statusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.statusTimeout)
	defer cancel()
	body, _, err := c.do(ctx, srv, http.MethodGet, "/v1/status", nil, "")
	if err != nil {
		return nil, err
	}
	var st statusResponse
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("client: %s/v1/status: %w", srv, err)
	}
	return &st, nil
}

// do sends one request and returns the body of a 2xx answer (or of a 404
// carrying X-Rialto-Found: false); other answers become *ServerError.
func (c *Client) do(ctx context.Context, srv, method, path string, body []byte, accept string) ([]byte, http.Header, error) {
	return c.doTyped(ctx, srv, method, path, body, "application/json", accept)
}

// doTyped is do with the body's content type.
func (c *Client) doTyped(ctx context.Context, srv, method, path string, body []byte, contentType, accept string) ([]byte, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, srv+path, rd)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.cfg.hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %s: %w", srv, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("client: %s: reading the answer: %w", srv, err)
	}
	if resp.StatusCode/100 == 2 || (resp.StatusCode == http.StatusNotFound && resp.Header.Get("X-Rialto-Found") == "false") {
		return b, resp.Header, nil
	}
	se := &ServerError{Server: srv, Status: resp.StatusCode}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		se.Message = e.Error
	} else {
		se.Message = strings.Join(strings.Fields(string(b)), " ")
	}
	return nil, resp.Header, se
}

// retryable reports whether err may succeed on another replica.
func retryable(err error) bool {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Retryable()
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// route returns the store's route, refreshing the table once if the store
// is unknown.
func (c *Client) route(ctx context.Context, store string) (*route, int64, error) {
	if c.closed() {
		return nil, 0, ErrClosed
	}
	for attempt := 0; ; attempt++ {
		gen := c.gen.Load()
		c.mu.RLock()
		r := c.table.stores[store]
		c.mu.RUnlock()
		if r != nil {
			return r, gen, nil
		}
		if attempt > 0 {
			return nil, gen, fmt.Errorf("%w: %q has no current version on %s", ErrUnknownStore, store, strings.Join(c.servers, ", "))
		}
		if err := c.refresh(ctx, gen); err != nil {
			return nil, gen, err
		}
	}
}

// KeySchema returns the key schema of the store's current version (nil:
// keys are raw bytes).
func (c *Client) KeySchema(ctx context.Context, store string) (avro.Schema, error) {
	r, _, err := c.route(ctx, store)
	if err != nil {
		return nil, err
	}
	return c.keySchema(ctx, store, r)
}

func (c *Client) keySchema(ctx context.Context, store string, r *route) (avro.Schema, error) {
	k := storeVersion{store, r.version}
	c.mu.RLock()
	ks := c.schemas[k]
	c.mu.RUnlock()
	if ks != nil {
		return ks.s, nil
	}
	var lastErr error
	for _, srv := range r.any() {
		body, _, err := c.do(ctx, srv, http.MethodGet, "/v1/stores/"+url.PathEscape(store)+"/schema?version="+strconv.Itoa(int(r.version)), nil, "")
		if err != nil {
			lastErr = err
			if retryable(err) {
				continue
			}
			return nil, err
		}
		var resp struct {
			KeySchema json.RawMessage `json:"keySchema"`
		}
		if err := json.Unmarshal(body, &resp); err != nil {
			return nil, fmt.Errorf("client: %s: schema of %q: %w", srv, store, err)
		}
		var s avro.Schema
		if js := bytes.TrimSpace(resp.KeySchema); len(js) > 0 && !bytes.Equal(js, []byte("null")) {
			if s, err = avro.ParseBytes(js); err != nil {
				return nil, fmt.Errorf("client: %s: key schema of %q v%d: %w", srv, store, r.version, err)
			}
		}
		c.mu.Lock()
		c.schemas[k] = &keySchema{s}
		c.mu.Unlock()
		return s, nil
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("%w: %q v%d", ErrNoReplica, store, r.version)
	}
	return nil, lastErr
}

// any lists every server of the route once, in partition order.
func (r *route) any() []string {
	seen := map[string]bool{}
	var out []string
	for _, rs := range r.replicas {
		for _, s := range rs {
			if !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
		}
	}
	return out
}

// SerializeKey serializes a Go key with the store's key schema: a string
// or []byte for "string" and "bytes" key schemas, otherwise any value
// hamba/avro marshals (map[string]any, a struct, an int64, …).
func (c *Client) SerializeKey(ctx context.Context, store string, key any) ([]byte, error) {
	r, _, err := c.route(ctx, store)
	if err != nil {
		return nil, err
	}
	ks, err := c.keySchema(ctx, store, r)
	if err != nil {
		return nil, err
	}
	return keycodec.Serialize(ks, key)
}

// Get reads one key of the store's current version. The key is a Go value
// of the store's key schema (see SerializeKey).
func (c *Client) Get(ctx context.Context, store string, key any) (Value, error) {
	kb, err := c.SerializeKey(ctx, store, key)
	if err != nil {
		return Value{}, err
	}
	return c.GetSerialized(ctx, store, kb)
}

// GetSerialized reads one key given as its serialized bytes.
func (c *Client) GetSerialized(ctx context.Context, store string, key []byte) (Value, error) {
	var v Value
	err := c.single(ctx, store, key, func(srv string, r *route) error {
		path := "/v1/stores/" + url.PathEscape(store) + "/keys/" + base64.RawURLEncoding.EncodeToString(key) +
			"?keyEncoding=base64&format=avro&version=" + strconv.Itoa(int(r.version))
		body, hdr, err := c.do(ctx, srv, http.MethodGet, path, nil, "avro/binary")
		if err != nil {
			return err
		}
		v = Value{Version: r.version}
		if hdr.Get("X-Rialto-Found") == "false" {
			return nil
		}
		id, err := strconv.ParseInt(hdr.Get("X-Rialto-Schema-Id"), 10, 32)
		if err != nil {
			return fmt.Errorf("client: %s: bad X-Rialto-Schema-Id %q", srv, hdr.Get("X-Rialto-Schema-Id"))
		}
		v.Found, v.SchemaID, v.Bytes = true, int32(id), body
		return nil
	})
	return v, err
}

// GetJSON reads one key in the JSON form, the key given as text: the
// literal text for a "string" key schema, the key's JSON otherwise (the
// CLI's --key). meta adds the per-field explanation.
func (c *Client) GetJSON(ctx context.Context, store, key string, meta bool) (*Record, error) {
	r, _, err := c.route(ctx, store)
	if err != nil {
		return nil, err
	}
	ks, err := c.keySchema(ctx, store, r)
	if err != nil {
		return nil, err
	}
	kb, err := keycodec.FromText(ks, key)
	if err != nil {
		return nil, err
	}
	var rec *Record
	err = c.single(ctx, store, kb, func(srv string, r *route) error {
		path := "/v1/stores/" + url.PathEscape(store) + "/keys/" + base64.RawURLEncoding.EncodeToString(kb) +
			"?keyEncoding=base64&format=json&version=" + strconv.Itoa(int(r.version))
		if meta {
			path += "&meta=1"
		}
		body, _, err := c.do(ctx, srv, http.MethodGet, path, nil, "application/json")
		if err != nil {
			return err
		}
		rec = &Record{}
		if err := json.Unmarshal(body, rec); err != nil {
			return fmt.Errorf("client: %s: %w", srv, err)
		}
		return nil
	})
	return rec, err
}

// single runs one read against the replicas of the key's partition, then
// once more after a refresh.
func (c *Client) single(ctx context.Context, store string, key []byte, read func(srv string, r *route) error) error {
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ {
		r, gen, err := c.route(ctx, store)
		if err != nil {
			return err
		}
		p := wire.Partition(key, r.partitions)
		for _, srv := range c.order(r.replicas[p]) {
			err := read(srv, r)
			if err == nil {
				return nil
			}
			if !retryable(err) || ctx.Err() != nil {
				return err
			}
			lastErr = err
		}
		if lastErr == nil {
			lastErr = fmt.Errorf("%w: %q v%d partition %d", ErrNoReplica, store, r.version, p)
		}
		if attempt == 0 {
			if err := c.refresh(ctx, gen); err != nil {
				return errors.Join(lastErr, err)
			}
		}
	}
	return lastErr
}

// order rotates the replicas so that reads spread over them.
func (c *Client) order(rs []string) []string {
	if len(rs) < 2 {
		return rs
	}
	i := int(c.rr.Add(1) % uint64(len(rs)))
	return append(append(make([]string, 0, len(rs)), rs[i:]...), rs[:i]...)
}

// BatchGet reads many keys of the store's current version; results are in
// the order of keys. Keys are Go values of the store's key schema.
func (c *Client) BatchGet(ctx context.Context, store string, keys []any) ([]Value, error) {
	r, _, err := c.route(ctx, store)
	if err != nil {
		return nil, err
	}
	ks, err := c.keySchema(ctx, store, r)
	if err != nil {
		return nil, err
	}
	kbs := make([][]byte, len(keys))
	for i, k := range keys {
		if kbs[i], err = keycodec.Serialize(ks, k); err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
	}
	return c.BatchGetSerialized(ctx, store, kbs)
}

// BatchGetSerialized reads many keys given as serialized bytes. The batch
// is split by server (and into requests of at most MaxBatchKeys keys),
// the requests run concurrently, and keys whose server failed are retried
// on the next replica of their partition.
func (c *Client) BatchGetSerialized(ctx context.Context, store string, keys [][]byte) ([]Value, error) {
	out := make([]Value, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	todo := make([]int, len(keys))
	for i := range todo {
		todo[i] = i
	}
	var lastErr error
	for attempt := 0; attempt < 2 && len(todo) > 0; attempt++ {
		r, gen, err := c.route(ctx, store)
		if err != nil {
			return nil, err
		}
		tried := make([]int, len(keys)) // replicas tried per key
		for len(todo) > 0 {
			groups := map[string][]int{}
			var stuck []int
			for _, i := range todo {
				rs := r.replicas[wire.Partition(keys[i], r.partitions)]
				if tried[i] >= len(rs) {
					stuck = append(stuck, i)
					continue
				}
				srv := rs[(tried[i]+int(uint32(i)))%len(rs)] // spread keys of a partition over its replicas
				groups[srv] = append(groups[srv], i)
			}
			if len(groups) == 0 {
				todo = stuck
				break
			}
			failed, err := c.sendGroups(ctx, store, r, keys, groups, out)
			if err != nil {
				return nil, err // not retryable
			}
			todo = stuck
			for srv, idx := range failed {
				lastErr = idx.err
				c.cfg.log.Debug("rialto client: batch part failed; trying other replicas", "server", srv, "keys", len(idx.keys), "err", idx.err)
				for _, i := range idx.keys {
					tried[i]++
					todo = append(todo, i)
				}
			}
		}
		if len(todo) > 0 && attempt == 0 {
			if err := c.refresh(ctx, gen); err != nil {
				return nil, errors.Join(lastErr, err)
			}
		}
	}
	if len(todo) > 0 {
		if lastErr == nil {
			lastErr = fmt.Errorf("%w: %q (%d keys without a serving replica)", ErrNoReplica, store, len(todo))
		}
		return nil, lastErr
	}
	return out, nil
}

type failedGroup struct {
	keys []int
	err  error
}

// sendGroups sends each server its keys (in requests of at most
// MaxBatchKeys) concurrently and fills out. It returns the keys of failed
// retryable requests by server, or a non-retryable error.
func (c *Client) sendGroups(ctx context.Context, store string, r *route, keys [][]byte, groups map[string][]int, out []Value) (map[string]*failedGroup, error) {
	type part struct {
		srv string
		idx []int
	}
	var parts []part
	for srv, idx := range groups {
		for len(idx) > 0 {
			n := min(len(idx), c.cfg.maxBatchKeys)
			parts = append(parts, part{srv, idx[:n]})
			idx = idx[n:]
		}
	}
	errs := make([]error, len(parts))
	var wg sync.WaitGroup
	for pi, pt := range parts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[pi] = c.batchRequest(ctx, pt.srv, store, r.version, keys, pt.idx, out)
		}()
	}
	wg.Wait()
	failed := map[string]*failedGroup{}
	for pi, err := range errs {
		if err == nil {
			continue
		}
		if !retryable(err) || ctx.Err() != nil {
			return nil, err
		}
		f := failed[parts[pi].srv]
		if f == nil {
			f = &failedGroup{}
			failed[parts[pi].srv] = f
		}
		f.keys, f.err = append(f.keys, parts[pi].idx...), err
	}
	return failed, nil
}

func (c *Client) batchRequest(ctx context.Context, srv, store string, version int32, keys [][]byte, idx []int, out []Value) error {
	// The binary request form (see the server's http.go): no JSON to
	// encode here or to decode there, and the server reads keys in place.
	size := 20
	for _, i := range idx {
		size += 10 + len(keys[i])
	}
	body := make([]byte, 0, size)
	body = avrox.AppendLong(body, int64(version))
	body = avrox.AppendLong(body, int64(len(idx)))
	for _, i := range idx {
		body = avrox.AppendBytes(body, keys[i])
	}
	resp, _, err := c.doTyped(ctx, srv, http.MethodPost, "/v1/stores/"+url.PathEscape(store)+"/batch-get?format=avro", body, "application/x-rialto-keys", "application/x-rialto-batch")
	if err != nil {
		return err
	}
	return decodeBatch(srv, resp, version, idx, out)
}

// decodeBatch reads the binary batch answer (see the server's http.go)
// into out at the positions idx.
func decodeBatch(srv string, b []byte, version int32, idx []int, out []Value) error {
	bad := func(what string) error {
		return fmt.Errorf("client: %s: malformed batch answer: %s", srv, what)
	}
	v, n, err := avrox.ReadLong(b)
	if err != nil {
		return bad("version")
	}
	b = b[n:]
	if int32(v) != version {
		return bad(fmt.Sprintf("version %d, asked %d", v, version))
	}
	cnt, n, err := avrox.ReadLong(b)
	if err != nil || cnt != int64(len(idx)) {
		return bad(fmt.Sprintf("%d results for %d keys", cnt, len(idx)))
	}
	b = b[n:]
	for _, i := range idx {
		if len(b) == 0 {
			return bad("truncated")
		}
		found := b[0]
		b = b[1:]
		switch found {
		case 0:
			out[i] = Value{Version: version}
			continue
		case 1:
		default:
			return bad(fmt.Sprintf("result tag %d", found))
		}
		id, n, err := avrox.ReadLong(b)
		if err != nil {
			return bad("schema id")
		}
		b = b[n:]
		l, n, err := avrox.ReadLong(b)
		if err != nil || l < 0 || int64(len(b)-n) < l {
			return bad("value length")
		}
		b = b[n:]
		out[i] = Value{Found: true, SchemaID: int32(id), Bytes: b[:l:l], Version: version}
		b = b[l:]
	}
	if len(b) != 0 {
		return bad(fmt.Sprintf("%d trailing bytes", len(b)))
	}
	return nil
}
