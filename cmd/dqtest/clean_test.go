package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/docker"
)

// A run killed hard: its cluster came up and nothing took it down. dqtest
// run warns about it, clean --dry-run lists it, clean --run removes it.
// (Only this test's run is ever cleaned: other tests' clusters may be up.)
func TestCleanRemovesWhatARunKilledHardLeftBehind(t *testing.T) {
	if testing.Short() {
		t.Skip("a Docker test (make unit runs -short)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if err := docker.Available(ctx, ""); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Docker and the node image are needed: %v", err)
		}
		t.Skipf("Docker and the node image are needed: %v", err)
	}
	run := fmt.Sprintf("cleantest%d", os.Getpid())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		_ = docker.Cleanup(ctx, run)
	})
	c, err := (&docker.Backend{}).Start(ctx, harness.ClusterSpec{RunID: run, Nodes: 1})
	require.NoError(t, err)
	_ = c // never taken down: that is the point

	var logged bytes.Buffer
	warnLeftovers(ctx, slog.New(slog.NewTextHandler(&logged, nil)))
	require.Contains(t, logged.String(), "level=WARN")
	require.Contains(t, logged.String(), "'dqtest clean'")
	require.Contains(t, logged.String(), run)
	require.Contains(t, logged.String(), c.Subnet().String(), "the warning names the subnet the leftover holds")

	code, stdout, stderr := runCLI(t, "clean", "--run", run, "--dry-run")
	require.Equal(t, exitValid, code, stderr)
	require.Contains(t, stdout, "container dqtest-"+run+"-n1 (run "+run+", running)\n")
	require.Contains(t, stdout, "network dqtest-"+run+" (run "+run+", "+c.Subnet().String()+")\n")
	require.Contains(t, stdout, "would remove 1 container, 1 network of run "+run+" (dry run: nothing removed)\n")
	left, err := docker.Leftovers(ctx, run)
	require.NoError(t, err)
	require.Len(t, left, 2, "a dry run removes nothing")

	code, stdout, stderr = runCLI(t, "clean", "--run", run)
	require.Equal(t, exitValid, code, stderr)
	require.Contains(t, stdout, "removed 1 container, 1 network of run "+run+"\n")
	left, err = docker.Leftovers(ctx, run)
	require.NoError(t, err)
	require.Empty(t, left, "gone from the engine")

	code, stdout, _ = runCLI(t, "clean", "--run", run)
	require.Equal(t, exitValid, code)
	require.Equal(t, "nothing to clean: no containers, networks or volumes of run "+run+" on the Docker engine\n", stdout)

	logged.Reset()
	warnLeftovers(ctx, slog.New(slog.NewTextHandler(&logged, nil)))
	require.NotContains(t, logged.String(), run, "no warning about a run that was cleaned")
}
