package shrink

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/scenario"
	"github.com/dqtest/dqtest/verdict"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// simRunner runs candidates on the simulator with bug injected.
func simRunner(bug string) Runner {
	return func(ctx context.Context, sc scenario.Scenario, dir string) (*verdict.Result, error) {
		return harness.Run(ctx, sc, harness.Options{Simulate: sim.Simulator(bug), SimBug: bug, RunDir: dir, Log: quiet})
	}
}

// simulate runs a scenario file on the simulator into a run directory.
func simulate(t *testing.T, file, bug string, seed int64) string {
	t.Helper()
	sc, err := scenario.Load(file)
	require.NoError(t, err)
	sc.Seed = seed
	dir := filepath.Join(t.TempDir(), "run")
	_, err = simRunner(bug)(context.Background(), sc, dir)
	require.NoError(t, err)
	return dir
}
