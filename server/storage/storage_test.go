package storage

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/rialtodb/rialto/internal/wire"
)

func openTest(t *testing.T) (*DB, string) {
	t.Helper()
	dir := t.TempDir()
	db, err := Open(dir, Options{CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, dir
}

func mustBatch(t *testing.T, db *DB, p PartitionID) *Batch {
	t.Helper()
	b, err := db.NewBatch(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBatchIsAtomicWithItsCheckpoint(t *testing.T) {
	db, dir := openTest(t)
	p := PartitionID{"users", 1, 3}

	b := mustBatch(t, db, p)
	b.Put([]byte("a"), Record{SchemaID: 1, Value: []byte("A")})
	b.PutRMD([]byte("a"), RMD{Version: 1, Data: []byte{1}})
	b.SetCheckpoint(&Checkpoint{Offset: 10, DIV: []byte{1, 2}, Records: 1})
	// Reads through the batch see its own writes before commit…
	if r, ok, _ := b.Get([]byte("a")); !ok || string(r.Value) != "A" {
		t.Fatalf("batch read = %+v %v", r, ok)
	}
	// …the database does not.
	if _, ok, _ := db.Get(p, []byte("a")); ok {
		t.Fatal("uncommitted write visible")
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}

	// A batch that "crashes" between build and commit leaves nothing.
	crashed := mustBatch(t, db, p)
	crashed.Put([]byte("b"), Record{SchemaID: 1, Value: []byte("B")})
	crashed.SetCheckpoint(&Checkpoint{Offset: 20})
	crashed.Discard()

	// Reopen: data and checkpoint agree.
	db.Close()
	db2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	ck, ok, err := db2.Checkpoint(p)
	if err != nil || !ok || ck.Offset != 10 || !bytes.Equal(ck.DIV, []byte{1, 2}) {
		t.Fatalf("checkpoint = %+v %v %v", ck, ok, err)
	}
	if r, ok, _ := db2.Get(p, []byte("a")); !ok || string(r.Value) != "A" || r.SchemaID != 1 {
		t.Fatalf("a = %+v %v", r, ok)
	}
	if rmd, ok, _ := db2.GetRMD(p, []byte("a")); !ok || rmd.Version != 1 || !bytes.Equal(rmd.Data, []byte{1}) {
		t.Fatalf("rmd = %+v %v", rmd, ok)
	}
	if _, ok, _ := db2.Get(p, []byte("b")); ok {
		t.Fatal("discarded write visible after reopen")
	}
}

func TestPartitionsAreIsolatedAndDropped(t *testing.T) {
	db, _ := openTest(t)
	// Key order: store names by length first (the u16 length prefix), then bytes.
	ids := []PartitionID{{"a", 1, 0}, {"a", 1, 1}, {"a", 2, 0}, {"b", 1, 0}, {"ab", 1, 0}}
	for _, p := range ids {
		b := mustBatch(t, db, p)
		for i := 0; i < 3; i++ {
			b.Put([]byte{byte(i)}, Record{SchemaID: 1, Value: []byte(p.String())})
		}
		b.PutChunk([]byte{3, 1}, []byte("chunk"))
		b.SetCheckpoint(&Checkpoint{Offset: 3})
		if err := b.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Partitions()
	if err != nil || !reflect.DeepEqual(got, ids) {
		t.Fatalf("Partitions = %v %v, want %v", got, err, ids)
	}
	for _, p := range ids {
		var n int
		db.Scan(p, func(k []byte, r Record, _ []byte) error {
			if string(r.Value) != p.String() {
				t.Fatalf("%s scanned a value of %s", p, r.Value)
			}
			n++
			return nil
		})
		if n != 3 {
			t.Fatalf("%s: scanned %d values", p, n)
		}
	}
	if err := db.DropVersion("a", 1); err != nil {
		t.Fatal(err)
	}
	if err := db.DropPartition(PartitionID{"b", 1, 0}); err != nil {
		t.Fatal(err)
	}
	got, _ = db.Partitions()
	if want := []PartitionID{{"a", 2, 0}, {"ab", 1, 0}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("after drops: %v, want %v", got, want)
	}
	if _, ok, _ := db.GetChunk(PartitionID{"a", 1, 1}, []byte{3, 1}); ok {
		t.Fatal("chunk survived DropVersion")
	}
	if _, ok, _ := db.GetChunk(PartitionID{"ab", 1, 0}, []byte{3, 1}); !ok {
		t.Fatal("DropVersion of store a removed store ab's chunk")
	}
}

func TestTombstonesAndDeletes(t *testing.T) {
	db, _ := openTest(t)
	p := PartitionID{"s", 1, 0}
	b := mustBatch(t, db, p)
	b.Put([]byte("k"), Record{SchemaID: 2, Flags: FlagTombstone})
	b.PutRMD([]byte("k"), RMD{Version: 1, Data: []byte("ts")})
	b.Put([]byte("gone"), Record{SchemaID: 1, Value: []byte("x")})
	b.PutRMD([]byte("gone"), RMD{Version: 1, Data: []byte("ts")})
	b.Delete([]byte("gone"))
	b.Commit()
	if r, ok, _ := db.Get(p, []byte("k")); !ok || !r.Tombstone() {
		t.Fatalf("tombstone = %+v %v", r, ok)
	}
	if _, ok, _ := db.Get(p, []byte("gone")); ok {
		t.Fatal("deleted value still there")
	}
	if _, ok, _ := db.GetRMD(p, []byte("gone")); ok {
		t.Fatal("deleted value's RMD still there")
	}
}

func TestCheckpointRoundTrip(t *testing.T) {
	c := Checkpoint{Offset: 7, DIV: []byte{1}, StartOfPush: &PushInfo{Compression: wire.CompressionZstdDict, Dictionary: []byte("d")},
		EndOfPush: true, TopicSwitch: &TopicSwitch{Sources: []wire.SourceRegion{{Region: 1, Name: "west", Brokers: []string{"x:1"}}}, Topic: "s_rt", RewindStart: 5},
		Records: 9, DIVFaults: map[string]int64{"missing": 1}}
	c.SetUpstream(1, 0, 100)
	c.SetUpstream(0, 3, 50)
	c.SetUpstream(1, 0, 101)
	if c.UpstreamOffset(1, 0) != 101 || c.UpstreamOffset(0, 3) != 50 || c.UpstreamOffset(2, 0) != -1 {
		t.Fatalf("upstream = %+v", c.Upstream)
	}
	b, err := encodeCheckpoint(&c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeCheckpoint(b)
	if err != nil || !reflect.DeepEqual(got, c) {
		t.Fatalf("round trip = %+v %v", got, err)
	}
	clone := c.Clone()
	clone.Upstream[0].Offset = 0
	clone.StartOfPush.Dictionary[0] = 'x'
	if c.Upstream[0].Offset == 0 || c.StartOfPush.Dictionary[0] == 'x' {
		t.Fatal("Clone shares memory")
	}
	if _, err := decodeCheckpoint([]byte(`{"v":99}`)); err == nil {
		t.Fatal("future checkpoint layout accepted")
	}
}

func TestManifestRoundTrip(t *testing.T) {
	keys := [][]byte{wire.AppendChunkKey(nil, wire.GUID{1}, 0, 1, 0, []byte("k")), wire.AppendChunkKey(nil, wire.GUID{1}, 0, 2, 1, []byte("k"))}
	size, got, err := ParseManifest(AppendManifest(nil, 12345, keys))
	if err != nil || size != 12345 || !reflect.DeepEqual(got, keys) {
		t.Fatalf("manifest = %d %x %v", size, got, err)
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add(AppendManifest(nil, 10, [][]byte{{1, 2}, {3}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		size, keys, err := ParseManifest(b)
		if err != nil {
			return
		}
		if again := AppendManifest(nil, size, keys); !bytes.Equal(again, b) {
			// Non-canonical varints may decode; they must re-parse the same.
			s2, k2, err := ParseManifest(again)
			if err != nil || s2 != size || !reflect.DeepEqual(k2, keys) {
				t.Fatalf("manifest does not round-trip")
			}
		}
	})
}

func BenchmarkBatchPut100B(b *testing.B) {
	dir := b.TempDir()
	db, err := Open(dir, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	p := PartitionID{"bench", 1, 0}
	val := bytes.Repeat([]byte{'x'}, 100)
	keys := make([][]byte, 1<<16)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("key-%012d", i*7919%1000003))
	}
	b.ResetTimer()
	batch, _ := db.NewWriteOnlyBatch(p)
	for i := 0; i < b.N; i++ {
		k := keys[i%len(keys)]
		k[0] = byte(i >> 16) // new keys beyond the table
		batch.Put(k, Record{SchemaID: 1, Value: val})
		if batch.Count() == 1000 {
			batch.SetCheckpoint(&Checkpoint{Offset: int64(i)})
			if err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
			batch, _ = db.NewWriteOnlyBatch(p)
		}
	}
	batch.Commit()
}

func TestSortedReaderAgreesWithGet(t *testing.T) {
	db, _ := openTest(t)
	p := PartitionID{"s", 1, 0}
	other := PartitionID{"s", 1, 1}
	for _, id := range []PartitionID{p, other} {
		b := mustBatch(t, db, id)
		for i := 0; i < 200; i += 2 {
			b.Put([]byte(fmt.Sprintf("k%03d", i)), Record{SchemaID: 1, Value: []byte(id.String() + fmt.Sprint(i))})
		}
		b.Commit()
	}
	r, err := db.NewSortedReader(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for i := 0; i < 205; i++ {
		k := []byte(fmt.Sprintf("k%03d", i))
		got, ok, err := r.Get(k)
		want, wok, _ := db.Get(p, k)
		if err != nil || ok != wok || !bytes.Equal(got.Value, want.Value) {
			t.Fatalf("%s: sorted %v %q %v, get %v %q", k, ok, got.Value, err, wok, want.Value)
		}
	}
	if _, _, err := r.Get([]byte("k000")); !errors.Is(err, ErrUnsorted) {
		t.Fatalf("descending key: %v, want ErrUnsorted", err)
	}
}
