package storage

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzStoredRecords: the decoders of what this package stores (value
// records, RMD, checkpoints) never panic on bytes it did not write, answer
// ErrCorruptRecord for what they refuse, and re-encode what they accept
// to the same decoded form.
func FuzzStoredRecords(f *testing.F) {
	f.Add(appendRecord(nil, Record{SchemaID: 3, Flags: FlagRaw, Value: []byte("v")}))
	f.Add(appendRMD(nil, RMD{Version: 1, Data: []byte{1, 2, 3}}))
	ck := Checkpoint{Offset: 42, EndOfPush: true, Records: 7}
	ck.SetUpstream(1, 0, 99)
	if b, err := encodeCheckpoint(&ck); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		if r, err := parseRecord(b); err == nil {
			if !bytes.Equal(appendRecord(nil, r), b) {
				t.Fatalf("record %x re-encodes differently", b)
			}
		} else if !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("record: %v is not ErrCorruptRecord", err)
		}
		if r, err := parseRMD(b); err == nil {
			if !bytes.Equal(appendRMD(nil, r), b) {
				t.Fatalf("rmd %x re-encodes differently", b)
			}
		} else if !errors.Is(err, ErrCorruptRecord) {
			t.Fatalf("rmd: %v is not ErrCorruptRecord", err)
		}
		c, err := decodeCheckpoint(b)
		if err != nil {
			if !errors.Is(err, ErrCorruptRecord) {
				t.Fatalf("checkpoint: %v is not ErrCorruptRecord", err)
			}
			return
		}
		again, err := encodeCheckpoint(&c)
		if err != nil {
			t.Fatalf("decoded checkpoint does not encode: %v", err)
		}
		// Compared encoded: JSON does not keep nil apart from empty.
		c2, err := decodeCheckpoint(again)
		if err != nil {
			t.Fatalf("re-encoded checkpoint does not decode: %v", err)
		}
		if third, _ := encodeCheckpoint(&c2); !bytes.Equal(again, third) {
			t.Fatalf("checkpoint round trip: %s → %s", again, third)
		}
	})
}
