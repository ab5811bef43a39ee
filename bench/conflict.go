package main

// Issue 4: resolving an UPDATE that touches 2 of the 10 fields of the
// partial-update benchmark record (a scalar set and a list add) against
// field-level RMD, beside partialupdate's plain Apply of the same update
// (no RMD) measured in the same run. Goal: resolve ≤ 2× apply.

import (
	"context"
	"fmt"
	"slices"

	"github.com/rialtodb/rialto/conflict/conflictbench"
)

func init() {
	Register(Case{Name: "conflict", Issue: 4, Run: runConflict})
}

func runConflict(ctx context.Context, cfg Config) ([]Row, error) {
	f, err := conflictbench.New()
	if err != nil {
		return nil, err
	}
	rounds := 5
	if cfg.Quick {
		rounds = 3
	}
	// Interleave the measurements and keep the medians, so that a noisy
	// neighbour hurts both alike.
	var res, app []float64
	for i := 0; i < rounds; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r, err := nsPerOp(cfg, 20000, f.Resolve)
		if err != nil {
			return nil, fmt.Errorf("resolve: %w", err)
		}
		a, err := nsPerOp(cfg, 20000, f.Apply)
		if err != nil {
			return nil, fmt.Errorf("apply: %w", err)
		}
		res, app = append(res, r), append(app, a)
	}
	mid := func(xs []float64) float64 {
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	r, a := mid(res), mid(app)
	return []Row{AtMost(Row{
		Figure:    fmt.Sprintf("resolve UPDATE, 2 of 10 fields, field-level RMD (%d-B record)", len(f.State.Value)),
		Value:     r,
		Unit:      "ns/op",
		Baseline:  "partialupdate.Apply of the same update, no RMD",
		BaseValue: a,
		Ratio:     r / a,
	}, 2)}, nil
}
