package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
)

// storeSchemas is a SchemaSource over a store's registered value schemas.
// One per store is shared by every version the server hosts of it and
// grows in place as the admin log registers schemas: a hosted version keeps
// the spec it was hosted with, and must still read a schema added later.
type storeSchemas struct {
	mu    sync.RWMutex
	byID  map[int32]avro.Schema
	super int32
}

// update adds the store's schemas not known yet (a registered schema never
// changes) and takes its superset id.
func (s *storeSchemas) update(st api.Store) error {
	parsed := map[int32]avro.Schema{}
	s.mu.RLock()
	for _, vs := range st.ValueSchemas {
		if s.byID[vs.ID] != nil {
			continue
		}
		sch, err := avro.Parse(vs.Schema)
		if err != nil {
			s.mu.RUnlock()
			return fmt.Errorf("store %s value schema %d: %w", st.Name, vs.ID, err)
		}
		parsed[vs.ID] = sch
	}
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byID == nil {
		s.byID = map[int32]avro.Schema{}
	}
	maps.Copy(s.byID, parsed)
	s.super = st.SupersetID
	return nil
}

func (s *storeSchemas) ValueSchema(id int32) (avro.Schema, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if sch := s.byID[id]; sch != nil {
		return sch, nil
	}
	return nil, fmt.Errorf("server: unknown value schema id %d", id)
}

func (s *storeSchemas) SupersetID() int32 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.super
}

// adminLogSync lets a leader that meets a schema id it does not know wait
// until the server has applied the admin log up to its current end: the
// controller logs a schema before it acknowledges the registration, so a
// write in a schema registered before the write was produced is then
// known. applied is the offset after the last admin record applied.
type adminLogSync struct {
	applied atomic.Int64
	// following is set while followAdminLog runs.
	following atomic.Bool
}

// syncAdminLog waits (at most timeout) until the admin log is applied up
// to the end it has now. It reports false when the server follows no admin
// log or the wait timed out.
func (s *Server) syncAdminLog(ctx context.Context, timeout time.Duration) bool {
	if s.cfg.AdminTopic == "" || !s.admin.following.Load() {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ends, err := kadm.NewClient(s.vt).ListEndOffsets(ctx, s.cfg.AdminTopic)
	if err != nil {
		return false
	}
	end, ok := ends.Lookup(s.cfg.AdminTopic, 0)
	if !ok || end.Err != nil {
		return false
	}
	for s.admin.applied.Load() < end.Offset {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(10 * time.Millisecond):
		}
	}
	return true
}

// followAdminLog replays the controller's admin log and keeps the server's
// catalog (what the region's servers must place) and current versions in
// step with it, until ctx ends.
func (s *Server) followAdminLog(ctx context.Context) error {
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(s.cfg.Brokers...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{s.cfg.AdminTopic: {0: kgo.NewOffset().AtStart()}}),
		kgo.FetchMaxWait(200 * time.Millisecond),
		noFetchSessions,
	}, s.cfg.KafkaOpts...)...)
	if err != nil {
		return fmt.Errorf("server: admin log client: %w", err)
	}
	defer cl.Close()
	s.admin.following.Store(true)
	defer s.admin.following.Store(false)
	stores := map[string]api.Store{}
	var revision int64
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		changed := false
		var next int64 = -1
		fs.EachError(func(t string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("admin log fetch", "topic", t, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
			next = r.Offset + 1
			if r.Value == nil {
				return
			}
			var rec api.AdminRecord
			if err := json.Unmarshal(r.Value, &rec); err != nil || rec.Kind != "store" || rec.Store == nil {
				return
			}
			if have, ok := stores[rec.Store.Name]; ok && have.Revision >= rec.Store.Revision {
				return
			}
			revision = max(revision, rec.Store.Revision)
			if rec.Deleted {
				delete(stores, rec.Store.Name)
			} else {
				stores[rec.Store.Name] = *rec.Store
			}
			changed = true
		})
		if changed {
			s.applyMetadata(revision, stores)
		}
		if next >= 0 {
			s.admin.applied.Store(next)
		}
	}
	return nil
}

// applyMetadata turns the stores into catalog entries (every future,
// current and backup version: invariant 6) and current versions.
func (s *Server) applyMetadata(revision int64, stores map[string]api.Store) {
	var entries []CatalogEntry
	for _, st := range stores {
		key, err := avro.Parse(st.KeySchema)
		if err != nil {
			s.log.Error("store key schema unreadable; store skipped", "store", st.Name, "err", err)
			continue
		}
		schemas := s.storeSchemas[st.Name]
		if schemas == nil {
			schemas = &storeSchemas{}
		}
		if err := schemas.update(st); err != nil {
			s.log.Error("store schemas unreadable; store skipped", "store", st.Name, "err", err)
			continue
		}
		s.storeSchemas[st.Name] = schemas
		for _, v := range st.Versions {
			switch v.Role {
			case api.RoleFuture, api.RoleCurrent, api.RoleBackup:
			default:
				continue
			}
			entries = append(entries, CatalogEntry{Replication: s.cfg.Replication, Spec: VersionSpec{
				Store: st.Name, Version: v.Number, Topic: v.Topic, Partitions: v.Partitions,
				KeySchema: key, Schemas: schemas, ActiveActive: st.Config.ActiveActive, PartialUpdate: st.Config.PartialUpdate,
			}})
		}
		if st.CurrentVersion > 0 {
			s.SetCurrentVersion(st.Name, st.CurrentVersion)
		}
	}
	for name := range s.storeSchemas {
		if _, ok := stores[name]; !ok {
			delete(s.storeSchemas, name)
		}
	}
	s.mu.Lock()
	for name := range s.current {
		if _, ok := stores[name]; !ok {
			delete(s.current, name)
		}
	}
	s.mu.Unlock()
	if err := s.SetCatalog(revision, entries...); err != nil {
		s.log.Warn("catalog not applied", "err", err)
	}
}
