package sink

import (
	"fmt"
	"math/rand"
	"testing"
	"time"
)

type rec struct {
	off, ts int64
	key     string
}

func randomPartition(rng *rand.Rand, n int) []rec {
	out := make([]rec, n)
	ts := int64(1_700_000_000_000)
	for i := range out {
		switch rng.Intn(10) {
		case 0:
			ts -= rng.Int63n(5) // CreateTime going backwards
		case 1, 2, 3:
			ts += rng.Int63n(3)
		}
		out[i] = rec{off: int64(i), ts: ts, key: fmt.Sprintf("k%d", rng.Intn(8))}
	}
	return out
}

// TestClockRestartAtCleanPoint: a fresh clock started at any clean point
// stamps every later record as the uninterrupted clock did.
func TestClockRestartAtCleanPoint(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for round := 0; round < 50; round++ {
		recs := randomPartition(rng, 400)
		c := NewClock()
		stamps := make([]int64, len(recs))
		clean := make([]bool, len(recs))
		lastByKey := map[string]int64{}
		var prev int64 = -1
		for i, r := range recs {
			stamps[i], clean[i] = c.Stamp(r.off, r.ts, []byte(r.key))
			if stamps[i] < r.ts {
				t.Fatalf("T %d below the record time %d", stamps[i], r.ts)
			}
			if l, ok := lastByKey[r.key]; ok && stamps[i] <= l {
				t.Fatalf("offset %d key %s: T %d not after the key's previous %d", r.off, r.key, stamps[i], l)
			}
			// The watermark never drops: T is at least every earlier
			// record time.
			if stamps[i] < prev {
				t.Fatalf("offset %d: T %d below an earlier record time %d", r.off, stamps[i], prev)
			}
			lastByKey[r.key] = stamps[i]
			prev = max(prev, r.ts)
		}
		if !clean[0] {
			t.Fatal("the first record is a clean point")
		}
		for start := range recs {
			if !clean[start] {
				continue
			}
			f := NewClock()
			for i := start; i < len(recs); i++ {
				got, _ := f.Stamp(recs[i].off, recs[i].ts, []byte(recs[i].key))
				if got != stamps[i] {
					t.Fatalf("restart at clean offset %d: offset %d got T %d, uninterrupted %d", start, i, got, stamps[i])
				}
			}
		}
	}
}

func TestClockSameMillisecond(t *testing.T) {
	c := NewClock()
	var got []int64
	for i, k := range []string{"a", "a", "b", "a", "b"} {
		ts, _ := c.Stamp(int64(i), 1000, []byte(k))
		got = append(got, ts)
	}
	want := []int64{1000, 1001, 1000, 1002, 1001}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// The next millisecond past every clamp is a clean point.
	if _, clean := c.Stamp(5, 1001, []byte("c")); clean {
		t.Fatal("1001 is not past the clamped 1002")
	}
	if ts, clean := c.Stamp(6, 1003, []byte("a")); !clean || ts != 1003 {
		t.Fatalf("got %d clean=%v, want 1003 clean", ts, clean)
	}
	// A rewind resets.
	if ts, clean := c.Stamp(2, 1000, []byte("b")); !clean || ts != 1000 {
		t.Fatalf("after rewind got %d clean=%v", ts, clean)
	}
}
