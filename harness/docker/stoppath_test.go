package docker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node/control"
)

// The backend's side of the stop-path faults against real nodes: a node run
// with --no-start stays out of the cluster and never starts; HoldTxn leaves
// a write transaction open on the leader (other writes get SQLITE_BUSY)
// until the leader stops; OpenConnections sees the peers' connections to a
// running node and none after its stop.
func TestStopPathSupportOnRealNodes(t *testing.T) {
	requireDockerAndImage(t)
	c := up(t, "stoppath", 3, map[string][]string{"n3": {NoStartFlag}})
	ctx := ctxFor(t, 2*time.Minute)

	st, err := c.Status(ctx, "n3")
	require.NoError(t, err)
	require.False(t, st.Running, "n3 never started")
	leader, err := c.Leader(ctx)
	require.NoError(t, err)
	require.NotEqual(t, "n3", leader)
	st, err = c.Status(ctx, leader)
	require.NoError(t, err)
	require.Len(t, st.Members, 2, "the cluster formed without n3")

	eventually(t, 10*time.Second, "peers connected to the leader", func(ctx2 context.Context) error {
		conns, err := c.OpenConnections(ctx2, leader)
		if err != nil {
			return err
		}
		if len(conns) == 0 {
			return errors.New("no established connection on the leader's dqlite port")
		}
		return nil
	})

	require.NoError(t, c.HoldTxn(ctx, leader))
	busyCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err = c.Client(leader).Exec(busyCtx, "INSERT INTO dqtest_held (node) VALUES ('other')")
	var ce *control.Error
	require.ErrorAs(t, err, &ce, "the held transaction keeps the write lock")
	require.Equal(t, 5, ce.Code, "SQLITE_BUSY: %v", err)

	require.NoError(t, c.Stop(ctx, leader))
	conns, err := c.OpenConnections(ctx, leader)
	require.NoError(t, err)
	require.Empty(t, conns, "dqlite_node_stop closed every connection of the stopped node")
	require.NoError(t, c.Start(ctx, leader))
	eventually(t, 30*time.Second, "a write after the stop ended the held transaction", func(ctx2 context.Context) error {
		_, err := c.Client(leader).Exec(ctx2, "INSERT INTO dqtest_held (node) VALUES ('after')")
		return err
	})
	rows, err := c.Client(leader).Query(ctx, "SELECT node FROM dqtest_held ORDER BY id")
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"node": "after"}}, rows, "the held insert was never committed")
}
