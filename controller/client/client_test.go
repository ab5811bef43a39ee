package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

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
