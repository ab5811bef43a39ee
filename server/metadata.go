package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/controller/api"
)

// storeSchemas is a SchemaSource over a store's registered value schemas.
type storeSchemas struct {
	byID  map[int32]avro.Schema
	super int32
}

func newStoreSchemas(s api.Store) (*storeSchemas, error) {
	out := &storeSchemas{byID: map[int32]avro.Schema{}, super: s.SupersetID}
	for _, vs := range s.ValueSchemas {
		sch, err := avro.Parse(vs.Schema)
		if err != nil {
			return nil, fmt.Errorf("store %s value schema %d: %w", s.Name, vs.ID, err)
		}
		out.byID[vs.ID] = sch
	}
	return out, nil
}

func (s *storeSchemas) ValueSchema(id int32) (avro.Schema, error) {
	if sch := s.byID[id]; sch != nil {
		return sch, nil
	}
	return nil, fmt.Errorf("server: unknown value schema id %d", id)
}

func (s *storeSchemas) SupersetID() int32 { return s.super }

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
	stores := map[string]api.Store{}
	var revision int64
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		changed := false
		fs.EachError(func(t string, _ int32, err error) {
			if !errors.Is(err, context.Canceled) {
				s.log.Warn("admin log fetch", "topic", t, "err", err)
			}
		})
		fs.EachRecord(func(r *kgo.Record) {
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
		schemas, err := newStoreSchemas(st)
		if err != nil {
			s.log.Error("store schemas unreadable; store skipped", "store", st.Name, "err", err)
			continue
		}
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
