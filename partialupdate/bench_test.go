package partialupdate_test

import (
	"reflect"
	"testing"

	"github.com/hamba/avro/v2"
	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/partialupdate/putest"
)

// The benchmark record is ~800 bytes, and Rialto's apply and the naive
// baseline produce the same value for every benchmarked change.
func TestBenchmarkFixtures(t *testing.T) {
	rec := putest.Record()
	if len(rec) < 700 || len(rec) > 900 {
		t.Fatalf("benchmark record is %d bytes, want ~800", len(rec))
	}
	raw := putest.Schema().Value()
	for _, c := range putest.Changes() {
		got, err := partialupdate.Apply(nil, c.Update, rec)
		if err != nil {
			t.Fatal(err)
		}
		want, err := putest.Naive(c, rec)
		if err != nil {
			t.Fatal(err)
		}
		var g, w any
		if err := avro.Unmarshal(raw, got, &g); err != nil {
			t.Fatal(err)
		}
		if err := avro.Unmarshal(raw, want, &w); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("%s: rialto and naive differ\n%v\n%v", c.Name, g, w)
		}
	}
}

// BenchmarkApply compares applying an update to the 10-field record with
// Rialto (byte spans: untouched fields copied, touched fields re-encoded)
// against the naive hamba decode → modify → encode of the same change, and
// Rialto including the decode of the update bytes (what a server does).
func BenchmarkApply(b *testing.B) {
	rec := putest.Record()
	for _, c := range putest.Changes() {
		b.Run(c.Name+"/rialto", func(b *testing.B) {
			dst := make([]byte, 0, 2048)
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if dst, err = partialupdate.Apply(dst[:0], c.Update, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name+"/rialto+decode", func(b *testing.B) {
			ub, _ := c.Update.Encode()
			s := putest.Schema()
			dst := make([]byte, 0, 2048)
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				u, err := partialupdate.Decode(s, ub)
				if err != nil {
					b.Fatal(err)
				}
				if dst, err = partialupdate.Apply(dst[:0], u, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.Name+"/naive", func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := putest.Naive(c, rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCoalesce measures merging two updates of one key (the writer's
// hot path when it batches updates).
func BenchmarkCoalesce(b *testing.B) {
	cs := putest.Changes()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := partialupdate.Coalesce(cs[1].Update, cs[1].Update); err != nil {
			b.Fatal(err)
		}
	}
}
