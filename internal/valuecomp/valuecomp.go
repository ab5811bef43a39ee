// Package valuecomp compresses and decompresses the put values of a version
// topic: none, gzip, zstd, or zstd with a dictionary that travels in the
// version's start-of-push (wire.StartOfPush.Dictionary).
//
// # Guarantees
//
//  1. A Codec is safe for concurrent use; encoders and decoders are reused
//     (zstd's own pools, a sync.Pool for gzip), never built per record.
//  2. Decompress(Compress(v)) == v for every mode, and an empty value
//     round-trips as empty.
//  3. Decompress never returns more than the codec's maximum decoded size
//     (DefaultMaxDecoded unless MaxDecoded says otherwise); a larger or
//     corrupt input returns an error wrapping ErrCorrupt, never a panic.
//  4. CompressionNone is the identity: Compress and Decompress append src
//     to dst unchanged.
//
// # Cost
//
// Measured on the project's 2-core machine (see LIMITS.md): zstd without a
// dictionary costs 1.3–3.5 µs per ~500-B value for a ratio of ~1.0–1.1;
// with a dictionary 14–20 µs to compress at the default level (a fixed
// per-call cost of loading the dictionary; ~7.5 µs at level 1, this
// package's default with a dictionary) and 1–3.5 µs to decompress, ratio
// 1.4–2.6. That is
// affordable in a push job, which compresses in parallel; it is not for a
// leader applying real-time writes, which is why RT topics stay
// uncompressed.
package valuecomp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/dict"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/rialtodb/rialto/internal/wire"
)

// DefaultMaxDecoded is the largest value Decompress returns unless
// MaxDecoded overrides it: 256 MiB, well above the 50 MiB values the writer
// is required to carry.
const DefaultMaxDecoded = 256 << 20

// ErrCorrupt is wrapped by every error Decompress returns for bad input.
var ErrCorrupt = errors.New("valuecomp: corrupt compressed value")

// Option configures a Codec.
type Option func(*options)

type options struct {
	maxDecoded int
	level      int
}

// MaxDecoded bounds the size of a decompressed value (default
// DefaultMaxDecoded), so a hostile record cannot make a consumer allocate
// without limit.
func MaxDecoded(n int) Option { return func(o *options) { o.maxDecoded = n } }

// Level sets the compression level: for gzip 1–9 (default 6, gzip's
// default), for zstd 1 fastest, 2 default, 3 better, 4 best (klauspost's
// EncoderLevel). The zstd default is 2, but 1 with a dictionary: measured
// on ~100-byte JSON-like records with an 8 KiB dictionary, level 1 costs
// 7.5 µs a record for a ratio of 1.85 where level 2 costs 24.5 µs for
// 1.94 (the per-call cost of loading the dictionary grows with the
// level's tables). 0 keeps the default.
func Level(l int) Option { return func(o *options) { o.level = l } }

// Codec compresses and decompresses values in one mode.
type Codec struct {
	mode       wire.Compression
	maxDecoded int
	level      int

	zenc *zstd.Encoder
	zdec *zstd.Decoder

	gzw sync.Pool // *gzip.Writer
	gzr sync.Pool // *gzip.Reader
}

// New returns a codec for mode. dictionary is required for
// wire.CompressionZstdDict (a zstd dictionary as TrainDictionary returns it)
// and must be empty for the other modes.
func New(mode wire.Compression, dictionary []byte, opts ...Option) (*Codec, error) {
	o := options{maxDecoded: DefaultMaxDecoded}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxDecoded <= 0 {
		return nil, fmt.Errorf("valuecomp: MaxDecoded(%d) must be positive", o.maxDecoded)
	}
	c := &Codec{mode: mode, maxDecoded: o.maxDecoded, level: o.level}
	if mode != wire.CompressionZstdDict && len(dictionary) > 0 {
		return nil, fmt.Errorf("valuecomp: a dictionary given for compression %s", mode)
	}
	switch mode {
	case wire.CompressionNone:
	case wire.CompressionGzip:
		if c.level == 0 {
			c.level = 6 // gzip.DefaultCompression is -1; 6 is what it means
		}
		if c.level < gzip.BestSpeed || c.level > gzip.BestCompression {
			return nil, fmt.Errorf("valuecomp: gzip level %d out of range 1..9", c.level)
		}
	case wire.CompressionZstd, wire.CompressionZstdDict:
		if c.level == 0 {
			c.level = int(zstd.SpeedDefault)
			if mode == wire.CompressionZstdDict {
				c.level = int(zstd.SpeedFastest)
			}
		}
		if c.level < int(zstd.SpeedFastest) || c.level > int(zstd.SpeedBestCompression) {
			return nil, fmt.Errorf("valuecomp: zstd level %d out of range 1..4", c.level)
		}
		eopts := []zstd.EOption{
			zstd.WithEncoderLevel(zstd.EncoderLevel(c.level)),
			zstd.WithEncoderConcurrency(0), // one encoder per core, reused
			zstd.WithZeroFrames(true),
		}
		dopts := []zstd.DOption{
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(uint64(o.maxDecoded)),
		}
		if mode == wire.CompressionZstdDict {
			if len(dictionary) == 0 {
				return nil, errors.New("valuecomp: compression zstd-dict needs a dictionary")
			}
			eopts = append(eopts, zstd.WithEncoderDict(dictionary))
			dopts = append(dopts, zstd.WithDecoderDicts(dictionary))
		}
		var err error
		if c.zenc, err = zstd.NewWriter(nil, eopts...); err != nil {
			return nil, fmt.Errorf("valuecomp: zstd encoder: %w", err)
		}
		if c.zdec, err = zstd.NewReader(nil, dopts...); err != nil {
			c.zenc.Close()
			return nil, fmt.Errorf("valuecomp: zstd decoder: %w", err)
		}
	default:
		return nil, fmt.Errorf("valuecomp: unknown compression %s", mode)
	}
	return c, nil
}

// Mode is the codec's compression.
func (c *Codec) Mode() wire.Compression { return c.mode }

// Compress appends the compressed form of src to dst.
func (c *Codec) Compress(dst, src []byte) []byte {
	switch c.mode {
	case wire.CompressionGzip:
		buf := bytes.NewBuffer(dst)
		zw, _ := c.gzw.Get().(*gzip.Writer)
		if zw == nil {
			// The level was validated in New.
			zw, _ = gzip.NewWriterLevel(buf, c.level)
		} else {
			zw.Reset(buf)
		}
		// Writes into a bytes.Buffer cannot fail.
		_, _ = zw.Write(src)
		_ = zw.Close()
		c.gzw.Put(zw)
		return buf.Bytes()
	case wire.CompressionZstd, wire.CompressionZstdDict:
		return c.zenc.EncodeAll(src, dst)
	}
	return append(dst, src...)
}

// Decompress appends the decompressed form of src to dst.
func (c *Codec) Decompress(dst, src []byte) ([]byte, error) {
	switch c.mode {
	case wire.CompressionGzip:
		zr, _ := c.gzr.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(bytes.NewReader(src))
		} else {
			err = zr.Reset(bytes.NewReader(src))
		}
		if err != nil {
			return dst, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
		defer c.gzr.Put(zr)
		buf := bytes.NewBuffer(dst)
		n, err := io.Copy(buf, io.LimitReader(zr, int64(c.maxDecoded)+1))
		if err != nil {
			return dst, fmt.Errorf("%w: gzip: %w", ErrCorrupt, err)
		}
		if n > int64(c.maxDecoded) {
			return dst, fmt.Errorf("%w: gzip value larger than %d bytes", ErrCorrupt, c.maxDecoded)
		}
		return buf.Bytes(), nil
	case wire.CompressionZstd, wire.CompressionZstdDict:
		out, err := c.zdec.DecodeAll(src, dst)
		if err != nil {
			return dst, fmt.Errorf("%w: zstd: %w", ErrCorrupt, err)
		}
		return out, nil
	}
	return append(dst, src...), nil
}

// Close releases the codec's encoders and decoders. The codec must not be
// used afterwards.
func (c *Codec) Close() {
	if c.zenc != nil {
		c.zenc.Close()
	}
	if c.zdec != nil {
		c.zdec.Close()
	}
}

// DefaultDictionarySize is the dictionary size TrainDictionary aims for
// when size is 0: 32 KiB, the size LIMITS.md measured.
const DefaultDictionarySize = 32 << 10

// TrainDictionary builds a zstd dictionary of about size bytes (0 means
// DefaultDictionarySize) from sample values. Training is slow (~27 s for
// 10 000 samples and 32 KiB on the project machine): run it once per push
// on a sample of the values, never per record.
func TrainDictionary(samples [][]byte, size int) ([]byte, error) {
	if size == 0 {
		size = DefaultDictionarySize
	}
	if size < 256 {
		return nil, fmt.Errorf("valuecomp: dictionary size %d too small (want at least 256)", size)
	}
	if len(samples) == 0 {
		return nil, errors.New("valuecomp: no samples to train a dictionary on")
	}
	d, err := dict.BuildZstdDict(samples, dict.Options{
		MaxDictSize: size,
		HashBytes:   6,
		ZstdLevel:   zstd.SpeedDefault,
	})
	if err != nil {
		return nil, fmt.Errorf("valuecomp: train dictionary: %w", err)
	}
	return d, nil
}
