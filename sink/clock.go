package sink

// Clock assigns deterministic logical timestamps to the records of one input
// partition (the rule is in the package documentation, "Logical
// timestamps"). It is not safe for concurrent use: one partition's records
// are stamped by one goroutine, in offset order.
type Clock struct {
	started bool
	next    int64            // the offset after the last one stamped
	wm      int64            // effective time of the last record (a watermark)
	maxT    int64            // the largest timestamp handed out
	last    map[string]int64 // key → timestamp of its latest record, for keys whose timestamp ≥ wm
}

// NewClock returns a clock for one partition.
func NewClock() *Clock { return &Clock{last: map[string]int64{}} }

// Stamp returns the logical timestamp (ms since the epoch) of the record at
// offset with record timestamp ts (ms; negative: none, counts as 0) and the
// given key, and whether offset is a clean restart point: consuming again
// from offset with a fresh clock assigns every later record the same
// timestamp this clock does.
//
// An offset not after the previous one (the partition was rewound, e.g.
// after a rebalance) resets the clock first.
func (c *Clock) Stamp(offset, ts int64, key []byte) (int64, bool) {
	if c.started && offset < c.next {
		c.Reset()
	}
	if ts < 0 {
		ts = 0
	}
	clean := !c.started || ts > c.maxT
	c.started = true
	c.next = offset + 1
	e := max(ts, c.wm)
	if e > c.wm && len(c.last) > 0 {
		// Keys whose latest timestamp is below the new watermark can no
		// longer clamp anything: every later record is stamped ≥ e.
		for k, t := range c.last {
			if t < e {
				delete(c.last, k)
			}
		}
	}
	c.wm = e
	t := e
	if prev, ok := c.last[string(key)]; ok && prev >= t {
		t = prev + 1
	}
	c.last[string(key)] = t
	c.maxT = max(c.maxT, t)
	return t, clean
}

// Reset forgets everything, as a fresh clock.
func (c *Clock) Reset() {
	c.started, c.next, c.wm, c.maxT = false, 0, 0, 0
	clear(c.last)
}
