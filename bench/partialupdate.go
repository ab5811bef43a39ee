package main

// Issue 3: applying a partial update to the 10-field ~800-byte record
// (128-float embedding, map, list, scalars) against the naive hamba generic
// decode → modify → encode of the same change, measured in the same run.

import (
	"context"
	"fmt"
	"slices"

	"github.com/rialtodb/rialto/partialupdate"
	"github.com/rialtodb/rialto/partialupdate/putest"
)

func init() {
	Register(Case{Name: "partialupdate", Issue: 3, Run: runPartialUpdate})
}

func runPartialUpdate(ctx context.Context, cfg Config) ([]Row, error) {
	rec := putest.Record()
	s := putest.Schema()
	rounds := 3
	if cfg.Quick {
		rounds = 1
	}
	var rows []Row
	for _, c := range putest.Changes() {
		ub, err := c.Update.Encode()
		if err != nil {
			return nil, err
		}
		dst := make([]byte, 0, 2048)
		apply := func() error {
			var err error
			dst, err = partialupdate.Apply(dst[:0], c.Update, rec)
			return err
		}
		decodeApply := func() error {
			u, err := partialupdate.Decode(s, ub)
			if err != nil {
				return err
			}
			dst, err = partialupdate.Apply(dst[:0], u, rec)
			return err
		}
		naive := func() error {
			_, err := putest.Naive(c, rec)
			return err
		}
		// Interleave the three measurements and keep the medians, so a
		// noisy neighbour hurts all of them alike.
		var a, d, n []float64
		for i := 0; i < rounds; i++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for _, m := range []struct {
				fn  func() error
				out *[]float64
			}{{apply, &a}, {decodeApply, &d}, {naive, &n}} {
				v, err := nsPerOp(cfg, 3000, m.fn)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", c.Name, err)
				}
				*m.out = append(*m.out, v)
			}
		}
		base := median(n)
		goal := 5.0
		if c.Touched > 3 {
			goal = 1.0 // no goal set for touching every field; it must not be slower
		}
		for _, r := range []struct {
			what string
			v    float64
		}{{"apply", median(a)}, {"decode update + apply", median(d)}} {
			rows = append(rows, AtLeast(Row{
				Figure:    fmt.Sprintf("%s, %s (%d-B record)", r.what, c.Name, len(rec)),
				Value:     r.v,
				Unit:      "ns/op",
				Baseline:  "hamba generic decode→modify→encode",
				BaseValue: base,
				Ratio:     base / r.v,
			}, goal))
		}
	}
	return rows, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
