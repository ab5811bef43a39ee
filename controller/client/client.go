// Package client is the Go client of the controller's admin API, and the
// writer's schema provider backed by it.
//
// Guarantees:
//
//  1. Every method takes a context and returns an *APIError for answers the
//     controller gave (status code and its one-line reason), any other
//     error for transport failures.
//  2. SchemaProvider caches schemas by id forever (ids are immutable) and
//     the store's latest/superset ids for CacheTTL, so writers ask the
//     controller rarely.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/writer"
)

// DefaultURL is where rialto dev serves the controller.
const DefaultURL = "http://127.0.0.1:7070"

// Client talks to one controller.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Option configures a Client.
type Option func(*Client)

// Token sends t as a bearer token (Authorization: Bearer t) with every
// request (default none). A controller with a token answers requests
// without it, or with another, 401; see Unauthorized.
func Token(t string) Option { return func(c *Client) { c.token = t } }

// HTTPClient replaces the default HTTP client (10 s timeout).
func HTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// New returns a client of the controller at base (e.g. DefaultURL).
func New(base string, opts ...Option) *Client {
	c := &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 10 * time.Second}}
	for _, o := range opts {
		o(c)
	}
	return c
}

// APIError is an answer of the controller other than success.
type APIError struct {
	Status int
	Reason string
}

func (e *APIError) Error() string { return fmt.Sprintf("controller: %s (HTTP %d)", e.Reason, e.Status) }

// NotFound reports whether err is the controller saying 404.
func NotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

// Unauthorized reports whether err is the controller saying 401: it
// requires a bearer token and the request had none, or a wrong one.
func Unauthorized(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusUnauthorized
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("controller %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("controller %s: %w", c.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return &APIError{Status: resp.StatusCode, Reason: e.Error}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("controller %s: bad answer to %s %s: %w", c.base, method, path, err)
		}
	}
	return nil
}

func storePath(name string, rest ...string) string {
	p := "/v1/stores/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}

// Cluster returns the regions.
func (c *Client) Cluster(ctx context.Context) (api.Cluster, error) {
	var out api.Cluster
	return out, c.do(ctx, http.MethodGet, "/v1/cluster", nil, &out)
}

// CreateStore creates a store.
func (c *Client) CreateStore(ctx context.Context, req api.CreateStoreRequest) (api.Store, error) {
	var out api.Store
	return out, c.do(ctx, http.MethodPost, "/v1/stores", req, &out)
}

// Stores lists every store.
func (c *Client) Stores(ctx context.Context) ([]api.Store, error) {
	var out []api.Store
	return out, c.do(ctx, http.MethodGet, "/v1/stores", nil, &out)
}

// Store describes one store.
func (c *Client) Store(ctx context.Context, name string) (api.Store, error) {
	var out api.Store
	return out, c.do(ctx, http.MethodGet, storePath(name), nil, &out)
}

// UpdateStore replaces a store's configuration.
func (c *Client) UpdateStore(ctx context.Context, name string, cfg api.StoreConfig) (api.Store, error) {
	var out api.Store
	return out, c.do(ctx, http.MethodPatch, storePath(name), api.UpdateStoreRequest{Config: cfg}, &out)
}

// DeleteStore deletes a store and its topics.
func (c *Client) DeleteStore(ctx context.Context, name string) error {
	return c.do(ctx, http.MethodDelete, storePath(name), nil, nil)
}

// AddSchema registers a value schema.
func (c *Client) AddSchema(ctx context.Context, store, schema string) (api.Schema, error) {
	var out api.Schema
	return out, c.do(ctx, http.MethodPost, storePath(store, "schemas"), api.AddSchemaRequest{Schema: schema}, &out)
}

// StartPush creates a new future version for a full push.
func (c *Client) StartPush(ctx context.Context, store string, req api.StartPushRequest) (api.Version, error) {
	var out api.Version
	return out, c.do(ctx, http.MethodPost, storePath(store, "versions"), req, &out)
}

// EndOfPush tells the controller the push job wrote end-of-push.
func (c *Client) EndOfPush(ctx context.Context, store string, version int32) (api.Version, error) {
	var out api.Version
	return out, c.do(ctx, http.MethodPost, storePath(store, "versions", strconv.Itoa(int(version)), "end-of-push"), nil, &out)
}

// KillPush kills a version's push.
func (c *Client) KillPush(ctx context.Context, store string, version int32) (api.Version, error) {
	var out api.Version
	return out, c.do(ctx, http.MethodPost, storePath(store, "versions", strconv.Itoa(int(version)), "kill"), nil, &out)
}

// Swap makes a ready version current.
func (c *Client) Swap(ctx context.Context, store string, to int32) (api.Store, error) {
	var out api.Store
	return out, c.do(ctx, http.MethodPost, storePath(store, "swap"), api.SwapRequest{To: to}, &out)
}

// Rollback makes the newest backup older than the current version current
// again.
func (c *Client) Rollback(ctx context.Context, store string) (api.Store, error) {
	var out api.Store
	return out, c.do(ctx, http.MethodPost, storePath(store, "rollback"), nil, &out)
}

// ReplayStatus reports a version's replay (0: the newest version).
func (c *Client) ReplayStatus(ctx context.Context, store string, version int32) (api.ReplayStatus, error) {
	var out api.ReplayStatus
	p := storePath(store, "replay")
	if version > 0 {
		p += "?version=" + strconv.Itoa(int(version))
	}
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// ReplayPlan is the dry run of the next replay.
func (c *Client) ReplayPlan(ctx context.Context, store string) (api.ReplayPlan, error) {
	var out api.ReplayPlan
	return out, c.do(ctx, http.MethodGet, storePath(store, "replay", "plan"), nil, &out)
}

// CacheTTL is how long SchemaProvider trusts the latest and superset ids.
// When the controller cannot be reached to refresh them, the provider
// keeps serving what it has (schemas are never changed or removed, so a
// stale cache only lags a newly added schema) and tries again a CacheTTL
// later: writers keep writing while the controller is down.
const CacheTTL = 5 * time.Second

// cacheTTL is CacheTTL, shortened by tests.
var cacheTTL = CacheTTL

// SchemaProvider returns the writer's schema provider for one store.
func (c *Client) SchemaProvider(store string) *Schemas {
	return &Schemas{c: c, store: store, values: map[int32]avro.Schema{}}
}

// Schemas is a writer.SchemaProvider (and a server SchemaSource) backed by
// the controller.
type Schemas struct {
	c     *Client
	store string

	mu      sync.Mutex
	key     avro.Schema
	values  map[int32]avro.Schema
	updates map[int32]int32
	latest  int32
	super   int32
	fetched time.Time
}

var _ writer.SchemaProvider = (*Schemas)(nil)

// refresh reloads the store when the cache is stale or an id is unknown.
// A stale cache whose refresh fails stays in use (see CacheTTL); a forced
// refresh, for an id the cache lacks, reports the failure.
func (s *Schemas) refresh(ctx context.Context, force bool) error {
	s.mu.Lock()
	cached := s.key != nil
	fresh := !force && time.Since(s.fetched) < cacheTTL && cached
	s.mu.Unlock()
	if fresh {
		return nil
	}
	st, err := s.c.Store(ctx, s.store)
	if err != nil {
		if !force && cached && !NotFound(err) {
			s.mu.Lock()
			s.fetched = time.Now() // try again a TTL later, not on every write
			s.mu.Unlock()
			return nil
		}
		return err
	}
	key, err := avro.Parse(st.KeySchema)
	if err != nil {
		return fmt.Errorf("store %s: key schema: %w", s.store, err)
	}
	values := map[int32]avro.Schema{}
	updates := map[int32]int32{}
	var latest int32
	for _, vs := range st.ValueSchemas {
		sch, err := avro.Parse(vs.Schema)
		if err != nil {
			return fmt.Errorf("store %s: value schema %d: %w", s.store, vs.ID, err)
		}
		values[vs.ID] = sch
		if vs.UpdateSchemaID != 0 {
			updates[vs.ID] = vs.UpdateSchemaID
		}
		latest = max(latest, vs.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.key, s.values, s.updates, s.latest, s.super, s.fetched = key, values, updates, latest, st.SupersetID, time.Now()
	return nil
}

// KeySchema implements writer.SchemaProvider.
func (s *Schemas) KeySchema(ctx context.Context) (avro.Schema, error) {
	if err := s.refresh(ctx, false); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key, nil
}

// ValueSchema implements writer.SchemaProvider.
func (s *Schemas) ValueSchema(ctx context.Context, id int32) (avro.Schema, error) {
	s.mu.Lock()
	sch := s.values[id]
	s.mu.Unlock()
	if sch != nil {
		return sch, nil
	}
	if err := s.refresh(ctx, true); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch = s.values[id]; sch == nil {
		return nil, fmt.Errorf("store %s: value schema %d: %w", s.store, id, writer.ErrUnknownSchema)
	}
	return sch, nil
}

// LatestValueSchemaID implements writer.SchemaProvider.
func (s *Schemas) LatestValueSchemaID(ctx context.Context) (int32, error) {
	if err := s.refresh(ctx, false); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest, nil
}

// UpdateSchemaID implements writer.SchemaProvider.
func (s *Schemas) UpdateSchemaID(ctx context.Context, valueSchemaID int32) (int32, error) {
	if _, err := s.ValueSchema(ctx, valueSchemaID); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.updates[valueSchemaID]
	if !ok {
		return 0, fmt.Errorf("store %s has no partial updates for value schema %d: %w", s.store, valueSchemaID, writer.ErrUnknownSchema)
	}
	return id, nil
}

// SupersetID returns the store's superset schema id.
func (s *Schemas) SupersetID(ctx context.Context) (int32, error) {
	if err := s.refresh(ctx, false); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.super, nil
}
