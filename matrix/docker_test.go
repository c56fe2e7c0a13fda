package matrix

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/report"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

// requireDocker fails when CI=true and Docker or the node image is missing,
// and skips otherwise.
func requireDocker(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("a Docker test (make unit runs -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := docker.Available(ctx, docker.DefaultImage); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker and the node image are needed: %v", err)
		}
		t.Skipf("Docker and the node image are needed: %v", err)
	}
}

// A 2 x 2 matrix on real containers, end to end: every cell runs on a
// fresh cluster and reaches a verdict, the table, the JUnit file and the
// summary page agree with the cells, a marked cell is judged by its mark,
// and the disk cell really filled a disk.
func TestSmallMatrixRunsEveryCellAndWritesTableJUnitAndSummary(t *testing.T) {
	requireDocker(t)
	base := scenario.Default()
	base.Rate, base.Concurrency = 60, 4
	base.Nemesis = nemesis.Spec{Schedule: nemesis.Schedule{Kind: nemesis.Fixed, Interval: 3 * time.Second, Duration: 2 * time.Second}}
	spec := Spec{Name: "small", Workloads: []string{"append", "bank"}, Nemeses: []string{"partition+kill", "pause+disk"},
		Base: &base, TimeLimit: 10 * time.Second, ExpectFail: map[string]string{"bank/partition+kill": "a mark to check"}}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var progressed []string
	res, err := Run(ctx, spec, dir, harness.Options{Backend: &docker.Backend{}}, func(c Cell) { progressed = append(progressed, c.Key()) })
	require.NoError(t, err)
	require.Equal(t, []string{"append/partition+kill", "append/pause+disk", "bank/partition+kill", "bank/pause+disk"}, progressed)
	junitPath := filepath.Join(dir, "out.xml")
	require.NoError(t, WriteFiles(res, junitPath))

	failed := 0
	for _, c := range res.Cells {
		t.Logf("%s: %s (outcome %s) in %.1fs, start-up %.1fs, teardown %.1fs, findings: %s", c.Key(), c.Status, c.Run.Outcome,
			c.Wall, c.Run.Phases.Startup, c.Run.Phases.Teardown, findings(c))
		require.NotEqual(t, checker.Unknown, c.Run.Outcome, "%s reached a verdict: %s", c.Key(), c.Run.Error)
		require.Equal(t, status(c.Run.Outcome, c.ExpectFail != ""), c.Status)
		require.Positive(t, c.Run.Phases.Startup)
		require.Positive(t, c.Run.Phases.Teardown)
		require.FileExists(t, filepath.Join(dir, c.Scenario, report.File))
		if c.Status == Failed {
			failed++
		}
	}
	marked := res.Cells[2]
	require.Contains(t, []Status{ExpectedFail, UnexpectedPass}, marked.Status)

	// The pause+disk cells filled a disk, with no error.
	for _, c := range []Cell{res.Cells[1], res.Cells[3]} {
		events, _, err := history.ReadFile(filepath.Join(dir, c.Scenario, verdict.HistoryFile))
		require.NoError(t, err)
		i := slices.IndexFunc(events, func(e history.Event) bool { return e.F == "start-disk" })
		require.GreaterOrEqual(t, i, 0, "%s has a start-disk event", c.Key())
		require.Empty(t, events[i].Error, "%s: the disk was filled", c.Key())
	}

	table, err := os.ReadFile(filepath.Join(dir, TableFile))
	require.NoError(t, err)
	for _, c := range res.Cells {
		require.Regexp(t, `(?m)^`+c.Workload+` +`+strings.ReplaceAll(c.Nemesis, "+", `\+`)+` +`+string(c.Status)+` `, string(table))
	}
	require.Contains(t, string(table), "4 cells: ")
	require.Contains(t, string(table), "matrix outcome: "+string(res.Outcome))

	data, err := os.ReadFile(junitPath)
	require.NoError(t, err)
	doc := parseJUnit(t, data)
	require.Equal(t, 4, doc.Tests)
	require.Equal(t, failed, doc.Failures)
	require.Zero(t, doc.Errors)
	var names []string
	for _, c := range doc.Suites[0].Cases {
		names = append(names, c.Name)
	}
	require.Equal(t, progressed, names)
	require.Contains(t, doc.Suites[0].Cases[2].Out, "expected to fail (a mark to check)")

	page, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	require.NoError(t, err)
	for _, c := range res.Cells {
		require.True(t, bytes.Contains(page, []byte(`href="`+c.Scenario+`/report.html"`)), "the summary links %s's report", c.Key())
	}
}
