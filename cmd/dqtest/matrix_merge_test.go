package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/matrix"
)

// dqtest matrix --shard k/N on the simulator, then dqtest matrix merge: the
// exit code of the whole, missing shards named and unknown, a shard given
// twice and bad flags refused.
func TestMatrixShardAndMergeCLI(t *testing.T) {
	root := t.TempDir()
	flags := []string{"matrix", "--backend", "sim", "--workloads", "bank,set", "--nemeses", "none,kill,partition",
		"--time-limit", "16s", "--seed", "3", "--expect-fail", "set/kill=a stale mark"}
	var dirs []string
	cells := 0
	for k := 1; k <= 3; k++ {
		dir := filepath.Join(root, fmt.Sprint("shard-", k))
		code, stdout, stderr := runCLI(t, append(flags, "--shard", fmt.Sprintf("%d/3", k), "--out", dir)...)
		require.Equal(t, exitValid, code, "shard %d: %s %s", k, stdout, stderr)
		require.Contains(t, stdout, fmt.Sprintf("shard %d/3: ", k))
		require.Contains(t, stdout, "of the 6 cells")
		require.FileExists(t, filepath.Join(dir, matrix.ResultFile))
		require.FileExists(t, filepath.Join(dir, matrix.JUnitFile))
		res, err := matrix.ReadResult(dir)
		require.NoError(t, err)
		cells += len(res.Cells)
		dirs = append(dirs, dir)
	}
	require.Equal(t, 6, cells)

	out := filepath.Join(root, "merged")
	code, stdout, stderr := runCLI(t, append([]string{"matrix", "merge", out}, dirs...)...)
	require.Equal(t, exitValid, code, "%s %s", stdout, stderr)
	require.Contains(t, stdout, "6 cells: 5 passed, 0 failed, 0 expected to fail, 1 passed though expected to fail")
	require.Contains(t, stdout, "matrix outcome: valid")
	require.True(t, strings.HasPrefix(stdout, "matrix: 6 cells from 3 directories into "+out+"\n"), "the header names the matrix once: %q", stdout)
	for _, f := range []string{matrix.TableFile, matrix.JUnitFile, matrix.SummaryFile, matrix.ResultFile} {
		require.FileExists(t, filepath.Join(out, f))
	}
	page, err := os.ReadFile(filepath.Join(out, matrix.SummaryFile))
	require.NoError(t, err)
	require.Contains(t, string(page), `href="../shard-`)

	// A shard's directory missing: its cells are named, the whole is unknown.
	code, stdout, _ = runCLI(t, "matrix", "merge", filepath.Join(root, "partial"), dirs[0], dirs[2])
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stdout, "MISSING (no shard reported them: ")
	require.Contains(t, stdout, "matrix outcome: unknown")
	j := readJUnit(t, filepath.Join(root, "partial", matrix.JUnitFile))
	require.Equal(t, 6, j.Tests)
	require.Positive(t, j.Errors)

	// The same shard twice, OUT among the shards.
	code, _, stderr = runCLI(t, "matrix", "merge", filepath.Join(root, "twice"), dirs[0], dirs[1], dirs[0])
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "is in two shard directories")
	code, _, stderr = runCLI(t, "matrix", "merge", dirs[0], dirs[0], dirs[1])
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "is also a shard directory")

	// Bad flags.
	for _, tc := range []struct{ args []string }{
		{[]string{"--shard", "4/3"}}, {[]string{"--shard", "x"}}, {[]string{"--parallel", "0"}},
		{[]string{"--docker-host", "unix:///nonexistent.sock"}},
	} {
		code, _, stderr := runCLI(t, append(append([]string{}, flags...), append(tc.args, "--out", t.TempDir())...)...)
		require.Equal(t, exitUnknown, code, "%v", tc.args)
		require.NotEmpty(t, stderr, "%v", tc.args)
	}
	code, _, stderr = runCLI(t, "matrix", "--workloads", "bank", "--nemeses", "none", "--docker-host", "unix:///nonexistent.sock",
		"--out", t.TempDir())
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, "would silently use the default socket instead")

	// A value without a scheme names a docker CLI context.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	code, _, stderr = runCLI(t, "matrix", "--workloads", "bank", "--nemeses", "none", "--docker-host", "nosuch",
		"--out", t.TempDir())
	require.Equal(t, exitUnknown, code)
	require.Contains(t, stderr, `docker context "nosuch": not found`)
}
