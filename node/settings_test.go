package node_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
)

// snapshots lists the raft snapshot files in a node's data directory.
func snapshots(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "snapshot-") && !strings.HasSuffix(e.Name(), ".meta") {
			out = append(out, e.Name())
		}
	}
	return out
}

// A low snapshot threshold makes dqlite snapshot after a few entries
// (its default, 1024, would not after 60), and a node restarted on that
// data directory reads every row back.
func TestSnapshotThresholdTakesSnapshotsAndTheDataSurvivesARestart(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	addr, dir := freeAddr(t, "127.0.0.1"), t.TempDir()
	settings := node.Settings{SnapshotThreshold: 8, SnapshotTrailing: 8, NetworkLatency: 5 * time.Millisecond, FailureDomain: 2, NoAutoRecovery: true}
	n, err := node.New(addr, dir, node.Options{Logger: testLogger(t), Settings: settings})
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	_, _, err = n.Exec(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	for i := range 60 {
		_, _, err = n.Exec(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
		require.NoError(t, err)
	}
	require.NoError(t, n.Close())
	require.NotEmpty(t, snapshots(t, dir), "threshold 8: dqlite took a snapshot within 60 entries")

	n2, err := node.New(addr, dir, node.Options{Logger: testLogger(t), Settings: settings})
	require.NoError(t, err)
	defer n2.Close()
	require.NoError(t, n2.Start(ctx))
	rows, err := n2.Query(ctx, "SELECT count(*) AS c FROM t")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "60", fmt.Sprint(rows[0]["c"]), "every row, from the snapshot and the log after it")
}

func TestDefaultSettingsTakeNoSnapshotWithinAFewEntries(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	dir := t.TempDir()
	n, err := node.New(freeAddr(t, "127.0.0.1"), dir, node.Options{Logger: testLogger(t)})
	require.NoError(t, err)
	require.NoError(t, n.Start(ctx))
	_, _, err = n.Exec(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	for i := range 60 {
		_, _, err = n.Exec(ctx, fmt.Sprintf("INSERT INTO t VALUES (%d)", i))
		require.NoError(t, err)
	}
	require.NoError(t, n.Close())
	require.Empty(t, snapshots(t, dir), "dqlite's default threshold is 1024 entries")
}

func TestSettingsRefusedBeforeAnythingStarts(t *testing.T) {
	for _, s := range []node.Settings{
		{NetworkLatency: 500 * time.Microsecond},
		{NetworkLatency: 2 * time.Hour},
		{NetworkLatency: -time.Millisecond},
		{SnapshotThreshold: 1},
		{SnapshotThreshold: 8, SnapshotTrailing: 4},
		{SnapshotThreshold: 10000}, // over dqlite's default trailing, 8192
		{SnapshotTrailing: 3},
	} {
		dir := filepath.Join(t.TempDir(), "d")
		_, err := node.New(freeAddr(t, "127.0.0.1"), dir, node.Options{Settings: s})
		require.Error(t, err, "%+v", s)
		_, statErr := os.Stat(dir)
		require.True(t, os.IsNotExist(statErr), "nothing was created for %+v", s)
	}
}

// Disk mode: dqlite 1.18.3 dropped it, so a 1.18.7 build refuses it in
// New; 1.18.1 still has it (experimental), and a node in disk mode runs SQL.
func TestDiskModeOnlyWhereDqliteHasIt(t *testing.T) {
	dir := t.TempDir()
	n, err := node.New(freeAddr(t, "127.0.0.1"), dir, node.Options{Logger: testLogger(t), Settings: node.Settings{DiskMode: true}})
	if node.DqliteVersion() >= 11803 {
		require.ErrorIs(t, err, node.ErrDiskModeUnsupported)
		require.ErrorContains(t, err, "this node links dqlite "+node.DqliteVersionString())
		return
	}
	require.NoError(t, err)
	ctx := ctxT(t, 30*time.Second)
	defer n.Close()
	require.NoError(t, n.Start(ctx))
	_, _, err = n.Exec(ctx, "CREATE TABLE t (x INTEGER)")
	require.NoError(t, err)
	_, _, err = n.Exec(ctx, "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	rows, err := n.Query(ctx, "SELECT x FROM t")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "1", fmt.Sprint(rows[0]["x"]))
}
