package valuecomp_test

import (
	"errors"
	"testing"

	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
)

// FuzzDecompress: Decompress never panics and never returns more than
// MaxDecoded; bad input is an ErrCorrupt.
func FuzzDecompress(f *testing.F) {
	const limit = 1 << 16
	codecs := map[wire.Compression]*valuecomp.Codec{}
	for _, m := range []wire.Compression{wire.CompressionGzip, wire.CompressionZstd} {
		c, err := valuecomp.New(m, nil, valuecomp.MaxDecoded(limit))
		if err != nil {
			f.Fatal(err)
		}
		codecs[m] = c
		f.Add(byte(m), c.Compress(nil, []byte("a rialto value, compressed")))
		f.Add(byte(m), c.Compress(nil, make([]byte, 2*limit)))
	}
	f.Add(byte(wire.CompressionGzip), []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff})
	f.Add(byte(wire.CompressionZstd), []byte{0x28, 0xb5, 0x2f, 0xfd, 0, 0x58})
	f.Fuzz(func(t *testing.T, mode byte, in []byte) {
		c := codecs[wire.CompressionGzip]
		if mode%2 == 0 {
			c = codecs[wire.CompressionZstd]
		}
		out, err := c.Decompress(nil, in)
		if err != nil {
			if !errors.Is(err, valuecomp.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if len(out) > limit {
			t.Fatalf("decompressed %d bytes, above MaxDecoded %d", len(out), limit)
		}
	})
}
