// Package div is Rialto's data integrity validation on the consumer side.
//
// Every record Rialto writes carries its producer's GUID, a segment number and
// a sequence number (ARCHITECTURE invariant 1). A producer frames its records
// to one partition in segments:
//
//	start-of-segment (seq 0), record (seq 1), record (seq 2), …,
//	end-of-segment (seq n, CRC32-C over the records 1..n-1, final or not)
//
// A Validator follows one partition and classifies each record:
//
//	OK            the next record of a known segment, or a new segment's start
//	Duplicate     a sequence or segment already seen: drop it
//	Missing       a sequence or segment start was skipped: records were lost
//	Corrupt       the record does not decode, or a segment's checksum differs
//	Unregistered  the first record of a producer is not a start-of-segment
//
// # Guarantees
//
//  1. Classification depends only on the records validated so far, in order:
//     the same records give the same verdicts on every replica, so a
//     checkpointed state (MarshalBinary) resumes exactly.
//  2. After Missing, the validator re-synchronizes on the record it was given,
//     so one gap is reported once, not for every record after it; the
//     checksum of a segment with a gap is not checked (it cannot match).
//  3. A segment the producer abandoned (never ended) is not itself a fault:
//     a writer abandons a segment when a produce fails and starts a new one.
//     The failed record is not in the log, so if the client still delivers
//     records queued behind it (franz-go may, after a non-retriable error),
//     the abandoned segment shows one Missing before them. That record was
//     never acknowledged; the ones after it were, and they are applied.
//  4. Memory is bounded: at most MaxProducers producers are tracked; when
//     more appear, those whose last segment ended final are forgotten first,
//     then the least recently seen.
package div
