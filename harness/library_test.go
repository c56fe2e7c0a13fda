package harness_test

// harness.Run used as a library, the way a project's own go test would:
// load a scenario, run it, assert on the Result. docs/report.md shows the
// same code.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
)

func TestLibraryRunOfASimulatorScenarioIsValidAndWritesAReport(t *testing.T) {
	sc, err := scenario.Load("../scenarios/sim-stale-read.yaml")
	require.NoError(t, err)
	sc.Seed = 42 // fixed: the simulator then repeats the run exactly

	res, err := harness.Run(context.Background(), sc, harness.Options{
		Simulate:    sim.Simulator(""), // no bug injected
		RunsDir:     t.TempDir(),
		WriteReport: report.WriteDir,
		Log:         slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.Equal(t, checker.Valid, res.Outcome, "reasons: %v", res.Reasons)
	require.Equal(t, "simulator", res.Backend)
	require.Empty(t, res.Crashes)
	require.Greater(t, res.Ops.OK, 1000)
	require.FileExists(t, filepath.Join(res.Dir, report.File))
}

func TestLibraryRunFindsTheSimulatorsInjectedStaleReads(t *testing.T) {
	sc, err := scenario.Load("../scenarios/sim-stale-read.yaml")
	require.NoError(t, err)
	sc.Seed = 42

	res, err := harness.Run(context.Background(), sc, harness.Options{
		Simulate: sim.Simulator(sim.BugStaleRead), SimBug: sim.BugStaleRead,
		RunsDir: t.TempDir(), Log: slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.Equal(t, checker.Invalid, res.Outcome)
	// The workload's checker first, then convergence and recovery: only
	// the register checker finds anything.
	require.Len(t, res.Checkers, 3)
	require.Equal(t, "register", res.Checkers[0].Checker)
	require.NotEmpty(t, res.Checkers[0].Anomalies)
	for _, a := range res.Checkers[0].Anomalies {
		require.Equal(t, "nonlinearizable", a.Kind)
		require.NotEmpty(t, a.Ops, "each anomaly names the operations involved")
	}
	for _, c := range res.Checkers[1:] {
		require.Equal(t, checker.Valid, c.Verdict, "%s: %s", c.Checker, c.Reason)
	}
}

func TestLibraryRunOfTheDefaultScenarioOnRealDqliteIsValid(t *testing.T) {
	requireDocker(t)
	sc, err := scenario.Load("../scenarios/default.yaml")
	require.NoError(t, err)
	// One kill of the default's schedule (10 s to 15 s) in a 16 s run. (This
	// test said "partition at 10 s" in a 12 s run, where the partition never
	// fitted and the run had no fault at all: now refused, see
	// nemesis.UnplannedError. A partition is not used here: on dqlite 1.18.7
	// it can show the stale reads of an isolated leader, a finding the
	// default scenario reports, docs/findings/README.md.)
	sc.TimeLimit = 16 * time.Second
	sc.Nemesis.Faults = []string{"kill"}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	res, err := harness.Run(ctx, sc, harness.Options{
		Backend:     &docker.Backend{Log: slog.New(slog.DiscardHandler)},
		RunsDir:     t.TempDir(),
		WriteReport: report.WriteDir,
		Log:         slog.New(slog.DiscardHandler),
	})
	require.NoError(t, err)
	require.Equal(t, "docker", res.Backend)
	require.Equal(t, checker.Valid, res.Outcome, "reasons: %v", res.Reasons)
	require.True(t, res.Recovery.Recovered, res.Recovery.Error)
	require.NotEmpty(t, res.Faults, "the kill happened")
	require.Greater(t, res.Ops.OK, 100)
	html, err := os.ReadFile(filepath.Join(res.Dir, report.File))
	require.NoError(t, err)
	require.Contains(t, string(html), "real dqlite nodes in containers: dqlite 1.18.7", "the report names the version the nodes ran")
	require.Len(t, res.Dqlite, 1)
	require.Equal(t, "1.18.7", res.Dqlite[0].Dqlite, "the default is the newest version shipped")
}

// ExampleRun runs a scenario on the simulator and prints its verdict. With
// a docker backend (Options.Backend) the same call runs real dqlite nodes.
func ExampleRun() {
	sc, err := scenario.Load("../scenarios/sim-stale-read.yaml")
	if err != nil {
		panic(err)
	}
	sc.Seed = 42
	dir, _ := os.MkdirTemp("", "dqtest-example")
	defer os.RemoveAll(dir)
	res, err := harness.Run(context.Background(), sc, harness.Options{
		Simulate: sim.Simulator(sim.BugStaleRead), SimBug: sim.BugStaleRead,
		RunsDir: dir, Log: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Backend, res.Outcome, res.Reasons)
	// Output: simulator invalid [anomaly found: nonlinearizable]
}
