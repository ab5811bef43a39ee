// Package wire is Rialto's Kafka record framing: the record key, the record
// value (an Avro envelope), the partitioner and the segment checksum. The
// writer, the server and the sinks all speak it; nothing else frames records.
//
// # Record key
//
// The first byte says what kind of record it is, so that compaction of a
// version topic keeps exactly one put-or-delete per user key while updates,
// chunks and control messages never share a compaction key with them:
//
//	data (put, delete)   +------+-------------------------+
//	                     | 0x00 | serialized key ...      |
//	                     +------+-------------------------+
//	update               +------+-------------------------+
//	                     | 0x01 | serialized key ...      |
//	                     +------+-------------------------+
//	control              +------+----------------+---------+----------+
//	                     | 0x02 | producer GUID  | segment | sequence |
//	                     |      | 16 bytes       | u32 BE  | u32 BE   |
//	                     +------+----------------+---------+----------+
//	chunk                +------+----------------+---------+----------+-------------+-----------------+
//	                     | 0x03 | producer GUID  | segment | sequence | chunk index | serialized key  |
//	                     |      | 16 bytes       | u32 BE  | u32 BE   | u32 BE      | ...             |
//	                     +------+----------------+---------+----------+-------------+-----------------+
//
// Control and chunk keys are unique per producer, segment and sequence, so
// compaction never removes them.
//
// # Record value
//
//	+-------+---------+---------------------------------------------+
//	| magic | version | Avro binary of Envelope (EnvelopeSchema)    |
//	| 0x52  | 0x01    | ...                                         |
//	+-------+---------+---------------------------------------------+
//
// The envelope, in Avro field order:
//
//	messageType  int          0 put, 1 delete, 2 update, 3 control, 4 chunk
//	producer     record       guid fixed(16), segment int, sequence int,
//	                          producerTimestamp long, logicalTimestamp [null, long]
//	payload      union        Put | Delete | Update | Control | Chunk (branch = messageType)
//	leader       [null, rec]  upstreamRegion int, upstreamPartition int,
//	                          upstreamOffset long, leaderTerm long
//
// Put carries the value schema id, the value bytes (compressed per the
// version's start-of-push), optional replication metadata and, for a value
// split into chunks, a manifest naming the chunk keys. Control bodies are
// start/end of push, start/end of segment, start/end of incremental push,
// topic switch and version swap. EnvelopeSchema is the full Avro schema; the
// codec here is hand-written for speed and tested against a generic Avro
// codec for byte equality.
//
// # Guarantees
//
//  1. Decode never panics; any input that is not a well-formed envelope of a
//     known protocol version returns an error wrapping ErrMalformed.
//  2. Decode does not copy: byte slices in a decoded Envelope alias the input.
//  3. Decode(AppendValue(e)) describes the same record as e, and for every b
//     that Decode accepts, re-encoding the result and decoding it again gives
//     the same envelope (AppendValue writes the canonical form: one block per
//     array, shortest varints).
//  4. Partition is bit-identical to Kafka's default partitioner (murmur2 with
//     the positive mask) for the same serialized key.
package wire
