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
// acknowledged. The fast path is one compare-and-swap; a writer that does
// not fit waits on a channel that a release closes while someone waits.
type budget struct {
	maxBytes, maxRecs int64
	state             atomic.Uint64 // bytes<<budgetRecBits | records
	waiters           atomic.Int32

	mu     sync.Mutex
	wake   chan struct{} // closed and replaced when space frees
	closed bool
}

func newBudget(maxBytes, maxRecs int64) *budget {
	return &budget{maxBytes: maxBytes, maxRecs: maxRecs, wake: make(chan struct{})}
}

func pack(n, r int64) uint64 { return uint64(n)<<budgetRecBits | uint64(r) }

// used returns the bytes and records taken.
func (b *budget) used() (n, r int64) {
	s := b.state.Load()
	return int64(s >> budgetRecBits), int64(s & maxBudgetRecs)
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
	for {
		b.mu.Lock()
		wake, closed := b.wake, b.closed
		b.mu.Unlock()
		if closed {
			return ErrClosed
		}
		// The channel was taken (and waiters counted) before trying, so a
		// release between the try and the select closes it: no wake-up
		// is lost.
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

// release returns n bytes and r records taken by acquire.
func (b *budget) release(n, r int64) {
	if n == 0 && r == 0 {
		return
	}
	b.state.Add(-pack(n, r))
	if b.waiters.Load() > 0 {
		b.broadcast()
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
