package server

import (
	"fmt"
	"sync"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/partialupdate"
)

// SchemaSource gives a server a store's value schemas. The controller
// implements it; schemas are immutable per id.
type SchemaSource interface {
	ValueSchema(id int32) (avro.Schema, error)
	// SupersetID is the id of the registered schema that contains every
	// other: resolved values are written in it.
	SupersetID() int32
}

// current is the stored state of a key as a merge sees it.
type current struct {
	exists    bool
	tombstone bool
	schemaID  int32
	value     []byte // uncompressed Avro in schemaID
	rmd       []byte
	rmdVer    int32
}

// rtWrite is one write consumed from an RT topic.
type rtWrite struct {
	typ            wire.MessageType // put, delete or update
	schemaID       int32
	updateSchemaID int32
	payload        []byte // value or update bytes
	ts             int64
	region         int32
}

// merged is what the version stores after a write.
type merged struct {
	ignored  bool // nothing changes; nothing is produced
	delete   bool
	schemaID int32
	value    []byte
	rmd      []byte // nil: the store keeps no RMD
	rmdVer   int32
}

// merger turns an RT write and the stored state into a full put or delete
// (ARCHITECTURE invariant 3: updates never reach a version topic).
type merger interface {
	merge(cur current, w rtWrite) (merged, error)
}

// lastWriterMerger serves single-region stores: RT order decides, updates
// apply per SEMANTICS §2 in the superset schema, no RMD is kept.
type lastWriterMerger struct {
	schemas  SchemaSource
	mu       sync.Mutex
	derived  map[int32]*partialupdate.Schema
	appliers map[int32]*partialupdate.Applier
}

func newLastWriterMerger(s SchemaSource) *lastWriterMerger {
	return &lastWriterMerger{schemas: s, derived: map[int32]*partialupdate.Schema{}, appliers: map[int32]*partialupdate.Applier{}}
}

func (m *lastWriterMerger) merge(cur current, w rtWrite) (merged, error) {
	switch w.typ {
	case wire.TypePut:
		if _, err := m.schemas.ValueSchema(w.schemaID); err != nil {
			return merged{}, err
		}
		return merged{schemaID: w.schemaID, value: w.payload}, nil
	case wire.TypeDelete:
		if !cur.exists || cur.tombstone {
			return merged{ignored: true}, nil
		}
		return merged{delete: true}, nil
	case wire.TypeUpdate:
		us, err := m.updateSchema(w.schemaID)
		if err != nil {
			return merged{}, err
		}
		u, err := partialupdate.Decode(us, w.payload)
		if err != nil {
			return merged{}, err
		}
		target := m.schemas.SupersetID()
		ap, err := m.applier(target)
		if err != nil {
			return merged{}, err
		}
		var out []byte
		if !cur.exists || cur.tombstone {
			out, err = ap.ApplyMissing(nil, u)
		} else {
			stored, serr := m.schemas.ValueSchema(cur.schemaID)
			if serr != nil {
				return merged{}, serr
			}
			out, err = ap.Apply(nil, u, cur.value, stored)
		}
		if err != nil {
			return merged{}, err
		}
		return merged{schemaID: target, value: out}, nil
	}
	return merged{}, fmt.Errorf("server: %s in a real-time topic", w.typ)
}

func (m *lastWriterMerger) updateSchema(id int32) (*partialupdate.Schema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s := m.derived[id]; s != nil {
		return s, nil
	}
	vs, err := m.schemas.ValueSchema(id)
	if err != nil {
		return nil, err
	}
	s, err := partialupdate.Derive(vs)
	if err != nil {
		return nil, err
	}
	m.derived[id] = s
	return s, nil
}

func (m *lastWriterMerger) applier(id int32) (*partialupdate.Applier, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if a := m.appliers[id]; a != nil {
		return a, nil
	}
	vs, err := m.schemas.ValueSchema(id)
	if err != nil {
		return nil, err
	}
	a, err := partialupdate.NewApplier(vs)
	if err != nil {
		return nil, err
	}
	m.appliers[id] = a
	return a, nil
}

// StaticSchemaSource is a SchemaSource over fixed schemas numbered from 1;
// the last one is the superset.
type StaticSchemaSource struct {
	schemas []avro.Schema
}

// NewStaticSchemaSource parses value schemas, numbering them 1, 2, ….
func NewStaticSchemaSource(schemas ...string) (*StaticSchemaSource, error) {
	s := &StaticSchemaSource{}
	for i, js := range schemas {
		sc, err := avro.Parse(js)
		if err != nil {
			return nil, fmt.Errorf("server: value schema %d: %w", i+1, err)
		}
		s.schemas = append(s.schemas, sc)
	}
	return s, nil
}

func (s *StaticSchemaSource) ValueSchema(id int32) (avro.Schema, error) {
	if id < 1 || int(id) > len(s.schemas) {
		return nil, fmt.Errorf("server: unknown value schema id %d", id)
	}
	return s.schemas[id-1], nil
}

func (s *StaticSchemaSource) SupersetID() int32 { return int32(len(s.schemas)) }

// rmdVersion is the version tag of the RMD layout package conflict writes.
const rmdVersion = 1

// conflictMerger serves active-active stores: every write is resolved
// against the stored value and its replication metadata by package
// conflict, so every region converges to the same bytes whatever the
// arrival order (ARCHITECTURE invariant 2).
type conflictMerger struct {
	r *conflict.Resolver
}

// registryAdapter presents a SchemaSource as a conflict.Registry.
type registryAdapter struct{ s SchemaSource }

func (a registryAdapter) ValueSchema(id int32) (avro.Schema, error) { return a.s.ValueSchema(id) }
func (a registryAdapter) SupersetID() (int32, error)                { return a.s.SupersetID(), nil }

func newConflictMerger(s SchemaSource, fieldLevel bool) (*conflictMerger, error) {
	mode := conflict.ValueLevel
	if fieldLevel {
		mode = conflict.FieldLevel
	}
	r, err := conflict.New(registryAdapter{s}, mode)
	if err != nil {
		return nil, err
	}
	return &conflictMerger{r: r}, nil
}

func (m *conflictMerger) merge(cur current, w rtWrite) (merged, error) {
	st := conflict.State{SchemaID: cur.schemaID, Tombstone: cur.exists && cur.tombstone, RMD: cur.rmd}
	if cur.exists && !cur.tombstone {
		st.Value = cur.value
	}
	if !cur.exists {
		st.SchemaID = 0
	}
	op := conflict.Op{SchemaID: w.schemaID, Value: w.payload, TS: w.ts, Region: w.region}
	switch w.typ {
	case wire.TypePut:
		op.Kind = conflict.Put
	case wire.TypeDelete:
		op.Kind = conflict.Delete
	case wire.TypeUpdate:
		op.Kind = conflict.Update
	default:
		return merged{}, fmt.Errorf("server: %s in a real-time topic", w.typ)
	}
	res, err := m.r.Resolve(st, op)
	if err != nil {
		return merged{}, err
	}
	if !res.Applied {
		return merged{ignored: true}, nil
	}
	return merged{delete: res.Tombstone, schemaID: res.SchemaID, value: res.Value, rmd: res.RMD, rmdVer: rmdVersion}, nil
}
