// Package avrox is Rialto's schema-driven, byte-level Avro machinery, built
// on hamba/avro schemas. The hot paths (partial-update apply, conflict
// resolution) work on encoded bytes with it and never decode into
// map[string]any, which costs ~16 µs per 800-byte record against ~1 µs for
// splitting the record into field spans.
//
// What it offers:
//
//   - Skip / Validate / RecordSpans: the length of a value, whether a
//     buffer holds exactly one value, and the byte span of each record field.
//   - Compare / Equal: Avro sort order on encoded values, as SEMANTICS.md
//     defines "larger value" (see Compare), and element identity.
//   - ArrayItems / MapEntries / AppendArray / AppendMap: collections as
//     slices of encoded items, and their canonical encoding.
//   - AppendGo / AppendDefault / FromJSON / ToJSON: values from Go values,
//     from field defaults and from the plain JSON form, and back to JSON.
//   - Resolver: writer-schema bytes to reader-schema bytes, copying spans
//     whose types match.
//   - Superset, SchemaWriter: the union of two record schemas' fields, and
//     schema JSON that defines each named type once.
//
// Guarantees:
//
//  1. No function panics on any input bytes. Truncated or malformed input
//     returns an error wrapping ErrTruncated, ErrCorrupt or ErrLimit, with the
//     path of the failing value ("field \"tags\": item 3: truncated input").
//  2. Limits: nesting deeper than MaxDepth and collections of more than
//     MaxItems items are rejected (ErrLimit); a length prefix larger than
//     the remaining input is ErrTruncated, so garbage never allocates more
//     than the input's size.
//  3. Input slices are never modified. Returned sub-slices (spans, items,
//     entries) alias the input; results appended to dst never alias it.
//  4. Encoders write the canonical form: one block with a positive count per
//     non-empty array or map, then the 0 terminator; Go maps are written in
//     sorted key order. Decoders accept every valid encoding, including
//     several blocks and blocks with a negative count and byte size (the
//     size must match the items).
//  5. Every function is deterministic and safe for concurrent use (a
//     SchemaWriter is not: it records what it has written).
//
// Byte layout reminders (Avro 1.11 binary encoding): int and long are
// zig-zag varints; float and double are little-endian IEEE 754; bytes and
// string are a long length then the bytes; a record is its fields in order;
// an enum is an int index; a union is a long branch index then the value;
// arrays and maps are blocks:
//
//	+-------+-----------------+-------+-----------------+-----+---+
//	| count | count items ... | count | count items ... | ... | 0 |
//	+-------+-----------------+-------+-----------------+-----+---+
//	(a negative count -n is followed by the block's byte size, then n items;
//	 a map item is a string key followed by the value)
//
// Float and double order follows Java's Float.compare, the Avro reference
// implementation's choice: -0 < +0, every NaN equals every NaN and is larger
// than +Inf, so the order is total and deterministic.
//
// The plain JSON form used by FromJSON and ToJSON is documented in json.go
// and in package partialupdate.
package avrox
