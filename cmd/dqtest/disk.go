package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness/docker"
)

func init() {
	subcommands = append(subcommands, newDiskCommand)
}

// newDiskCommand is the disk nemesis's tool inside the docker backend's
// keeper container, which mounts every node's data volume: `dqtest disk
// fill DIR` fills the volume holding DIR to the last byte (docker.FillVolume)
// and prints what it did as JSON; `dqtest disk free DIR` deletes the
// balloon. Hidden: a person has no use for it outside that container.
func newDiskCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:    "disk fill|free DIR",
		Short:  "Fill or free the volume of a node's data directory (the disk nemesis, inside the keeper container)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "fill":
				fill, err := docker.FillVolume(args[1])
				if err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				b, _ := json.Marshal(fill)
				fmt.Fprintln(cmd.OutOrStdout(), string(b))
				return nil
			case "free":
				if err := docker.FreeVolume(args[1]); err != nil {
					return &exitError{code: exitUnknown, err: err}
				}
				return nil
			}
			return &exitError{code: exitUnknown, err: fmt.Errorf("disk: want fill or free, got %q", args[0])}
		},
	}
	return cmd
}
