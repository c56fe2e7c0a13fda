package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dqtest/dqtest/verdict"
)

// simRunBench is a long simulator run as a user runs it, whole process:
// `dqtest run --backend sim --rate 0 --time-limit 5m` of the default
// scenario (the simulator, its recorder, the check and the report), whose
// memory must follow the operations in play, not the run's length.
type simRunBench struct {
	TimeLimit time.Duration
	Ops       int
	Events    int64
	// Wall, CPU (user + system) and RSS (peak, bytes) per run, and the
	// run's own phases (seconds): the simulated workload, the check.
	Wall, CPU, RSS, Workload, Check                               []float64
	WallMedian, CPUMedian, RSSMedian, WorkloadMedian, CheckMedian float64
	Command                                                       string
}

// simRunGoal is the peak RSS the run must stay under.
const simRunGoal = 500e6

func measureSimRun(ctx context.Context, c config) (simRunBench, error) {
	b := simRunBench{TimeLimit: c.simTime}
	dir, err := os.MkdirTemp("", "dqtest-bench-sim")
	if err != nil {
		return b, err
	}
	defer os.RemoveAll(dir)
	argv := []string{c.binary, "run", "--backend", "sim", "--rate", "0", "--time-limit", c.simTime.String(), "--seed", "1",
		"--out", dir, "scenarios/default.yaml"}
	b.Command = "dqtest " + strings.Join(argv[1:len(argv)-3], " ") + " scenarios/default.yaml"
	for round := 0; round < c.checkRuns; round++ {
		wall, cpu, rss, err := runMeasured(ctx, argv)
		if err != nil {
			return b, err
		}
		res, err := latestResult(filepath.Join(dir, "default"))
		if err != nil {
			return b, err
		}
		b.Ops = res.Ops.Invoked
		slog.Info("simulator run benchmark", "round", round, "wall_s", fmt.Sprintf("%.2f", wall), "cpu_s", fmt.Sprintf("%.2f", cpu),
			"rss_mb", rss/1_000_000, "ops", res.Ops.Invoked, "workload_s", fmt.Sprintf("%.1f", res.Phases.Workload))
		b.Wall, b.CPU, b.RSS = append(b.Wall, wall), append(b.CPU, cpu), append(b.RSS, float64(rss))
		b.Workload, b.Check = append(b.Workload, res.Phases.Workload), append(b.Check, res.Phases.Check)
		if err := os.RemoveAll(filepath.Join(dir, "default")); err != nil {
			return b, err
		}
	}
	b.WallMedian, b.CPUMedian, b.RSSMedian = median(b.Wall), median(b.CPU), median(b.RSS)
	b.WorkloadMedian, b.CheckMedian = median(b.Workload), median(b.Check)
	return b, nil
}

// latestResult reads the results.json of the run directory under dir.
func latestResult(dir string) (verdict.Result, error) {
	var res verdict.Result
	runs, err := filepath.Glob(filepath.Join(dir, "2*", verdict.ResultsFile))
	if err != nil || len(runs) != 1 {
		return res, fmt.Errorf("want one run directory under %s, found %d (%v)", dir, len(runs), err)
	}
	data, err := os.ReadFile(runs[0])
	if err != nil {
		return res, err
	}
	return res, json.Unmarshal(data, &res)
}

func (f figures) simRunMarkdown() string {
	var b strings.Builder
	if s := f.SimRun; s != nil {
		fmt.Fprintf(&b, "**A long simulator run, whole process** (`%s`: %v of simulated workload at no rate limit, %d operations; the simulator, the history written as it goes, the check and report.html, in one process; %d %s; peak RSS from the child's rusage):\n\n",
			s.Command, s.TimeLimit, s.Ops, len(s.Wall), plural(len(s.Wall), "run", "runs"))
		b.WriteString("| wall time | per run | CPU time (user + system) | per run | of it: simulated workload, check (wall) | peak RSS | per run |\n|---:|---|---:|---|---|---:|---|\n")
		goal := "meets the goal of < 500 MB"
		if s.RSSMedian >= simRunGoal {
			goal = "misses the goal of < 500 MB"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s, %s | **%.0f MB** (%s) | %s |\n\n", seconds(s.WallMedian), list(s.Wall, "%.1f"),
			seconds(s.CPUMedian), list(s.CPU, "%.1f"), seconds(s.WorkloadMedian), seconds(s.CheckMedian),
			s.RSSMedian/1e6, goal, list(scale(s.RSS, 1e-6), "%.0f"))
	}
	return b.String()
}
