// Package keycodec turns store keys into the bytes Rialto stores, routes and
// partitions them by, and back. It is the one place the key rule of
// DESIGN.md "Non-obvious" 1 lives for readers (server HTTP API, read client):
//
//  1. A "string" or "bytes" key schema is written as the key's raw bytes,
//     without the Avro length prefix, so a Rialto topic keyed by user id
//     partitions exactly like a goka topic keyed by the same string.
//  2. Every other key schema is written as the key's Avro binary encoding.
//  3. No key schema (nil) behaves like "string": keys are raw bytes.
//
// The partition of a serialized key is wire.Partition(key, partitions).
//
// Three input forms are accepted: Go values (Serialize, the writer's
// form), the plain JSON form of package avrox (FromJSON: a JSON string for
// string and bytes keys, an object for a record key, …), and the command
// line/URL form (FromText: the literal text for a string key, JSON for every
// other schema). AppendJSON renders serialized key bytes back to JSON.
// Every function is pure and safe for concurrent use.
package keycodec

import (
	"errors"
	"fmt"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/avrox"
)

// ErrBadKey is wrapped by every error about a key that does not fit its
// schema.
var ErrBadKey = errors.New("bad key")

// Raw reports whether keys of schema s are stored as their raw bytes.
func Raw(s avro.Schema) bool {
	if s == nil {
		return true
	}
	t := s.Type()
	return t == avro.String || t == avro.Bytes
}

// Serialize turns a Go key into its serialized bytes: a string or []byte
// for raw key schemas, otherwise any value hamba/avro marshals with s
// (map[string]any, a struct, an int64, …).
func Serialize(s avro.Schema, key any) ([]byte, error) {
	if key == nil {
		return nil, fmt.Errorf("%w: nil key", ErrBadKey)
	}
	if Raw(s) {
		switch k := key.(type) {
		case []byte:
			if k == nil {
				return nil, fmt.Errorf("%w: nil key", ErrBadKey)
			}
			return k, nil
		case string:
			return []byte(k), nil
		}
		return nil, fmt.Errorf("%w: a %T key for a %s key schema (want string or []byte)", ErrBadKey, key, typeName(s))
	}
	b, err := avro.Marshal(s, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key schema: %w", ErrBadKey, typeName(s), err)
	}
	return b, nil
}

var stringSchema = avro.NewPrimitiveSchema(avro.String, nil)

// FromJSON serializes a key given in the plain JSON form of schema s.
func FromJSON(s avro.Schema, data []byte) ([]byte, error) {
	raw := Raw(s)
	if s == nil {
		s = stringSchema
	}
	b, err := avrox.FromJSON(s, data)
	if err != nil {
		return nil, fmt.Errorf("%w: %s key: %w", ErrBadKey, typeName(s), err)
	}
	if raw {
		// Drop the Avro length prefix: raw keys are stored bare.
		n, m, err := avrox.ReadLong(b)
		if err != nil || int64(len(b)-m) != n {
			return nil, fmt.Errorf("%w: %s key: malformed encoding", ErrBadKey, typeName(s))
		}
		b = b[m:]
	}
	return b, nil
}

// FromText serializes a key given as command-line or URL text: the literal
// text for a "string" key schema (or none), the JSON form otherwise.
func FromText(s avro.Schema, text string) ([]byte, error) {
	if s == nil || s.Type() == avro.String {
		return []byte(text), nil
	}
	return FromJSON(s, []byte(text))
}

// AppendJSON appends the plain JSON form of serialized key bytes.
func AppendJSON(dst []byte, s avro.Schema, key []byte) ([]byte, error) {
	if s == nil {
		s = stringSchema
	}
	enc := key
	if Raw(s) {
		enc = avrox.AppendBytes(make([]byte, 0, len(key)+5), key)
	}
	out, n, err := avrox.AppendJSON(dst, s, enc)
	if err != nil {
		return dst, fmt.Errorf("%w: %s key: %w", ErrBadKey, typeName(s), err)
	}
	if n != len(enc) {
		return dst, fmt.Errorf("%w: %s key: %d trailing bytes", ErrBadKey, typeName(s), len(enc)-n)
	}
	return out, nil
}

func typeName(s avro.Schema) string {
	if s == nil {
		return "string"
	}
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	return string(s.Type())
}
