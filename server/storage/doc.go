// Package storage is the Pebble layout of a Rialto server: one Pebble DB per
// server process holding every (store, version, partition) it replicates.
//
// # Keys
//
// Every key starts with the partition prefix, so that a partition or a whole
// version is one contiguous key range:
//
//	prefix    +------+-------------+-------+-----------+-----------+
//	          | 0x01 | u16 BE len  | store | version   | partition |
//	          |      |             | bytes | u32 BE    | u32 BE    |
//	          +------+-------------+-------+-----------+-----------+
//	value     prefix + 'v' + serialized key   → value record
//	rmd       prefix + 'r' + serialized key   → u32 BE RMD version + RMD bytes
//	chunk     prefix + 'c' + Kafka chunk key  → chunk bytes
//	checkpoint prefix + 'k'                   → checkpoint (JSON, versioned)
//
// A value record is
//
//	+-----------------+-------+---------------------------------------+
//	| schema id u32BE | flags | value bytes (compressed as the version |
//	|                 |       | says) or a chunk manifest             |
//	+-----------------+-------+---------------------------------------+
//	flags: 0x01 tombstone (a delete kept for its RMD), 0x02 chunked,
//	       0x04 raw (stored uncompressed by a leader)
//
// # Guarantees
//
//  1. A Batch carries data and the checkpoint of the partition it covers;
//     both become visible, and durable, together (ARCHITECTURE invariant 4).
//     A crash at any instant leaves the partition at some committed
//     checkpoint with exactly the data applied before it.
//  2. Reads through a Batch see the batch's own uncommitted writes first:
//     a leader resolving several writes to one key in one batch sees each
//     result.
//  3. DropVersion and DropPartition are single range deletions.
//  4. Keys and values handed to callers are copies; they stay valid after
//     the call.
package storage
