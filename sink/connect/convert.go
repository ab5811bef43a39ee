package connect

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/avrox"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/sink"
)

// Connect's stage names, carried by dead letters.
const (
	StageKey   = "KEY_CONVERTER"
	StageValue = "VALUE_CONVERTER"
	StagePut   = "TASK_PUT"
)

// Store is what the converter needs to know of the store.
type Store struct {
	Name           string
	KeySchema      avro.Schema
	ValueSchema    avro.Schema // the latest value schema
	ValueSchemaID  int32
	UpdateSchemaID int32 // 0: the store takes no partial updates
}

// converted is one input record turned into a write.
type converted struct {
	kind     sink.OpKind // OpPutBytes, OpUpdate or OpDelete; skip when skip
	skip     bool
	key      []byte
	value    []byte // put value or update bytes
	tsField  int64  // rialto.timestamp.source=field
	hasTSFld bool
}

// Mapper turns input records into writes of one store. It is immutable
// after NewConverter and safe for concurrent use.
type Mapper struct {
	cfg      *Config
	st       Store
	keyRaw   bool
	keyAvro  *avrox.Resolver
	keyW     avro.Schema
	valAvro  *avrox.Resolver
	valW     avro.Schema
	derived  *partialupdate.Schema
	fields   map[string]bool // store fields
	excluded map[string]bool
	// identity: the JSON (or resolved Avro) value is the store value as
	// is, no member needs renaming or dropping.
	identity bool
	roles    map[string]role // source field → what it does (update mode and renames)
}

type role struct {
	op  string // "set", "add", "remove", "put", "removeKeys"
	dst string
}

// NewMapper checks the config against the store (every problem at
// once) and returns the converter.
func NewMapper(cfg *Config, st Store) (*Mapper, error) {
	c := &Mapper{cfg: cfg, st: st, fields: map[string]bool{}, excluded: map[string]bool{}, roles: map[string]role{}}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if st.KeySchema == nil || st.ValueSchema == nil {
		return nil, &ConfigError{Problems: []error{fmt.Errorf("store %s: no key or value schema", st.Name)}}
	}
	t := st.KeySchema.Type()
	c.keyRaw = t == avro.String || t == avro.Bytes
	if cfg.KeyConverter.Kind == ConverterAvro {
		w, err := avro.Parse(cfg.KeyConverter.Schema)
		if err != nil {
			bad("key.converter.schema.file: %v", err)
		} else if c.keyAvro, err = avrox.NewResolver(w, st.KeySchema); err != nil {
			bad("key.converter.schema.file: cannot be read as the store's key schema: %v", err)
		} else {
			c.keyW = w
		}
	}
	rs, isRecord := st.ValueSchema.(*avro.RecordSchema)
	if isRecord {
		for _, f := range rs.Fields() {
			c.fields[f.Name()] = true
		}
	}
	switch cfg.ValueConverter.Kind {
	case ConverterString:
		if st.ValueSchema.Type() != avro.String {
			bad("value.converter=string: the store's value schema is %s, not \"string\"", st.ValueSchema.Type())
		}
	case ConverterAvro:
		w, err := avro.Parse(cfg.ValueConverter.Schema)
		if err != nil {
			bad("value.converter.schema.file: %v", err)
		} else if c.valAvro, err = avrox.NewResolver(w, st.ValueSchema); err != nil {
			bad("value.converter.schema.file: cannot be read as the store's value schema %d: %v", st.ValueSchemaID, err)
		} else {
			c.valW = w
		}
	}
	if cfg.ValueConverter.Kind != ConverterString && !isRecord {
		bad("store %s: value schema is %s; the %s converter maps fields of a record", st.Name, st.ValueSchema.Type(), cfg.ValueConverter.Kind)
	}
	if cfg.Mode == ModeUpdate {
		if st.UpdateSchemaID == 0 {
			bad("rialto.write.mode=update: store %s has no partial updates (enable partialUpdate)", st.Name)
		}
		if isRecord {
			d, err := partialupdate.Derive(st.ValueSchema)
			if err != nil {
				bad("rialto.write.mode=update: %v", err)
			}
			c.derived = d
		}
	}
	for _, f := range cfg.Exclude {
		c.excluded[f] = true
	}
	check := func(key, src, dst string, kind partialupdate.Kind) {
		if !isRecord {
			return
		}
		if !c.fields[dst] {
			bad("%s: store %s has no field %q", key, st.Name, dst)
			return
		}
		if c.derived != nil && kind != partialupdate.Scalar {
			if fi := c.derived.Field(dst); fi != nil && fi.Kind != kind {
				bad("%s: store field %q is a %s, not a %s", key, dst, fi.Kind, kind)
			}
		}
	}
	for src, dst := range cfg.FieldMap {
		check("rialto.fields.mapping", src, dst, partialupdate.Scalar)
		c.roles[src] = role{"set", dst}
	}
	for _, o := range []struct {
		key, op string
		m       map[string]string
		kind    partialupdate.Kind
	}{
		{"rialto.update.list.add", "add", cfg.ListAdd, partialupdate.List},
		{"rialto.update.list.remove", "remove", cfg.ListRemove, partialupdate.List},
		{"rialto.update.map.put", "put", cfg.MapPut, partialupdate.Map},
		{"rialto.update.map.remove", "removeKeys", cfg.MapRemove, partialupdate.Map},
	} {
		for src, dst := range o.m {
			check(o.key, src, dst, o.kind)
			c.roles[src] = role{o.op, dst}
		}
	}
	c.identity = cfg.Mode == ModePut && len(cfg.FieldMap) == 0 && len(cfg.Exclude) == 0 && !cfg.IgnoreUnknown &&
		!cfg.ValueConverter.SchemasEnable
	if len(errs) > 0 {
		sortErrs(errs)
		return nil, &ConfigError{Problems: errs}
	}
	return c, nil
}

func dataErr(stage string, format string, args ...any) error {
	return &sink.DataError{Stage: stage, Err: fmt.Errorf(format, args...)}
}

// Key converts a record key to the store's serialized key bytes.
func (c *Mapper) Key(b []byte) ([]byte, error) {
	if b == nil {
		return nil, dataErr(StageKey, "the record has no key")
	}
	switch c.cfg.KeyConverter.Kind {
	case ConverterString:
		if c.keyRaw {
			return b, nil
		}
		k, err := avrox.FromJSON(c.st.KeySchema, b)
		if err != nil {
			return nil, dataErr(StageKey, "key %q is not a %s key: %w", b, c.st.KeySchema.Type(), err)
		}
		return k, nil
	case ConverterJSON:
		if c.cfg.KeyConverter.SchemasEnable {
			p, err := payload(b)
			if err != nil {
				return nil, &sink.DataError{Stage: StageKey, Err: err}
			}
			b = p
		}
		if c.keyRaw {
			var s string
			if err := json.Unmarshal(b, &s); err != nil {
				return nil, dataErr(StageKey, "key: want a JSON string for the %s key schema: %w", c.st.KeySchema.Type(), err)
			}
			if c.st.KeySchema.Type() == avro.Bytes {
				out, err := latin1(s)
				if err != nil {
					return nil, &sink.DataError{Stage: StageKey, Err: err}
				}
				return out, nil
			}
			return []byte(s), nil
		}
		k, err := avrox.FromJSON(c.st.KeySchema, b)
		if err != nil {
			return nil, dataErr(StageKey, "key: %w", err)
		}
		return k, nil
	default:
		k, n, err := c.keyAvro.Append(nil, b)
		if err == nil && n != len(b) {
			err = fmt.Errorf("%d bytes after the key", len(b)-n)
		}
		if err != nil {
			return nil, dataErr(StageKey, "key: not Avro of the configured key schema: %w", err)
		}
		if c.keyRaw {
			l, m, err := avrox.ReadLong(k)
			if err != nil || l < 0 || int64(len(k)-m) != l {
				return nil, dataErr(StageKey, "key: bad Avro string")
			}
			return k[m:], nil
		}
		return k, nil
	}
}

// latin1 turns a string of code points 0–255 into bytes (Avro's JSON
// convention for bytes).
func latin1(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if r > 255 {
			return nil, fmt.Errorf("code point %U in a bytes value (want 0–255)", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}

// payload unwraps JsonConverter's {"schema":…,"payload":…} envelope.
func payload(b []byte) ([]byte, error) {
	var env struct {
		Schema  json.RawMessage `json:"schema"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(b, &env); err != nil {
		return nil, fmt.Errorf("schemas.enable=true: want {\"schema\":…,\"payload\":…}: %w", err)
	}
	if env.Payload == nil {
		return nil, errors.New(`schemas.enable=true: no "payload" member`)
	}
	return env.Payload, nil
}

// Value converts a record value (nil: a tombstone) into the write.
func (c *Mapper) Value(key, b []byte) (converted, error) {
	out := converted{key: key}
	if b == nil {
		switch c.cfg.Tombstone {
		case TombstoneDelete:
			out.kind = sink.OpDelete
		case TombstoneIgnore:
			out.skip = true
		default:
			return out, dataErr(StageValue, "a tombstone (null value) and rialto.tombstone=fail")
		}
		return out, nil
	}
	switch c.cfg.ValueConverter.Kind {
	case ConverterString:
		out.kind = sink.OpPutBytes
		out.value = avrox.AppendString(nil, string(b))
		return out, nil
	case ConverterAvro:
		if c.identity && c.cfg.TimestampSource != TimestampField {
			v, n, err := c.valAvro.Append(nil, b)
			if err == nil && n != len(b) {
				err = fmt.Errorf("%d bytes after the value", len(b)-n)
			}
			if err != nil {
				return out, dataErr(StageValue, "value: not Avro of the configured value schema: %w", err)
			}
			out.kind, out.value = sink.OpPutBytes, v
			return out, nil
		}
		j, n, err := avrox.ToJSON(c.valW, b)
		if err == nil && n != len(b) {
			err = fmt.Errorf("%d bytes after the value", len(b)-n)
		}
		if err != nil {
			return out, dataErr(StageValue, "value: not Avro of the configured value schema: %w", err)
		}
		b = j
	}
	if c.identity && c.cfg.TimestampSource != TimestampField {
		v, err := partialupdate.ValueFromJSON(c.st.ValueSchema, b)
		if err != nil {
			return out, &sink.DataError{Stage: StageValue, Err: err}
		}
		out.kind, out.value = sink.OpPutBytes, v
		return out, nil
	}
	return c.mapped(out, b)
}

// mapped is the general JSON path: split the object into members, apply
// renames, exclusions and operations, and build the store value or the
// update's JSON form.
func (c *Mapper) mapped(out converted, b []byte) (converted, error) {
	if c.cfg.ValueConverter.SchemasEnable {
		p, err := payload(b)
		if err != nil {
			return out, &sink.DataError{Stage: StageValue, Err: err}
		}
		b = p
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(b, &members); err != nil {
		return out, dataErr(StageValue, "value: want a JSON object: %w", err)
	}
	if members == nil {
		return out, dataErr(StageValue, "value: want a JSON object, got null")
	}
	if c.cfg.TimestampSource == TimestampField {
		raw, ok := members[c.cfg.TimestampField]
		if !ok {
			return out, dataErr(StageValue, "value: no timestamp field %q", c.cfg.TimestampField)
		}
		ts, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err != nil || ts < 0 {
			return out, dataErr(StageValue, "value: timestamp field %q=%s: want ms since the epoch", c.cfg.TimestampField, raw)
		}
		out.tsField, out.hasTSFld = ts, true
	}
	names := make([]string, 0, len(members))
	for k := range members {
		names = append(names, k)
	}
	slices.Sort(names) // deterministic output and errors
	groups := map[string]*bytes.Buffer{}
	add := func(op, dst string, raw json.RawMessage) {
		g := groups[op]
		if g == nil {
			g = &bytes.Buffer{}
			groups[op] = g
		} else {
			g.WriteByte(',')
		}
		k, _ := json.Marshal(dst)
		g.Write(k)
		g.WriteByte(':')
		g.Write(raw)
	}
	dsts := map[string]string{}
	for _, src := range names {
		if c.excluded[src] {
			continue
		}
		raw := members[src]
		r, ok := c.roles[src]
		if !ok {
			r = role{"set", src}
		}
		if !c.fields[r.dst] {
			if c.cfg.IgnoreUnknown {
				continue
			}
			return out, &sink.DataError{Stage: StageValue, Err: &partialupdate.FieldError{Field: src,
				Err: fmt.Errorf("%w: store %s has no field %q", partialupdate.ErrUnknownField, c.st.Name, r.dst)}}
		}
		if prev, dup := dsts[r.dst+"/"+r.op]; dup && r.op == "set" {
			return out, dataErr(StageValue, "value: source fields %q and %q both set store field %q", prev, src, r.dst)
		}
		dsts[r.dst+"/"+r.op] = src
		switch r.op {
		case "add", "remove", "removeKeys":
			if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '[' {
				raw = append(append([]byte{'['}, t...), ']') // one element
			}
		}
		add(r.op, r.dst, raw)
	}
	var doc bytes.Buffer
	if c.cfg.Mode == ModePut {
		doc.WriteByte('{')
		if g := groups["set"]; g != nil {
			doc.Write(g.Bytes())
		}
		doc.WriteByte('}')
		v, err := partialupdate.ValueFromJSON(c.st.ValueSchema, doc.Bytes())
		if err != nil {
			return out, &sink.DataError{Stage: StageValue, Err: err}
		}
		out.kind, out.value = sink.OpPutBytes, v
		return out, nil
	}
	doc.WriteByte('{')
	first := true
	for _, op := range []string{"set", "add", "remove", "put", "removeKeys"} {
		g := groups[op]
		if g == nil {
			continue
		}
		if !first {
			doc.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&doc, "%q:{", op)
		doc.Write(g.Bytes())
		doc.WriteByte('}')
	}
	doc.WriteByte('}')
	u, err := partialupdate.ParseJSON(c.derived, doc.Bytes())
	if err != nil {
		return out, &sink.DataError{Stage: StageValue, Err: err}
	}
	out.kind, out.value = sink.OpUpdate, u.AppendEncode(nil)
	return out, nil
}

// describe renders bytes for logs: as text when printable UTF-8.
func describe(b []byte) string {
	if b == nil {
		return "null"
	}
	s := string(b)
	if len(s) > 512 {
		s = s[:512] + "…"
	}
	if strings.ToValidUTF8(s, "") == s {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%x", b[:min(len(b), 256)])
}
