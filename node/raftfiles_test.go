package node

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRaftFilesShowAnInstalledSnapshotAsAGap(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{
		"0000000000000001-0000000000000128", "0000000000000129-0000000000000300",
		"0000000000002001-0000000000002050", // after the gap the leader's snapshot filled
		"snapshot-1-128-111", "snapshot-1-128-111.meta", "snapshot-2-2000-222", "snapshot-2-2000-222.meta",
		"open-1", "open-2", "metadata1", "dqtest-node.json", "0000000000000005-0000000000000002",
	} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	rf, err := readRaftFiles(dir)
	require.NoError(t, err)
	require.Equal(t, []uint64{128, 2000}, rf.Snapshots)
	require.Equal(t, [][2]uint64{{1, 300}, {2001, 2050}}, rf.Spans, "consecutive segments merge; a backwards name is ignored")
	require.Equal(t, 2, rf.Open)
	require.Equal(t, []any{"raft_snapshots", "[128 2000]", "raft_segments", "[1-300 2001-2050]", "raft_open_segments", 2}, rf.logAttrs())

	empty, err := readRaftFiles(t.TempDir())
	require.NoError(t, err)
	require.Empty(t, empty.Snapshots)
	require.Empty(t, empty.Spans)
	_, err = readRaftFiles(filepath.Join(dir, "missing"))
	require.Error(t, err)
}
