package server

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server/storage"
)

// Checksums: a deterministic digest of what one version partition stores,
// so that replicas and regions can be compared (`rialto store checksum`).
//
// The digest covers the logical records of the partition, in key order,
// read from one Pebble snapshot: every key with a value record (live or
// tombstone) or replication metadata. It does not depend on how the
// replica stored them: a value is hashed decompressed and reassembled, so
// a leader's raw copy (FlagRaw), a follower's compressed copy and a
// chunked copy of the same value agree; chunk records and the checkpoint
// are not hashed. What is hashed per key (SHA-256):
//
//	+-----------+-----+-------+-----------+-----------+-------+-------------------------+
//	| key len   | key | state | schema id | value len | value | rmd: 0x00               |
//	| uvarint   |     | byte  | u32 BE    | uvarint   |       |  or 0x01 u32 BE version |
//	|           |     |       |           |           |       |  uvarint len, bytes     |
//	+-----------+-----+-------+-----------+-----------+-------+-------------------------+
//	state: 'v' live value, 't' tombstone (value empty), '-' RMD without a
//	value record (schema id 0, value empty)
//
// preceded once by the text "rialto-partition-checksum-v1\x00". The
// store, version and partition are not hashed: equal data gives equal
// digests whatever version holds it.
//
// A version's digest combines its partitions' digests in partition order
// (CombineChecksums):
//
//	"rialto-version-checksum-v1\x00", u32 BE partition count, then per
//	partition u32 BE partition, u64 BE records, the 32-byte digest.
//
// Equal digests mean byte-identical values and RMD (ARCHITECTURE
// invariant 2 promises them across regions once every region has applied
// the same writes). Two replicas digest the state they have applied so far:
// Offset and Upstream say which, from the same snapshot.

const (
	partitionChecksumMagic = "rialto-partition-checksum-v1\x00"
	versionChecksumMagic   = "rialto-version-checksum-v1\x00"
)

// PartitionChecksum is the digest of one version partition.
type PartitionChecksum struct {
	Partition int32 `json:"partition"`
	// Records counts the keys hashed: live values, tombstones, and RMD
	// without a value record.
	Records    int64 `json:"records"`
	Tombstones int64 `json:"tombstones"`
	// Digest is the SHA-256 of the partition's logical records, hex.
	Digest string `json:"digest"`
	// Offset is the next version-topic offset the digested state would
	// consume; Upstream the processed RT position per (region, RT
	// partition). Both come from the digested snapshot's checkpoint:
	// replicas whose Upstream differs have not applied the same writes.
	Offset   int64                    `json:"offset"`
	Upstream []storage.UpstreamOffset `json:"upstream,omitempty"`
}

// ErrNotReady is returned for a checksum of a hosted partition that cannot
// be answered yet (end-of-push not consumed) or at all (ingestion failed).
var ErrNotReady = errors.New("server: partition not ready")

// Checksum digests one hosted partition of a version from a consistent
// snapshot. The partition must be ready to serve reads (hosted, end-of-push
// consumed, ingestion not failed); otherwise the error wraps ErrNotHosted or
// ErrNotReady and says why.
func (s *Server) Checksum(ctx context.Context, store string, version, partition int32) (PartitionChecksum, error) {
	hosted, why := s.servable(store, version, partition)
	if !hosted {
		return PartitionChecksum{}, fmt.Errorf("%w: %s v%d partition %d", ErrNotHosted, store, version, partition)
	}
	if why != "" {
		return PartitionChecksum{}, fmt.Errorf("%w: %s v%d partition %d: %s", ErrNotReady, store, version, partition, why)
	}
	v, err := s.db.View(storage.PartitionID{Store: store, Version: version, Partition: partition})
	if err != nil {
		return PartitionChecksum{}, err
	}
	defer v.Close()
	return checksumView(ctx, v)
}

// checksumView digests the view's partition.
func checksumView(ctx context.Context, v *storage.View) (PartitionChecksum, error) {
	out := PartitionChecksum{Partition: v.Partition().Partition}
	ck, _, err := v.Checkpoint()
	if err != nil {
		return out, fmt.Errorf("server: %s: %w", v.Partition(), err)
	}
	out.Offset, out.Upstream = ck.Offset, ck.Upstream
	h := sha256.New()
	h.Write([]byte(partitionChecksumMagic))
	var buf []byte
	err = eachLogical(ctx, v, &ck, func(r *logicalRecord) error {
		out.Records++
		if r.state == stateTombstone {
			out.Tombstones++
		}
		buf = r.append(buf[:0])
		h.Write(buf)
		return nil
	})
	if err != nil {
		return out, err
	}
	out.Digest = hex.EncodeToString(h.Sum(nil))
	return out, nil
}

// The state byte of a logical record.
const (
	stateLive      = 'v'
	stateTombstone = 't'
	stateRMDOnly   = '-'
)

// logicalRecord is one key as checksums see it: the value decompressed and
// reassembled, whatever form the replica stores it in.
type logicalRecord struct {
	key      []byte
	state    byte
	schemaID int32
	value    []byte
	hasRMD   bool
	rmd      storage.RMD
}

// append appends the record's hashed form (see the top of this file).
func (r *logicalRecord) append(dst []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(r.key)))
	dst = append(dst, r.key...)
	dst = append(dst, r.state)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.schemaID))
	dst = binary.AppendUvarint(dst, uint64(len(r.value)))
	dst = append(dst, r.value...)
	if !r.hasRMD {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.rmd.Version))
	dst = binary.AppendUvarint(dst, uint64(len(r.rmd.Data)))
	return append(dst, r.rmd.Data...)
}

// eachLogical calls fn for every logical record of the view in key order;
// the record is valid only during the call. ck is the view's checkpoint:
// its start-of-push says how values are compressed.
func eachLogical(ctx context.Context, v *storage.View, ck *storage.Checkpoint, fn func(r *logicalRecord) error) error {
	var codec *valuecomp.Codec
	if sop := ck.StartOfPush; sop != nil && sop.Compression != wire.CompressionNone {
		c, err := valuecomp.New(sop.Compression, sop.Dictionary)
		if err != nil {
			return fmt.Errorf("server: %s: start-of-push compression: %w", v.Partition(), err)
		}
		defer c.Close()
		codec = c
	}
	chunks := func(k []byte) (wire.Chunk, bool, error) {
		data, ok, err := v.GetChunk(k)
		if err != nil || !ok {
			return wire.Chunk{}, ok, err
		}
		rk, err := wire.ParseKey(k)
		if err != nil {
			return wire.Chunk{}, false, err
		}
		return wire.Chunk{Index: rk.ChunkIndex, Data: data}, true, nil
	}
	var r logicalRecord
	n := 0
	return v.Each(func(e *storage.Entry) error {
		if n++; n%1024 == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		r = logicalRecord{key: e.Key, hasRMD: e.HasRMD, rmd: e.RMD}
		switch {
		case !e.HasRecord:
			r.state = stateRMDOnly
		case e.Record.Tombstone():
			r.state, r.schemaID = stateTombstone, e.Record.SchemaID
		default:
			r.state, r.schemaID = stateLive, e.Record.SchemaID
			var err error
			if r.value, err = decodeStored(e.Record, chunks, codec); err != nil {
				return fmt.Errorf("server: %s key %x: stored value: %w", v.Partition(), e.Key, err)
			}
		}
		return fn(&r)
	})
}

// CombineChecksums returns a version's digest from the digests of all its
// partitions (partitions of them, each exactly once, in any order).
func CombineChecksums(partitions int32, parts []PartitionChecksum) (string, error) {
	if int(partitions) != len(parts) {
		return "", fmt.Errorf("server: %d partition checksums for %d partitions", len(parts), partitions)
	}
	sorted := slices.Clone(parts)
	slices.SortFunc(sorted, func(a, b PartitionChecksum) int { return int(a.Partition - b.Partition) })
	h := sha256.New()
	h.Write([]byte(versionChecksumMagic))
	var buf []byte
	buf = binary.BigEndian.AppendUint32(buf, uint32(partitions))
	for i, p := range sorted {
		if p.Partition != int32(i) {
			return "", fmt.Errorf("server: partition checksums: partition %d missing or repeated", i)
		}
		d, err := hex.DecodeString(p.Digest)
		if err != nil || len(d) != sha256.Size {
			return "", fmt.Errorf("server: partition %d: digest %q is not a hex SHA-256", p.Partition, p.Digest)
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(p.Partition))
		buf = binary.BigEndian.AppendUint64(buf, uint64(p.Records))
		buf = append(buf, d...)
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// ChecksumResponse is the body of GET /v1/stores/{store}/checksum.
type ChecksumResponse struct {
	Store   string `json:"store"`
	Version int32  `json:"version"`
	// PartitionCount is the version's partition count (hosted or not).
	PartitionCount int32 `json:"partitionCount"`
	// Partitions holds the digests of the asked partitions this server
	// answered, in partition order.
	Partitions []PartitionChecksum `json:"partitions"`
	// Missing lists the asked partitions it could not answer, and why.
	Missing []MissingPartition `json:"missing,omitempty"`
	// Digest is the version's digest (CombineChecksums), set only when
	// every partition of the version was asked and answered here.
	Digest string `json:"digest,omitempty"`
}

// MissingPartition is a partition a checksum request could not answer.
type MissingPartition struct {
	Partition int32 `json:"partition"`
	// Hosted tells "not ready here" (true) from "not on this server".
	Hosted bool   `json:"hosted"`
	Reason string `json:"reason"`
}

// handleChecksum serves GET /v1/stores/{store}/checksum: ?version=N (default
// the current version), ?partition=P (repeated or comma-separated; default
// every partition of the version). Partitions this server does not host or
// that are not ready are listed under "missing"; the answer is still 200.
func (h *HTTPHandler) handleChecksum(w http.ResponseWriter, r *http.Request) {
	spec, herr := h.resolveVersion(r.PathValue("store"), r.URL.Query().Get("version"))
	if herr != nil {
		h.fail(w, r, herr)
		return
	}
	parts, herr := checksumPartitions(r, spec.Partitions)
	if herr != nil {
		h.fail(w, r, herr)
		return
	}
	resp := ChecksumResponse{Store: spec.Store, Version: spec.Version, PartitionCount: spec.Partitions, Partitions: []PartitionChecksum{}}
	for _, p := range parts {
		c, err := h.s.Checksum(r.Context(), spec.Store, spec.Version, p)
		switch {
		case err == nil:
			resp.Partitions = append(resp.Partitions, c)
		case errors.Is(err, ErrNotHosted):
			resp.Missing = append(resp.Missing, MissingPartition{Partition: p, Reason: "not hosted on this server"})
		case errors.Is(err, ErrNotReady):
			resp.Missing = append(resp.Missing, MissingPartition{Partition: p, Hosted: true, Reason: err.Error()})
		case r.Context().Err() != nil:
			return // the client went away
		default:
			h.fail(w, r, &httpError{code: http.StatusInternalServerError, msg: fmt.Sprintf("store %q v%d partition %d: checksum: %v", spec.Store, spec.Version, p, err)})
			return
		}
	}
	if len(resp.Partitions) == int(spec.Partitions) {
		d, err := CombineChecksums(spec.Partitions, resp.Partitions)
		if err != nil {
			h.fail(w, r, &httpError{code: http.StatusInternalServerError, msg: err.Error()})
			return
		}
		resp.Digest = d
	}
	b, err := json.Marshal(resp)
	if err != nil {
		h.fail(w, r, &httpError{code: http.StatusInternalServerError, msg: err.Error()})
		return
	}
	writeJSON(w, http.StatusOK, append(b, '\n'))
}

// checksumPartitions reads ?partition (repeated or comma-separated) and
// returns the asked partitions in order, without repeats; none asked means
// all of them.
func checksumPartitions(r *http.Request, count int32) ([]int32, *httpError) {
	var out []int32
	for _, v := range r.URL.Query()["partition"] {
		for _, f := range strings.Split(v, ",") {
			p, err := strconv.ParseInt(strings.TrimSpace(f), 10, 32)
			if err != nil || p < 0 || p >= int64(count) {
				return nil, badRequest("partition: %q is not a partition of the version (0 to %d)", f, count-1)
			}
			out = append(out, int32(p))
		}
	}
	if out == nil {
		for p := range count {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
