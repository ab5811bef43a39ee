package writer

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/hamba/avro/v2"
)

// SchemaProvider gives the writer a store's Avro schemas. The controller
// implements it; tests use StaticSchemas. Schemas are immutable per id, so
// the writer caches KeySchema (once, in New) and each ValueSchema (on first
// use); LatestValueSchemaID and UpdateSchemaID are asked on every write
// that needs them and should be cheap (cached by the provider).
//
// An unknown id returns an error wrapping ErrUnknownSchema.
type SchemaProvider interface {
	KeySchema(ctx context.Context) (avro.Schema, error)
	ValueSchema(ctx context.Context, id int32) (avro.Schema, error)
	// LatestValueSchemaID is the id Put uses unless WithSchemaID says.
	LatestValueSchemaID(ctx context.Context) (int32, error)
	// UpdateSchemaID is the id of the partial-update schema derived from
	// value schema valueSchemaID.
	UpdateSchemaID(ctx context.Context, valueSchemaID int32) (int32, error)
}

// StaticSchemas is a SchemaProvider over fixed schemas, for tests, tools
// and programs whose schemas do not evolve.
type StaticSchemas struct {
	Key    avro.Schema
	Values map[int32]avro.Schema
	// Updates maps a value schema id to its update schema id.
	Updates map[int32]int32
}

// NewStaticSchemas parses a key schema and value schemas, numbering the
// value schemas 1, 2, … in order; value schema i's update schema id is
// set to 1000+i (callers with real update schemas fill Updates).
func NewStaticSchemas(keySchema string, valueSchemas ...string) (*StaticSchemas, error) {
	k, err := avro.Parse(keySchema)
	if err != nil {
		return nil, fmt.Errorf("writer: key schema: %w", err)
	}
	s := &StaticSchemas{Key: k, Values: map[int32]avro.Schema{}, Updates: map[int32]int32{}}
	for i, vs := range valueSchemas {
		v, err := avro.Parse(vs)
		if err != nil {
			return nil, fmt.Errorf("writer: value schema %d: %w", i+1, err)
		}
		s.Values[int32(i+1)] = v
		s.Updates[int32(i+1)] = int32(1000 + i + 1)
	}
	return s, nil
}

// KeySchema implements SchemaProvider.
func (s *StaticSchemas) KeySchema(context.Context) (avro.Schema, error) {
	if s.Key == nil {
		return nil, fmt.Errorf("%w: no key schema", ErrUnknownSchema)
	}
	return s.Key, nil
}

// ValueSchema implements SchemaProvider.
func (s *StaticSchemas) ValueSchema(_ context.Context, id int32) (avro.Schema, error) {
	if v, ok := s.Values[id]; ok {
		return v, nil
	}
	return nil, fmt.Errorf("%w: value schema id %d", ErrUnknownSchema, id)
}

// LatestValueSchemaID implements SchemaProvider: the highest id.
func (s *StaticSchemas) LatestValueSchemaID(context.Context) (int32, error) {
	if len(s.Values) == 0 {
		return 0, fmt.Errorf("%w: no value schemas", ErrUnknownSchema)
	}
	ids := make([]int32, 0, len(s.Values))
	for id := range s.Values {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids[len(ids)-1], nil
}

// UpdateSchemaID implements SchemaProvider.
func (s *StaticSchemas) UpdateSchemaID(_ context.Context, valueSchemaID int32) (int32, error) {
	if u, ok := s.Updates[valueSchemaID]; ok {
		return u, nil
	}
	return 0, fmt.Errorf("%w: no update schema for value schema id %d", ErrUnknownSchema, valueSchemaID)
}

// schemaCache holds the value schemas the writer has fetched.
type schemaCache struct {
	provider SchemaProvider
	mu       sync.RWMutex
	values   map[int32]avro.Schema
}

func (c *schemaCache) value(ctx context.Context, id int32) (avro.Schema, error) {
	c.mu.RLock()
	s, ok := c.values[id]
	c.mu.RUnlock()
	if ok {
		return s, nil
	}
	s, err := c.provider.ValueSchema(ctx, id)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.values[id] = s
	c.mu.Unlock()
	return s, nil
}

// schemaName names a schema in errors.
func schemaName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}

// rawKey reports whether keys of schema s are written as their raw bytes
// (DESIGN.md "Non-obvious" 1): "string" and "bytes" keys are.
func rawKey(s avro.Schema) bool {
	t := s.Type()
	return t == avro.String || t == avro.Bytes
}

// serializeKey turns a Go key into the serialized key bytes.
func (w *Writer) serializeKey(key any) ([]byte, error) {
	if key == nil {
		return nil, ErrNilKey
	}
	if w.keySchema == nil {
		switch k := key.(type) {
		case []byte:
			if k == nil {
				return nil, ErrNilKey
			}
			return k, nil
		case string:
			return []byte(k), nil
		}
		return nil, fmt.Errorf("%w: a %T key needs a key schema", ErrNoSchemas, key)
	}
	if w.keyRaw {
		switch k := key.(type) {
		case []byte:
			if k == nil {
				return nil, ErrNilKey
			}
			return k, nil
		case string:
			return []byte(k), nil
		}
		return nil, &SchemaError{Topic: w.cfg.topic, What: "key", Schema: schemaName(w.keySchema),
			Err: fmt.Errorf("a %T key for a %s key schema (want string or []byte)", key, w.keySchema.Type())}
	}
	b, err := avro.Marshal(w.keySchema, key)
	if err != nil {
		return nil, &SchemaError{Topic: w.cfg.topic, What: "key", Schema: schemaName(w.keySchema), Field: fieldOf(err), Err: err}
	}
	return b, nil
}

// serializeValue encodes a Go value with value schema id.
func (w *Writer) serializeValue(ctx context.Context, id int32, value any) ([]byte, error) {
	if value == nil {
		return nil, ErrNilValue
	}
	s, err := w.schemas.value(ctx, id)
	if err != nil {
		return nil, &SchemaError{Topic: w.cfg.topic, What: "value", SchemaID: id, Err: err}
	}
	if m, ok := value.(map[string]any); ok {
		if rs, ok := s.(*avro.RecordSchema); ok {
			// hamba ignores map entries the record does not have; a
			// misspelt field would silently vanish.
			for name := range m {
				if !hasField(rs, name) {
					return nil, &SchemaError{Topic: w.cfg.topic, What: "value", SchemaID: id, Schema: rs.FullName(), Field: name,
						Err: fmt.Errorf("record %s has no field %q", rs.FullName(), name)}
				}
			}
		}
	}
	b, err := avro.Marshal(s, value)
	if err != nil {
		return nil, &SchemaError{Topic: w.cfg.topic, What: "value", SchemaID: id, Schema: schemaName(s), Field: fieldOf(err), Err: err}
	}
	return b, nil
}

func hasField(rs *avro.RecordSchema, name string) bool {
	for _, f := range rs.Fields() {
		if f.Name() == name {
			return true
		}
	}
	return false
}
