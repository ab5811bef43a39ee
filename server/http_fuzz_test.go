package server

import (
	"bytes"
	"testing"

	"github.com/rialtodb/rialto/internal/avrox"
)

// FuzzParseKeysBody: the binary batch request is untrusted input. Nothing
// panics; what is accepted is within the key limit and reads the same
// again once re-encoded (varints may arrive in a longer form than ours).
func FuzzParseKeysBody(f *testing.F) {
	ok := avrox.AppendLong(nil, 3)
	ok = avrox.AppendLong(ok, 2)
	ok = avrox.AppendBytes(ok, []byte("a"))
	ok = avrox.AppendBytes(ok, nil)
	f.Add(ok)
	f.Add([]byte{0, 0})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		version, keys, herr := parseKeysBody(b, 100)
		if herr != nil {
			return
		}
		if len(keys) > 100 {
			t.Fatalf("%d keys over the limit", len(keys))
		}
		again := avrox.AppendLong(nil, version)
		again = avrox.AppendLong(again, int64(len(keys)))
		for _, k := range keys {
			again = avrox.AppendBytes(again, k)
		}
		v2, keys2, herr := parseKeysBody(again, 100)
		if herr != nil || v2 != version || len(keys2) != len(keys) {
			t.Fatalf("accepted %x; its re-encoding %x reads differently (%v)", b, again, herr)
		}
		for i := range keys {
			if !bytes.Equal(keys[i], keys2[i]) {
				t.Fatalf("key %d differs after re-encoding", i)
			}
		}
	})
}
