package writer_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/valuecomp"
	"github.com/rialtodb/rialto/internal/wire"
	"github.com/rialtodb/rialto/writer"
)

func randomBytes(n int, seed uint64) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, seed))
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// readValues decodes a partition's records the way a consumer must: keep
// chunks, rebuild a chunked put from its manifest, decompress per the
// start-of-push. It returns the put values by user key.
func readValues(t *testing.T, recs []*kgo.Record) map[string][]byte {
	t.Helper()
	chunks := chunkStore{}
	var codec *valuecomp.Codec
	out := map[string][]byte{}
	for _, r := range recs {
		e := decode(t, r)
		switch {
		case e.Type == wire.TypeChunk:
			chunks[string(r.Key)] = wire.Chunk{Index: e.Chunk.Index, Data: e.Chunk.Data}
		case e.Type == wire.TypeControl && e.Control.Type == wire.ControlStartOfPush:
			sop := e.Control.StartOfPush
			c, err := valuecomp.New(sop.Compression, sop.Dictionary)
			if err != nil {
				t.Fatalf("start-of-push %+v: %v", sop, err)
			}
			t.Cleanup(c.Close)
			codec = c
		case e.Type == wire.TypePut:
			v := e.Put.Value
			if m := e.Put.Chunks; m != nil {
				var err error
				if v, err = wire.Reassemble(nil, m, chunks.lookup); err != nil {
					t.Fatalf("reassemble at offset %d: %v", r.Offset, err)
				}
				for _, k := range m.ChunkKeys {
					delete(chunks, string(k))
				}
			}
			if codec != nil {
				var err error
				if v, err = codec.Decompress(nil, v); err != nil {
					t.Fatalf("decompress at offset %d: %v", r.Offset, err)
				}
			}
			out[string(r.Key[1:])] = v
		}
	}
	if len(chunks) != 0 {
		t.Fatalf("%d chunks without a manifest", len(chunks))
	}
	return out
}

// TestLargeValuesChunk: 5 MiB and 50 MiB values are written as chunks plus
// a manifest in the key's partition and come back byte for byte.
func TestLargeValuesChunk(t *testing.T) {
	env := kafkatest.New(t)
	topic := env.Topic(t, 2, nil)
	w := newWriter(t, env, topic)
	ctx := ctxT(t, 2*time.Minute)
	values := map[string][]byte{
		"five":  randomBytes(5<<20, 5),
		"fifty": randomBytes(50<<20, 50),
		"small": []byte("not chunked"),
		"edge":  randomBytes(writer.DefaultChunkThreshold, 1), // exactly the threshold: one record
	}
	results := map[string]writer.Result{}
	for k, v := range values {
		r, err := w.PutBytes(ctx, []byte(k), 1, v)
		if err != nil {
			t.Fatalf("put %s (%d bytes): %v", k, len(v), err)
		}
		results[k] = r
	}
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := w.Stats()
	if want := int64(6 + 57); st.Chunks != want || st.Puts != 4 {
		t.Fatalf("stats %+v, want %d chunks", st, want)
	}
	recs := consumeAll(t, env, topic)
	got := map[string][]byte{}
	for p, rs := range recs {
		for k, v := range readValues(t, rs) {
			if want := wire.Partition([]byte(k), 2); want != p {
				t.Fatalf("%s in partition %d, want %d", k, p, want)
			}
			got[k] = v
		}
		for _, r := range rs {
			if len(r.Key)+len(r.Value) > writer.DefaultMaxRecordBytes {
				t.Fatalf("record of %d bytes", len(r.Key)+len(r.Value))
			}
		}
	}
	for k, v := range values {
		if !bytes.Equal(got[k], v) {
			t.Fatalf("%s: got %d bytes back, want %d", k, len(got[k]), len(v))
		}
		// The result is the manifest's position.
		r := results[k]
		rs := recs[r.Partition]
		idx := int(r.Offset - rs[0].Offset)
		if e := decode(t, rs[idx]); e.Type != wire.TypePut || string(rs[idx].Key[1:]) != k {
			t.Fatalf("%s: result %+v points at a %s", k, r, e.Type)
		}
	}
	if v := validate(t, recs); v.faults() != 0 {
		t.Fatalf("validator: %v %v", v.verdicts, v.reasons)
	}
}

// TestCompressionModes: every mode round-trips through a version topic,
// the reader learning the mode (and the dictionary) from start-of-push.
func TestCompressionModes(t *testing.T) {
	env := kafkatest.New(t)
	var samples [][]byte
	for i := range 1200 {
		samples = append(samples, fmt.Appendf(nil, `{"member":%d,"city":"city-%d","score":%d,"tags":["a","b","c"]}`, i*7919, i%17, i%1000))
	}
	dict, err := valuecomp.TrainDictionary(samples[:1000], 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []wire.Compression{wire.CompressionNone, wire.CompressionGzip, wire.CompressionZstd, wire.CompressionZstdDict} {
		t.Run(mode.String(), func(t *testing.T) {
			topic := env.Topic(t, 2, nil)
			var d []byte
			if mode == wire.CompressionZstdDict {
				d = dict
			}
			w := newWriter(t, env, topic, writer.Kind(writer.KindVersion), writer.Compression(mode, d))
			ctx := ctxT(t, time.Minute)
			if err := w.StartOfPush(ctx, false); err != nil {
				t.Fatal(err)
			}
			want := map[string][]byte{"big-random": randomBytes(3<<20, 3), "big-text": bytes.Repeat([]byte("rialto "), 1<<20)}
			for i, s := range samples[1000:] {
				want[fmt.Sprintf("k%d", i)] = s
			}
			for k, v := range want {
				if err := w.PutBytesAsync(ctx, []byte(k), 1, v, func(_ writer.Result, err error) {
					if err != nil {
						t.Errorf("put %s: %v", k, err)
					}
				}); err != nil {
					t.Fatal(err)
				}
			}
			if err := w.EndOfPush(ctx); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctx); err != nil {
				t.Fatal(err)
			}
			recs := consumeAll(t, env, topic)
			got := map[string][]byte{}
			var stored int
			for _, rs := range recs {
				if e := decode(t, rs[1]); e.Type != wire.TypeControl || e.Control.Type != wire.ControlStartOfPush ||
					e.Control.StartOfPush.Compression != mode || !bytes.Equal(e.Control.StartOfPush.Dictionary, d) || !e.Control.StartOfPush.Chunked {
					t.Fatalf("second record is not the start-of-push announcing %s: %+v", mode, e.Control)
				}
				for k, v := range readValues(t, rs) {
					got[k] = v
				}
				for _, r := range rs {
					if e := decode(t, r); e.Type == wire.TypePut && len(r.Key) < 6 {
						stored += len(e.Put.Value)
					}
				}
			}
			for k, v := range want {
				if !bytes.Equal(got[k], v) {
					t.Fatalf("%s: %d bytes back, want %d", k, len(got[k]), len(v))
				}
			}
			t.Logf("%s: 200 small values stored in %d bytes", mode, stored)
			if v := validate(t, recs); v.faults() != 0 {
				t.Fatalf("validator: %v %v", v.verdicts, v.reasons)
			}
		})
	}
}
