package conflict

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
)

// Registry gives the resolver the store's value schemas. Ids are immutable:
// a schema id always names the same schema. Implementations must be safe for
// concurrent use.
type Registry interface {
	// ValueSchema returns the value schema registered under id.
	ValueSchema(id int32) (avro.Schema, error)
	// SupersetID returns the id of the superset schema: the registered
	// value schema that contains every field of every registered schema.
	// Field-level resolution merges and writes in it.
	SupersetID() (int32, error)
}

// StaticRegistry is a Registry over a fixed set of schemas.
type StaticRegistry struct {
	Schemas  map[int32]avro.Schema
	Superset int32
}

// ValueSchema implements Registry.
func (r *StaticRegistry) ValueSchema(id int32) (avro.Schema, error) {
	s, ok := r.Schemas[id]
	if !ok {
		return nil, errorf(ErrUnknownSchema, "value schema %d", id)
	}
	return s, nil
}

// SupersetID implements Registry.
func (r *StaticRegistry) SupersetID() (int32, error) { return r.Superset, nil }

// Names of the generated RMD types. They live in namespace RMDNamespace; a
// value schema with a named type in that namespace is refused.
const (
	RMDNamespace   = "rialto.rmd"
	rmdRecordName  = RMDNamespace + ".RMD"
	rmdFieldsName  = RMDNamespace + ".FieldTimestamps"
	collSuffix     = "_Collection"
	tombSuffix     = "_Tombstone"
	valueLevelTag  = 0 // union branch of the RMD "timestamp" field: long
	fieldLevelTag  = 1 // union branch: FieldTimestamps
	noRegion       = int32(-1)
	rmdFieldsIndex = 1
)

// schemaInfo is everything derived once from one registered value schema.
type schemaInfo struct {
	id     int32
	value  avro.Schema
	rec    *avro.RecordSchema    // nil when the schema is not a record
	pu     *partialupdate.Schema // nil when no update schema derives (err in puErr)
	puErr  error
	fields []partialupdate.Field
	byName map[string]int

	rmdJSON    string
	rmd        avro.Schema        // the RMD schema (field-level form available when pu != nil)
	rmdFields  *avro.RecordSchema // FieldTimestamps
	tombItems  []avro.Schema      // per field: tombstone record schema (collections), else nil
	canon      []bool             // per field: collection items are equal exactly when their bytes are
	tombArrays []avro.Schema      // per field: array of tombItems
}

func (si *schemaInfo) fieldLevel() error {
	if si.pu == nil {
		return fmt.Errorf("conflict: %w: schema %d has no field-level RMD: %w", ErrSchema, si.id, si.puErr)
	}
	return nil
}

// compileSchema derives the RMD schema of a value schema.
//
//	record rialto.rmd.RMD {
//	  timestamp: union {
//	    long,                              // value-level: one timestamp
//	    record rialto.rmd.FieldTimestamps { // field-level: one member per value field
//	      <scalar f>: long,
//	      <collection f>: record rialto.rmd.<f>_Collection {
//	        topTs: long, topRegion: int, putOnlyLen: int,
//	        activeTs: array<long>,
//	        tombstones: array<record rialto.rmd.<f>_Tombstone {element: E | key: string, ts: long}>
//	      }
//	    }
//	  }
//	}
func compileSchema(id int32, s avro.Schema) (*schemaInfo, error) {
	si := &schemaInfo{id: id, value: s}
	rec, _ := avrox.Deref(s).(*avro.RecordSchema)
	si.rec = rec
	if rec != nil {
		si.pu, si.puErr = partialupdate.Derive(rec)
	} else {
		si.puErr = fmt.Errorf("%w: value schema is %s, not a record", ErrSchema, s.Type())
	}
	if si.pu == nil {
		// Value-level only.
		js := `{"type":"record","name":"` + rmdRecordName + `","fields":[{"name":"timestamp","type":["long"]}]}`
		p, err := avro.ParseWithCache(js, "", &avro.SchemaCache{})
		if err != nil {
			return nil, errorf(ErrSchema, "schema %d: RMD schema does not parse: %v", id, err)
		}
		si.rmdJSON, si.rmd = js, p
		return si, nil
	}
	si.fields = si.pu.Fields()
	si.byName = make(map[string]int, len(si.fields))
	for i := range si.fields {
		si.byName[si.fields[i].Name] = i
	}
	if err := checkNamespace(rec, map[string]bool{}); err != nil {
		return nil, fmt.Errorf("conflict: schema %d: %w", id, err)
	}
	w := avrox.NewSchemaWriter()
	var b []byte
	b = append(b, `{"type":"record","name":"`+rmdRecordName+`","fields":[{"name":"timestamp","type":["long",{"type":"record","name":"`+rmdFieldsName+`","fields":[`...)
	for i := range si.fields {
		f := &si.fields[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"name":"`+f.Name+`","type":`...)
		if f.Kind == partialupdate.Scalar {
			b = append(b, `"long","default":0}`...)
			continue
		}
		b = append(b, `{"type":"record","name":"`+RMDNamespace+"."+f.Name+collSuffix+`","fields":[`+
			`{"name":"topTs","type":"long","default":0},`+
			`{"name":"topRegion","type":"int","default":-1},`+
			`{"name":"putOnlyLen","type":"int","default":0},`+
			`{"name":"activeTs","type":{"type":"array","items":"long"},"default":[]},`+
			`{"name":"tombstones","type":{"type":"array","items":{"type":"record","name":"`+RMDNamespace+"."+f.Name+tombSuffix+`","fields":[`...)
		if f.Kind == partialupdate.List {
			b = append(b, `{"name":"element","type":`...)
			var err error
			if b, err = w.Append(b, f.Elem); err != nil {
				return nil, wrapf(ErrSchema, err, "schema %d: field %q", id, f.Name)
			}
			b = append(b, '}')
		} else {
			b = append(b, `{"name":"key","type":"string"}`...)
		}
		b = append(b, `,{"name":"ts","type":"long"}]}},"default":[]}]}}`...)
	}
	b = append(b, `]}]}]}`...)
	p, err := avro.ParseWithCache(string(b), "", &avro.SchemaCache{})
	if err != nil {
		return nil, errorf(ErrSchema, "schema %d: RMD schema does not parse: %v", id, err)
	}
	si.rmdJSON, si.rmd = string(b), p
	u := p.(*avro.RecordSchema).Fields()[0].Type().(*avro.UnionSchema)
	si.rmdFields = u.Types()[rmdFieldsIndex].(*avro.RecordSchema)
	si.tombItems = make([]avro.Schema, len(si.fields))
	si.canon = make([]bool, len(si.fields))
	si.tombArrays = make([]avro.Schema, len(si.fields))
	for i := range si.fields {
		if f := &si.fields[i]; f.Kind == partialupdate.List {
			si.canon[i] = avrox.CanonicalBytes(f.Elem)
		}
	}
	for i, f := range si.rmdFields.Fields() {
		if cr, ok := f.Type().(*avro.RecordSchema); ok {
			si.tombArrays[i] = cr.Fields()[4].Type()
			si.tombItems[i] = si.tombArrays[i].(*avro.ArraySchema).Items()
		}
	}
	return si, nil
}

// checkNamespace refuses value schemas with named types in RMDNamespace,
// whose names could clash with the generated RMD types.
func checkNamespace(s avro.Schema, seen map[string]bool) error {
	var full string
	switch t := s.(type) {
	case *avro.RecordSchema:
		full = t.FullName()
		if seen[full] {
			return nil
		}
		seen[full] = true
		for _, f := range t.Fields() {
			if err := checkNamespace(f.Type(), seen); err != nil {
				return err
			}
		}
	case *avro.EnumSchema:
		full = t.FullName()
	case *avro.FixedSchema:
		full = t.FullName()
	case *avro.ArraySchema:
		return checkNamespace(t.Items(), seen)
	case *avro.MapSchema:
		return checkNamespace(t.Values(), seen)
	case *avro.UnionSchema:
		for _, x := range t.Types() {
			if err := checkNamespace(x, seen); err != nil {
				return err
			}
		}
	}
	if strings.HasPrefix(full, RMDNamespace+".") {
		return fmt.Errorf("%w: named type %q is in the reserved RMD namespace %q", ErrSchema, full, RMDNamespace)
	}
	return nil
}

// conversion maps values and RMD of schema `from` into schema `to`.
type conversion struct {
	value     *avrox.Resolver
	identity  bool
	fromField []int             // per `to` field: index in `from`, or -1
	fieldRes  []*avrox.Resolver // per `to` field: from-field type → to-field type (nil: identity)
	elemRes   []*avrox.Resolver // per `to` collection field: from Elem → to Elem (nil: identity)
	err       error
}

func compileConversion(from, to *schemaInfo) *conversion {
	c := &conversion{}
	z, err := avrox.NewResolver(from.value, to.value)
	if err != nil {
		c.err = wrapf(ErrSchema, err, "schema %d cannot be read as schema %d", from.id, to.id)
		return c
	}
	c.value, c.identity = z, z.Identity()
	if from.pu == nil || to.pu == nil {
		return c
	}
	n := len(to.fields)
	c.fromField = make([]int, n)
	c.fieldRes = make([]*avrox.Resolver, n)
	c.elemRes = make([]*avrox.Resolver, n)
	for i := range to.fields {
		tf := &to.fields[i]
		j, ok := from.byName[tf.Name]
		if !ok {
			c.fromField[i] = -1
			continue
		}
		c.fromField[i] = j
		ff := &from.fields[j]
		if ff.Kind != tf.Kind {
			c.err = errorf(ErrSchema, "field %q is a %s in schema %d and a %s in schema %d", tf.Name, ff.Kind, from.id, tf.Kind, to.id)
			return c
		}
		fr, err := avrox.NewResolver(ff.Type, tf.Type)
		if err != nil {
			c.err = wrapf(ErrSchema, err, "field %q: schema %d into %d", tf.Name, from.id, to.id)
			return c
		}
		if !fr.Identity() {
			c.fieldRes[i] = fr
		}
		if tf.Kind != partialupdate.Scalar {
			er, err := avrox.NewResolver(ff.Elem, tf.Elem)
			if err != nil {
				c.err = wrapf(ErrSchema, err, "field %q elements: schema %d into %d", tf.Name, from.id, to.id)
				return c
			}
			if !er.Identity() {
				c.elemRes[i] = er
			}
		}
	}
	return c
}

// cache holds compiled schemas and conversions. Entries are immutable once
// stored; readers load a copy-on-write map without locking; lookups never
// iterate.
type cache struct {
	reg   Registry
	mu    sync.Mutex // serialises writers of infos
	infos atomic.Pointer[map[int32]*schemaInfo]
	convs sync.Map // [2]int32 → *conversion
}

func (c *cache) info(id int32) (*schemaInfo, error) {
	if m := c.infos.Load(); m != nil {
		if si, ok := (*m)[id]; ok {
			return si, nil
		}
	}
	s, err := c.reg.ValueSchema(id)
	if err != nil {
		return nil, fmt.Errorf("conflict: %w: value schema %d: %w", ErrUnknownSchema, id, err)
	}
	if s == nil {
		return nil, errorf(ErrUnknownSchema, "value schema %d", id)
	}
	si, err := compileSchema(id, s)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.infos.Load()
	if old != nil {
		if have, ok := (*old)[id]; ok {
			return have, nil
		}
	}
	m := make(map[int32]*schemaInfo, 1)
	if old != nil {
		for k, v := range *old { // copy; order does not matter
			m[k] = v
		}
	}
	m[id] = si
	c.infos.Store(&m)
	return si, nil
}

func (c *cache) conv(from, to *schemaInfo) (*conversion, error) {
	key := [2]int32{from.id, to.id}
	if v, ok := c.convs.Load(key); ok {
		cv := v.(*conversion)
		return cv, cv.err
	}
	cv := compileConversion(from, to)
	v, _ := c.convs.LoadOrStore(key, cv)
	cv = v.(*conversion)
	return cv, cv.err
}
