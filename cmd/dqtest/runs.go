package main

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/report"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var (
			out      string
			scenario string
			last     int
			asJSON   bool
		)
		cmd := &cobra.Command{
			Use:   "runs",
			Short: "List past runs with their verdicts",
			Long: `List the run directories under --out (runs/<scenario>/<timestamp>/),
oldest first, each with its seed, its outcome (what the exit code was), its verdict
(what the run showed), the backend, operations, findings and directory.
A directory without results.json is a run still going or one that died
before writing it; it is listed as unknown.`,
			Example: `  dqtest runs
  dqtest runs --scenario default --last 5
  dqtest runs --json | jq '.[] | select(.outcome != "valid") | .dir'`,
			Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				if last < 0 {
					return &exitError{code: exitUnknown, err: fmt.Errorf("--last %d: want a number of runs, 1 or more (0: all)", last)}
				}
				runs, err := report.ListRuns(out)
				if errors.Is(err, fs.ErrNotExist) {
					// Nothing ran here yet: an empty list, not an error.
					runs, err = nil, nil
					if !asJSON {
						fmt.Fprintf(cmd.OutOrStdout(), "no runs yet: %s does not exist (dqtest run writes a run directory there)\n", out)
						return nil
					}
				}
				if err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				if scenario != "" {
					runs = slices.DeleteFunc(runs, func(r report.RunSummary) bool { return r.Scenario != scenario })
				}
				if last > 0 && len(runs) > last {
					runs = runs[len(runs)-last:]
				}
				w := cmd.OutOrStdout()
				if asJSON {
					if runs == nil {
						runs = []report.RunSummary{}
					}
					enc := json.NewEncoder(w)
					enc.SetIndent("", "  ")
					return enc.Encode(runs)
				}
				if len(runs) == 0 {
					fmt.Fprintf(w, "no runs under %s\n", out)
					return nil
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STARTED\tSEED\tSCENARIO\tBACKEND\tDQLITE\tOUTCOME\tVERDICT\tOPS\tFINDINGS\tDIR")
				for _, r := range runs {
					started := "-"
					if !r.Started.IsZero() {
						started = r.Started.Local().Format("2006-01-02 15:04:05")
					}
					backend := r.Backend
					if r.SimBug != "" {
						backend += ":" + r.SimBug
					}
					seed := "-"
					if r.Seed != 0 {
						seed = strconv.FormatInt(r.Seed, 10)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", started, seed, r.Scenario, cmp.Or(backend, "-"),
						cmp.Or(r.Dqlite, "-"), r.Outcome, r.Verdict, r.Ops.Invoked, findings(r), r.Dir)
				}
				return tw.Flush()
			},
		}
		f := cmd.Flags()
		f.StringVar(&out, "out", "runs", "root of run directories")
		f.StringVar(&scenario, "scenario", "", "only this scenario's runs")
		f.IntVar(&last, "last", 0, "only the newest N runs")
		f.BoolVar(&asJSON, "json", false, "print the runs as JSON (the summaries dqtest run --json prints)")
		return cmd
	})
}

// findings is a run's findings in a few words: "2 nonlinearizable, crash
// assertion", or the error that left it without a verdict.
func findings(r report.RunSummary) string {
	if r.Error != "" {
		return "error: " + firstLine(r.Error)
	}
	counts := map[string]int{}
	var kinds []string
	for _, a := range r.Anomalies {
		if counts[a.Kind] == 0 {
			kinds = append(kinds, a.Kind)
		}
		counts[a.Kind]++
	}
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], k))
	}
	for _, c := range r.Crashes {
		p := "crash " + c.Kind
		if c.Expected {
			p += " (expected)"
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}
