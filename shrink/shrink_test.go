package shrink

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// noisy are, per injectable bug, a 60 s simulated scenario with at least
// ten fault steps that shows it, the seed it is shrunk from, and the
// finding to shrink.
var noisy = []struct {
	bug, finding string
	seed         int64
}{
	{sim.BugStaleRead, "nonlinearizable", 2},
	{sim.BugLostWrite, "nonlinearizable", 2},
	{sim.BugNonAtomicTxn, "wrong-total", 1},
	{sim.BugDuplicateWrite, "duplicated", 7},
	{sim.BugDirtyRead, "wrong-total", 1},
	{sim.BugDiverge, "replicas-diverged", 1},
	{sim.BugCrashOnDoubleStop, "dqlite_node_stop: Assertion `rv == 0' failed", 1},
}

func TestEveryBugHasANoisyScenario(t *testing.T) {
	var bugs []string
	for _, n := range noisy {
		bugs = append(bugs, n.bug)
	}
	require.ElementsMatch(t, sim.BugNames(), bugs, "every injectable bug needs a noisy scenario to shrink")
}

// Each bug's noisy 60 s scenario shrinks, within two minutes of wall time,
// to at most two fault steps and at most 15 s, and the shrunk scenario, run
// again from its file, still shows the finding and passes as a regression
// gate (its expect is the finding).
func TestShrinksEachBugsNoisyScenario(t *testing.T) {
	for _, tc := range noisy {
		t.Run(tc.bug, func(t *testing.T) {
			t.Parallel()
			file := filepath.Join("testdata", "noisy-"+tc.bug+".yaml")
			run := simulate(t, file, tc.bug, tc.seed)
			orig, res, err := LoadRun(run)
			require.NoError(t, err)
			rs, err := orig.Resolve()
			require.NoError(t, err)
			require.Equal(t, 60*time.Second, orig.TimeLimit)
			require.GreaterOrEqual(t, len(rs.Plan), 10, "a noisy scenario has at least ten fault steps")
			require.Equal(t, checker.Invalid, res.Verdict, "the noisy scenario must show the bug")

			out := filepath.Join(t.TempDir(), "shrink")
			began := time.Now()
			rep, err := Run(context.Background(), run, Options{Out: out, Finding: tc.finding, Run: simRunner(tc.bug), Confirm: 3, Budget: 2 * time.Minute})
			require.NoError(t, err)
			took := time.Since(began)
			require.Equal(t, StoppedDone, rep.Stopped, "the search must finish within its budget")
			require.Less(t, took, 2*time.Minute+30*time.Second)
			require.True(t, rep.Exact)
			require.LessOrEqual(t, rep.Shrunk.Steps, 2, "shrunk to at most two fault steps")
			require.LessOrEqual(t, rep.Shrunk.TimeLimit, 15*time.Second, "shrunk to at most 15 s")
			require.Less(t, rep.Shrunk.Ops, rep.Original.Ops)
			require.NotNil(t, rep.Confirm)
			require.Equal(t, 3, rep.Confirm.Runs)
			require.GreaterOrEqual(t, rep.Confirm.Reproduced, 1, "the shrunk scenario's own seed reproduces it")
			t.Logf("%s: %d candidates in %s: %s -> %s; confirmed %s", tc.bug, len(rep.Attempts), took.Round(time.Millisecond),
				describeSize(rep.Original), describeSize(rep.Shrunk), rep.Confirm)

			// shrunk.yaml is a ready scenario: run from its file it shows
			// the finding, which it expects, so its outcome is valid.
			sc, err := scenario.Load(filepath.Join(out, ShrunkFile))
			require.NoError(t, err)
			require.Equal(t, mode.Sim, sc.Backend)
			require.Equal(t, orig.StopMode, sc.StopMode, "the stop mode is kept")
			require.Equal(t, orig.Client, sc.Client, "the client mode is kept")
			again, err := simRunner(tc.bug)(context.Background(), sc, filepath.Join(t.TempDir(), "again"))
			require.NoError(t, err)
			require.True(t, Shows(again, rep.Finding), "shrunk.yaml shows %s", rep.Finding.Key)
			require.Equal(t, checker.Valid, again.Outcome, "shrunk.yaml passes as a gate: %v", again.Reasons)

			for _, f := range []string{LogFile, ReportFile, ReportJSONFile, BestLink} {
				require.FileExists(t, filepath.Join(out, f))
			}
			// Every candidate's run directory is kept and logged.
			log, err := os.ReadFile(filepath.Join(out, LogFile))
			require.NoError(t, err)
			for _, a := range rep.Attempts {
				require.Contains(t, string(log), a.ID+" ")
				for _, r := range a.Runs {
					require.FileExists(t, filepath.Join(out, r, verdict.ResultsFile))
				}
			}
		})
	}
}

// The same run shrunk twice gives the same shrunk.yaml.
func TestShrinkIsDeterministic(t *testing.T) {
	for _, tc := range []int{0, 6} {
		n := noisy[tc]
		t.Run(n.bug, func(t *testing.T) {
			t.Parallel()
			run := simulate(t, filepath.Join("testdata", "noisy-"+n.bug+".yaml"), n.bug, n.seed)
			var got [][]byte
			for i := range 2 {
				out := filepath.Join(t.TempDir(), "shrink", string(rune('a'+i)))
				_, err := Run(context.Background(), run, Options{Out: out, Finding: n.finding, Run: simRunner(n.bug), Confirm: 2})
				require.NoError(t, err)
				b, err := os.ReadFile(filepath.Join(out, ShrunkFile))
				require.NoError(t, err)
				got = append(got, b)
			}
			require.Equal(t, string(got[0]), string(got[1]))
		})
	}
}

// A run that found nothing is refused: there is nothing to shrink.
func TestBugFreeRunIsRefused(t *testing.T) {
	run := simulate(t, filepath.Join("testdata", "noisy-stale-read.yaml"), "", 2)
	res, err := verdict.ReadResult(run)
	require.NoError(t, err)
	require.Equal(t, checker.Valid, res.Verdict)
	out := filepath.Join(t.TempDir(), "shrink")
	_, err = Run(context.Background(), run, Options{Out: out, Run: simRunner("")})
	require.ErrorIs(t, err, ErrNothingToShrink)
	_, statErr := os.Stat(filepath.Join(out, ShrunkFile))
	require.True(t, errors.Is(statErr, os.ErrNotExist), "a refused shrink writes no scenario")
}

func TestBadInputIsRefused(t *testing.T) {
	_, err := Run(context.Background(), t.TempDir(), Options{Out: filepath.Join(t.TempDir(), "x"), Run: simRunner("")})
	require.ErrorContains(t, err, "not a run directory")

	run := simulate(t, filepath.Join("testdata", "noisy-crash-on-double-stop.yaml"), sim.BugCrashOnDoubleStop, 1)
	_, err = Run(context.Background(), run, Options{Out: filepath.Join(t.TempDir(), "x"), Finding: "no-such-finding", Run: simRunner(sim.BugCrashOnDoubleStop)})
	require.ErrorContains(t, err, `--finding "no-such-finding"`)

	full := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(full, "f"), nil, 0o644))
	_, err = Run(context.Background(), run, Options{Out: full, Run: simRunner(sim.BugCrashOnDoubleStop)})
	require.ErrorContains(t, err, "not empty")
}

// A budget that runs out, and a cancelled context (Ctrl-C), stop the
// search and keep the best scenario so far.
func TestStopsKeepTheBestSoFar(t *testing.T) {
	n := noisy[6]
	run := simulate(t, filepath.Join("testdata", "noisy-"+n.bug+".yaml"), n.bug, n.seed)

	out := filepath.Join(t.TempDir(), "budget")
	rep, err := Run(context.Background(), run, Options{Out: out, Run: simRunner(n.bug), Budget: time.Nanosecond, Confirm: 1})
	require.Error(t, err, "no baseline within the budget")
	require.Nil(t, rep)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runs atomic.Int32
	inner := simRunner(n.bug)
	stopAfter := func(ctx context.Context, sc scenario.Scenario, dir string) (*verdict.Result, error) {
		if runs.Add(1) == 4 {
			cancel()
			return nil, context.Canceled
		}
		return inner(ctx, sc, dir)
	}
	out = filepath.Join(t.TempDir(), "interrupted")
	rep, err = Run(ctx, run, Options{Out: out, Run: stopAfter})
	require.NoError(t, err)
	require.Equal(t, StoppedInterrupted, rep.Stopped)
	require.Nil(t, rep.Confirm, "no confirmation runs after an interrupt")
	require.Len(t, rep.Attempts, 4)
	sc, err := scenario.Load(filepath.Join(out, ShrunkFile))
	require.NoError(t, err)
	require.Less(t, sc.TimeLimit, 60*time.Second, "the best so far (cut after the finding) is kept")
	require.Equal(t, rep.Shrunk.Steps, len(sc.Nemesis.Schedule.Timeline))
}
