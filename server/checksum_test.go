package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	mrand "math/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hamba/avro/v2"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/server/storage"
	"github.com/rialtodb/rialto/writer"
)

// storedKey is one key written into a partition by hand.
type storedKey struct {
	key      string
	rec      *storage.Record
	rmd      *storage.RMD
	chunkLen int // > 0: store the (compressed) value as chunks of this size
}

// writePartition stores keys into a fresh database in the given form:
// raw (a leader's FlagRaw copies) or compressed with codec, chunked where a
// key asks for it (a follower's copies of the version topic).
func writePartition(t *testing.T, keys []storedKey, codec *valuecomp.Codec, raw bool, offset int64) *storage.View {
	t.Helper()
	db, err := storage.Open(t.TempDir(), storage.Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p := storage.PartitionID{Store: "s", Version: 1, Partition: 3}
	b, err := db.NewBatch(p)
	if err != nil {
		t.Fatal(err)
	}
	var guid wire.GUID
	guid[0] = byte(offset)
	for seq, k := range keys {
		if k.rec != nil {
			rec := *k.rec
			if !rec.Tombstone() {
				switch {
				case raw:
					rec.Flags |= storage.FlagRaw
				case codec != nil:
					rec.Value = codec.Compress(nil, rec.Value)
				}
				if k.chunkLen > 0 && !raw {
					var ckeys [][]byte
					for i := 0; i*k.chunkLen < len(rec.Value); i++ {
						ck := wire.AppendChunkKey(nil, guid, 1, int32(seq), int32(i), []byte(k.key))
						b.PutChunk(ck, rec.Value[i*k.chunkLen:min(len(rec.Value), (i+1)*k.chunkLen)])
						ckeys = append(ckeys, ck)
					}
					rec.Flags |= storage.FlagChunked
					rec.Value = storage.AppendManifest(nil, int64(len(rec.Value)), ckeys)
				}
			}
			if err := b.Put([]byte(k.key), rec); err != nil {
				t.Fatal(err)
			}
		}
		if k.rmd != nil {
			if err := b.PutRMD([]byte(k.key), *k.rmd); err != nil {
				t.Fatal(err)
			}
		}
	}
	ck := &storage.Checkpoint{Offset: offset, EndOfPush: true, StartOfPush: &storage.PushInfo{Compression: wire.CompressionZstd}}
	if err := b.SetCheckpoint(ck); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := db.View(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// TestChecksumIgnoresStoredForm: a leader's raw copy and a follower's
// compressed, chunked copy of the same values and RMD digest equally; any
// change to a key, value, schema id, tombstone or RMD changes the digest.
func TestChecksumIgnoresStoredForm(t *testing.T) {
	codec, err := valuecomp.New(wire.CompressionZstd, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer codec.Close()
	big := make([]byte, 50_000)
	rand.Read(big)
	base := func() []storedKey {
		return []storedKey{
			{key: "a", rec: &storage.Record{SchemaID: 1, Value: []byte("value a")}, rmd: &storage.RMD{Version: 1, Data: []byte{1, 2, 3}}},
			{key: "b", rec: &storage.Record{SchemaID: 2, Value: big}, rmd: &storage.RMD{Version: 1, Data: []byte{4}}, chunkLen: 7_000},
			{key: "c", rec: &storage.Record{SchemaID: 1, Flags: storage.FlagTombstone}, rmd: &storage.RMD{Version: 1, Data: []byte{5}}},
			{key: "d", rec: &storage.Record{SchemaID: 1, Value: []byte{}}}, // batch data: no RMD, empty value
		}
	}
	ctx := context.Background()
	leader, err := checksumView(ctx, writePartition(t, base(), codec, true, 10))
	if err != nil {
		t.Fatal(err)
	}
	follower, err := checksumView(ctx, writePartition(t, base(), codec, false, 12))
	if err != nil {
		t.Fatal(err)
	}
	if leader.Digest != follower.Digest || leader.Records != 4 || follower.Records != 4 || leader.Tombstones != 1 {
		t.Fatalf("same data, different stored form:\n leader   %+v\n follower %+v", leader, follower)
	}
	if leader.Offset != 10 || follower.Offset != 12 {
		t.Fatalf("offsets %d and %d: not from the checkpoints", leader.Offset, follower.Offset)
	}

	for _, tc := range []struct {
		name   string
		change func(ks []storedKey) []storedKey
	}{
		{"value byte", func(ks []storedKey) []storedKey { ks[0].rec.Value = []byte("value A"); return ks }},
		{"chunked value byte", func(ks []storedKey) []storedKey {
			v := slices.Clone(big)
			v[len(v)-1] ^= 1
			ks[1].rec.Value = v
			return ks
		}},
		{"schema id", func(ks []storedKey) []storedKey { ks[0].rec.SchemaID = 2; return ks }},
		{"rmd byte", func(ks []storedKey) []storedKey { ks[0].rmd.Data = []byte{1, 2, 4}; return ks }},
		{"rmd version", func(ks []storedKey) []storedKey { ks[0].rmd.Version = 2; return ks }},
		{"rmd dropped", func(ks []storedKey) []storedKey { ks[0].rmd = nil; return ks }},
		{"tombstone dropped", func(ks []storedKey) []storedKey { return append(ks[:2], ks[3:]...) }},
		{"tombstone revived", func(ks []storedKey) []storedKey { ks[2].rec = &storage.Record{SchemaID: 1}; return ks }},
		{"rmd without value", func(ks []storedKey) []storedKey { ks[2].rec = nil; return ks }},
		{"key renamed", func(ks []storedKey) []storedKey { ks[3].key = "e"; return ks }},
		{"key added", func(ks []storedKey) []storedKey {
			return append(ks, storedKey{key: "z", rec: &storage.Record{SchemaID: 1, Value: []byte{}}})
		}},
		{"bytes moved between key and value", func(ks []storedKey) []storedKey {
			ks[0].key, ks[0].rec.Value = "av", []byte("alue a")
			return ks
		}},
	} {
		for _, raw := range []bool{true, false} {
			got, err := checksumView(ctx, writePartition(t, tc.change(base()), codec, raw, 10))
			if err != nil {
				t.Fatal(err)
			}
			if got.Digest == leader.Digest {
				t.Errorf("%s (raw %v): digest unchanged", tc.name, raw)
			}
		}
	}
}

func TestCombineChecksums(t *testing.T) {
	digest := func(b byte) string { return hex.EncodeToString(bytes.Repeat([]byte{b}, 32)) }
	parts := []PartitionChecksum{{Partition: 0, Records: 3, Digest: digest(1)}, {Partition: 1, Records: 0, Digest: digest(2)}, {Partition: 2, Records: 9, Digest: digest(3)}}
	d, err := CombineChecksums(3, parts)
	if err != nil || len(d) != 64 {
		t.Fatalf("CombineChecksums = %q, %v", d, err)
	}
	shuffled := []PartitionChecksum{parts[2], parts[0], parts[1]}
	if d2, _ := CombineChecksums(3, shuffled); d2 != d {
		t.Fatal("the order of the partitions given changes the digest")
	}
	swapped := slices.Clone(parts)
	swapped[0].Digest, swapped[1].Digest = swapped[1].Digest, swapped[0].Digest
	if d2, _ := CombineChecksums(3, swapped); d2 == d {
		t.Fatal("swapping two partitions' digests leaves the version digest unchanged")
	}
	recs := slices.Clone(parts)
	recs[1].Records = 1
	if d2, _ := CombineChecksums(3, recs); d2 == d {
		t.Fatal("a record count does not count")
	}
	for _, bad := range []struct {
		n     int32
		parts []PartitionChecksum
		want  string
	}{
		{4, parts, "3 partition checksums for 4 partitions"},
		{3, []PartitionChecksum{parts[0], parts[1], parts[1]}, "partition 2 missing or repeated"},
		{3, []PartitionChecksum{parts[0], parts[1], {Partition: 2, Digest: "xyz"}}, "not a hex SHA-256"},
	} {
		if _, err := CombineChecksums(bad.n, bad.parts); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("CombineChecksums(%d, …) = %v, want %q", bad.n, err, bad.want)
		}
	}
}

// TestChecksumHTTPLeaderAndFollowerAgree: one server leads an
// active-active version (its resolved values stored raw), another follows
// the version topic (values gzip-compressed, the large one chunked); once
// the follower has caught up both answer the same digests over HTTP.
func TestChecksumHTTPLeaderAndFollowerAgree(t *testing.T) {
	const partitions = 2
	ctx := context.Background()
	f := newNearlineFixture(t, partitions, 30)
	spec := f.spec(t)
	spec.ActiveActive, spec.PartialUpdate = true, true
	leader := startServer(t, f.env.Brokers(), t.TempDir())
	follower := startServer(t, f.env.Brokers(), t.TempDir())
	for _, s := range []*Server{leader, follower} {
		if err := s.Host(ctx, spec, 0, 1); err != nil {
			t.Fatal(err)
		}
		s.SetCurrentVersion("profiles", 1)
	}
	for p := range int32(partitions) {
		if err := leader.Lead("profiles", 1, p); err != nil {
			t.Fatal(err)
		}
	}
	rng := mrand.New(mrand.NewSource(1))
	for range 200 {
		f.randomWrite(t, rng, 40)
	}
	// A value too large for one record: the leader's writer chunks it in
	// the version topic, the follower stores the chunks.
	hexName := make([]byte, 1<<20)
	rand.Read(hexName)
	big, err := avro.Marshal(f.schema, map[string]any{"name": hex.EncodeToString(hexName), "count": int64(1), "tags": []any{}, "attrs": map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.rtw.PutBytesAsync(ctx, []byte("user-big"), 1, big, f.ack(t)); err != nil {
		t.Fatal(err)
	}
	f.waitReplayed(t, leader)
	waitFor(t, time.Minute, "the follower has what the leader has", func() bool {
		ls, fs := leader.Status(), follower.Status()
		for i := range ls {
			if fs[i].Offset < ls[i].Offset || !fs[i].ReadyToServe {
				return false
			}
		}
		return true
	})
	// The two really store different forms.
	forms := func(s *Server) (raw, chunked int) {
		for p := range int32(partitions) {
			s.db.Scan(storage.PartitionID{Store: "profiles", Version: 1, Partition: p}, func(_ []byte, r storage.Record, _ []byte) error {
				if r.Flags&storage.FlagRaw != 0 {
					raw++
				}
				if r.Flags&storage.FlagChunked != 0 {
					chunked++
				}
				return nil
			})
		}
		return
	}
	if raw, _ := forms(leader); raw == 0 {
		t.Fatal("the leader stores no raw value: the test proves nothing")
	}
	if raw, chunked := forms(follower); raw != 0 || chunked == 0 {
		t.Fatalf("the follower stores %d raw and %d chunked values, want 0 and some", raw, chunked)
	}

	_, lbase := httpFront(t, leader, HTTPOptions{})
	_, fbase := httpFront(t, follower, HTTPOptions{})
	get := func(base, query string) ChecksumResponse {
		t.Helper()
		a := httpDo(t, "GET", base+"/v1/stores/profiles/checksum"+query, nil)
		wantCode(t, a, 200)
		var r ChecksumResponse
		if err := json.Unmarshal(a.body, &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	lr, fr := get(lbase, ""), get(fbase, "?version=1")
	for p := range int32(partitions) {
		id := storage.PartitionID{Store: "profiles", Version: 1, Partition: p}
		if k, x, y, ok := firstDifference(dumpPartition(t, leader, id), dumpPartition(t, follower, id)); ok {
			t.Errorf("partition %d key %q:\n leader   %s\n follower %s", p, k, x, y)
		}
	}
	if lr.Digest == "" || lr.Digest != fr.Digest || len(lr.Partitions) != partitions || lr.PartitionCount != partitions || len(lr.Missing) != 0 {
		t.Fatalf("leader and follower disagree:\n leader   %+v\n follower %+v", lr, fr)
	}
	var records int64
	for i, p := range lr.Partitions {
		if p.Partition != int32(i) || p.Records != fr.Partitions[i].Records || p.Digest != fr.Partitions[i].Digest {
			t.Fatalf("partition %d: leader %+v, follower %+v", i, p, fr.Partitions[i])
		}
		// A follower learns RT positions from the leader's version-topic
		// footers, so it lags by the RT records the leader consumed last
		// without producing anything (writes that lost their conflict):
		// the same sources, positions at most the leader's.
		lu, fu := p.Upstream, fr.Partitions[i].Upstream
		if len(lu) == 0 || len(lu) != len(fu) {
			t.Fatalf("partition %d: upstream %v and %v", i, lu, fu)
		}
		for j := range lu {
			if lu[j].Region != fu[j].Region || lu[j].Partition != fu[j].Partition || fu[j].Offset > lu[j].Offset {
				t.Fatalf("partition %d: upstream %v and %v", i, lu, fu)
			}
		}
		records += p.Records
	}
	if records < 30 {
		t.Fatalf("%d records digested", records)
	}

	// One partition: no version digest.
	one := get(fbase, "?partition=1")
	if len(one.Partitions) != 1 || one.Partitions[0].Digest != fr.Partitions[1].Digest || one.Digest != "" {
		t.Fatalf("?partition=1: %+v", one)
	}
	if both := get(fbase, "?partition=1&partition=0,1"); both.Digest != fr.Digest {
		t.Fatalf("?partition=1&partition=0,1: %+v", both)
	}
	wantCode(t, httpDo(t, "GET", fbase+"/v1/stores/profiles/checksum?partition=2", nil), 400, "partition", "0 to 1")
	wantCode(t, httpDo(t, "GET", fbase+"/v1/stores/profiles/checksum?partition=x", nil), 400, "partition")
	wantCode(t, httpDo(t, "GET", fbase+"/v1/stores/profiles/checksum?version=7", nil), 404, "version 7")
	wantCode(t, httpDo(t, "GET", fbase+"/v1/stores/nosuch/checksum", nil), 404, "nosuch")

	// A server with one partition, and a version whose push is running:
	// what it cannot answer is listed, with why.
	partial := startServer(t, f.env.Brokers(), t.TempDir())
	if err := partial.Host(ctx, spec, 0); err != nil {
		t.Fatal(err)
	}
	unfinished := spec
	unfinished.Version, unfinished.Topic = 2, f.env.Topic(t, partitions, nil)
	w, err := writer.New(writer.Brokers(f.env.Brokers()...), writer.Topic(unfinished.Topic), writer.Kind(writer.KindVersion), writer.Partitions(partitions))
	if err != nil {
		t.Fatal(err)
	}
	if err := w.StartOfPush(ctx, false); err != nil {
		t.Fatal(err)
	}
	w.Close(ctx)
	if err := partial.Host(ctx, unfinished, 0, 1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "partition 0 of v1 ready", func() bool {
		hosted, why := partial.servable("profiles", 1, 0)
		return hosted && why == ""
	})
	_, pbase := httpFront(t, partial, HTTPOptions{})
	pr := get(pbase, "?version=1")
	if pr.Digest != "" || len(pr.Partitions) != 1 || pr.Partitions[0].Digest != fr.Partitions[0].Digest ||
		len(pr.Missing) != 1 || pr.Missing[0] != (MissingPartition{Partition: 1, Reason: "not hosted on this server"}) {
		t.Fatalf("one partition hosted: %+v", pr)
	}
	ur := get(pbase, "?version=2")
	if len(ur.Partitions) != 0 || len(ur.Missing) != 2 || !ur.Missing[0].Hosted || !strings.Contains(ur.Missing[0].Reason, "end-of-push") {
		t.Fatalf("push running: %+v", ur)
	}
	if _, err := partial.Checksum(ctx, "profiles", 2, 1); err == nil {
		t.Fatal("Checksum of a partition before end-of-push: no error")
	}
}

// checksumOf digests every partition of a version on s and combines them.
func checksumOf(t *testing.T, s *Server, store string, version, partitions int32) (string, []PartitionChecksum) {
	t.Helper()
	var parts []PartitionChecksum
	for p := range partitions {
		c, err := s.Checksum(context.Background(), store, version, p)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, c)
	}
	d, err := CombineChecksums(partitions, parts)
	if err != nil {
		t.Fatal(err)
	}
	return d, parts
}

// logicalDump is one partition's logical records, for telling where two
// replicas differ.
type logicalDump struct {
	key      string
	state    byte
	schemaID int32
	value    []byte
	rmd      []byte // nil: none
	rmdVer   int32
}

func dumpPartition(t *testing.T, s *Server, id storage.PartitionID) []logicalDump {
	t.Helper()
	v, err := s.db.View(id)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	ck, _, err := v.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	var out []logicalDump
	err = eachLogical(context.Background(), v, &ck, func(r *logicalRecord) error {
		d := logicalDump{key: string(r.key), state: r.state, schemaID: r.schemaID, value: slices.Clone(r.value)}
		if r.hasRMD {
			d.rmd, d.rmdVer = append([]byte{}, r.rmd.Data...), r.rmd.Version
		}
		out = append(out, d)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// firstDifference returns the first key (in key order) whose logical
// record differs between a and b, and the two records (nil where absent).
func firstDifference(a, b []logicalDump) (key string, x, y *logicalDump, found bool) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || (i < len(a) && a[i].key < b[j].key):
			return a[i].key, &a[i], nil, true
		case i >= len(a) || b[j].key < a[i].key:
			return b[j].key, nil, &b[j], true
		}
		x, y := &a[i], &b[j]
		if x.state != y.state || x.schemaID != y.schemaID || !bytes.Equal(x.value, y.value) ||
			(x.rmd == nil) != (y.rmd == nil) || x.rmdVer != y.rmdVer || !bytes.Equal(x.rmd, y.rmd) {
			return x.key, x, y, true
		}
		i++
		j++
	}
	return "", nil, nil, false
}

func (d *logicalDump) String() string {
	if d == nil {
		return "absent"
	}
	return fmt.Sprintf("state %q schema %d value %x rmd v%d %x", d.state, d.schemaID, d.value, d.rmdVer, d.rmd)
}
