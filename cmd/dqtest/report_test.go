package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/report"
)

// runCLI runs `dqtest args...` and returns its exit code, stdout and
// stderr (the CLI's own error message included).
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	root := newRoot()
	var stdout, stderr bytes.Buffer
	root.SetOut(&stdout)
	root.SetErr(&stderr)
	err := executeArgs(context.Background(), root, args)
	if err == nil {
		return exitValid, stdout.String(), stderr.String()
	}
	var ee *exitError
	require.True(t, errors.As(err, &ee), "unexpected error %v", err)
	if ee.err != nil {
		stderr.WriteString(ee.err.Error())
	}
	return ee.code, stdout.String(), stderr.String()
}

type junitCounts struct {
	Tests    int `xml:"tests,attr"`
	Failures int `xml:"failures,attr"`
	Errors   int `xml:"errors,attr"`
	Suites   []struct {
		Cases []struct {
			Name    string    `xml:"name,attr"`
			Failure *struct{} `xml:"failure"`
			Error   *struct {
				Message string `xml:"message,attr"`
			} `xml:"error"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func readJUnit(t *testing.T, path string) junitCounts {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var j junitCounts
	require.NoError(t, xml.Unmarshal(b, &j))
	return j
}

func TestRunJSONAndJUnitCoverEveryScenarioAndTheWorstOutcome(t *testing.T) {
	out := t.TempDir()
	junit := filepath.Join(out, "junit.xml")
	code, stdout, stderr := runCLI(t, "run", "--backend", "sim", "--sim-bug", "stale-read", "--seed", "1",
		"../../scenarios/sim-stale-read.yaml", "../../scenarios/sim-crash-on-double-stop.yaml",
		"--out", out, "--json", "--junit", junit)
	require.Equal(t, exitInvalid, code, stderr)

	var sum report.Summary
	require.NoError(t, json.Unmarshal([]byte(stdout), &sum), "stdout is only the JSON summary: %s", stdout)
	require.Equal(t, checker.Invalid, sum.Outcome)
	require.Len(t, sum.Runs, 2)
	require.Equal(t, "sim-stale-read", sum.Runs[0].Scenario)
	require.Equal(t, checker.Invalid, sum.Runs[0].Outcome)
	require.NotEmpty(t, sum.Runs[0].Anomalies)
	require.Equal(t, checker.Valid, sum.Runs[1].Outcome, "the stale-read bug does not touch the set workload")
	for _, r := range sum.Runs {
		require.FileExists(t, r.Report)
		require.FileExists(t, filepath.Join(r.Dir, report.JUnitFile))
	}
	require.Contains(t, stderr, "sim-stale-read: invalid", "verdict lines go to stderr under --json")

	j := readJUnit(t, junit)
	require.Equal(t, 2, j.Tests)
	require.Equal(t, 1, j.Failures)
	require.Equal(t, "sim-stale-read", j.Suites[0].Cases[0].Name)
	require.NotNil(t, j.Suites[0].Cases[0].Failure)
	require.Nil(t, j.Suites[0].Cases[1].Failure)
}

func TestRunWithABadScenarioStillWritesJUnit(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("nodes: 4\n"), 0o644))
	junit := filepath.Join(dir, "junit.xml")
	code, _, stderr := runCLI(t, "run", "--backend", "sim", "../../scenarios/sim-stale-read.yaml", bad, "--out", dir, "--junit", junit)
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "nodes")
	j := readJUnit(t, junit)
	// Issue 17: every scenario given has its case, the one that ran into
	// the bad file's error too (it was 1 test, the bad file's, before).
	require.Equal(t, 2, j.Tests)
	require.Equal(t, 2, j.Errors)
	require.Equal(t, "sim-stale-read", j.Suites[0].Cases[0].Name)
	require.Equal(t, bad, j.Suites[0].Cases[1].Name)
}

func TestRunsListsPastRunsAndReproRepeatsASimulatorRunExactly(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runCLI(t, "run", "--backend", "sim", "--sim-bug", "stale-read", "--seed", "1",
		"../../scenarios/sim-stale-read.yaml", "--out", out)
	require.Equal(t, exitInvalid, code, stderr)
	require.Contains(t, stdout, "report: ")

	code, stdout, _ = runCLI(t, "runs", "--out", out)
	require.Equal(t, exitValid, code)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	require.Len(t, lines, 2, stdout)
	require.Contains(t, lines[0], "OUTCOME")
	require.Regexp(t, `sim-stale-read\s+simulator:stale-read\s+-\s+invalid\s+invalid\s+\d+\s+\d+ nonlinearizable`, lines[1])

	dir := filepath.Join(out, "sim-stale-read", "latest")
	code, stdout, stderr = runCLI(t, "repro", dir, "--out", out)
	require.Equal(t, exitInvalid, code, stderr)
	require.Contains(t, stdout, "the history is identical, byte for byte")

	code, stdout, _ = runCLI(t, "runs", "--out", out, "--json")
	require.Equal(t, exitValid, code)
	var runs []report.RunSummary
	require.NoError(t, json.Unmarshal([]byte(stdout), &runs))
	require.Len(t, runs, 2)
	require.Equal(t, runs[0].Seed, runs[1].Seed, "repro used the run's seed")
}

func TestReportCommandWritesTheReportAgain(t *testing.T) {
	out := t.TempDir()
	code, _, stderr := runCLI(t, "run", "--backend", "sim", "--seed", "2", "--time-limit", "25s", "../../scenarios/sim-stale-read.yaml", "--out", out)
	require.Equal(t, exitValid, code, stderr)
	dir := filepath.Join(out, "sim-stale-read", "latest")
	require.NoError(t, os.Remove(filepath.Join(dir, report.File)))

	code, stdout, _ := runCLI(t, "report", dir)
	require.Equal(t, exitValid, code)
	require.Equal(t, filepath.Join(dir, report.File)+"\n", stdout)
	require.FileExists(t, filepath.Join(dir, report.File))

	code, _, stderr = runCLI(t, "report", t.TempDir())
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "not a finished run directory")
}
