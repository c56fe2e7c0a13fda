package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/shrink"
)

// dqtest shrink on a simulated run: a shrunk scenario that shows the crash
// and expects it, the report and the log; a bug-free run is refused with
// exit 2; bad flags too.
func TestShrinkCommand(t *testing.T) {
	out := t.TempDir()
	file := "../../scenarios/sim-crash-on-double-stop.yaml"
	code, _, stderr := runCLI(t, "run", file, "--seed", "3", "--sim-bug", "crash-on-double-stop", "--out", out)
	require.Equal(t, exitInvalid, code, stderr)
	dir := latestRun(t, out, "sim-crash-on-double-stop")

	sdir := filepath.Join(t.TempDir(), "s")
	code, stdout, stderr := runCLI(t, "shrink", dir, "--confirm", "2", "--out", sdir)
	require.Equal(t, exitValid, code, stderr)
	require.Contains(t, stdout, "crash SIGABRT dqlite_node_stop: Assertion `rv == 0' failed")
	require.Contains(t, stdout, "showed it in 2 of 2 runs")
	require.Contains(t, stdout, "dqtest run --sim-bug crash-on-double-stop "+filepath.Join(sdir, shrink.ShrunkFile))
	sc, err := scenario.Load(filepath.Join(sdir, shrink.ShrunkFile))
	require.NoError(t, err)
	require.Equal(t, checker.Invalid, sc.Expect.Verdict)
	require.Equal(t, "dqlite_node_stop: Assertion `rv == 0' failed", sc.Expect.Crash)
	log, err := os.ReadFile(filepath.Join(sdir, shrink.LogFile))
	require.NoError(t, err)
	require.Contains(t, string(log), "c001 reproduced")
	html, err := os.ReadFile(filepath.Join(sdir, shrink.ReportFile))
	require.NoError(t, err)
	require.Contains(t, string(html), "Before and after")

	// The shrunk scenario is a gate: it passes while the bug reproduces.
	code, _, stderr = runCLI(t, "run", filepath.Join(sdir, shrink.ShrunkFile), "--sim-bug", "crash-on-double-stop", "--out", t.TempDir())
	require.Equal(t, exitValid, code, stderr)

	// A run that found nothing: nothing to shrink.
	clean := t.TempDir()
	code, _, stderr = runCLI(t, "run", file, "--seed", "3", "--out", clean)
	require.Equal(t, exitValid, code, stderr)
	code, _, stderr = runCLI(t, "shrink", latestRun(t, clean, "sim-crash-on-double-stop"))
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "nothing to shrink")

	for _, args := range [][]string{
		{"shrink", dir, "--tries", "0"},
		{"shrink", dir, "--confirm", "-1"},
		{"shrink", t.TempDir()},
		{"shrink", dir, "--finding", "no-such"},
	} {
		code, _, stderr := runCLI(t, args...)
		require.Equal(t, exitUnknown, code, "%v: %s", args, stderr)
	}
}
