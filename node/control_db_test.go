package node_test

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
	"github.com/dqtest/dqtest/node/control"
)

// The control API's db field against a real single node: a table made in
// app.db is there for requests naming app.db and absent from the node's
// own database; a stopped node refuses a request with db as it refuses
// any statement.
func TestControlAPIChoosesTheDatabasePerRequest(t *testing.T) {
	n := startSingle(t, node.Options{})
	srv := httptest.NewServer(control.Handler(n.Control(), testLogger(t)))
	defer srv.Close()
	c := control.NewClient(srv.URL, nil)
	app := c.OnDB("app.db")
	ctx := ctxT(t, time.Minute)

	_, err := app.Exec(ctx, "CREATE TABLE appt (x INTEGER)")
	require.NoError(t, err)
	res, err := app.Exec(ctx, "INSERT INTO appt VALUES (?)", int64(42))
	require.NoError(t, err)
	require.Equal(t, int64(1), res.RowsAffected)
	rows, err := app.Query(ctx, "SELECT x FROM appt")
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"x": int64(42)}}, rows)
	results, err := app.Txn(ctx, []control.Statement{{SQL: "UPDATE appt SET x = x + 1"}, {SQL: "SELECT x FROM appt"}})
	require.NoError(t, err)
	require.Equal(t, []map[string]any{{"x": int64(43)}}, results[1].Rows)

	own, err := c.Query(ctx, "SELECT name FROM sqlite_master WHERE name = 'appt'")
	require.NoError(t, err)
	require.Empty(t, own, "the node's own database has no such table")
	same, err := c.OnDB(node.DefaultDB).Query(ctx, "SELECT name FROM sqlite_master WHERE name = 'appt'")
	require.NoError(t, err)
	require.Empty(t, same, "naming the node's own database is the same as naming none")

	require.NoError(t, c.Stop(ctx, ""))
	_, err = app.Query(ctx, "SELECT x FROM appt")
	var ce *control.Error
	require.ErrorAs(t, err, &ce)
	require.Equal(t, control.KindNotRunning, ce.Kind)
}
