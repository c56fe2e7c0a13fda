package main

import (
	"fmt"

	"github.com/dqtest/dqtest/node"
	"github.com/spf13/cobra"
)

func init() {
	subcommands = append(subcommands, func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print dqtest's version and the linked C dqlite's",
			Run: func(cmd *cobra.Command, args []string) {
				fmt.Fprintf(cmd.OutOrStdout(), "dqtest %s (C dqlite %s, go-dqlite v2)\n", version, node.DqliteVersionString())
			},
		}
	})
}

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"
