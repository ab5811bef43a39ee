package conflict_test

import (
	"bytes"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/rialtodb/rialto/conflict"
)

// TestConcurrentUse resolves from several goroutines through one Resolver
// (shared schema cache and scratch pool, some calls with a reused dst) and
// checks every result against the same call made alone.
func TestConcurrentUse(t *testing.T) {
	sc := newScenario(t, 42)
	type call struct {
		st  conflict.State
		op  conflict.Op
		res conflict.Result
	}
	// Record the states met along one delivery, with their results.
	var calls []call
	st := sc.initial
	r := rand.New(rand.NewPCG(1, 2))
	for k := 0; k < 4; k++ {
		for reg := range sc.regions {
			for _, op := range sc.regions[reg] {
				res, err := sc.res.Resolve(st, op)
				if err != nil {
					t.Fatal(err)
				}
				calls = append(calls, call{st, op, res})
				if res.Applied && r.IntN(2) == 0 {
					st = conflict.State{Value: res.Value, Tombstone: res.Tombstone, SchemaID: res.SchemaID, RMD: res.RMD}
				}
			}
		}
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dst := make([]byte, 0, 4096)
			for n := 0; n < 200; n++ {
				for _, c := range calls {
					res, err := sc.res.ResolveAppend(dst[:0], c.st, c.op)
					if err != nil || res.Applied != c.res.Applied || res.Tombstone != c.res.Tombstone ||
						!bytes.Equal(res.Value, c.res.Value) || !bytes.Equal(res.RMD, c.res.RMD) {
						t.Errorf("concurrent result differs (err %v)", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
}
