package node_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
)

func TestHoldTxnLeavesTheTransactionOpenUntilTheStop(t *testing.T) {
	for _, mode := range []node.StopMode{node.StopGuarded, node.StopUnguarded, node.StopBypass} {
		t.Run(string(mode), func(t *testing.T) {
			ctx := ctxT(t, 60*time.Second)
			n := startSingle(t, node.Options{StopMode: mode})
			_, _, err := n.Exec(ctx, "CREATE TABLE held (x INTEGER)")
			require.NoError(t, err)

			res, err := n.HoldTxn(ctx, []node.Statement{
				{SQL: "INSERT INTO held VALUES (?)", Args: []any{int64(1)}},
				{SQL: "SELECT count(*) AS n FROM held"},
			})
			require.NoError(t, err)
			require.Equal(t, int64(1), res[0].RowsAffected)
			require.Equal(t, []map[string]any{{"n": int64(1)}}, res[1].Rows, "the transaction sees its own write")
			rows, err := n.Query(ctx, "SELECT count(*) AS n FROM held")
			require.NoError(t, err)
			require.Equal(t, []map[string]any{{"n": int64(0)}}, rows, "nothing committed: other connections do not see it")

			require.NoError(t, n.Stop(ctx))
			require.NoError(t, n.Start(ctx))
			rows, err = n.Query(ctx, "SELECT count(*) AS n FROM held")
			require.NoError(t, err)
			require.Equal(t, []map[string]any{{"n": int64(0)}}, rows, "the stop ended the transaction without committing it")
			_, _, err = n.Exec(ctx, "INSERT INTO held VALUES (2)")
			require.NoError(t, err, "no write lock is left behind")
			if mode == node.StopBypass {
				require.NoError(t, n.StopWith(ctx, node.StopGuarded))
			}
		})
	}
}

func TestHoldTxnOnAStoppedNodeIsRefused(t *testing.T) {
	ctx := ctxT(t, 30*time.Second)
	n := startSingle(t, node.Options{})
	require.NoError(t, n.Stop(ctx))
	_, err := n.HoldTxn(ctx, []node.Statement{{SQL: "SELECT 1"}})
	require.ErrorIs(t, err, node.ErrNotRunning)
}
