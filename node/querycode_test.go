package node_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
)

// The reproduction of docs/findings/query-code-0.md: a write sent as a
// QUERY request that fails a constraint. dqlite 1.18.1 answers with the
// SQLite code, as for EXEC; 1.18.7 answers a failure with code 0 and an
// empty message, which go-dqlite (v2.0.1 and v3.0.4) turns into a bad
// connection: the outcome is unknown, and nothing was written. It fails
// the day 1.18.7's answer changes (then update the finding).
func TestQueryOfAFailingWriteByVersion(t *testing.T) {
	ctx := ctxT(t, 60*time.Second)
	n := startSingle(t, node.Options{})
	for _, s := range []string{"CREATE TABLE u (k TEXT PRIMARY KEY, v INTEGER NOT NULL CHECK (v >= 0))", "INSERT INTO u VALUES ('x', 1)"} {
		_, _, err := n.Exec(ctx, s)
		require.NoError(t, err)
	}
	code0 := node.DqliteVersion() >= 11807
	for _, tc := range []struct {
		sql     string
		extCode int
	}{
		{"INSERT INTO u VALUES ('x', 2)", 1555},    // UNIQUE
		{"INSERT INTO u VALUES ('y', NULL)", 1299}, // NOT NULL
		{"INSERT INTO u VALUES ('z', -1)", 275},    // CHECK
		{"UPDATE u SET v = -5", 275},               // CHECK, on an UPDATE
	} {
		_, err := n.Query(ctx, tc.sql)
		if code0 {
			var ind *node.IndeterminateError
			require.ErrorAs(t, err, &ind, "%s: 1.18.7's code-0 answer", tc.sql)
			// The failure's body is the rows response's header (a column
			// count of 0) followed by the real failure: the "message" go-dqlite
			// reads is the extended code's low bytes, little-endian, up to
			// the first zero byte (1555 = 0x0613: "\x13\x06").
			le := string([]byte{byte(tc.extCode), byte(tc.extCode >> 8)})
			require.ErrorContains(t, err, "unexpected error code (0 - "+le+")")
		} else {
			var dbErr *node.DatabaseError
			require.ErrorAs(t, err, &dbErr, tc.sql)
			require.Equal(t, tc.extCode, dbErr.ExtendedCode, tc.sql)
		}
		_, _, err = n.Exec(ctx, tc.sql)
		var dbErr *node.DatabaseError
		require.ErrorAs(t, err, &dbErr, "%s sent as EXEC: the code on every version", tc.sql)
		require.Equal(t, tc.extCode, dbErr.ExtendedCode, tc.sql)
	}
	// RETURNING: 1.18.7 answers code 1 with the column name as the message.
	_, err := n.Query(ctx, "INSERT INTO u VALUES ('x', 2) RETURNING k")
	var dbErr *node.DatabaseError
	require.ErrorAs(t, err, &dbErr)
	if code0 {
		require.Equal(t, 1, dbErr.ExtendedCode)
		require.Equal(t, "k", dbErr.Message, "the result column's name, not the error")
	} else {
		require.Equal(t, 1555, dbErr.ExtendedCode)
	}
	// A SELECT failing in sqlite3_step after its columns are known: on both
	// versions the answer is code 1 with the column's name as the message
	// (EXEC of the same statement says "integer overflow").
	_, err = n.Query(ctx, "SELECT abs(-9223372036854775808)")
	require.ErrorAs(t, err, &dbErr)
	require.Equal(t, 1, dbErr.ExtendedCode)
	require.Equal(t, "abs(-9223372036854775808)", dbErr.Message)
	_, _, err = n.Exec(ctx, "SELECT abs(-9223372036854775808)")
	require.ErrorAs(t, err, &dbErr)
	require.Equal(t, "integer overflow", dbErr.Message)

	// Nothing failed was written, on either version.
	rows, err := n.Query(ctx, "SELECT k, v FROM u ORDER BY k")
	require.NoError(t, err)
	require.Len(t, rows, 1)
	require.Equal(t, "x", rows[0]["k"])
}
