package wire

import (
	"math/rand/v2"
	"testing"
)

func TestAddContiguousMatchesAdd(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a, b SegmentChecksum
	for range 500 {
		key := make([]byte, rng.IntN(40))
		value := make([]byte, rng.IntN(3000))
		for i := range key {
			key[i] = byte(rng.IntN(256))
		}
		for i := range value {
			value[i] = byte(rng.IntN(256))
		}
		a.Add(key, value)
		rec := append(append(make([]byte, 8), key...), value...)
		b.AddContiguous(rec, len(key))
		if a.Value() != b.Value() {
			t.Fatalf("AddContiguous %08x, Add %08x after a %d-byte key and %d-byte value", b.Value(), a.Value(), len(key), len(value))
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	key, value := make([]byte, 17), make([]byte, 160)
	rec := append(append(make([]byte, 8), key...), value...)
	b.Run("Add", func(b *testing.B) {
		var c SegmentChecksum
		for b.Loop() {
			c.Add(key, value)
		}
	})
	b.Run("AddContiguous", func(b *testing.B) {
		var c SegmentChecksum
		for b.Loop() {
			c.AddContiguous(rec, len(key))
		}
	})
}
