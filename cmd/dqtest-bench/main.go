// Command dqtest-bench measures dqtest and writes the figures into the
// README and docs/benchmarks.md (`make bench`). Four measurements, each a
// median of several runs, each against a baseline measured in the same
// invocation:
//
//  1. Harness overhead: completed operations (ok or fail: a cas that finds
//     another value is a completed operation) per second of dqtest's clients
//     (harness.Run, through the nodes' control API, history recorded)
//     against a 3-node docker cluster, side by side with a plain go-dqlite
//     driver loop (database/sql, straight to the nodes' dqlite port) doing
//     the same workload's operations at the same concurrency on the same
//     cluster, rounds alternating which goes first.
//  2. The checker benchmarks (go test -bench ./checker/), as size → time.
//  3. Checking a stored history, whole process: `dqtest check --workload
//     register` on a generated linearizable history of 1,000,000
//     operations (1,000 keys, 64 processes), side by side with a plain Go
//     program (cmd/dqtest-bench/checkbaseline: encoding/json into a struct,
//     porcupine.CheckOperations per key) on the same file: wall time and
//     peak RSS of each child process, and their ratios.
//  4. Time to verdict: the default scenario's wall time by phase, cold (the
//     image built from scratch just before, first run on it) and warm.
//
// It needs Docker and the node image (make image); the driver loop is pure
// Go, so it runs on the host.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type config struct {
	rounds        int
	seconds       time.Duration
	concurrency   int
	concurrencies []int
	mix           map[string]int
	image         string
	coldImage     string
	imageScript   string
	binary        string
	warm          int
	benchCount    int
	readme        string
	doc           string
	only          string
	cpuProfile    string
	checkOps      int
	checkKeys     int
	checkProcs    int
	checkRuns     int
	checkFile     string
	simTime       time.Duration
}

func main() {
	var c config
	flag.IntVar(&c.rounds, "rounds", 5, "overhead: rounds of (dqtest, driver) on one cluster")
	flag.DurationVar(&c.seconds, "seconds", 10*time.Second, "overhead: how long each side runs per round")
	concurrencies := flag.String("concurrency", "1,6", "overhead: client goroutines on each side, one measurement per value (6: the default scenario's)")
	mix := flag.String("mix", "read:1,write:1,cas:1", "overhead: the register workload's operation mix")
	flag.StringVar(&c.image, "image", "dqtest-node:latest", "node image for the overhead and warm runs")
	flag.StringVar(&c.coldImage, "cold-image", "dqtest-node:bench-cold", "tag removed and rebuilt for the cold run")
	flag.StringVar(&c.imageScript, "image-script", "build/image.sh", "script that builds the node image from a binary")
	flag.StringVar(&c.binary, "binary", "bin/dqtest", "the dqtest binary the image is built from")
	flag.IntVar(&c.warm, "warm", 3, "time to verdict: warm runs of the default scenario")
	flag.IntVar(&c.benchCount, "count", 5, "checker benchmarks: go test -count")
	flag.StringVar(&c.readme, "readme", "README.md", "README whose Benchmarks section gets the tables (empty: none)")
	flag.StringVar(&c.doc, "doc", "docs/benchmarks.md", "file for the full figures (empty: stdout only)")
	flag.StringVar(&c.only, "only", "overhead,checkers,check,sim,verdict", "which measurements to make")
	flag.DurationVar(&c.simTime, "sim-time", 5*time.Minute, "sim: the simulator run's --time-limit (at --rate 0); -check-runs runs")
	flag.IntVar(&c.checkOps, "check-ops", 1_000_000, "check: operations in the generated register history")
	flag.IntVar(&c.checkKeys, "check-keys", 1000, "check: keys of the generated history")
	flag.IntVar(&c.checkProcs, "check-processes", 64, "check: concurrent client processes of the generated history")
	flag.IntVar(&c.checkRuns, "check-runs", 3, "check: runs of each side (dqtest check, the plain porcupine program)")
	flag.StringVar(&c.checkFile, "check-history", "", "check: keep the generated history at this path, and reuse it if it exists (for profiling; default: a temporary file)")
	flag.StringVar(&c.cpuProfile, "cpuprofile", "", "write this process's CPU profile here, each overhead side labelled side=<index> (go tool pprof -tagfocus side=1)")
	flag.Parse()
	var err error
	for _, f := range strings.Split(*concurrencies, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintln(os.Stderr, "dqtest-bench: -concurrency: want positive integers, got", f)
			os.Exit(2)
		}
		c.concurrencies = append(c.concurrencies, n)
	}
	if c.mix, err = parseMix(*mix); err != nil {
		fmt.Fprintln(os.Stderr, "dqtest-bench: -mix:", err)
		os.Exit(2)
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.cpuProfile != "" {
		f, err := os.Create(c.cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "dqtest-bench: -cpuprofile:", err)
			os.Exit(2)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if err := run(ctx, c); err != nil {
		stop()
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "dqtest-bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, c config) error {
	fig := figures{Started: time.Now(), Config: c}
	fig.Machine = machine()
	// How busy the machine is before dqtest-bench does anything: other
	// work lowers every figure below, and this says how much there was.
	before := cpuTimes()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(5 * time.Second):
	}
	fig.Background = cpuTimes().busySince(before)
	want := func(name string) bool { return contains(c.only, name) }
	if want("overhead") {
		for _, n := range c.concurrencies {
			at := c
			at.concurrency = n
			o, err := measureOverhead(ctx, at)
			if err != nil {
				return fmt.Errorf("harness overhead at concurrency %d: %w", n, err)
			}
			fig.Overhead = append(fig.Overhead, o)
		}
	}
	if want("checkers") {
		rows, err := measureCheckers(ctx, c)
		if err != nil {
			return fmt.Errorf("checker benchmarks: %w", err)
		}
		fig.Checkers = rows
	}
	if want("check") {
		b, err := measureCheck(ctx, c)
		if err != nil {
			return fmt.Errorf("check benchmark: %w", err)
		}
		fig.Check = &b
	}
	if want("sim") {
		s, err := measureSimRun(ctx, c)
		if err != nil {
			return fmt.Errorf("simulator run: %w", err)
		}
		fig.SimRun = &s
	}
	if want("verdict") {
		v, err := measureTimeToVerdict(ctx, c)
		if err != nil {
			return fmt.Errorf("time to verdict: %w", err)
		}
		fig.Verdict = &v
	}
	fig.Finished = time.Now()
	return fig.write(c)
}

// parseMix reads "read:1,write:1" into a workload mix.
func parseMix(s string) (map[string]int, error) {
	mix := map[string]int{}
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("want kind:weight,..., got %q", part)
		}
		mix[k] = n
	}
	return mix, nil
}
