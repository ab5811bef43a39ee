package wire

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

// FuzzDecode: Decode never panics, rejects what it cannot read with
// ErrMalformed, and whatever it accepts re-encodes to a stable form.
func FuzzDecode(f *testing.F) {
	for _, e := range sampleEnvelopes() {
		f.Add(AppendValue(nil, e))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			return
		}
		once := AppendValue(nil, e)
		e2, err := Decode(once)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if twice := AppendValue(nil, e2); !bytes.Equal(once, twice) {
			t.Fatalf("encoding is not stable")
		}
		if e.Type != e2.Type || e.Producer != e2.Producer || !reflect.DeepEqual(e.Leader, e2.Leader) {
			t.Fatalf("re-decoded envelope differs")
		}
	})
}

// FuzzParseKey: ParseKey never panics and round-trips what it accepts.
func FuzzParseKey(f *testing.F) {
	f.Add(AppendDataKey(nil, []byte("k")))
	f.Add(AppendControlKey(nil, testGUID, 1, 2))
	f.Add(AppendChunkKey(nil, testGUID, 1, 2, 3, []byte("k")))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			return
		}
		var again []byte
		switch k.Kind {
		case KeyData:
			again = AppendDataKey(nil, k.Key)
		case KeyUpdate:
			again = AppendUpdateKey(nil, k.Key)
		case KeyControl:
			again = AppendControlKey(nil, k.GUID, k.Segment, k.Sequence)
		case KeyChunk:
			again = AppendChunkKey(nil, k.GUID, k.Segment, k.Sequence, k.ChunkIndex, k.Key)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("key %x re-encodes as %x", b, again)
		}
	})
}
