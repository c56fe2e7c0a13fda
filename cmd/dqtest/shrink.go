package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/shrink"
	"github.com/dqtest/dqtest/verdict"
)

func init() {
	subcommands = append(subcommands, newShrinkCommand)
}

func newShrinkCommand() *cobra.Command {
	var (
		finding         string
		tries, confirm  int
		measureOriginal bool
		budget          time.Duration
		out, image      string
	)
	cmd := &cobra.Command{
		Use:   "shrink RUN-DIR",
		Short: "Shrink a failing run to the smallest scenario that still shows its finding, with its rate",
		Long: `Read a run directory's resolved scenario and results, pick its finding (an
anomaly kind, or a crash or hang signature; --finding picks one when there
are several) and search for a smaller scenario that still shows it:

  - the fault plan written out as a timeline (the baseline, which must
    reproduce), cut after the moment the finding appeared, then delta
    debugging over its fault episodes (a start and its stop): none, halves,
    quarters, ... single episodes, and their complements; then each
    remaining episode moved earlier and its fault shortened;
  - then one dimension at a time: a shorter time limit, fewer nodes
    (7 -> 5 -> 3, targets remapped, else the faults on removed nodes
    dropped), fewer clients, a lower rate (or a higher one with a shorter
    time limit), fewer keys or accounts. The client mode and the stop mode
    are kept as they were.

Findings are compared by signature, never by free text: the anomaly kind;
a crash's signal and assertion or faulting function; the call that hung.

On the simulator a candidate runs once, with the run's seed and bug, and
reproduces or not, exactly. On Docker a candidate runs up to --tries times
with fresh seeds and reproduces when any run shows the finding. The shrunk
scenario is then run --confirm times and its rate reported (k of K), beside
the original's with --measure-original.

The search stops at --budget (the run under way finishes) or at Ctrl-C,
keeping the best scenario so far. The shrink directory (--out, default
RUN-DIR/shrink) holds shrunk.yaml (timeline schedule, expect set to the
finding: a regression gate as is), shrink.log (a line per candidate: what
changed, reproduced or not, wall time), shrink.html (before and after, the
rate, the commands to rerun), shrink.json, every candidate's run directory
under candidates/ and a link best to the best one.

Exit code: 0 when a shrunk scenario was written; 1 when its confirmation
runs never showed the finding; 2 for a run that found nothing ("nothing to
shrink"), a bad --finding, a baseline that does not reproduce, a harness
error or an interrupt before the baseline.`,
		Example: `  dqtest shrink runs/sim-stale-read/latest
  dqtest shrink runs/shutdown-double-stop/latest --image dqtest-node:1.18.1 --budget 20m --confirm 5
  dqtest shrink runs/disk-full/latest --finding 'hang stop' --tries 5 --measure-original`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if tries < 1 {
				return &exitError{code: exitUnknown, err: fmt.Errorf("--tries %d: want at least 1", tries)}
			}
			if confirm < 0 {
				return &exitError{code: exitUnknown, err: fmt.Errorf("--confirm %d: want 0 or more", confirm)}
			}
			if budget < 0 {
				return &exitError{code: exitUnknown, err: fmt.Errorf("--budget %s: want a positive duration (0: none)", budget)}
			}
			res, err := verdict.ReadResult(dir)
			if err != nil {
				return &exitError{code: exitUnknown, err: fmt.Errorf("%s: not a run directory: %w", dir, err)}
			}
			if res.SimBug != "" && !slices.Contains(sim.BugNames(), res.SimBug) {
				return &exitError{code: exitUnknown, err: fmt.Errorf("the run used simulator bug %q, which this dqtest does not know", res.SimBug)}
			}
			if out == "" {
				out = freeDir(filepath.Join(dir, "shrink"))
			}
			// Each candidate's own progress lines go to debug: the
			// shrinker prints one line per candidate.
			quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			if v, _ := cmd.Flags().GetBool("verbose"); v {
				quiet = slog.Default()
			}
			opts := harness.Options{
				Backend:  &docker.Backend{Log: quiet},
				Simulate: sim.Simulator(res.SimBug),
				SimBug:   res.SimBug,
				Image:    image,
				Log:      quiet,
			}
			rerun := "dqtest run"
			if res.SimBug != "" {
				rerun += " --sim-bug " + res.SimBug
			}
			if image != "" {
				rerun += " --image " + image
			}
			if res.Backend == "docker" {
				warnLeftovers(cmd.Context(), slog.Default())
			}
			rep, err := shrink.Run(cmd.Context(), dir, shrink.Options{
				Out: out, Finding: finding, Tries: tries, Confirm: confirmOrNone(confirm), MeasureOriginal: measureOriginal,
				Budget: budget, Progress: cmd.ErrOrStderr(), Rerun: rerun, Log: quiet,
				Run: func(ctx context.Context, sc scenario.Scenario, runDir string) (*verdict.Result, error) {
					o := opts
					o.RunDir = runDir
					return harness.Run(ctx, sc, o)
				},
			})
			if err != nil {
				if errors.Is(err, shrink.ErrNothingToShrink) {
					err = fmt.Errorf("%s: %w (verdict %s)", dir, err, res.Verdict)
				}
				return &exitError{code: exitUnknown, err: err}
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "%s: %s -> %s\n", rep.Finding.Key, sizeLine(rep.Original), sizeLine(rep.Shrunk))
			if rep.Confirm != nil {
				fmt.Fprintf(w, "  the shrunk scenario showed it in %s runs", rep.Confirm)
				if rep.OriginalRate != nil {
					fmt.Fprintf(w, ", the original in %s", rep.OriginalRate)
				}
				fmt.Fprintln(w)
			}
			if rep.Stopped != shrink.StoppedDone {
				fmt.Fprintf(w, "  search stopped (%s): this is the best scenario so far\n", rep.Stopped)
			}
			fmt.Fprintf(w, "  scenario: %s\n  report:   %s\n  log:      %s\n", filepath.Join(out, shrink.ShrunkFile),
				filepath.Join(out, shrink.ReportFile), filepath.Join(out, shrink.LogFile))
			for _, c := range rep.Commands() {
				fmt.Fprintf(w, "  %s\n", c)
			}
			if rep.Stopped == shrink.StoppedInterrupted {
				return &exitError{code: exitUnknown, err: errors.New("interrupted: the best scenario so far is written")}
			}
			if rep.Confirm != nil && rep.Confirm.Runs > 0 && rep.Confirm.Reproduced == 0 {
				return &exitError{code: exitInvalid, err: errors.New("the shrunk scenario did not show the finding in any confirmation run")}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&finding, "finding", "", "the finding to shrink when the run has several: its signature as the log prints it, an anomaly kind, a crash's expect text, or the call that hung")
	f.IntVar(&tries, "tries", 3, "runs with fresh seeds per candidate on Docker (the simulator runs each once, exactly)")
	f.IntVar(&confirm, "confirm", 10, "runs of the shrunk scenario to measure its reproduction rate (0: none)")
	f.BoolVar(&measureOriginal, "measure-original", false, "also measure the original scenario's rate, the same way")
	f.DurationVar(&budget, "budget", 30*time.Minute, "wall time for the search (0: none); Ctrl-C also stops it, keeping the best so far")
	f.StringVar(&out, "out", "", "the shrink directory (default RUN-DIR/shrink, or shrink-2, ... when taken)")
	f.StringVar(&image, "image", "", "a node image for every node (docker backend), instead of the scenario's dqlite version's")
	return cmd
}

// confirmOrNone maps --confirm 0 (none) to the shrinker's "none".
func confirmOrNone(n int) int {
	if n == 0 {
		return -1
	}
	return n
}

// freeDir is dir, or dir-2, dir-3, ... when dir exists and is not empty.
func freeDir(dir string) string {
	cand := dir
	for i := 2; ; i++ {
		ents, err := os.ReadDir(cand)
		if err != nil || len(ents) == 0 {
			return cand
		}
		cand = fmt.Sprintf("%s-%d", dir, i)
	}
}

func sizeLine(sz shrink.Size) string {
	n := func(k int, thing string) string {
		if k == 1 {
			return "1 " + thing
		}
		return fmt.Sprintf("%d %ss", k, thing)
	}
	return strings.Join([]string{n(sz.Steps, "fault step"), sz.TimeLimit.String(), n(sz.Nodes, "node"),
		n(sz.Clients, "client"), n(sz.Ops, "operation")}, ", ")
}
