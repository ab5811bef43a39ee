package crash

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rialtodb/rialto/internal/embedkafka/kafkatest"
	"github.com/rialtodb/rialto/internal/testscale"
)

// TestCrash is the crash driver at the size testscale picks: 20 000
// operations and 3 kills in CI, 1 000 000 and 20 with RIALTO_LONG=1. The
// RIALTO_CRASH_* variables override single numbers (see the package doc).
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a two-region cluster of processes; skipped with -short")
	}
	cfg := ConfigFromEnv(os.Getenv)
	cfg.RealBrokers = kafkatest.RealBrokers()
	cfg.Logf = t.Logf
	cfg.ensureDefaults()
	t.Logf("seed %d (set %s=%d to repeat): %d operations on %d keys, %d kills, rate %g/s",
		cfg.Seed, SeedEnv, cfg.Seed, cfg.Ops, cfg.Keys, cfg.Kills, cfg.Rate)

	ctx := context.Background()
	if d, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, d.Add(-30*time.Second))
		defer cancel()
	}
	// The directory stays after a failure: the processes' logs and data
	// are the evidence.
	dir, err := os.MkdirTemp("", "rialto-crash-")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	}()
	t0 := time.Now()
	bin, err := BuildBinary(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s", bin, time.Since(t0).Round(time.Millisecond))
	readSources(t)
	cfg.Binary, cfg.Dir = bin, dir

	rep, err := Run(ctx, cfg)
	if rep != nil {
		t.Logf("report:\n%s", rep.Summary())
		fmt.Print(rep.Summary())
	}
	if err != nil {
		t.Fatalf("seed %d: %v", cfg.Seed, err)
	}
	if !rep.OK() {
		t.Fatalf("seed %d: the cluster's state differs from the model or a process failed (see the report); logs are in %s", cfg.Seed, dir)
	}
}

// readSources opens every Go source file of the module. The result depends
// on packages this test binary does not import (cmd/rialto, internal/cli,
// controller), and the go command reuses a cached pass only while the files
// a test opened are unchanged: so a change anywhere in the module reruns it.
func readSources(t *testing.T) {
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if n := d.Name(); strings.HasSuffix(n, ".go") || n == "go.mod" || n == "go.sum" {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			f.Close()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Environment variables that override the sizes.
const (
	SeedEnv  = "RIALTO_CRASH_SEED"
	OpsEnv   = "RIALTO_CRASH_OPS"
	KeysEnv  = "RIALTO_CRASH_KEYS"
	KillsEnv = "RIALTO_CRASH_KILLS"
	RateEnv  = "RIALTO_CRASH_RATE"
)

// ConfigFromEnv is the configuration testscale picks, with the
// RIALTO_CRASH_* overrides applied.
func ConfigFromEnv(getenv func(string) string) Config {
	cfg := Config{
		Seed:           time.Now().UnixNano(),
		Ops:            testscale.Pick(20_000, 1_000_000),
		Kills:          testscale.Pick(3, 20),
		Rate:           testscale.Pick(1000.0, 5000.0),
		CatchUpTimeout: testscale.Pick(3*time.Minute, 30*time.Minute),
	}
	num := func(env string, set func(int64)) {
		if v := getenv(env); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				panic(fmt.Sprintf("%s=%q: not an integer", env, v))
			}
			set(n)
		}
	}
	num(SeedEnv, func(n int64) { cfg.Seed = n })
	num(OpsEnv, func(n int64) { cfg.Ops = int(n) })
	num(KeysEnv, func(n int64) { cfg.Keys = int(n) })
	num(KillsEnv, func(n int64) { cfg.Kills = int(n) })
	num(RateEnv, func(n int64) { cfg.Rate = float64(n) })
	return cfg
}
