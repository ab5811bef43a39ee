package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"
)

func main() {
	rssChildMain() // a child process of the rss case never reaches the harness
	quick := flag.Bool("quick", false, "smoke-sized run (under 2 minutes); ratios are indicative only")
	only := flag.String("only", "", "comma-separated case names to run (default: all); RESULTS.md is then not rewritten unless -out is given")
	out := flag.String("out", "", "where to write the results (default bench/RESULTS.md for a full, non-quick run of every case; stdout otherwise)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}

	loadAtStart := loadAverage()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	selected := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			selected[n] = true
		}
	}
	cfg := Config{Quick: *quick}
	type result struct {
		c    Case
		rows []Row
		err  error
		took time.Duration
	}
	var results []result
	failed := false
	for _, c := range registered() {
		if len(selected) > 0 && !selected[c.Name] {
			continue
		}
		fmt.Fprintf(os.Stderr, "bench: %s …\n", c.Name)
		start := time.Now()
		rows, err := c.Run(ctx, cfg)
		results = append(results, result{c, rows, err, time.Since(start)})
		if err != nil {
			failed = true
			fmt.Fprintf(os.Stderr, "bench: %s: %v\n", c.Name, err)
		}
		for _, r := range rows {
			fmt.Fprintf(os.Stderr, "  %-46s %12.4g %-6s vs %12.4g  ratio %6.2f  goal %-6s %s\n",
				r.Figure, r.Value, r.Unit, r.BaseValue, r.Ratio, r.Goal, passWord(r.Pass))
		}
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, "# Benchmark results\n\n")
	fmt.Fprintf(&b, "Written by the harness in `bench/`; do not edit by hand. Each figure is measured\n")
	fmt.Fprintf(&b, "beside its baseline in the same run, so the ratio survives a noisy machine.\n\n")
	fmt.Fprintf(&b, "- command: `%s`\n", commandLine())
	fmt.Fprintf(&b, "- date: %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(&b, "- machine: %s, %d cores, %s %s/%s\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "- commit: %s\n", gitCommit())
	// Other work on the machine skews every figure; say how busy it was.
	fmt.Fprintf(&b, "- load average (1 min) at start / end: %s / %s\n", loadAtStart, loadAverage())
	if *quick {
		fmt.Fprintf(&b, "- mode: **quick** (smoke-sized; ratios indicative only)\n")
	}
	fmt.Fprintf(&b, "\n| case | figure | value | baseline | baseline value | ratio | goal | pass |\n")
	fmt.Fprintf(&b, "|---|---|---|---|---|---|---|---|\n")
	for _, res := range results {
		if res.err != nil {
			fmt.Fprintf(&b, "| %s (#%d) | **error**: %s | | | | | | fail |\n", res.c.Name, res.c.Issue, oneLine(res.err.Error()))
			continue
		}
		for _, r := range res.rows {
			fmt.Fprintf(&b, "| %s (#%d) | %s | %s %s | %s | %s %s | %.2f | %s | %s |\n",
				res.c.Name, res.c.Issue, r.Figure, num(r.Value), r.Unit, r.Baseline, num(r.BaseValue), r.Unit, r.Ratio, r.Goal, passWord(r.Pass))
		}
	}
	fmt.Fprintf(&b, "\n")
	for _, res := range results {
		fmt.Fprintf(&b, "- %s took %s\n", res.c.Name, res.took.Round(time.Second))
	}

	path := *out
	if path == "" && len(selected) == 0 && !*quick { // a smoke run never replaces the full results
		path = "bench/RESULTS.md"
	}
	if path != "" {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Fprintf(os.Stderr, "bench: wrote %s\n", path)
	} else {
		os.Stdout.Write(b.Bytes())
	}
	if failed {
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func passWord(p bool) string {
	if p {
		return "pass"
	}
	return "FAIL"
}

func num(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fK", v/1e3)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }

func commandLine() string {
	args := []string{"go run ./bench"}
	for _, a := range os.Args[1:] {
		args = append(args, a)
	}
	return strings.Join(args, " ")
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			if i := strings.Index(line, ":"); i >= 0 {
				return strings.TrimSpace(line[i+1:])
			}
		}
	}
	return runtime.GOARCH
}

func gitCommit() string {
	out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

// loadAverage is the machine's one-minute load average, or "?" where
// /proc/loadavg does not exist.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
