// Package conflict resolves concurrent writes from several regions
// deterministically: Resolve is the pure function (stored value + replication
// metadata, operation, timestamp, region) → new value + metadata, or
// "ignored". Its rules are SEMANTICS.md §3–6 (beside ARCHITECTURE.md); the
// few places where this package reads that text in a particular way, and
// why, are listed under "Notes on SEMANTICS" below.
//
// # Shape of a program
//
//	r, err := conflict.New(registry, conflict.FieldLevel) // once per store version
//	res, err := r.Resolve(
//		conflict.State{Value: v, SchemaID: sid, RMD: rmd}, // nil Value: missing or tombstone
//		conflict.Op{Kind: conflict.Update, Value: updateBytes, SchemaID: uid, TS: ts, Region: region})
//	if res.Applied {
//		// store res.Value (nil: tombstone), res.SchemaID and res.RMD together
//	}
//	res, err = r.ResolveAppend(buf[:0], state, op)        // the same, writing into a reused buffer
//	ex, err := r.Explain(state) // which timestamp and region decided each field
//
// # Guarantees
//
//  1. Pure: the Result depends only on the State, the Op and the registered
//     schemas — no clocks, no map iteration, no allocation order. Two
//     resolvers over the same registry give byte-identical results.
//  2. Convergent: the same operations applied in any interleaving of the
//     regions (each region in its own order), with duplicates and rewinds,
//     end with byte-identical value, RMD, tombstone flag and schema id
//     (TestConvergence, TestConvergenceReplays, TestConvergenceValueLevel).
//  3. Idempotent: resolving an operation against its own result is ignored
//     (TestIdempotence; every datadriven step checks it too).
//  4. Bad input never panics (FuzzResolve). It returns an error wrapping
//     ErrCorrupt, ErrSchema, ErrUnknownSchema, ErrBadOp or ErrMode, naming
//     the schema id or field, and nothing is applied. Input slices are never
//     modified; a Result may alias the State's or the Op's bytes.
//  5. Applied is true exactly when the stored state changes (value bytes,
//     RMD bytes, tombstone flag, or a missing key comes into existence).
//     When false, the Result repeats the State.
//  6. Field-level results are written in the registry's superset schema
//     (SupersetID); untouched fields are copied byte for byte, touched ones
//     re-encoded canonically. Value-level results keep the put's schema.
//  7. A Resolver caches per-schema work and is safe for concurrent use
//     (TestConcurrentUse). Schema ids must be immutable in the Registry.
//  8. Cost: resolving an UPDATE of 2 fields of the ~800-byte benchmark record
//     with field-level RMD allocates nothing with ResolveAppend and a reused
//     buffer (one allocation with Resolve) and costs about 1.6× the plain
//     partialupdate.Apply of the same update (go run ./bench -only conflict;
//     BenchmarkResolveUpdate): the value is split into field spans once, the
//     RMD record once, and only touched fields are decoded and re-encoded.
//
// # Replication metadata (§3)
//
// The RMD schema is derived from each value schema (RMDSchema); names are
// fixed, in namespace rialto.rmd, and a value schema with a named type in
// that namespace is refused:
//
//	record rialto.rmd.RMD {
//	  timestamp: union {
//	    long,                                   // branch 0: value-level T
//	    record rialto.rmd.FieldTimestamps {     // branch 1: field-level
//	      <scalar field>: long,                 //   its timestamp F
//	      <collection field>: record rialto.rmd.<field>_Collection {
//	        topTs: long, topRegion: int, putOnlyLen: int,
//	        activeTs: array<long>,              //   one per element after the prefix
//	        tombstones: array<record rialto.rmd.<field>_Tombstone {
//	          element: <item type> | key: string, ts: long }>
//	      }, ...
//	    }
//	  }
//	}
//
// Bytes, as Avro writes them (varints zig-zag):
//
//	value-level:  +----+-----------+
//	              | 00 | varint T  |
//	              +----+-----------+
//	field-level:  +----+------------------+------------------+-----+
//	              | 02 | field 0 metadata | field 1 metadata | ... |   (value schema order)
//	              +----+------------------+------------------+-----+
//	scalar:       | varint F |
//	collection:   | topTs | topRegion | putOnlyLen | activeTs block(s) 0 | tombstone block(s) 0 |
//
// The value's elements are the put-only prefix in the order of the last
// whole-field set, then the merge part sorted by (ts, element); activeTs is
// aligned with the merge part, and tombstones are sorted the same way.
// Element order is avrox.Compare (map keys byte-wise), then the encoded
// bytes. A stored value with no RMD (batch data) reads as T = 0; with
// value-level RMD T, as field-level with every scalar at T and every
// collection at topTs T, topRegion -1, putOnlyLen = its size. Fields of the
// superset that the stored value's schema lacks start at 0.
//
// Modes: a store version is ValueLevel (§4: PUT and DELETE; an UPDATE is
// refused with ErrMode, since one timestamp cannot order partial writes
// convergently) or FieldLevel (§5–6: every operation; stored value-level or
// missing RMD is converted as above). Field-level RMD met by a value-level
// resolver is ErrMode: the two forms are never mixed within a version.
//
// A field-level tombstone keeps its RMD; its value reads as the record of
// defaults. A value-level tombstone's SchemaID is the superset id.
//
// # Explanations
//
// Explain returns, per field and per collection element, the timestamp and
// region that decided it, as a JSON-ready struct and as text. The RMD keeps
// regions only for a collection's last whole-field set or delete
// (topRegion); scalars, merged elements and tombstones say "region
// unknown" rather than guess.
//
// # Notes on SEMANTICS
//
// The property test found four passages of SEMANTICS.md that, read
// literally, do not converge; TestAsWrittenDiverges restores each one alone
// and finds a diverging seed, and testdata/semantics_notes runs a minimal
// reproduction of each in both orders. This package applies the smallest
// change that converges:
//
//  1. §5 DELETE, scalar field with F == ts. Literally "F <= ts: reset to the
//     default", but a PUT at F == ts keeps the larger value, so put(1)@5
//     then delete@5 gives the default while delete@5 then put(1)@5 gives 1.
//     Here a delete at F == ts is a put of the default at ts that wins equal
//     values: the field becomes the default unless its value is larger.
//  2. §6 whole-field set, step 3, "tombstones with timestamp >= ts" are kept.
//     A merge at ts <= topTs is ignored, so remove(e)@5 then set([e])@5
//     dropped e while set then remove kept it. Here tombstones are kept only
//     when strictly newer than ts (as whole-field delete already drops those
//     <= ts) — "a whole-field set beats a merge at the same timestamp".
//  3. §6 whole-field set, step 3, "de-duplicate L keeping the last
//     occurrence", while step 2 keeps L exactly: set([a,a])@5 then add(b)@10
//     gave [a,a,b], the other order [a,b]. Here L keeps its duplicates in
//     step 3 as in step 2 (step 2 is then step 3 with nothing kept), and an
//     add or remove acts on every copy in the prefix.
//  4. "Equal keeps the old" for values that are Avro-equal but differ in
//     bytes (records with "order":"ignore" fields, NaN payloads): whichever
//     arrived first stayed. Here such ties (scalar fields, map values, list
//     and tombstone representatives at one timestamp) keep the larger
//     encoded bytes, as §4 does for whole values.
//
// Readings of text that is open (each checked by the property test):
//
//   - "A null L that leaves put-only state makes the field null" is read as
//     "a null L whose result is in put-only state": if newer elements or
//     tombstones survive the set, the field is a collection of them. So a
//     nullable collection is null only in put-only state, and a merge that
//     changes a null collection makes it a (possibly empty) collection, as
//     §2 has it.
//   - Whole-field delete "if nothing remains" counts tombstones: a field
//     left with tombstones only is an empty collection, not its default.
//     Delete is then exactly a whole-field set to the field's default; with
//     a non-empty default the default's elements form the prefix
//     (putOnlyLen = its size) so that RMD and value stay aligned.
//   - "Fully deleted" (§5 DELETE → tombstone): a scalar that holds its
//     default with F <= ts after the delete, a collection the delete applied
//     to that is left in put-only state. A DELETE that changes no byte but
//     fully deletes every field still makes a tombstone; one that changes
//     nothing otherwise leaves the state alone. A PUT that changes nothing
//     is ignored like an UPDATE, so a tombstone stays a tombstone.
//   - Value-level PUT tie with equal bytes but different schema ids: the
//     larger schema id wins, so the tie has one answer.
//   - An operation on a missing key always creates it unless ignored
//     outright (§4 "no RMD yet: PUT and DELETE apply").
package conflict
