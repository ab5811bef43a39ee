package storage

import (
	"bytes"
	"fmt"
	"testing"
)

func TestArenaCopiesStayIntact(t *testing.T) {
	var a Arena
	for round := range 3 {
		var want, got [][]byte
		for i := range 3000 {
			// Sizes cross chunk boundaries and include values larger than a chunk.
			v := bytes.Repeat([]byte{byte(i)}, (i*37)%200)
			if i == 1500 {
				v = bytes.Repeat([]byte("big"), arenaChunk)
			}
			want = append(want, v)
			got = append(got, a.Copy(v))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("round %d: copy %d changed after later copies", round, i)
			}
			if cap(got[i]) != len(got[i]) {
				t.Fatalf("round %d: copy %d has spare capacity %d: an append to it would overwrite the next copy", round, i, cap(got[i])-len(got[i]))
			}
		}
		a.Reset()
		kept := 0
		for _, c := range a.chunks {
			kept += cap(c)
			if len(c) != 0 {
				t.Fatalf("round %d: a kept chunk is not empty", round)
			}
		}
		if kept > arenaKeep {
			t.Fatalf("round %d: Reset kept %d bytes, more than %d", round, kept, arenaKeep)
		}
	}
}

func TestSortedReaderValuesOutliveClose(t *testing.T) {
	db, _ := openTest(t)
	p := PartitionID{"s", 1, 0}
	b := mustBatch(t, db, p)
	for i := range 100 {
		b.Put(fmt.Appendf(nil, "k%03d", i), Record{SchemaID: 1, Value: fmt.Appendf(nil, "value %d", i)})
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	var arena Arena
	r, err := db.NewSortedReader(p, &arena)
	if err != nil {
		t.Fatal(err)
	}
	var vals [][]byte
	for i := range 100 {
		rec, ok, err := r.Get(fmt.Appendf(nil, "k%03d", i))
		if err != nil || !ok {
			t.Fatalf("k%03d: %v %v", i, ok, err)
		}
		vals = append(vals, rec.Value)
	}
	r.Close()
	for i, v := range vals {
		if want := fmt.Sprintf("value %d", i); string(v) != want {
			t.Fatalf("after Close: k%03d reads %q, want %q", i, v, want)
		}
	}
}
