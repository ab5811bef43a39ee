package controller

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rialtodb/rialto/controller/api"
)

// Handler is the admin API (see package api for the endpoints).
func (c *Controller) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/cluster", func(w http.ResponseWriter, r *http.Request) { reply(w, c.Cluster(), nil) })
	mux.HandleFunc("POST /v1/stores", func(w http.ResponseWriter, r *http.Request) {
		var req api.CreateStoreRequest
		if !c.decode(w, r, &req) {
			return
		}
		s, err := c.CreateStore(r.Context(), req)
		replyCode(w, http.StatusCreated, s, err)
	})
	mux.HandleFunc("GET /v1/stores", func(w http.ResponseWriter, r *http.Request) {
		s, err := c.Stores()
		if s == nil {
			s = []api.Store{}
		}
		reply(w, s, err)
	})
	mux.HandleFunc("GET /v1/stores/{store}", func(w http.ResponseWriter, r *http.Request) {
		s, err := c.Store(r.PathValue("store"))
		reply(w, s, err)
	})
	mux.HandleFunc("PATCH /v1/stores/{store}", func(w http.ResponseWriter, r *http.Request) {
		var req api.UpdateStoreRequest
		if !c.decode(w, r, &req) {
			return
		}
		s, err := c.UpdateStore(r.Context(), r.PathValue("store"), req.Config)
		reply(w, s, err)
	})
	mux.HandleFunc("DELETE /v1/stores/{store}", func(w http.ResponseWriter, r *http.Request) {
		err := c.DeleteStore(r.Context(), r.PathValue("store"))
		reply(w, map[string]string{"deleted": r.PathValue("store")}, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/schemas", func(w http.ResponseWriter, r *http.Request) {
		var req api.AddSchemaRequest
		if !c.decode(w, r, &req) {
			return
		}
		s, err := c.AddSchema(r.Context(), r.PathValue("store"), req.Schema)
		replyCode(w, http.StatusCreated, s, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/versions", func(w http.ResponseWriter, r *http.Request) {
		var req api.StartPushRequest
		if !c.decode(w, r, &req) {
			return
		}
		v, err := c.StartPush(r.Context(), r.PathValue("store"), req)
		replyCode(w, http.StatusCreated, v, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/versions/{n}/end-of-push", func(w http.ResponseWriter, r *http.Request) {
		n, ok := versionParam(w, r)
		if !ok {
			return
		}
		v, err := c.EndOfPush(r.Context(), r.PathValue("store"), n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/versions/{n}/kill", func(w http.ResponseWriter, r *http.Request) {
		n, ok := versionParam(w, r)
		if !ok {
			return
		}
		v, err := c.KillPush(r.Context(), r.PathValue("store"), n)
		reply(w, v, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/swap", func(w http.ResponseWriter, r *http.Request) {
		var req api.SwapRequest
		if !c.decode(w, r, &req) {
			return
		}
		s, err := c.Swap(r.Context(), r.PathValue("store"), req.To)
		reply(w, s, err)
	})
	mux.HandleFunc("POST /v1/stores/{store}/rollback", func(w http.ResponseWriter, r *http.Request) {
		s, err := c.Rollback(r.Context(), r.PathValue("store"))
		reply(w, s, err)
	})
	mux.HandleFunc("GET /v1/stores/{store}/replay", func(w http.ResponseWriter, r *http.Request) {
		st, err := c.ReplayStatus(r.Context(), r.PathValue("store"), r.URL.Query().Get("version"))
		reply(w, st, err)
	})
	mux.HandleFunc("GET /v1/stores/{store}/replay/plan", func(w http.ResponseWriter, r *http.Request) {
		s, err := c.Store(r.PathValue("store"))
		if err != nil {
			reply(w, nil, err)
			return
		}
		plan, err := c.ReplayPlan(r.Context(), &s)
		reply(w, plan, err)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reply(w, nil, errorf(http.StatusNotFound, "no endpoint %s %s", r.Method, r.URL.Path))
	})
	return c.authorize(mux)
}

// authorize requires the bearer token when one is configured.
func (c *Controller) authorize(next http.Handler) http.Handler {
	if c.cfg.Token == "" {
		return next
	}
	want := []byte("Bearer " + c.cfg.Token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", "Bearer")
			reply(w, nil, errorf(http.StatusUnauthorized, "a valid bearer token is required"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// decode reads a JSON body of at most MaxRequestBytes, refusing unknown
// fields; on failure it answers and returns false.
func (c *Controller) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	body := http.MaxBytesReader(w, r.Body, c.cfg.MaxRequestBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if errors.Is(err, io.EOF) {
		err = nil // an empty body is an empty request
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, nil, errorf(http.StatusRequestEntityTooLarge, "request body over %d bytes", c.cfg.MaxRequestBytes))
		return false
	case err != nil:
		reply(w, nil, errorf(http.StatusBadRequest, "request body: %v", err))
		return false
	}
	return true
}

func versionParam(w http.ResponseWriter, r *http.Request) (int32, bool) {
	n, err := strconv.ParseInt(r.PathValue("n"), 10, 32)
	if err != nil || n <= 0 {
		reply(w, nil, errorf(http.StatusBadRequest, "version %q is not a positive number", r.PathValue("n")))
		return 0, false
	}
	return int32(n), true
}

func reply(w http.ResponseWriter, v any, err error) { replyCode(w, http.StatusOK, v, err) }

func replyCode(w http.ResponseWriter, code int, v any, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code = statusOf(err)
		msg := strings.ReplaceAll(err.Error(), "\n", " ")
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// ReplayStatus reports a version's replay; version "" means the newest.
func (c *Controller) ReplayStatus(ctx context.Context, name, version string) (api.ReplayStatus, error) {
	s, err := c.Store(name)
	if err != nil {
		return api.ReplayStatus{}, err
	}
	if len(s.Versions) == 0 {
		return api.ReplayStatus{}, errorf(http.StatusNotFound, "store %q has no version", name)
	}
	v := s.Versions[len(s.Versions)-1]
	if version != "" {
		n, err := strconv.ParseInt(version, 10, 32)
		if err != nil {
			return api.ReplayStatus{}, errorf(http.StatusBadRequest, "version %q is not a number", version)
		}
		found := findVersion(&s, int32(n))
		if found == nil {
			return api.ReplayStatus{}, errorf(http.StatusNotFound, "store %q has no version %d", name, n)
		}
		v = *found
	}
	st, _, err := c.replayStatus(ctx, &s, v)
	return st, err
}

// serveHTTP serves the admin API until ctx ends.
func (c *Controller) serveHTTP(ctx context.Context) error {
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(c.ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("controller: admin API: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		<-errc
		return nil
	}
}
