package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestReassemble(t *testing.T) {
	var g GUID
	g[0] = 7
	key := []byte("user-1")
	value := bytes.Repeat([]byte("0123456789"), 100) // 1000 bytes
	store := map[string]Chunk{}
	m := &ChunkManifest{Size: int64(len(value))}
	for i := 0; i*300 < len(value); i++ {
		k := AppendChunkKey(nil, g, 3, int32(10+i), int32(i), key)
		store[string(k)] = Chunk{Index: int32(i), Data: value[i*300 : min((i+1)*300, len(value))]}
		m.ChunkKeys = append(m.ChunkKeys, k)
	}
	lookup := func(k []byte) (Chunk, bool, error) { c, ok := store[string(k)]; return c, ok, nil }
	got, err := Reassemble([]byte("pre"), m, lookup)
	if err != nil || !bytes.Equal(got, append([]byte("pre"), value...)) {
		t.Fatalf("Reassemble: %d bytes, %v", len(got), err)
	}

	bad := func(name string, m *ChunkManifest, lookup ChunkLookup) {
		t.Helper()
		got, err := Reassemble([]byte("pre"), m, lookup)
		if !errors.Is(err, ErrChunk) || string(got) != "pre" {
			t.Errorf("%s: %q, %v; want ErrChunk and dst unchanged", name, got, err)
		}
		t.Logf("%s: %v", name, err)
	}
	bad("nil manifest", nil, lookup)
	bad("size too small", &ChunkManifest{ChunkKeys: m.ChunkKeys, Size: 999}, lookup)
	bad("size too large", &ChunkManifest{ChunkKeys: m.ChunkKeys, Size: 1001}, lookup)
	bad("missing chunk", &ChunkManifest{ChunkKeys: m.ChunkKeys, Size: 1000}, func(k []byte) (Chunk, bool, error) {
		if bytes.Equal(k, m.ChunkKeys[2]) {
			return Chunk{}, false, nil
		}
		return lookup(k)
	})
	bad("swapped chunks", &ChunkManifest{ChunkKeys: [][]byte{m.ChunkKeys[1], m.ChunkKeys[0], m.ChunkKeys[2], m.ChunkKeys[3]}, Size: 1000}, lookup)
	bad("data key in manifest", &ChunkManifest{ChunkKeys: [][]byte{AppendDataKey(nil, key)}, Size: 1000}, lookup)
	bad("chunk with wrong index", &ChunkManifest{ChunkKeys: m.ChunkKeys, Size: 1000}, func(k []byte) (Chunk, bool, error) {
		c, ok, err := lookup(k)
		c.Index = 5
		return c, ok, err
	})
	bad("lookup error", &ChunkManifest{ChunkKeys: m.ChunkKeys, Size: 1000}, func([]byte) (Chunk, bool, error) {
		return Chunk{}, false, errors.New("disk on fire")
	})
}
