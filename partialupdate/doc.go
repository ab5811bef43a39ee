// Package partialupdate is the contract for changing some fields of a row
// without reading it first (SEMANTICS.md §1–2): it derives the update schema
// of a record value schema, builds and encodes updates, applies them to
// stored value bytes, and coalesces consecutive updates of one key.
//
// # Shape of a program
//
//	s, err := partialupdate.Derive(valueSchema)   // once per value schema
//	u, err := partialupdate.NewBuilder(s).
//		Set("name", "Ada").                      // replace
//		SetNull("nickname").                     // replace with null (nullable fields)
//		AddToList("tags", "go", "avro").         // setUnion
//		RemoveFromList("tags", "java").          // setDiff
//		PutEntry("scores", "q1", 7.5).           // mapUnion
//		RemoveKeys("scores", "q0").              // mapDiff
//		Build()                                  // fields not named: left alone
//	b, err := u.Encode()                          // bytes of s.Update(), for the writer
//	u2, err := partialupdate.Decode(s, b)         // on the server
//	v, err := partialupdate.Apply(nil, u2, stored) // or ApplyMissing / an Applier
//
// # Guarantees
//
//  1. Three intents per field, never mixed: left alone (the default), set,
//     or collection operations. Setting and merging one field, setting it
//     twice, an unknown field, a value of the wrong type, null for a field
//     that is not nullable, a list operation on a map (or the reverse) and
//     an update that touches nothing are errors; each error is a
//     *FieldError naming the field and wrapping a sentinel (ErrSetAndMerge,
//     ErrUnknownField, ErrWrongType, ErrNotNullable, ErrNotCollection,
//     ErrEmptyUpdate).
//  2. Apply is a pure function of (update, stored bytes): stored bytes are
//     never modified, untouched fields are copied byte for byte, touched
//     fields are re-encoded canonically. Bad stored or update bytes return an
//     error (ErrCorrupt, naming the field) and nothing else; nothing panics.
//  3. Rules (§2): a missing key starts from the record of defaults; set
//     replaces; setUnion appends each element not already present (Avro
//     equality; order:ignore record fields do not count), keeping existing
//     order, then setDiff drops every occurrence of each listed element;
//     mapUnion overwrites existing keys in place and appends new ones, then
//     mapDiff drops keys; any merge into null (or into a non-collection
//     branch of a union) starts from an empty collection, so removing from
//     null yields an empty collection, never null.
//  4. Coalesce(u1, u2) applied once equals u1 then u2 for every stored value,
//     byte for byte, or it returns ErrNotCoalescible (see Coalesce).
//  5. Applying the same set twice equals applying it once; Encode and Decode
//     are inverse; the derived update schema parses with hamba/avro.
//  6. Values stored with an older schema are read in the newer superset
//     schema at byte level (Applier), with defaults for new fields.
//
// # The JSON form of an update
//
// The CLI and the Connect-style sink write updates as one JSON object with
// up to five members, each mapping field names to operands:
//
//	{
//	  "set":        {"name": "Ada", "nickname": null, "address": {"city": "Oslo"}},
//	  "add":        {"tags": ["go", "avro"]},
//	  "remove":     {"tags": ["java"]},
//	  "put":        {"scores": {"q1": 7.5}},
//	  "removeKeys": {"scores": ["q0"]}
//	}
//
// "set" replaces fields (null only where nullable; a list or map value
// replaces the whole collection). "add"/"remove" are setUnion/setDiff on list
// fields, "put"/"removeKeys" mapUnion/mapDiff on map fields. Fields not
// named are left alone. A field may appear under "add" and "remove" (or
// "put" and "removeKeys") together, but not under "set" and a merge. An
// empty "add": {"f": []} is a merge that turns a null list into an empty one.
//
// Values use the plain JSON form of Avro values (ValueFromJSON and
// ValueToJSON use it for whole records too):
//
//   - records are JSON objects with one member per field; a member left out
//     takes the field's default; an unknown member is an error;
//   - unions are written as the bare value of their branch, null as null;
//     reading picks the first branch that accepts the value (a number
//     written as an integer prefers an int/long branch, one with a fraction
//     or exponent a float/double branch);
//   - maps are JSON objects (entry order kept), arrays JSON arrays, enums
//     their symbol, bytes and fixed a string whose code points 0–255 are the
//     bytes (Avro's convention for defaults), NaN and infinities the strings
//     "NaN", "Infinity", "-Infinity".
//
// Rendering (Update.JSON) lists fields in schema order within each member.
//
// # The update schema
//
// See Derive for the exact shape. The update record is <Name>Update; each
// field's union starts with the empty record NoOp, which is also its default,
// so an update record with every field at its default changes nothing (and
// is rejected as empty).
package partialupdate
