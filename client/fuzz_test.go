package client

import (
	"bytes"
	"testing"

	"github.com/rialtodb/rialto/internal/avrox"
)

// FuzzDecodeBatch: a server's batch answer is untrusted input to the
// client. Arbitrary bytes never panic; an accepted answer fills exactly
// the asked positions with values that lie inside the answer.
func FuzzDecodeBatch(f *testing.F) {
	ok := avrox.AppendLong(nil, 3) // version
	ok = avrox.AppendLong(ok, 2)   // results
	ok = append(ok, 0)             // absent
	ok = append(ok, 1)             // found
	ok = avrox.AppendLong(ok, 1)   // schema id
	ok = avrox.AppendBytes(ok, []byte("value"))
	f.Add(ok, uint8(2))
	f.Add(ok[:len(ok)-2], uint8(2))
	f.Add([]byte{6, 0}, uint8(0))
	f.Fuzz(func(t *testing.T, b []byte, n uint8) {
		keep := bytes.Clone(b)
		idx := make([]int, n)
		for i := range idx {
			idx[i] = 2 * i // every other slot
		}
		out := make([]Value, 2*int(n)+1)
		err := decodeBatch("srv", b, 3, idx, out)
		if !bytes.Equal(b, keep) {
			t.Fatal("input modified")
		}
		if err != nil {
			return
		}
		for i, v := range out {
			if i%2 == 1 || i == len(out)-1 {
				if v.Found || v.Bytes != nil {
					t.Fatalf("slot %d not asked for was written", i)
				}
				continue
			}
			if v.Version != 3 {
				t.Fatalf("slot %d: version %d", i, v.Version)
			}
			if len(v.Bytes) > len(b) {
				t.Fatalf("slot %d: value longer than the answer", i)
			}
		}
	})
}
