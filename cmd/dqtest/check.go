package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/verdict"
	"github.com/dqtest/dqtest/workloads"
)

func init() {
	subcommands = append(subcommands, newCheckCommand)
}

func newCheckCommand() *cobra.Command {
	var (
		workload    string
		consistency string
		timeBudget  time.Duration
		asJSON      bool
		out         string
	)
	cmd := &cobra.Command{
		Use:   "check HISTORY.jsonl|RUN-DIR",
		Short: "Re-check a stored history offline",
		Long: `Read a history (docs/history.md), check that it is well formed, run the
checker its workload needs and print the verdict with every anomaly
explained and the history lines behind it.

On a run directory the run's own verdict is computed again by the same code
as dqtest run: the workload's checker with the scenario's parameters, the
crash and hang findings from the stored node logs and exits, liveness after
healing, replica convergence, and the outcome judged against the scenario's
expect. Its exit code is the run's.

The workload is --workload, else the run directory's scenario.yaml, else
inferred from the operations. A --workload that contradicts the scenario or
the operations is refused (exit 2), and so is a history with nothing to
check. The bank checker without a scenario takes the accounts and the total
from the first ok read, and says so.

Artifacts (porcupine's linearizability.html) go into the run directory, or
into --out. Exit code: 0 valid, 1 invalid, 2 unknown or unreadable (the
message names the offending line of a malformed history).`,
		Example: `  dqtest check runs/register-partition/latest
  dqtest check history.jsonl --workload bank --json
  dqtest check history.jsonl --time-budget 5m --out /tmp/report`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if workload != "" {
				if _, err := workloads.BareChecker(workload); err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
			}
			if consistency != "" {
				if err := checker.ValidateConsistency(consistency); err != nil {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--consistency: %w", err)}
				}
			}
			rep, err := verdict.Check(cmd.Context(), verdict.Request{Path: args[0], Workload: workload, Consistency: consistency, TimeBudget: timeBudget})
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			dir := out
			if dir == "" && rep.RunDir != "" {
				dir = rep.RunDir
			}
			if dir != "" {
				if err := rep.WriteArtifacts(dir); err != nil {
					return &exitError{code: exitUnknown, err: fmt.Errorf("writing artifacts into %s: %w", filepath.Clean(dir), err)}
				}
			}
			w := cmd.OutOrStdout()
			if asJSON {
				err = rep.WriteJSON(w)
			} else {
				err = rep.WriteText(w)
			}
			if err != nil {
				return &exitError{code: exitUnknown, err: err}
			}
			return exitFor(rep.Outcome)
		},
	}
	f := cmd.Flags()
	f.StringVar(&workload, "workload", "", "register, bank, set or append (default: the scenario's, else inferred)")
	f.StringVar(&consistency, "consistency", "", "the list-append checker's model: strict-serializable or serializable (default: the scenario's, else strict-serializable)")
	f.DurationVar(&timeBudget, "time-budget", 0, "bound on checking; past it the verdict is unknown (default: the scenario's, else 60s)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON")
	f.StringVar(&out, "out", "", "directory for artifacts (default: the run directory; none for a bare history file)")
	return cmd
}
