package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/report"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "report RUN-DIR...",
			Short: "Write a run directory's report.html (and junit.xml) again",
			Long: `Write report.html and junit.xml into each run directory from what the
directory holds (results.json, scenario.yaml, history.jsonl, nodes/*.log,
porcupine's linearizability.html): the same report the run wrote, e.g.
after dqtest check re-checked it or for a run made by an older dqtest.
The report is one self-contained HTML file (docs/report.md).`,
			Example: `  dqtest report runs/default/latest
  dqtest report runs/*/2026*`,
			Args: cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				var failed error
				for _, dir := range args {
					if err := report.WriteDir(dir); err != nil {
						fmt.Fprintf(cmd.ErrOrStderr(), "dqtest: %s: %v\n", dir, err)
						failed = &exitError{code: exitUnknown}
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), filepath.Join(dir, report.File))
				}
				return failed
			},
		}
	})
}
