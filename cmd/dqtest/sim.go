package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/scenario"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		cmd := &cobra.Command{
			Use:   "sim",
			Short: "The simulator: its injectable bugs and the detection matrix",
			Long: `The simulator is a deterministic model of a dqlite cluster on a virtual
clock (docs/simulator.md). Run one scenario with it through
'dqtest run --backend sim [--sim-bug NAME]'; the subcommands here show what it
can inject and prove that the scenarios and checkers catch it.`,
		}
		cmd.AddCommand(simBugsCommand(), simMatrixCommand())
		return cmd
	})
}

func simBugsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "bugs",
		Short: "List the bugs the simulator can inject (--sim-bug)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, b := range sim.Bugs() {
				shows := strings.Join(b.Workloads, ", ")
				if shows == "" {
					shows = "any workload: the crash detector"
				}
				fmt.Fprintf(tw, "%s\t%s\t(%s)\n", b.Name, b.What, shows)
			}
			return tw.Flush()
		},
	}
}

func simMatrixCommand() *cobra.Command {
	var (
		seeds    int
		globs    []string
		bugs     []string
		parallel int
	)
	cmd := &cobra.Command{
		Use:   "matrix",
		Short: "Run every bug against every relevant scenario over several seeds",
		Long: `For every injectable bug and every scenario whose workload can show it,
simulate the scenario with the bug over seeds 1..N and check each history with
the workload's checker and the crash detector; do the same without a bug. The
table gives, per bug and scenario, the seeds in which the bug was detected and
the median virtual time to detection (the first anomalous operation).

Exit status 0 when every bug is detected by at least one scenario in at least
95% of the seeds and the bug-free simulator is never invalid; 1 otherwise.`,
		Example: `  dqtest sim matrix
  dqtest sim matrix --seeds 5 --scenarios 'scenarios/register-*.yaml' --bugs stale-read`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if seeds < 1 {
				return &exitError{code: exitUnknown, err: fmt.Errorf("--seeds must be at least 1, got %d", seeds)}
			}
			scenarios, err := loadSimScenarios(globs)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			for _, b := range bugs {
				if !slices.Contains(sim.BugNames(), b) {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--bugs: unknown bug %q (known: %s)", b, strings.Join(sim.BugNames(), ", "))}
				}
			}
			if len(bugs) == 0 {
				bugs = sim.BugNames()
			}
			started := time.Now()
			cells, err := sim.Matrix(cmd.Context(), scenarios, append([]string{""}, bugs...), seeds, parallel)
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			out := cmd.OutOrStdout()
			if err := sim.WriteMatrix(out, cells); err != nil {
				return err
			}
			fmt.Fprintf(out, "\n%d scenarios, %d seeds each, %s wall time.\n", len(scenarios), seeds, time.Since(started).Round(time.Second))
			if broken := sim.Judge(cells); len(broken) > 0 {
				return &exitError{code: exitInvalid, err: errors.New(strings.Join(broken, "; "))}
			}
			fmt.Fprintln(out, "Every bug run is detected by at least one scenario in at least 95% of the seeds; the bug-free simulator is never invalid.")
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&seeds, "seeds", 20, "seeds per scenario and bug (1..N)")
	f.StringSliceVar(&globs, "scenarios", []string{"scenarios/*.yaml"}, "scenario files (globs, comma-separated)")
	f.StringSliceVar(&bugs, "bugs", nil, "bugs to inject (default: all; see 'dqtest sim bugs')")
	f.IntVar(&parallel, "parallel", runtime.GOMAXPROCS(0), "trials run at once")
	return cmd
}

// loadSimScenarios loads every scenario the globs match, once each, in
// file name order.
func loadSimScenarios(globs []string) ([]scenario.Scenario, error) {
	var paths []string
	for _, g := range globs {
		m, err := filepath.Glob(g)
		if err != nil {
			return nil, fmt.Errorf("--scenarios %q: %w", g, err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	paths = slices.Compact(paths)
	if len(paths) == 0 {
		return nil, fmt.Errorf("--scenarios %s: no scenario files", strings.Join(globs, ","))
	}
	var scenarios []scenario.Scenario
	for _, p := range paths {
		sc, err := scenario.Load(p)
		if err != nil {
			return nil, err
		}
		scenarios = append(scenarios, sc)
	}
	return scenarios, nil
}
