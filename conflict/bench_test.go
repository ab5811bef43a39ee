package conflict_test

import (
	"testing"

	"github.com/rialtodb/rialto/conflict"
	"github.com/rialtodb/rialto/conflict/conflictbench"
	"github.com/rialtodb/rialto/partialupdate"
)

// BenchmarkResolveUpdate resolves an UPDATE touching 2 of the 10 fields of
// the partial-update benchmark record (a scalar set and a list add) against
// field-level RMD, beside partialupdate's plain Apply of the same update.
// The goal: resolve ≤ 2× apply (see bench/conflict.go).
func BenchmarkResolveUpdate(b *testing.B) {
	f, err := conflictbench.New()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("resolve", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := f.Resolve(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("resolve-bytes", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := f.ResolveBytes(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("apply", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if err := f.Apply(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestBenchFixture checks that the benchmark resolves what it claims: the
// update applies, and its value equals partialupdate's Apply.
func TestBenchFixture(t *testing.T) {
	f, err := conflictbench.New()
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.Res.Resolve(f.State, f.Op)
	if err != nil || !res.Applied {
		t.Fatalf("resolve: %v applied=%v", err, res.Applied)
	}
	want, err := partialupdate.Apply(nil, f.Update, f.State.Value)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != string(res.Value) {
		t.Fatalf("resolved value differs from Apply")
	}
	if res.Tombstone || res.SchemaID != 1 {
		t.Fatalf("unexpected result %+v", conflict.Result{Tombstone: res.Tombstone, SchemaID: res.SchemaID})
	}
}
