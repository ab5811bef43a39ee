// Command bench runs every Rialto benchmark beside its baseline in one run and
// rewrites bench/RESULTS.md. See bench/README.md.
package main

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

// Config is what every case is told about the run.
type Config struct {
	// Quick asks for a smoke-sized run (CI): fewer records, fewer iterations.
	// Ratios from a quick run are indicative only.
	Quick bool
}

// Row is one measured figure beside its baseline from the same run.
type Row struct {
	Figure    string  // what was measured, e.g. "writer put, 100 B"
	Value     float64 // Rialto's figure
	Unit      string  // e.g. "ns/op", "rec/s"
	Baseline  string  // e.g. "bare franz-go producer"
	BaseValue float64 // the baseline's figure, same unit, same run
	Ratio     float64 // oriented as Goal says (usually Rialto speed / baseline speed)
	Goal      string  // e.g. "≥ 0.85"
	Pass      bool
}

// Case is one benchmark family, registered from an init function.
type Case struct {
	Name  string // e.g. "writer"
	Issue int    // the issue that asked for it
	Run   func(ctx context.Context, cfg Config) ([]Row, error)
}

var (
	casesMu sync.Mutex
	cases   []Case
)

// Register adds a case to the run. Names must be unique.
func Register(c Case) {
	casesMu.Lock()
	defer casesMu.Unlock()
	for _, have := range cases {
		if have.Name == c.Name {
			panic(fmt.Sprintf("bench: case %q registered twice", c.Name))
		}
	}
	cases = append(cases, c)
}

// registered returns the cases ordered by issue, then name.
func registered() []Case {
	casesMu.Lock()
	defer casesMu.Unlock()
	out := append([]Case(nil), cases...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Issue != out[j].Issue {
			return out[i].Issue < out[j].Issue
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// AtLeast fills Ratio-based Goal and Pass for "higher is better" ratios.
func AtLeast(r Row, goal float64) Row {
	r.Goal = fmt.Sprintf("≥ %.2f", goal)
	r.Pass = r.Ratio >= goal
	return r
}

// AtMost fills Goal and Pass for "lower is better" ratios (e.g. cost ratios).
func AtMost(r Row, goal float64) Row {
	r.Goal = fmt.Sprintf("≤ %.2f", goal)
	r.Pass = r.Ratio <= goal
	return r
}

// nsPerOp measures fn in ns/op: with testing.Benchmark in a full run, with
// a fixed count of quickIters calls in a quick run. An error from fn stops
// the measurement and is returned.
func nsPerOp(cfg Config, quickIters int, fn func() error) (float64, error) {
	if cfg.Quick {
		start := time.Now()
		for i := 0; i < quickIters; i++ {
			if err := fn(); err != nil {
				return 0, err
			}
		}
		return float64(time.Since(start).Nanoseconds()) / float64(quickIters), nil
	}
	var ferr error
	r := testing.Benchmark(func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := fn(); err != nil {
				ferr = err
				b.FailNow()
			}
		}
	})
	if ferr != nil {
		return 0, ferr
	}
	return float64(r.NsPerOp()), nil
}
