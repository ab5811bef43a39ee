package valuecomp_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
)

// samples returns n JSON-ish records that share structure, like the values
// of one store.
func samples(n int, seed uint64) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([][]byte, n)
	cities := []string{"Venice", "Lisbon", "Oslo", "Kyoto", "Lima", "Accra"}
	for i := range out {
		out[i] = fmt.Appendf(nil, `{"member_id":%d,"name":"user-%06d","city":"%s","score":%d.%02d,"tags":["alpha","beta","gamma"],"active":%t}`,
			rng.Int64N(1e9), rng.IntN(1e6), cities[rng.IntN(len(cities))], rng.IntN(1000), rng.IntN(100), rng.IntN(2) == 0)
	}
	return out
}

func TestRoundTripEveryMode(t *testing.T) {
	vals := samples(2000, 7)
	d, err := valuecomp.TrainDictionary(vals[:1500], 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("rialto "), 1<<20) // 7 MiB, compressible
	for _, mode := range []wire.Compression{wire.CompressionNone, wire.CompressionGzip, wire.CompressionZstd, wire.CompressionZstdDict} {
		t.Run(mode.String(), func(t *testing.T) {
			var dictionary []byte
			if mode == wire.CompressionZstdDict {
				dictionary = d
			}
			c, err := valuecomp.New(mode, dictionary)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			var in, out int
			for _, v := range append(vals[1500:], nil, []byte{}, []byte("x"), big) {
				prefix := []byte("keep")
				comp := c.Compress(bytes.Clone(prefix), v)
				if !bytes.HasPrefix(comp, prefix) {
					t.Fatalf("Compress overwrote dst")
				}
				got, err := c.Decompress([]byte("dst"), comp[len(prefix):])
				if err != nil {
					t.Fatalf("Decompress: %v", err)
				}
				if !bytes.Equal(got[3:], v) || string(got[:3]) != "dst" {
					t.Fatalf("round trip of %d bytes gave %d bytes", len(v), len(got)-3)
				}
				if len(v) < 1000 {
					in += len(v)
					out += len(comp) - len(prefix)
				}
			}
			t.Logf("%s: small values %d -> %d bytes (ratio %.2f)", mode, in, out, float64(in)/float64(out))
		})
	}
}

func TestDictionaryHelps(t *testing.T) {
	vals := samples(2000, 9)
	d, err := valuecomp.TrainDictionary(vals[:1500], 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := valuecomp.New(wire.CompressionZstd, nil)
	withDict, _ := valuecomp.New(wire.CompressionZstdDict, d)
	var p, w int
	for _, v := range vals[1500:] {
		p += len(plain.Compress(nil, v))
		w += len(withDict.Compress(nil, v))
	}
	if w >= p {
		t.Fatalf("dictionary did not help: %d bytes with, %d without", w, p)
	}
	// A decoder without the dictionary cannot read dictionary frames.
	if _, err := plain.Decompress(nil, withDict.Compress(nil, vals[1600])); err == nil {
		t.Fatalf("zstd without the dictionary decoded a dictionary frame")
	}
}

func TestCorruptAndOversized(t *testing.T) {
	for _, mode := range []wire.Compression{wire.CompressionGzip, wire.CompressionZstd} {
		c, err := valuecomp.New(mode, nil, valuecomp.MaxDecoded(1000))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range [][]byte{{0x1f, 0x8b, 1, 2, 3}, []byte("not compressed at all"), {0x28, 0xb5, 0x2f, 0xfd, 0xff}} {
			if _, err := c.Decompress(nil, bad); !errors.Is(err, valuecomp.ErrCorrupt) {
				t.Errorf("%s: Decompress(%x) = %v, want ErrCorrupt", mode, bad, err)
			}
		}
		// A value above MaxDecoded is refused (a bomb guard).
		comp := c.Compress(nil, make([]byte, 5000))
		if _, err := c.Decompress(nil, comp); !errors.Is(err, valuecomp.ErrCorrupt) {
			t.Errorf("%s: oversized value: err = %v, want ErrCorrupt", mode, err)
		}
		c.Close()
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		mode wire.Compression
		dict []byte
		opts []valuecomp.Option
	}{
		{wire.CompressionZstdDict, nil, nil},
		{wire.CompressionZstd, []byte("dict"), nil},
		{wire.CompressionGzip, nil, []valuecomp.Option{valuecomp.Level(12)}},
		{wire.CompressionZstd, nil, []valuecomp.Option{valuecomp.Level(9)}},
		{wire.CompressionNone, nil, []valuecomp.Option{valuecomp.MaxDecoded(0)}},
		{wire.Compression(42), nil, nil},
	} {
		if _, err := valuecomp.New(tc.mode, tc.dict, tc.opts...); err == nil {
			t.Errorf("New(%s, %q) accepted bad options", tc.mode, tc.dict)
		}
	}
	if _, err := valuecomp.TrainDictionary(nil, 0); err == nil {
		t.Error("TrainDictionary without samples succeeded")
	}
}

func TestConcurrentUse(t *testing.T) {
	vals := samples(400, 3)
	for _, mode := range []wire.Compression{wire.CompressionGzip, wire.CompressionZstd} {
		c, err := valuecomp.New(mode, nil)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; i < len(vals); i += 4 {
					got, err := c.Decompress(nil, c.Compress(nil, vals[i]))
					if err != nil || !bytes.Equal(got, vals[i]) {
						t.Errorf("%s: concurrent round trip failed: %v", mode, err)
						return
					}
				}
			}()
		}
		wg.Wait()
		c.Close()
	}
}

func BenchmarkCompress(b *testing.B) {
	vals := samples(3000, 5)
	d, err := valuecomp.TrainDictionary(vals[:2000], 8<<10)
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []wire.Compression{wire.CompressionGzip, wire.CompressionZstd, wire.CompressionZstdDict} {
		var dictionary []byte
		if mode == wire.CompressionZstdDict {
			dictionary = d
		}
		c, _ := valuecomp.New(mode, dictionary)
		b.Run(mode.String(), func(b *testing.B) {
			var buf []byte
			for i := 0; b.Loop(); i++ {
				buf = c.Compress(buf[:0], vals[2000+i%1000])
			}
		})
		c.Close()
	}
}
