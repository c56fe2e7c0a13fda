package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// checkBench is the whole-process check benchmark: `dqtest check` on a
// generated linearizable register history, against a plain Go program
// (cmd/dqtest-bench/checkbaseline: encoding/json into a struct, porcupine
// per key) on the same file, runs alternating which goes first.
type checkBench struct {
	Ops, Keys, Processes int
	Events               int
	Bytes                int64
	// Wall and RSS are per run: wall seconds and peak resident set size in
	// bytes, [0] dqtest, [1] the baseline.
	// CPU is user plus system time in seconds: less sensitive than wall
	// time to other work on the machine.
	Wall, RSS, CPU                   [2][]float64
	WallMedian, RSSMedian, CPUMedian [2]float64
	WallRatio, RSSRatio, CPURatio    float64
	Command                          string
}

const (
	checkDqtest = iota
	checkBaseline
)

// measureCheck generates the history, builds the baseline and runs both
// c.checkRuns times.
func measureCheck(ctx context.Context, c config) (checkBench, error) {
	b := checkBench{Ops: c.checkOps, Keys: c.checkKeys, Processes: c.checkProcs}
	dir, err := os.MkdirTemp("", "dqtest-bench-check")
	if err != nil {
		return b, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "history.jsonl")
	if c.checkFile != "" {
		path = c.checkFile
	}
	gen := registerGen{Seed: 1, Ops: c.checkOps, Keys: c.checkKeys, Concurrency: c.checkProcs, InfoRate: 0.01, FailRate: 0.01}
	if _, err := os.Stat(path); err == nil && c.checkFile != "" {
		slog.Info("check benchmark: reusing the history", "path", path)
		b.Events, err = countLines(path)
		if err != nil {
			return b, err
		}
	} else {
		slog.Info("check benchmark: generating the history", "ops", gen.Ops, "keys", gen.Keys, "processes", gen.Concurrency)
		if b.Events, err = gen.write(path); err != nil {
			return b, fmt.Errorf("generating the history: %w", err)
		}
	}
	if info, err := os.Stat(path); err == nil {
		b.Bytes = info.Size()
	}
	baseline := filepath.Join(dir, "checkbaseline")
	build := exec.CommandContext(ctx, "go", "build", "-o", baseline, "./cmd/dqtest-bench/checkbaseline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return b, fmt.Errorf("building the baseline: %w", err)
	}
	// Both sides read the file from the page cache.
	if err := warm(path); err != nil {
		return b, err
	}
	cmds := [2][]string{
		{c.binary, "check", "--workload", "register", path},
		{baseline, path},
	}
	b.Command = fmt.Sprintf("%s check --workload register HISTORY", c.binary)
	for round := 0; round < c.checkRuns; round++ {
		for i := range 2 {
			side := (round + i) % 2
			wall, cpu, rss, err := runMeasured(ctx, cmds[side])
			if err != nil {
				return b, err
			}
			slog.Info("check benchmark", "side", []string{"dqtest", "baseline"}[side], "round", round,
				"wall_s", fmt.Sprintf("%.2f", wall), "cpu_s", fmt.Sprintf("%.2f", cpu), "rss_mb", rss/1_000_000)
			b.Wall[side] = append(b.Wall[side], wall)
			b.CPU[side] = append(b.CPU[side], cpu)
			b.RSS[side] = append(b.RSS[side], float64(rss))
		}
	}
	for side := range 2 {
		b.WallMedian[side] = median(b.Wall[side])
		b.RSSMedian[side] = median(b.RSS[side])
		b.CPUMedian[side] = median(b.CPU[side])
	}
	b.CPURatio = b.CPUMedian[checkDqtest] / b.CPUMedian[checkBaseline]
	b.WallRatio = b.WallMedian[checkDqtest] / b.WallMedian[checkBaseline]
	b.RSSRatio = b.RSSMedian[checkDqtest] / b.RSSMedian[checkBaseline]
	return b, nil
}

// runMeasured runs argv to completion, requires exit status 0 (the history
// is linearizable: anything else is a broken benchmark), and returns its
// wall and CPU (user + system) time in seconds and its peak resident set
// size in bytes.
func runMeasured(ctx context.Context, argv []string) (wall, cpu float64, rss int64, err error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout = io.Discard
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	wall = time.Since(start).Seconds()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%v: %w\n%s", argv, err, stderr.b)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0, 0, fmt.Errorf("%v: no resource usage", argv)
	}
	cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	return wall, cpu, ru.Maxrss << 10, nil // Linux reports kilobytes
}

// limitedBuffer keeps the first 64 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := 64<<10 - len(l.b); room > 0 {
		l.b = append(l.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		m, err := f.Read(buf)
		n += bytes.Count(buf[:m], []byte{'\n'})
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func warm(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}
