package storage

// Arena holds copies of values read for one request in large chunks, so
// that a batch read allocates once per chunk instead of once per key, and
// a pooled Arena not at all. Not safe for concurrent use.
type Arena struct {
	chunks [][]byte // chunks[:cur+1] are in use; the last one has room
	cur    int
}

const (
	// arenaChunk is the size of an arena chunk (a value larger than it
	// gets a chunk of its own).
	arenaChunk = 64 << 10
	// arenaKeep bounds what Reset keeps for reuse, so one batch of huge
	// values does not pin its memory in a pool.
	arenaKeep = 1 << 20
)

// Copy returns a copy of b that lives in the arena until Reset.
func (a *Arena) Copy(b []byte) []byte {
	for a.cur < len(a.chunks) && cap(a.chunks[a.cur])-len(a.chunks[a.cur]) < len(b) {
		a.cur++
	}
	if a.cur == len(a.chunks) {
		a.chunks = append(a.chunks, make([]byte, 0, max(arenaChunk, len(b))))
	}
	c := a.chunks[a.cur]
	start := len(c)
	c = append(c, b...)
	a.chunks[a.cur] = c
	return c[start:len(c):len(c)]
}

// Reset forgets every copy (the slices Copy returned must no longer be
// used) and keeps up to arenaKeep bytes of chunks for reuse.
func (a *Arena) Reset() {
	kept, size := a.chunks[:0], 0
	for _, c := range a.chunks {
		if size+cap(c) > arenaKeep {
			break
		}
		size += cap(c)
		kept = append(kept, c[:0])
	}
	clear(a.chunks[len(kept):])
	a.chunks, a.cur = kept, 0
}
