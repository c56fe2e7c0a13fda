package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

func init() {
	subcommands = append(subcommands, newReproCommand)
}

func newReproCommand() *cobra.Command {
	var (
		out    string
		image  string
		asJSON bool
		junit  string
	)
	cmd := &cobra.Command{
		Use:   "repro RUN-DIR",
		Short: "Run a past run's scenario again, with its seed",
		Long: `Run the resolved scenario a run directory holds (scenario.yaml: every
default and the seed explicit) again, on the same backend and, for the
simulator, with the same injected bug, into a new run directory. Then say
how the new run compares with the old one.

On the simulator a repro is exact: the same seed gives the same history,
byte for byte, and repro says whether it did. Against real containers the
seed fixes every client's operations and the fault plan, but not the
timing of a real cluster, so an anomaly may or may not show again.
Exit code: the new run's outcome (0 valid, 1 invalid, 2 unknown).`,
		Example: `  dqtest repro runs/register-partition/latest
  dqtest repro runs/sim-stale-read/20261124T164122Z --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			sc, old, err := loadRun(dir)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			output := newRunOutput(cmd, asJSON, junit)
			opts := runOptions(old.SimBug, out, image, docker.ReachAuto)
			output.begin(sc, &opts)
			res, err := harness.Run(cmd.Context(), sc, opts)
			output.end(sc, res, err)
			if err == nil {
				fmt.Fprintln(output.notes(), compareRuns(dir, old, res))
			}
			if ferr := output.finish(); ferr != nil {
				return &exitError{code: exitUnknown, err: ferr}
			}
			if err != nil {
				return &exitError{code: exitUnknown}
			}
			return exitFor(res.Outcome)
		},
	}
	f := cmd.Flags()
	f.StringVar(&out, "out", "runs", "root of run directories for the new run")
	f.StringVar(&image, "image", "", "node image for the docker backend (default dqtest-node:latest)")
	f.BoolVar(&asJSON, "json", false, "print a JSON summary of the new run on stdout")
	f.StringVar(&junit, "junit", "", "write a JUnit XML file for the new run")
	return cmd
}

// loadRun reads a run directory's resolved scenario and results.
func loadRun(dir string) (scenario.Scenario, verdict.Result, error) {
	var old verdict.Result
	b, err := os.ReadFile(filepath.Join(dir, verdict.ResultsFile))
	if err != nil {
		return scenario.Scenario{}, old, fmt.Errorf("%s: not a run directory: %w", dir, err)
	}
	if err := json.Unmarshal(b, &old); err != nil {
		return scenario.Scenario{}, old, fmt.Errorf("%s: %w", filepath.Join(dir, verdict.ResultsFile), err)
	}
	sc, err := scenario.Load(filepath.Join(dir, verdict.ScenarioFile))
	if err != nil {
		return scenario.Scenario{}, old, err
	}
	if old.Scenario != "" {
		sc.Name = old.Scenario
	}
	if sc.Seed == 0 {
		sc.Seed = old.Seed
	}
	if sc.Seed == 0 {
		return sc, old, errors.New("the run directory records no seed")
	}
	if old.SimBug != "" && !slices.Contains(sim.BugNames(), old.SimBug) {
		return sc, old, fmt.Errorf("the run used simulator bug %q, which this dqtest does not know", old.SimBug)
	}
	return sc, old, nil
}

// compareRuns says how the repro compares with the original.
func compareRuns(oldDir string, old verdict.Result, res *verdict.Result) string {
	var b strings.Builder
	fmt.Fprintf(&b, "repro of %s: the original run showed %s (%s), this one %s (%s)",
		oldDir, old.Verdict, findingsOf(old), res.Verdict, findingsOf(*res))
	if res.Backend == "simulator" {
		a, errA := os.ReadFile(filepath.Join(oldDir, verdict.HistoryFile))
		c, errC := os.ReadFile(filepath.Join(res.Dir, verdict.HistoryFile))
		switch {
		case errA != nil || errC != nil:
			b.WriteString("; the histories could not be compared")
		case bytes.Equal(a, c):
			b.WriteString("; the history is identical, byte for byte")
		default:
			fmt.Fprintf(&b, "; the history differs from line %d (a different dqtest version?)", firstDifference(a, c))
		}
	} else {
		b.WriteString("; same seed, so the same operations and fault plan, but a real cluster's timing differs")
	}
	return b.String()
}

func findingsOf(r verdict.Result) string {
	f := findings(report.Summarize(r.Scenario, &r, nil))
	if f == "-" {
		return "no findings"
	}
	return f
}

// firstDifference is the 1-based number of the first line where a and b
// differ.
func firstDifference(a, b []byte) int {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := range min(len(la), len(lb)) {
		if !bytes.Equal(la[i], lb[i]) {
			return i + 1
		}
	}
	return min(len(la), len(lb)) + 1
}
