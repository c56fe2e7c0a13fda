package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// runRepeated runs sc n times (once when n < 2) through run and returns the
// outcome that sets the exit code. Each repeat gets a fresh random seed, or,
// when the seed was given on the command line, that seed plus the repeat's
// number, so a repeat can itself be repeated. After a repeat it prints how
// often each finding appeared and writes the summary as JSON into the
// scenario's runs directory.
func runRepeated(ctx context.Context, sc scenario.Scenario, n int, seedGiven bool, runsDir string, w io.Writer,
	run func(scenario.Scenario) (*verdict.Result, error)) checker.Verdict {
	if n < 2 {
		res, err := run(sc)
		if err != nil {
			return checker.Unknown
		}
		return res.Outcome
	}
	base := sc.Seed
	results := make([]*verdict.Result, 0, n)
	took := make([]time.Duration, 0, n)
	for i := 0; i < n && ctx.Err() == nil; i++ {
		one := sc
		if seedGiven {
			one.Seed = base + int64(i)
		} else {
			one.Seed = scenario.NewSeed()
		}
		began := time.Now()
		res, err := run(one)
		took = append(took, time.Since(began))
		if err != nil {
			res = nil
		}
		results = append(results, res)
	}
	sum := verdict.SummarizeRepeats(sc, results, took)
	printRepeatSummary(w, sum)
	if path, err := writeRepeatSummary(runsDir, sum); err != nil {
		fmt.Fprintf(w, "  (writing the repeat summary: %v)\n", err)
	} else {
		fmt.Fprintf(w, "  summary: %s\n", path)
	}
	return sum.Outcome
}

// printRepeatSummary prints one line for the repeat and one per finding.
func printRepeatSummary(w io.Writer, s verdict.RepeatSummary) {
	var counts []string
	for _, v := range []checker.Verdict{checker.Valid, checker.Invalid, checker.Unknown} {
		if s.Outcomes[v] > 0 {
			counts = append(counts, fmt.Sprintf("%d %s", s.Outcomes[v], v))
		}
	}
	fmt.Fprintf(w, "%s: %s over %d runs (%s) in %s", s.Scenario, s.Outcome, s.Runs, strings.Join(counts, ", "),
		(time.Duration(s.Seconds) * time.Second).Round(time.Second))
	if s.FirstReproduced > 0 {
		fmt.Fprintf(w, "; expected finding in %d/%d runs, first in run %d after %s", s.Reproduced, s.Runs,
			s.FirstReproduced, (time.Duration(s.SecondsToReproduce) * time.Second).Round(time.Second))
	}
	if len(s.Reasons) > 0 {
		fmt.Fprintf(w, " — %s", strings.Join(s.Reasons, "; "))
	}
	fmt.Fprintln(w)
	if len(s.Findings) == 0 {
		fmt.Fprintln(w, "  no crash or hang in any run")
	}
	for _, f := range s.Findings {
		expected := ""
		if f.Expected {
			expected = " (expected)"
		}
		fmt.Fprintf(w, "  %d/%d runs%s: %s [%s] on %s; seeds %s\n", f.Runs, s.Runs, expected, f.Signature, f.Kind,
			strings.Join(f.Nodes, ","), seedList(f.Seeds))
	}
}

func seedList(seeds []int64) string {
	var parts []string
	for i, s := range seeds {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(seeds)-5))
			break
		}
		parts = append(parts, fmt.Sprint(s))
	}
	return strings.Join(parts, " ")
}

// writeRepeatSummary writes RUNS/<scenario>/repeat-<time>.json.
func writeRepeatSummary(runsDir string, s verdict.RepeatSummary) (string, error) {
	dir := filepath.Join(runsDir, s.Scenario)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "repeat-"+time.Now().UTC().Format("20060102T150405Z")+".json")
	return path, writeJSONFile(path, s)
}

// printFindings prints, under a run's verdict line, each crash or hang with
// its evidence: what it was, where it struck, what was in flight, the end
// of the node's log and how to run it again.
func printFindings(w io.Writer, res *verdict.Result) {
	if res == nil {
		return
	}
	for _, c := range res.Crashes {
		expected := ""
		if c.Expected {
			expected = " (expected)"
		}
		fmt.Fprintf(w, "  %s on %s%s: %s\n", c.Kind, c.Node, expected, c.Signature)
		var facts []string
		if c.Signal != "" {
			facts = append(facts, "signal "+c.Signal)
		} else if c.Exit != nil && c.Exit.Signal != "" {
			facts = append(facts, "killed by "+c.Exit.Signal)
		}
		if c.Exit != nil {
			facts = append(facts, fmt.Sprintf("exit status %d", c.Exit.ExitCode))
		}
		if c.Address != "" {
			facts = append(facts, c.Address)
		}
		if len(facts) > 0 {
			fmt.Fprintf(w, "    %s\n", strings.Join(facts, ", "))
		}
		if f := c.InFlight; f != nil {
			line := fmt.Sprintf("    %.1f s into the run:", f.At)
			if f.Fault != nil {
				line += fmt.Sprintf(" fault %s %s (%s)", f.Fault.F, strings.Join(f.Fault.Nodes, ","), strings.ReplaceAll(f.Relation, "_", " "))
			}
			line += fmt.Sprintf("; %d operation(s) through %s in flight", f.OpsOpen, c.Node)
			fmt.Fprintln(w, line)
		}
		before := c.Before
		if len(before) == 0 {
			before = logLines(c.Tail)
		}
		for _, l := range before[max(0, len(before)-3):] {
			fmt.Fprintf(w, "    | %s\n", l)
		}
		if c.Rerun != "" {
			fmt.Fprintf(w, "    rerun: %s (seed %d)\n", c.Rerun, c.Seed)
		}
	}
}

// logLines keeps the structured log lines, leaving out goroutine dumps.
func logLines(lines []string) []string {
	var keep []string
	for _, l := range lines {
		if strings.HasPrefix(l, "time=") {
			keep = append(keep, l)
		}
	}
	return keep
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
