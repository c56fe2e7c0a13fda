package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"

	"github.com/dqtest/dqtest/scenario"
	"github.com/spf13/cobra"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		var dir string
		cmd := &cobra.Command{
			Use:   "scenarios",
			Short: "List the shipped scenarios with one line each",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				paths, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
				if err != nil {
					return err
				}
				if len(paths) == 0 {
					return fmt.Errorf("no scenarios in %s", dir)
				}
				sort.Strings(paths)
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
				for _, p := range paths {
					data, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					fmt.Fprintf(tw, "%s\t%s\n", p, scenario.Summary(data))
				}
				return tw.Flush()
			},
		}
		cmd.Flags().StringVar(&dir, "dir", "scenarios", "directory of scenario files")
		return cmd
	})
}
