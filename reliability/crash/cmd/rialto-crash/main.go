// Command rialto-crash runs the crash driver (package reliability/crash)
// outside the test framework: it builds the rialto binary (or takes one),
// runs the two-region cluster, writes, kills, checks, and prints the
// report. It exits 0 only when every region and server matched the model.
//
//	go run ./reliability/crash/cmd/rialto-crash -ops 200000 -kills 20
//
// RIALTO_KAFKA_BROKERS puts region 1 on a real cluster, as for the test.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rialtodb/rialto/reliability/crash"
)

func main() {
	cfg := crash.Config{}
	flag.Int64Var(&cfg.Seed, "seed", time.Now().UnixNano(), "random seed (operations, kill points, victims, delays)")
	flag.IntVar(&cfg.Ops, "ops", 20_000, "nearline operations to write")
	flag.IntVar(&cfg.Keys, "keys", 0, "distinct keys (default ops/10)")
	flag.IntVar(&cfg.Kills, "kills", 3, "servers to kill -9 and restart")
	flag.Float64Var(&cfg.Rate, "rate", 1000, "operations a second (0: unpaced)")
	flag.DurationVar(&cfg.CatchUpTimeout, "catch-up-timeout", 30*time.Minute, "how long every region may take to apply every write")
	bin := flag.String("rialto", "", "the rialto binary (default: go build ./cmd/rialto into the run directory)")
	dir := flag.String("dir", "", "run directory (default: a new temporary one, removed after a passing run)")
	quiet := flag.Bool("q", false, "no progress lines")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	code, err := run(ctx, cfg, *bin, *dir, *quiet)
	if err != nil {
		fmt.Fprintln(os.Stderr, "rialto-crash:", err)
	}
	os.Exit(code)
}

func run(ctx context.Context, cfg crash.Config, bin, dir string, quiet bool) (int, error) {
	keep := dir != ""
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "rialto-crash-"); err != nil {
			return 2, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return 2, err
	}
	if bin == "" {
		var err error
		if bin, err = crash.BuildBinary(ctx, dir); err != nil {
			return 2, err
		}
	}
	cfg.Binary, cfg.Dir = bin, dir
	for s := range strings.SplitSeq(os.Getenv("RIALTO_KAFKA_BROKERS"), ",") {
		if s = strings.TrimSpace(s); s != "" {
			cfg.RealBrokers = append(cfg.RealBrokers, s)
		}
	}
	if !quiet {
		cfg.Logf = func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
	}
	fmt.Printf("seed %d, run directory %s\n", cfg.Seed, dir)
	rep, err := crash.Run(ctx, cfg)
	if rep != nil {
		fmt.Print(rep.Summary())
	}
	if err != nil {
		return 1, fmt.Errorf("seed %d: %w (run directory %s kept)", cfg.Seed, err, dir)
	}
	if !rep.OK() {
		return 1, fmt.Errorf("seed %d: FAILED (run directory %s kept)", cfg.Seed, dir)
	}
	fmt.Println("OK")
	if !keep {
		os.RemoveAll(dir)
	}
	return 0, nil
}
