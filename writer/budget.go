package writer

import (
	"context"
	"sync"
	"sync/atomic"
)

// Bytes and records live in one word so that taking both is one
// compare-and-swap, with no transient over-count another writer could see.
const (
	budgetRecBits = 24
	maxBudgetRecs = 1<<budgetRecBits - 1
	maxBudgetByte = 1<<(63-budgetRecBits) - 1
)

// budget bounds the bytes and records handed to Kafka and not yet
// acknowledged. Taking is one compare-and-swap on state. Giving back goes
// through a tally on the delivery side that is published to state once
// it reaches 1/64 of the bound, or at once while a writer waits: the
// producing goroutine and franz-go's delivery goroutine run on different
// cores, and trading state's cache line for every record cost more than
// the rest of the bookkeeping. A writer that does not fit waits on a
// channel that a release closes once use has dropped to the low-water
// mark.
type budget struct {
	maxBytes, maxRecs     int64
	batchBytes, batchRecs int64

	_       [64]byte
	state   atomic.Uint64 // bytes<<budgetRecBits | records, taken and not yet published back
	_       [56]byte
	waiters atomic.Int32 // read by every release, written only by waiters
	_       [60]byte

	relMu             sync.Mutex // guards the delivery side's tally and counters
	relBytes, relRecs int64
	counts            [numCounters]int64
	_                 [48]byte

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced when space frees
	closed bool
}

func newBudget(maxBytes, maxRecs int64) *budget {
	return &budget{
		maxBytes: maxBytes, maxRecs: maxRecs,
		batchBytes: max(1, maxBytes/64), batchRecs: max(1, maxRecs/64),
		wake: make(chan struct{}),
	}
}

func pack(n, r int64) uint64 { return uint64(n)<<budgetRecBits | uint64(r) }

// used returns the bytes and records taken and not given back.
func (b *budget) used() (n, r int64) {
	b.relMu.Lock()
	defer b.relMu.Unlock()
	s := b.state.Load()
	return int64(s>>budgetRecBits) - b.relBytes, int64(s&maxBudgetRecs) - b.relRecs
}

// tryAcquire takes n bytes and r records if they fit, or if nothing is
// taken (so that one write larger than the bound still goes through).
func (b *budget) tryAcquire(n, r int64) bool {
	for {
		s := b.state.Load()
		ob, or := int64(s>>budgetRecBits), int64(s&maxBudgetRecs)
		if s != 0 && (ob+n > b.maxBytes || or+r > b.maxRecs) {
			return false
		}
		if ob+n > maxBudgetByte || or+r > maxBudgetRecs {
			return false // cannot happen with validated limits; never overflow the word
		}
		if b.state.CompareAndSwap(s, pack(ob+n, or+r)) {
			return true
		}
	}
}

// acquire waits until n bytes and r records fit. It fails with ctx's error
// or ErrClosed.
func (b *budget) acquire(ctx context.Context, n, r int64) error {
	if b.tryAcquire(n, r) {
		return nil
	}
	b.waiters.Add(1)
	defer b.waiters.Add(-1)
	// From here every release publishes at once; publish what the
	// delivery side has tallied so far.
	b.publish(0, 0)
	for {
		b.mu.Lock()
		wake, closed := b.wake, b.closed
		b.mu.Unlock()
		if closed {
			return ErrClosed
		}
		// The channel was taken (and waiters counted) before trying, so a
		// release between the try and the select closes it if it brings
		// use to the low-water mark; if it does not, use is above it and
		// later releases (of what is in flight) will: no wake-up is lost.
		if b.tryAcquire(n, r) {
			return nil
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// counter names a delivery statistic kept beside the tally (one lock for
// both instead of an atomic add per statistic per record).
type counter int

const (
	cNone    counter = iota
	cRecords         // acknowledged records
	cBytes           // their key plus value bytes
	cPuts
	cDeletes
	cUpdates
	cChunks
	cErrors
	numCounters
)

// count reads a statistic.
func (b *budget) count(c counter) int64 {
	b.relMu.Lock()
	defer b.relMu.Unlock()
	return b.counts[c]
}

// release gives back n bytes and r records taken by acquire.
func (b *budget) release(n, r int64) { b.deliver(n, r, cNone, 0, false) }

// deliver gives back n bytes and r records for a record that Kafka
// acknowledged (ok) or failed, counting it under c with its size.
func (b *budget) deliver(n, r int64, c counter, size int64, ok bool) {
	b.relMu.Lock()
	if c != cNone {
		b.counts[c]++
	}
	if ok {
		b.counts[cRecords]++
		b.counts[cBytes] += size
	}
	b.relBytes += n
	b.relRecs += r
	if b.relBytes < b.batchBytes && b.relRecs < b.batchRecs && b.waiters.Load() == 0 {
		b.relMu.Unlock()
		return
	}
	b.publishLocked()
}

// publish moves the delivery side's tally (plus n bytes and r records)
// into state.
func (b *budget) publish(n, r int64) {
	b.relMu.Lock()
	b.relBytes += n
	b.relRecs += r
	b.publishLocked()
}

// publishLocked publishes the tally, unlocks relMu, and wakes waiters if
// use is down to three quarters of the bound (or zero). Waking a blocked
// writer for every acknowledged record made it spin between one-record
// slots: an allocation and two context switches per record.
func (b *budget) publishLocked() {
	n, r := b.relBytes, b.relRecs
	b.relBytes, b.relRecs = 0, 0
	var s uint64
	if n != 0 || r != 0 {
		s = b.state.Add(-pack(n, r))
	} else {
		s = b.state.Load()
	}
	b.relMu.Unlock()
	if b.waiters.Load() > 0 {
		ub, ur := int64(s>>budgetRecBits), int64(s&maxBudgetRecs)
		if s == 0 || (ub <= b.maxBytes-b.maxBytes/4 && ur <= b.maxRecs-b.maxRecs/4) {
			b.broadcast()
		}
	}
}

func (b *budget) broadcast() {
	b.mu.Lock()
	close(b.wake)
	b.wake = make(chan struct{})
	b.mu.Unlock()
}

// close fails every current and future waiter with ErrClosed.
func (b *budget) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.broadcast()
}
