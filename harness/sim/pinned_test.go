package sim_test

// The simulator's histories for every shipped scenario and seeds 1..5 are
// pinned by their SHA-256: a refactoring that changes what the simulator
// does (a default, the order of draws from a seed) shows up here. When a
// change of behaviour is intended, regenerate with
// DQTEST_UPDATE_PINNED=1 go test -run TestPinnedSimHistories ./harness/sim/
// and say why in the commit.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness/sim"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/scenario"
)

const pinnedFile = "testdata/pinned-histories.txt"

func simHistoryHash(t *testing.T, path string, seed int64) string {
	t.Helper()
	sc, err := scenario.Load(path)
	require.NoError(t, err)
	sc.Seed = seed
	sc.Backend = mode.Sim
	tmp := filepath.Join(t.TempDir(), "h.jsonl")
	w, err := history.Create(tmp)
	require.NoError(t, err)
	rs, err := sc.Resolve()
	if err != nil {
		return "refused: " + err.Error()
	}
	cfg, err := sim.ConfigFor(rs, "")
	if err != nil {
		return "refused: " + err.Error()
	}
	cfg.Record = w
	_, err = sim.Run(context.Background(), cfg)
	require.NoError(t, w.Close())
	if err != nil {
		return "error: " + err.Error()
	}
	b, err := os.ReadFile(tmp)
	require.NoError(t, err)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestPinnedSimHistories(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every shipped scenario five times on the simulator")
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "scenarios", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	sort.Strings(files)
	var lines []string
	for _, f := range files {
		for seed := int64(1); seed <= 5; seed++ {
			lines = append(lines, fmt.Sprintf("%s seed=%d %s", filepath.Base(f), seed, simHistoryHash(t, f, seed)))
		}
	}
	got := strings.Join(lines, "\n") + "\n"
	if os.Getenv("DQTEST_UPDATE_PINNED") != "" {
		require.NoError(t, os.WriteFile(pinnedFile, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(pinnedFile)
	require.NoError(t, err)
	// Every pinned scenario that still ships must give the same history
	// for each seed. A scenario shipped since (not pinned yet) or removed
	// since is logged: regenerate the file to pin it.
	pinned := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		name, hash, _ := strings.Cut(l, " seed=")
		pinned[name+" seed="+hash[:strings.Index(hash, " ")]] = l
	}
	compared := 0
	for _, l := range lines {
		name, rest, _ := strings.Cut(l, " seed=")
		key := name + " seed=" + rest[:strings.Index(rest, " ")]
		w, ok := pinned[key]
		if !ok {
			t.Logf("not pinned yet (regenerate %s): %s", pinnedFile, key)
			continue
		}
		delete(pinned, key)
		compared++
		require.Equal(t, w, l, "the simulator's history changed (see the comment at the top of this file)")
	}
	for key := range pinned {
		t.Logf("pinned but no longer shipped: %s", key)
	}
	require.Greater(t, compared, 100, "most shipped scenarios are pinned")
}
