package avrox

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/hamba/avro/v2"
)

// The plain JSON form of a value (used by the CLI, sinks and update JSON):
//
//   - null, booleans, strings and numbers as themselves (strings that are
//     not valid UTF-8 render with U+FFFD, so their JSON is lossy); float and double
//     NaN and infinities as the strings "NaN", "Infinity", "-Infinity";
//   - bytes and fixed as a string whose code points 0–255 are the bytes
//     (the convention of Avro schema defaults);
//   - enums as the symbol string;
//   - records as objects with one member per field (fields left out take
//     their default when parsing; unknown members are an error);
//   - maps as objects, in stored order;
//   - arrays as arrays;
//   - unions as the bare value of their branch: when parsing, the first
//     branch that accepts the value is chosen (null picks the null branch;
//     a number written as an integer prefers an int or long branch, one
//     with a fraction or exponent a float or double branch).
//     Doubles are rendered with a fraction or exponent so that a union of
//     long and double reads back the same branch.

// jsonObject is a JSON object that keeps its members in document order.
type jsonObject struct {
	keys []string
	vals []any
}

// ParseJSON reads one JSON document into Go values: objects keep member
// order, numbers stay json.Number. Duplicate object members are an error.
func parseJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseJSONValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, valueErr("trailing data after JSON value")
	}
	return v, nil
}

func parseJSONValue(dec *json.Decoder, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, ErrLimit
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, valueErr("invalid JSON: %v", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &jsonObject{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, valueErr("invalid JSON: %v", err)
				}
				k, _ := kt.(string)
				for _, prev := range obj.keys {
					if prev == k {
						return nil, valueErr("duplicate JSON member %q", k)
					}
				}
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, k)
				obj.vals = append(obj.vals, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, valueErr("invalid JSON: %v", err)
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := parseJSONValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, valueErr("invalid JSON: %v", err)
			}
			return arr, nil
		}
		return nil, valueErr("invalid JSON delimiter %v", t)
	default:
		return tok, nil // nil, bool, json.Number, string
	}
}

// FromJSON converts the plain JSON form of a value of schema s (see the
// package documentation) to its Avro encoding. Unknown record fields, values
// of the wrong type and out-of-range numbers are errors naming the path.
func FromJSON(s avro.Schema, data []byte) ([]byte, error) {
	return AppendJSONValue(nil, s, data)
}

// AppendJSONValue is FromJSON appending to dst.
func AppendJSONValue(dst []byte, s avro.Schema, data []byte) ([]byte, error) {
	v, err := parseJSON(data)
	if err != nil {
		return dst, topError(err)
	}
	out, err := encodeValue(dst, s, v, modeJSON, 0)
	if err != nil {
		return dst, topError(err)
	}
	return out, nil
}

// ParsedJSON is a JSON document parsed once (ordered objects, exact numbers)
// that can be encoded for different schemas. partialupdate uses it to read
// the members of an update's JSON form.
type ParsedJSON struct{ v any }

// ParseJSON parses a JSON document.
func ParseJSON(data []byte) (ParsedJSON, error) {
	v, err := parseJSON(data)
	if err != nil {
		return ParsedJSON{}, topError(err)
	}
	return ParsedJSON{v}, nil
}

// IsNull reports whether the document is JSON null.
func (p ParsedJSON) IsNull() bool { return p.v == nil }

// Members returns the members of a JSON object in document order, or ok
// false when the document is not an object.
func (p ParsedJSON) Members() (keys []string, vals []ParsedJSON, ok bool) {
	obj, ok := p.v.(*jsonObject)
	if !ok {
		return nil, nil, false
	}
	vals = make([]ParsedJSON, len(obj.vals))
	for i, v := range obj.vals {
		vals[i] = ParsedJSON{v}
	}
	return obj.keys, vals, true
}

// Elements returns the elements of a JSON array, or ok false.
func (p ParsedJSON) Elements() ([]ParsedJSON, bool) {
	arr, ok := p.v.([]any)
	if !ok {
		return nil, false
	}
	out := make([]ParsedJSON, len(arr))
	for i, v := range arr {
		out[i] = ParsedJSON{v}
	}
	return out, true
}

// String returns the document as a string when it is a JSON string.
func (p ParsedJSON) String() (string, bool) {
	s, ok := p.v.(string)
	return s, ok
}

// Append encodes the document as a value of schema s.
func (p ParsedJSON) Append(dst []byte, s avro.Schema) ([]byte, error) {
	out, err := encodeValue(dst, s, p.v, modeJSON, 0)
	if err != nil {
		return dst, topError(err)
	}
	return out, nil
}

// ToJSON renders the value of schema s at the front of b in the plain JSON
// form. It returns the JSON and the length of the value read.
func ToJSON(s avro.Schema, b []byte) ([]byte, int, error) {
	return AppendJSON(nil, s, b)
}

// AppendJSON is ToJSON appending to dst.
func AppendJSON(dst []byte, s avro.Schema, b []byte) ([]byte, int, error) {
	out, n, err := appendJSON(dst, s, b, 0)
	if err != nil {
		return dst, 0, topError(err)
	}
	return out, n, nil
}

func appendJSONString(dst []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(dst, q...)
}

// appendJSONBytes writes bytes as a string of code points 0–255.
func appendJSONBytes(dst, b []byte) []byte {
	var sb []byte
	for _, c := range b {
		sb = utf8.AppendRune(sb, rune(c))
	}
	return appendJSONString(dst, string(sb))
}

func appendJSONFloat(dst []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(dst, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(dst, `"-Infinity"`...)
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, 'g', -1, bits)
	if bytes.IndexAny(dst[start:], ".eEn") < 0 {
		dst = append(dst, ".0"...)
	}
	return dst
}

func appendJSON(dst []byte, s avro.Schema, b []byte, depth int) ([]byte, int, error) {
	if depth > MaxDepth {
		return dst, 0, ErrLimit
	}
	switch s := s.(type) {
	case *avro.RefSchema:
		return appendJSON(dst, s.Schema(), b, depth+1)
	case *avro.NullSchema:
		return append(dst, "null"...), 0, nil
	case *avro.PrimitiveSchema:
		n, err := skipPrimitive(s.Type(), b)
		if err != nil {
			return dst, 0, err
		}
		switch s.Type() {
		case avro.Null:
			return append(dst, "null"...), 0, nil
		case avro.Boolean:
			return strconv.AppendBool(dst, b[0] == 1), n, nil
		case avro.Int, avro.Long:
			v, _, _ := ReadLong(b)
			return strconv.AppendInt(dst, v, 10), n, nil
		case avro.Float:
			return appendJSONFloat(dst, float64(math.Float32frombits(binary.LittleEndian.Uint32(b))), 32), n, nil
		case avro.Double:
			return appendJSONFloat(dst, math.Float64frombits(binary.LittleEndian.Uint64(b)), 64), n, nil
		case avro.String:
			l, m, _ := readLen(b)
			return appendJSONString(dst, string(b[m:m+l])), n, nil
		case avro.Bytes:
			l, m, _ := readLen(b)
			return appendJSONBytes(dst, b[m:m+l]), n, nil
		}
		return dst, 0, ErrSchema
	case *avro.EnumSchema:
		n, err := skip(s, b, depth)
		if err != nil {
			return dst, 0, err
		}
		i, _, _ := ReadInt(b)
		return appendJSONString(dst, s.Symbols()[i]), n, nil
	case *avro.FixedSchema:
		if len(b) < s.Size() {
			return dst, 0, ErrTruncated
		}
		return appendJSONBytes(dst, b[:s.Size()]), s.Size(), nil
	case *avro.RecordSchema:
		dst = append(dst, '{')
		pos := 0
		for i, f := range s.Fields() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, f.Name())
			dst = append(dst, ':')
			var n int
			var err error
			if dst, n, err = appendJSON(dst, f.Type(), b[pos:], depth+1); err != nil {
				return dst, 0, atField(f.Name(), err)
			}
			pos += n
		}
		return append(dst, '}'), pos, nil
	case *avro.ArraySchema:
		dst = append(dst, '[')
		it := newBlockIter(b)
		for i := 0; ; i++ {
			ok, err := it.next()
			if err != nil {
				return dst, 0, atItem(i, err)
			}
			if !ok {
				break
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			var n int
			if dst, n, err = appendJSON(dst, s.Items(), b[it.pos:], depth+1); err != nil {
				return dst, 0, atItem(i, err)
			}
			it.pos += n
		}
		return append(dst, ']'), it.pos, nil
	case *avro.MapSchema:
		// A key written twice keeps its last entry, as a decoder's map
		// does (and as a map union applies them): JSON objects have no
		// duplicate members, and our JSON reader refuses them.
		entries, n, err := MapEntries(s.Values(), b, nil)
		if err != nil {
			return dst, 0, err
		}
		last := make(map[string]int, len(entries))
		for i, e := range entries {
			last[string(e.Key)] = i
		}
		dst = append(dst, '{')
		first := true
		for i, e := range entries {
			if last[string(e.Key)] != i {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = appendJSONString(dst, string(e.Key))
			dst = append(dst, ':')
			if dst, _, err = appendJSON(dst, s.Values(), e.Value, depth+1); err != nil {
				return dst, 0, atKey(string(e.Key), err)
			}
		}
		return append(dst, '}'), n, nil
	case *avro.UnionSchema:
		idx, n, err := ReadLong(b)
		if err != nil {
			return dst, 0, err
		}
		if idx < 0 || idx >= int64(len(s.Types())) {
			return dst, 0, ErrCorrupt
		}
		out, m, err := appendJSON(dst, s.Types()[idx], b[n:], depth+1)
		if err != nil {
			return dst, 0, atBranch(int(idx), err)
		}
		return out, n + m, nil
	}
	return dst, 0, fmt.Errorf("unsupported schema %s: %w", s.Type(), ErrSchema)
}
