package client_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/rialtodb/rialto/controller/api"
	"github.com/rialtodb/rialto/controller/client"
)

// TestToken: Token sends the bearer token with every request, and
// Unauthorized recognises the controller's 401 (and nothing else).
func TestToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer s3cret" {
			w.Header().Set("WWW-Authenticate", "Bearer")
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"a valid bearer token is required"}`)
			return
		}
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	ctx := context.Background()

	for _, c := range []*client.Client{client.New(srv.URL), client.New(srv.URL, client.Token("wrong"))} {
		_, err := c.Stores(ctx)
		if !client.Unauthorized(err) || client.NotFound(err) {
			t.Fatalf("without the right token: %v, want a 401", err)
		}
		if want := "controller: a valid bearer token is required (HTTP 401)"; err.Error() != want {
			t.Errorf("error %q, want %q", err, want)
		}
	}
	if _, err := client.New(srv.URL, client.Token("s3cret")).Stores(ctx); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if client.Unauthorized(nil) || client.Unauthorized(fmt.Errorf("other")) || client.Unauthorized(&client.APIError{Status: 404}) {
		t.Error("Unauthorized is true for an error that is not a 401")
	}
}

// TestSchemasSurviveAControllerOutage: once a writer's schema provider has
// the store's schemas, it keeps serving them while the controller is down
// (it tries again each TTL, not on every call), picks up a new schema
// when the controller is back, still reports an unknown id it cannot
// fetch, and stops serving a store the controller says is gone.
func TestSchemasSurviveAControllerOutage(t *testing.T) {
	defer client.SetCacheTTL(20 * time.Millisecond)()
	const v1 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long","default":0}]}`
	const v2 = `{"type":"record","name":"R","fields":[{"name":"a","type":"long","default":0},{"name":"b","type":"string","default":""}]}`
	var (
		mu       sync.Mutex
		answer   = http.StatusOK
		schemas  = []api.Schema{{ID: 1, Schema: v1}}
		requests int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		requests++
		if answer != http.StatusOK {
			w.WriteHeader(answer)
			fmt.Fprintf(w, `{"error":"status %d"}`, answer)
			return
		}
		json.NewEncoder(w).Encode(api.Store{Name: "s", KeySchema: `"string"`, ValueSchemas: schemas, SupersetID: schemas[len(schemas)-1].ID})
	}))
	defer srv.Close()
	set := func(code int, s []api.Schema) {
		mu.Lock()
		defer mu.Unlock()
		answer = code
		if s != nil {
			schemas = s
		}
	}
	ctx := context.Background()
	p := client.New(srv.URL).SchemaProvider("s")
	latest := func() int32 {
		t.Helper()
		id, err := p.LatestValueSchemaID(ctx)
		if err != nil {
			t.Fatalf("latest schema id: %v", err)
		}
		return id
	}
	if id := latest(); id != 1 {
		t.Fatalf("latest %d, want 1", id)
	}

	set(http.StatusServiceUnavailable, nil)
	mu.Lock()
	before := requests
	mu.Unlock()
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) {
		if id := latest(); id != 1 {
			t.Fatalf("during the outage: latest %d, want 1", id)
		}
		if _, err := p.KeySchema(ctx); err != nil {
			t.Fatalf("during the outage: key schema: %v", err)
		}
	}
	mu.Lock()
	tries := requests - before
	mu.Unlock()
	if tries == 0 || tries > 20 { // one per 20-ms TTL over 200 ms, give or take
		t.Errorf("%d requests to the controller during a 200-ms outage with a 20-ms TTL", tries)
	}
	if _, err := p.ValueSchema(ctx, 2); err == nil {
		t.Error("an unknown schema id was served during the outage")
	}

	set(http.StatusOK, []api.Schema{{ID: 1, Schema: v1}, {ID: 2, Schema: v2}})
	waitUntil := time.Now().Add(5 * time.Second)
	for latest() != 2 {
		if time.Now().After(waitUntil) {
			t.Fatal("the new schema never showed after the controller came back")
		}
		time.Sleep(5 * time.Millisecond)
	}

	set(http.StatusNotFound, nil)
	waitUntil = time.Now().Add(5 * time.Second)
	for {
		if _, err := p.LatestValueSchemaID(ctx); err != nil {
			if !client.NotFound(err) {
				t.Fatalf("after the store was deleted: %v, want a 404", err)
			}
			break
		}
		if time.Now().After(waitUntil) {
			t.Fatal("the provider kept serving a store the controller no longer has")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
