package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness/docker"
)

func init() {
	subcommands = append(subcommands, newCleanCommand)
}

func newCleanCommand() *cobra.Command {
	var (
		run    string
		dryRun bool
	)
	cmd := &cobra.Command{
		Use:   "clean",
		Short: "Remove the containers, networks and volumes dqtest runs left on the Docker engine",
		Long: `Remove what dqtest runs left on the Docker engine: every container,
network and volume labelled dqtest.run (or only one run's, with --run). A
run removes its own on every way out it can see, Ctrl-C included; one
killed hard (SIGKILL, a crash, a reboot) cannot, and its containers keep
their addresses in 172.29.0.0/16 and their names. dqtest run and dqtest
matrix warn at the start when there are any.

This also removes the containers of a run still going (its run then
fails): look with --dry-run first when another dqtest may be running. The
docker-compose cluster (docker-compose.yml) is not a run's and is left
alone: remove it with docker-compose down.`,
		Example: `  dqtest clean --dry-run
  dqtest clean
  dqtest clean --run register-partition-20261206T040102Z-1a2b`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return runClean(ctx, cmd.OutOrStdout(), run, dryRun)
		},
	}
	f := cmd.Flags()
	f.StringVar(&run, "run", "", "only this run's (its id: the dqtest.run label, in the node log and the container names)")
	f.BoolVar(&dryRun, "dry-run", false, "list what would be removed, remove nothing")
	return cmd
}

func runClean(ctx context.Context, w io.Writer, run string, dryRun bool) error {
	what := "dqtest runs"
	if run != "" {
		what = "run " + run
	}
	found, err := docker.Leftovers(ctx, run)
	if err != nil {
		return &exitError{code: exitUnknown, err: err}
	}
	if len(found) == 0 {
		fmt.Fprintf(w, "nothing to clean: no containers, networks or volumes of %s on the Docker engine\n", what)
		return nil
	}
	for _, l := range found {
		fmt.Fprintln(w, l.String())
	}
	if dryRun {
		fmt.Fprintf(w, "would remove %s of %s (dry run: nothing removed)\n", docker.LeftoverSummary(found), runsOf(found))
		return nil
	}
	if run != "" {
		err = docker.Cleanup(ctx, run)
	} else {
		err = docker.CleanupAll(ctx)
	}
	left, lerr := docker.Leftovers(ctx, run)
	if err == nil {
		err = lerr
	}
	if err != nil || len(left) > 0 {
		if len(left) > 0 {
			err = fmt.Errorf("%w; still there: %s", err, docker.LeftoverSummary(left))
		}
		return &exitError{code: exitUnknown, err: fmt.Errorf("clean: %w", err)}
	}
	fmt.Fprintf(w, "removed %s of %s\n", docker.LeftoverSummary(found), runsOf(found))
	return nil
}

func runsOf(l []docker.Leftover) string {
	runs := docker.LeftoverRuns(l)
	if len(runs) == 1 {
		return "run " + runs[0]
	}
	return fmt.Sprintf("%d runs (%s)", len(runs), strings.Join(runs, ", "))
}

// warnLeftovers tells a person starting a run on the docker backend that
// earlier runs left containers, networks or volumes behind: they hold
// addresses in the project's range and names, and slow every run down
// (each new network must avoid their subnets). Silent when there are none
// or Docker cannot be asked (the run then says why it cannot start).
func warnLeftovers(ctx context.Context, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	found, err := docker.Leftovers(ctx, "")
	if err != nil || len(found) == 0 {
		return
	}
	var subnets []string
	for _, l := range found {
		if l.Kind == "network" && l.Detail != "" {
			subnets = append(subnets, l.Detail)
		}
	}
	args := []any{"left", docker.LeftoverSummary(found), "runs", strings.Join(docker.LeftoverRuns(found), ",")}
	if len(subnets) > 0 {
		args = append(args, "subnets", strings.Join(subnets, ","))
	}
	log.Warn("earlier dqtest runs left containers, networks or volumes on the Docker engine (a run killed hard, or one still going); they hold addresses and names new runs must avoid: remove them with 'dqtest clean' (--dry-run to list them first)", args...)
}
