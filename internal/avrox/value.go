package avrox

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/hamba/avro/v2"
)

// mode says how a Go value is read when it is encoded.
type mode uint8

const (
	// modeGo: plain Go values from callers (AppendGo).
	modeGo mode = iota
	// modeJSON: values parsed from JSON (numbers are json.Number, objects
	// keep their key order, bytes are strings of code points 0–255).
	modeJSON
	// modeDefault: hamba's parsed field defaults (unions take branch 0).
	modeDefault
)

// AppendGo appends the Avro encoding of the Go value v for schema s.
//
// Accepted values: nil for null; bool; Go integers for int and long (range
// checked) and for float and double; float32/float64 for float and double;
// string for string and for enum symbols; []byte for bytes and fixed (size
// checked); slices for arrays; map[string]T for maps (written in sorted key
// order, so the encoding is deterministic) and for records (every key must
// name a field; missing fields take their default). A union takes the first
// branch that accepts the value (nil: the null branch). Anything else
// returns an error wrapping ErrValue that names the path of the value.
func AppendGo(dst []byte, s avro.Schema, v any) ([]byte, error) {
	out, err := encodeValue(dst, s, v, modeGo, 0)
	if err != nil {
		return dst, topError(err)
	}
	return out, nil
}

// AppendDefault appends the encoding of field f's default value. It fails
// with ErrSchema when the field has no default.
func AppendDefault(dst []byte, f *avro.Field) ([]byte, error) {
	if !f.HasDefault() {
		return dst, topError(atField(f.Name(), fmt.Errorf("no default: %w", ErrSchema)))
	}
	out, err := encodeValue(dst, f.Type(), f.Default(), modeDefault, 0)
	if err != nil {
		return dst, topError(atField(f.Name(), err))
	}
	return out, nil
}

// AppendDefaultRecord appends a record of rs made of every field's default.
func AppendDefaultRecord(dst []byte, rs *avro.RecordSchema) ([]byte, error) {
	var err error
	for _, f := range rs.Fields() {
		if dst, err = AppendDefault(dst, f); err != nil {
			return dst, err
		}
	}
	return dst, nil
}

func valueErr(format string, args ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrValue)
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case json.Number:
		return "number"
	case *jsonObject:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func encodeValue(dst []byte, s avro.Schema, v any, m mode, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return dst, ErrLimit
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return encodeValue(dst, s.Schema(), v, m, depth+1)
	case *avro.NullSchema:
		if v != nil && m != modeDefault {
			return dst, valueErr("want null, got %s", typeName(v))
		}
		return dst, nil
	case *avro.PrimitiveSchema:
		return encodePrimitive(dst, s.Type(), v, m)
	case *avro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return dst, valueErr("want enum symbol, got %s", typeName(v))
		}
		i := slices.Index(s.Symbols(), str)
		if i < 0 {
			return dst, valueErr("%q is not a symbol of enum %s", str, s.FullName())
		}
		return AppendLong(dst, int64(i)), nil
	case *avro.FixedSchema:
		b, err := bytesOf(v, m)
		if err != nil {
			return dst, err
		}
		if len(b) != s.Size() {
			return dst, valueErr("fixed %s needs %d bytes, got %d", s.FullName(), s.Size(), len(b))
		}
		return append(dst, b...), nil
	case *avro.ArraySchema:
		return encodeArray(dst, s.Items(), v, m, depth)
	case *avro.MapSchema:
		return encodeMap(dst, s.Values(), v, m, depth)
	case *avro.RecordSchema:
		return encodeRecord(dst, s, v, m, depth)
	case *avro.UnionSchema:
		return encodeUnion(dst, s, v, m, depth)
	}
	return dst, ErrSchema
}

func encodeUnion(dst []byte, s *avro.UnionSchema, v any, m mode, depth int) ([]byte, error) {
	types := s.Types()
	if m == modeDefault {
		dst = append(dst, 0)
		out, err := encodeValue(dst, types[0], v, m, depth+1)
		if err != nil {
			return dst, atBranch(0, err)
		}
		return out, nil
	}
	var firstErr error
	// A JSON number prefers an integer branch when written as an integer
	// and a floating-point branch otherwise; other values take the first
	// branch that accepts them.
	num, isNum := v.(json.Number)
	for pass := 0; pass < 2; pass++ {
		for i, t := range types {
			isNull := Deref(t).Type() == avro.Null
			if (v == nil) != isNull {
				continue
			}
			if isNum && pass == 0 {
				integral := !strings.ContainsAny(string(num), ".eE")
				tt := Deref(t).Type()
				if integral != (tt == avro.Int || tt == avro.Long) {
					continue
				}
			}
			start := len(dst)
			out, err := encodeValue(AppendLong(dst, int64(i)), t, v, m, depth+1)
			if err == nil {
				return out, nil
			}
			dst = dst[:start]
			if firstErr == nil && kindMatches(t, v) {
				firstErr = atBranch(i, err)
			}
		}
		if !isNum {
			break
		}
	}
	if firstErr != nil {
		return dst, firstErr
	}
	if v == nil {
		return dst, valueErr("null is not allowed (union has no null branch)")
	}
	return dst, valueErr("no branch of union %s accepts %s", s.String(), typeName(v))
}

// kindMatches reports whether v is the kind of Go value schema t takes, so
// that a union reports that branch's error rather than a generic one.
func kindMatches(t avro.Schema, v any) bool {
	t = Deref(t)
	switch v.(type) {
	case string:
		switch t.Type() {
		case avro.String, avro.Bytes, avro.Enum, avro.Fixed:
			return true
		}
	case bool:
		return t.Type() == avro.Boolean
	case json.Number, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		switch t.Type() {
		case avro.Int, avro.Long, avro.Float, avro.Double:
			return true
		}
	case []byte:
		return t.Type() == avro.Bytes || t.Type() == avro.Fixed
	case *jsonObject, map[string]any:
		return t.Type() == avro.Record || t.Type() == avro.Map
	case []any:
		return t.Type() == avro.Array
	}
	return false
}

func bytesOf(v any, m mode) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case string:
		if m == modeGo {
			return nil, valueErr("want []byte, got string")
		}
		// Avro's JSON convention: code points 0–255 are bytes 0–255.
		out := make([]byte, 0, len(b))
		for _, r := range b {
			if r > 255 {
				return nil, valueErr("bytes string holds code point U+%04X above U+00FF", r)
			}
			out = append(out, byte(r))
		}
		return out, nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Array && rv.Type().Elem().Kind() == reflect.Uint8 {
		out := make([]byte, rv.Len())
		reflect.Copy(reflect.ValueOf(out), rv)
		return out, nil
	}
	return nil, valueErr("want bytes, got %s", typeName(v))
}

// intOf returns v as an integer when it is one exactly.
func intOf(v any) (int64, bool, error) {
	switch x := v.(type) {
	case int:
		return int64(x), true, nil
	case int8:
		return int64(x), true, nil
	case int16:
		return int64(x), true, nil
	case int32:
		return int64(x), true, nil
	case int64:
		return x, true, nil
	case uint8:
		return int64(x), true, nil
	case uint16:
		return int64(x), true, nil
	case uint32:
		return int64(x), true, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return 0, false, valueErr("%d overflows long", x)
		}
		return int64(x), true, nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, false, valueErr("%d overflows long", x)
		}
		return int64(x), true, nil
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return 0, false, nil
		}
		return i, true, nil
	}
	return 0, false, nil
}

func floatOf(v any, m mode) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	case json.Number:
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return 0, false
		}
		return f, true
	case string:
		if m != modeJSON {
			return 0, false
		}
		switch x {
		case "NaN":
			return math.NaN(), true
		case "Infinity":
			return math.Inf(1), true
		case "-Infinity":
			return math.Inf(-1), true
		}
	}
	if i, ok, err := intOf(v); ok && err == nil {
		return float64(i), true
	}
	return 0, false
}

func encodePrimitive(dst []byte, t avro.Type, v any, m mode) ([]byte, error) {
	switch t {
	case avro.Null:
		if v != nil && m != modeDefault {
			return dst, valueErr("want null, got %s", typeName(v))
		}
		return dst, nil
	case avro.Boolean:
		b, ok := v.(bool)
		if !ok {
			return dst, valueErr("want boolean, got %s", typeName(v))
		}
		if b {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case avro.Int, avro.Long:
		i, ok, err := intOf(v)
		if err != nil {
			return dst, err
		}
		if !ok {
			return dst, valueErr("want %s, got %s", t, typeName(v))
		}
		if t == avro.Int && (i < math.MinInt32 || i > math.MaxInt32) {
			return dst, valueErr("%d overflows int", i)
		}
		return AppendLong(dst, i), nil
	case avro.Float, avro.Double:
		f, ok := floatOf(v, m)
		if !ok {
			return dst, valueErr("want %s, got %s", t, typeName(v))
		}
		if t == avro.Float {
			// Overflow is a finite number that rounds to an infinite
			// float32; the shortest text of ±MaxFloat32 (3.4028235e+38)
			// is a hair above it as a float64 yet rounds back exactly.
			if r := float32(f); math.IsInf(float64(r), 0) && !math.IsInf(f, 0) {
				return dst, valueErr("%g overflows float", f)
			}
			return AppendFloat(dst, float32(f)), nil
		}
		return AppendDouble(dst, f), nil
	case avro.String:
		str, ok := v.(string)
		if !ok {
			return dst, valueErr("want string, got %s", typeName(v))
		}
		return AppendString(dst, str), nil
	case avro.Bytes:
		b, err := bytesOf(v, m)
		if err != nil {
			return dst, err
		}
		return AppendBytes(dst, b), nil
	}
	return dst, ErrSchema
}

func encodeArray(dst []byte, items avro.Schema, v any, m mode, depth int) ([]byte, error) {
	var n int
	var at func(i int) any
	switch x := v.(type) {
	case []any:
		n, at = len(x), func(i int) any { return x[i] }
	case []byte:
		return dst, valueErr("want array, got []byte")
	default:
		rv := reflect.ValueOf(v)
		if !rv.IsValid() || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) {
			return dst, valueErr("want array, got %s", typeName(v))
		}
		n, at = rv.Len(), func(i int) any { return rv.Index(i).Interface() }
	}
	if n > MaxItems {
		return dst, ErrLimit
	}
	if n > 0 {
		dst = AppendLong(dst, int64(n))
		for i := 0; i < n; i++ {
			var err error
			if dst, err = encodeValue(dst, items, at(i), m, depth+1); err != nil {
				return dst, atItem(i, err)
			}
		}
	}
	return append(dst, 0), nil
}

// entriesOf lists the entries of a map-like Go value in the order they are
// written: JSON objects in document order, Go maps sorted by key.
func entriesOf(v any) ([]string, func(i int) any, error) {
	switch x := v.(type) {
	case *jsonObject:
		return x.keys, func(i int) any { return x.vals[i] }, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys, func(i int) any { return x[keys[i]] }, nil
	}
	rv := reflect.ValueOf(v)
	if !rv.IsValid() || rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil, nil, valueErr("want object, got %s", typeName(v))
	}
	keys := make([]string, 0, rv.Len())
	for _, k := range rv.MapKeys() {
		keys = append(keys, k.String())
	}
	slices.Sort(keys)
	kt := rv.Type().Key()
	return keys, func(i int) any {
		return rv.MapIndex(reflect.ValueOf(keys[i]).Convert(kt)).Interface()
	}, nil
}

func encodeMap(dst []byte, values avro.Schema, v any, m mode, depth int) ([]byte, error) {
	keys, at, err := entriesOf(v)
	if err != nil {
		return dst, err
	}
	if len(keys) > MaxItems {
		return dst, ErrLimit
	}
	if len(keys) > 0 {
		dst = AppendLong(dst, int64(len(keys)))
		for i, k := range keys {
			dst = AppendString(dst, k)
			if dst, err = encodeValue(dst, values, at(i), m, depth+1); err != nil {
				return dst, atKey(k, err)
			}
		}
	}
	return append(dst, 0), nil
}

func encodeRecord(dst []byte, rs *avro.RecordSchema, v any, m mode, depth int) ([]byte, error) {
	keys, at, err := entriesOf(v)
	if err != nil {
		return dst, err
	}
	fields := rs.Fields()
	given := make([]int, len(fields))
	for i := range given {
		given[i] = -1
	}
	for i, k := range keys {
		j := slices.IndexFunc(fields, func(f *avro.Field) bool { return f.Name() == k })
		if j < 0 {
			return dst, atField(k, valueErr("record %s has no such field", rs.FullName()))
		}
		given[j] = i
	}
	for j, f := range fields {
		if given[j] < 0 {
			if !f.HasDefault() {
				return dst, atField(f.Name(), valueErr("missing, and the field has no default"))
			}
			if dst, err = encodeValue(dst, f.Type(), f.Default(), modeDefault, depth+1); err != nil {
				return dst, atField(f.Name(), err)
			}
			continue
		}
		if dst, err = encodeValue(dst, f.Type(), at(given[j]), m, depth+1); err != nil {
			return dst, atField(f.Name(), err)
		}
	}
	return dst, nil
}
