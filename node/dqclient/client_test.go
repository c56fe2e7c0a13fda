package dqclient_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/canonical/go-dqlite/v2/client"
	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
	"github.com/dqtest/dqtest/node/dqclient"
)

// These tests run a real dqlite node (package node, cgo) and talk to its
// dqlite port from a dqclient.Client of their own, as dqtest's harness does
// in its direct client mode.

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func definite(err error) bool {
	var d interface{ Definite() bool }
	return err != nil && errors.As(err, &d) && d.Definite()
}

// single starts a one-node cluster on loopback and returns it with a
// client that finds the leader through it.
func single(t *testing.T) (*node.Node, *dqclient.Client) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	n, err := node.New(addr, t.TempDir(), node.Options{Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = n.Close() })
	require.NoError(t, n.Start(ctxT(t, 20*time.Second)))
	store := client.NewInmemNodeStore()
	require.NoError(t, store.Set(context.Background(), []client.NodeInfo{{Address: addr}}))
	cl := dqclient.New(store, dqclient.Options{})
	t.Cleanup(cl.Close)
	return n, cl
}

func TestClientRunsStatementsOnARealNode(t *testing.T) {
	_, cl := single(t)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, cl.OpenDB(ctx, ""))

	_, _, err := cl.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
	require.NoError(t, err)
	id, affected, err := cl.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 1)
	require.NoError(t, err)
	require.Equal(t, int64(1), id)
	require.Equal(t, int64(1), affected)

	rows, err := cl.Query(ctx, "SELECT k, v FROM kv")
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"k": "a", "v": int64(1)}}, rows)

	t.Run("a constraint failure is a definite database error", func(t *testing.T) {
		_, _, err := cl.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 2)
		var dbe *dqclient.DatabaseError
		require.ErrorAs(t, err, &dbe)
		require.Equal(t, 1555, dbe.ExtendedCode) // SQLITE_CONSTRAINT_PRIMARYKEY
		require.True(t, definite(err))
	})

	t.Run("an argument it cannot send is refused before sending", func(t *testing.T) {
		_, _, err := cl.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "b", struct{}{})
		var ae *dqclient.ArgError
		require.ErrorAs(t, err, &ae)
		require.True(t, definite(err))
		rows, err := cl.Query(ctx, "SELECT count(*) AS c FROM kv WHERE k = 'b'")
		require.NoError(t, err)
		require.Equal(t, int64(0), rows[0]["c"])
	})

	t.Run("Txn commits all or nothing", func(t *testing.T) {
		res, err := cl.Txn(ctx, []dqclient.Statement{
			{SQL: "INSERT INTO kv VALUES (?, ?)", Args: []any{"c", 3}},
			{SQL: "SELECT v FROM kv WHERE k = ?", Args: []any{"c"}},
		})
		require.NoError(t, err)
		require.Equal(t, []map[string]any{{"v": int64(3)}}, res[1].Rows)

		_, err = cl.Txn(ctx, []dqclient.Statement{
			{SQL: "INSERT INTO kv VALUES (?, ?)", Args: []any{"d", 4}},
			{SQL: "INSERT INTO kv VALUES (?, ?)", Args: []any{"a", 5}}, // duplicate key
		})
		var te *dqclient.TxnError
		require.ErrorAs(t, err, &te)
		require.Equal(t, 1, te.Statement)
		require.True(t, definite(err))
		rows, err := cl.Query(ctx, "SELECT count(*) AS c FROM kv WHERE k = 'd'")
		require.NoError(t, err)
		require.Equal(t, int64(0), rows[0]["c"], "the failed transaction's first insert was rolled back")
	})

	t.Run("Begin, Commit and Rollback", func(t *testing.T) {
		tx, err := cl.Begin(ctx)
		require.NoError(t, err)
		_, _, err = tx.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "e", 5)
		require.NoError(t, err)
		require.NoError(t, tx.Rollback(ctx))
		require.ErrorIs(t, tx.Commit(ctx), dqclient.ErrTxnAborted, "an ended transaction")

		tx, err = cl.Begin(ctx)
		require.NoError(t, err)
		_, _, err = tx.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "f", 6)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
		rows, err := cl.Query(ctx, "SELECT k FROM kv WHERE k IN ('e', 'f') ORDER BY k")
		require.NoError(t, err)
		require.Equal(t, []map[string]any{{"k": "f"}}, rows)
	})

	t.Run("an abandoned transaction is rolled back by the server", func(t *testing.T) {
		tx, _, err := cl.BeginWith(ctx, []dqclient.Statement{{SQL: "INSERT INTO kv VALUES (?, ?)", Args: []any{"g", 7}}})
		require.NoError(t, err)
		tx.Abandon()
		require.Eventually(t, func() bool {
			rows, err := cl.Query(ctx, "SELECT count(*) AS c FROM kv WHERE k = 'g'")
			return err == nil && rows[0]["c"] == int64(0)
		}, 5*time.Second, 20*time.Millisecond)
		_, _, err = cl.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "h", 8)
		require.NoError(t, err, "no write transaction is left open to block writers")
	})

	t.Run("a closed client refuses, definitely", func(t *testing.T) {
		cl.Close()
		_, _, err := cl.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "i", 9)
		require.ErrorIs(t, err, dqclient.ErrNotRunning)
		require.True(t, definite(err))
	})
}

func TestPooledConnectionsSeeTheirSocketAndAClosingPeer(t *testing.T) {
	n, cl := single(t)
	ctx := ctxT(t, 30*time.Second)
	require.NoError(t, cl.OpenDB(ctx, ""))

	c, put, err := cl.IdleConn()
	require.NoError(t, err)
	require.NotNil(t, c, "OpenDB left a connection in the pool")
	require.True(t, c.HasSocket(), "the socket under go-dqlite's connection was found")
	require.False(t, c.PeerClosed(), "a live server")
	put()

	// A guarded stop makes dqlite close its client connections.
	require.NoError(t, n.StopWith(ctx, node.StopGuarded))
	require.Eventually(t, c.PeerClosed, 5*time.Second, 10*time.Millisecond, "the closed peer is noticed before the connection is used")
	c, _, err = cl.IdleConn()
	require.NoError(t, err)
	require.Nil(t, c, "the pool drops a connection whose peer closed it")

	t.Run("with the node down, a statement is definitely not run", func(t *testing.T) {
		_, _, err := cl.Exec(ctxT(t, time.Second), "INSERT INTO kv VALUES (1, 1)")
		var nl *dqclient.NoLeaderError
		require.ErrorAs(t, err, &nl)
		require.True(t, definite(err))
	})
}
