package node_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
	"github.com/dqtest/dqtest/node/control"
)

// The control API against a real single node, every endpoint, through the
// Go client.
func TestControlAPIDrivesARealNode(t *testing.T) {
	n := startSingle(t, node.Options{})
	srv := httptest.NewServer(control.Handler(n.Control(), testLogger(t)))
	defer srv.Close()
	c := control.NewClient(srv.URL, nil)
	ctx := ctxT(t, time.Minute)

	kind := func(t *testing.T, err error) string {
		t.Helper()
		var ce *control.Error
		require.ErrorAs(t, err, &ce)
		return ce.Kind
	}

	t.Run("health and status", func(t *testing.T) {
		require.NoError(t, c.Health(ctx))
		st, err := c.Status(ctx)
		require.NoError(t, err)
		require.True(t, st.Running)
		require.Equal(t, n.ID(), st.LeaderID)
		require.Equal(t, node.RoleVoter, st.Role)
		require.Equal(t, node.DqliteVersionString(), st.DqliteVersion)
		require.Equal(t, "guarded", st.StopMode)
	})

	t.Run("exec and query keep every value type", func(t *testing.T) {
		_, err := c.Exec(ctx, "CREATE TABLE v (id INTEGER PRIMARY KEY, i, r, t, b, z)")
		require.NoError(t, err)
		res, err := c.Exec(ctx, "INSERT INTO v (i, r, t, b, z) VALUES (?, ?, ?, ?, ?)", int64(-3), 2.0, "héllo", []byte{0, 255}, nil)
		require.NoError(t, err)
		require.Equal(t, control.Result{LastInsertID: 1, RowsAffected: 1}, res)
		rows, err := c.Query(ctx, "SELECT i, r, t, b, z FROM v WHERE id = ?", 1)
		require.NoError(t, err)
		require.Equal(t, []map[string]any{{"i": int64(-3), "r": 2.0, "t": "héllo", "b": []byte{0, 255}, "z": nil}}, rows)
	})

	t.Run("a database error carries the SQLite codes and is definite", func(t *testing.T) {
		_, err := c.Exec(ctx, "INSERT INTO v (id) VALUES (1)")
		var ce *control.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, control.KindDatabase, ce.Kind)
		require.Equal(t, 422, ce.Status)
		require.Equal(t, 19, ce.Code)
		require.Equal(t, 1555, ce.ExtendedCode)
		require.True(t, ce.Definite())
	})

	t.Run("txn returns a result per statement and rolls back on failure", func(t *testing.T) {
		res, err := c.Txn(ctx, []control.Statement{
			{SQL: "INSERT INTO v (i) VALUES (?)", Args: []any{10}},
			{SQL: "UPDATE v SET i = i + 1 WHERE i = ?", Args: []any{10}},
			{SQL: "SELECT i FROM v WHERE i = 11"},
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), res[0].LastInsertID)
		require.Equal(t, int64(1), res[1].RowsAffected)
		require.Equal(t, []map[string]any{{"i": int64(11)}}, res[2].Rows)

		_, err = c.Txn(ctx, []control.Statement{
			{SQL: "INSERT INTO v (i) VALUES (?)", Args: []any{20}},
			{SQL: "INSERT INTO v (id) VALUES (1)"},
		})
		var ce *control.Error
		require.ErrorAs(t, err, &ce)
		require.Equal(t, control.KindDatabase, ce.Kind)
		require.Equal(t, 1, *ce.Statement)
		rows, err := c.Query(ctx, "SELECT count(*) AS c FROM v WHERE i = 20")
		require.NoError(t, err)
		require.Equal(t, int64(0), rows[0]["c"])
	})

	t.Run("handover and transfer", func(t *testing.T) {
		require.NoError(t, c.Handover(ctx), "nothing to hand over on a single node")
		err := c.Transfer(ctx, 0)
		require.Error(t, err, "no other voter to transfer to")
		require.Equal(t, control.KindInternal, kind(t, err))
	})

	t.Run("member add and remove", func(t *testing.T) {
		// A spare needs no catching up, so an address nobody serves will do.
		spare := control.Member{ID: 99, Address: freeAddr(t, "127.0.0.41"), Role: node.RoleSpare}
		require.NoError(t, c.AddMember(ctx, spare))
		st, err := c.Status(ctx)
		require.NoError(t, err)
		require.Contains(t, st.Members, spare)
		require.NoError(t, c.RemoveMember(ctx, 99))
		st, err = c.Status(ctx)
		require.NoError(t, err)
		require.Len(t, st.Members, 1)
	})

	t.Run("stop and start; the process answers while stopped", func(t *testing.T) {
		require.NoError(t, c.Stop(ctx, ""))
		require.NoError(t, c.Stop(ctx, "guarded"), "second stop is a no-op")
		require.NoError(t, c.Health(ctx))
		st, err := c.Status(ctx)
		require.NoError(t, err)
		require.False(t, st.Running)
		_, err = c.Query(ctx, "SELECT 1")
		require.Equal(t, control.KindNotRunning, kind(t, err))
		require.NoError(t, c.Start(ctx))
		require.Equal(t, control.KindAlreadyRunning, kind(t, c.Start(ctx)))
		rows, err := c.Query(ctx, "SELECT count(*) AS c FROM v")
		require.NoError(t, err)
		require.Equal(t, int64(2), rows[0]["c"], "the data survived")
	})

	t.Run("a bypass stop and start again", func(t *testing.T) {
		require.NoError(t, c.Stop(ctx, "bypass"))
		_, err := c.Exec(ctx, "INSERT INTO v (i) VALUES (1)")
		require.Equal(t, control.KindNotRunning, kind(t, err))
		require.NoError(t, c.Start(ctx))
	})
}
