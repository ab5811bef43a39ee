package storage

import (
	"fmt"
	"strings"
	"testing"
)

// TestViewEachPairsValuesAndRMD walks a partition with keys that have a
// value only, RMD only, both, and a tombstone, beside a neighbouring
// partition that must not leak in, and checks that the view is a snapshot.
func TestViewEachPairsValuesAndRMD(t *testing.T) {
	db, _ := openTest(t)
	p := PartitionID{"users", 1, 0}
	b := mustBatch(t, db, p)
	b.Put([]byte("a"), Record{SchemaID: 1, Value: []byte("A")})
	b.PutRMD([]byte("b"), RMD{Version: 2, Data: []byte("rb")}) // RMD without a value
	b.Put([]byte("c"), Record{SchemaID: 3, Flags: FlagRaw, Value: []byte("C")})
	b.PutRMD([]byte("c"), RMD{Version: 1, Data: []byte("rc")})
	b.Put([]byte("d"), Record{SchemaID: 1, Flags: FlagTombstone})
	b.PutRMD([]byte("d"), RMD{Version: 1, Data: []byte("rd")})
	b.PutChunk([]byte("chunk"), []byte("not an entry"))
	b.SetCheckpoint(&Checkpoint{Offset: 7})
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	for _, other := range []PartitionID{{"users", 1, 1}, {"users", 2, 0}, {"user", 1, 0}} {
		ob := mustBatch(t, db, other)
		ob.Put([]byte("a"), Record{SchemaID: 9, Value: []byte("other")})
		ob.PutRMD([]byte("z"), RMD{Version: 9, Data: []byte("other")})
		if err := ob.Commit(); err != nil {
			t.Fatal(err)
		}
	}

	v, err := db.View(p)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// Written after the view opened: invisible to it.
	later := mustBatch(t, db, p)
	later.Put([]byte("a"), Record{SchemaID: 1, Value: []byte("changed")})
	later.Put([]byte("e"), Record{SchemaID: 1, Value: []byte("E")})
	later.SetCheckpoint(&Checkpoint{Offset: 8})
	if err := later.Commit(); err != nil {
		t.Fatal(err)
	}

	var got []string
	err = v.Each(func(e *Entry) error {
		s := string(e.Key) + ":"
		if e.HasRecord {
			s += fmt.Sprintf("rec(%d,%d,%s)", e.Record.SchemaID, e.Record.Flags, e.Record.Value)
		}
		if e.HasRMD {
			s += fmt.Sprintf("rmd(%d,%s)", e.RMD.Version, e.RMD.Data)
		}
		got = append(got, s)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "a:rec(1,0,A) b:rmd(2,rb) c:rec(3,4,C)rmd(1,rc) d:rec(1,1,)rmd(1,rd)"
	if strings.Join(got, " ") != want {
		t.Fatalf("entries\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if ck, ok, err := v.Checkpoint(); err != nil || !ok || ck.Offset != 7 {
		t.Fatalf("view checkpoint = %+v %v %v, want offset 7", ck, ok, err)
	}
	if c, ok, err := v.GetChunk([]byte("chunk")); err != nil || !ok || string(c) != "not an entry" {
		t.Fatalf("chunk = %q %v %v", c, ok, err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestViewEachStopsOnError(t *testing.T) {
	db, _ := openTest(t)
	p := PartitionID{"users", 1, 0}
	b := mustBatch(t, db, p)
	for i := range 5 {
		b.Put([]byte{byte('a' + i)}, Record{SchemaID: 1, Value: []byte("x")})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	v, err := db.View(p)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	stop := fmt.Errorf("stop")
	n := 0
	if err := v.Each(func(*Entry) error {
		if n++; n == 2 {
			return stop
		}
		return nil
	}); err != stop || n != 2 {
		t.Fatalf("Each = %v after %d entries, want stop after 2", err, n)
	}
	if _, err := db.View(PartitionID{"", 1, 0}); err == nil {
		t.Fatal("view of an empty store name: no error")
	}
}
