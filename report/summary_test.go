package report_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

func TestListRunsFindsEveryRunOldestFirstWithItsVerdict(t *testing.T) {
	root := t.TempDir()
	run := func(file, bug string) *verdict.Result {
		sc, err := scenario.Load(filepath.Join("..", "scenarios", file))
		require.NoError(t, err)
		sc.Seed = 1
		res, err := harness.Run(context.Background(), sc, harness.Options{Simulate: sim.Simulator(bug), SimBug: bug,
			RunsDir: root, Log: slog.New(slog.DiscardHandler), WriteReport: report.WriteDir})
		require.NoError(t, err)
		return res
	}
	bad := run("sim-stale-read.yaml", sim.BugStaleRead)
	good := run("sim-stale-read.yaml", "")
	crash := run("sim-crash-on-double-stop.yaml", sim.BugCrashOnDoubleStop)
	// A run that died before writing results.json.
	dead := filepath.Join(root, "default", "20200101T000000Z")
	require.NoError(t, os.MkdirAll(dead, 0o755))

	runs, err := report.ListRuns(root)
	require.NoError(t, err)
	require.Len(t, runs, 4, "the latest links are not runs")
	require.Equal(t, dead, runs[0].Dir, "oldest first")
	require.Equal(t, checker.Unknown, runs[0].Outcome)
	require.Contains(t, runs[0].Error, "no results.json")

	byDir := map[string]report.RunSummary{}
	for _, r := range runs {
		byDir[r.Dir] = r
	}
	b := byDir[bad.Dir]
	require.Equal(t, checker.Invalid, b.Outcome)
	require.Equal(t, "simulator", b.Backend)
	require.Equal(t, sim.BugStaleRead, b.SimBug)
	require.NotEmpty(t, b.Anomalies)
	require.Equal(t, "nonlinearizable", b.Anomalies[0].Kind)
	require.Equal(t, filepath.Join(bad.Dir, report.File), b.Report)
	require.Equal(t, checker.Valid, byDir[good.Dir].Outcome)
	require.Empty(t, byDir[good.Dir].Anomalies)
	c := byDir[crash.Dir]
	require.NotEmpty(t, c.Crashes)
	require.Contains(t, c.Crashes[0].Detail, "dqlite_node_stop")
}

func TestSummaryOutcomeIsTheWorstRun(t *testing.T) {
	mk := func(o checker.Verdict) report.RunSummary { return report.RunSummary{Outcome: o} }
	tests := []struct {
		runs []report.RunSummary
		want checker.Verdict
	}{
		{nil, checker.Valid},
		{[]report.RunSummary{mk(checker.Valid), mk(checker.Valid)}, checker.Valid},
		{[]report.RunSummary{mk(checker.Valid), mk(checker.Unknown)}, checker.Unknown},
		{[]report.RunSummary{mk(checker.Unknown), mk(checker.Invalid), mk(checker.Valid)}, checker.Invalid},
	}
	for _, tt := range tests {
		s := report.NewSummary(tt.runs)
		require.Equal(t, tt.want, s.Outcome)
		require.NotNil(t, s.Runs)
	}
}

func TestSummarizeAFailedRunIsUnknownWithTheError(t *testing.T) {
	s := report.Summarize("default", nil, context.Canceled)
	require.Equal(t, checker.Unknown, s.Outcome)
	require.Equal(t, "default", s.Scenario)
	require.Equal(t, context.Canceled.Error(), s.Error)
}
