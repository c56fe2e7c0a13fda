//go:build libsqlite3

package workloads

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/history"
)

// Each workload's state queries run on real SQLite: two databases given the
// same operations converge; the state has the rows the operations wrote;
// one changed row on one database is a divergence naming that row.
func TestStateQueriesAgainstSQLite(t *testing.T) {
	tamper := map[string]string{
		"register": `UPDATE registers SET v = v + 100 WHERE k = (SELECT min(k) FROM registers)`,
		"bank":     `UPDATE accounts SET balance = balance + 1 WHERE id = 0`,
		"set":      `INSERT INTO sets (v) SELECT min(v) FROM sets`, // a duplicated row
		"append":   `DELETE FROM appends WHERE id = (SELECT max(id) FROM appends)`,
	}
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			w1, c1 := setUp(t, name, Params{})
			_, c2 := setUp(t, name, Params{})
			ok := 0
			for slot := range 3 {
				g := w1.Generator(7, slot)
				for range 40 {
					op, more := g.Next()
					if !more {
						break
					}
					r1 := w1.Invoke(testCtx(t), c1, op)
					r2 := w1.Invoke(testCtx(t), c2, op)
					require.Equal(t, r1.Type, r2.Type, "%+v", op)
					if r1.Type == history.OK {
						ok++
					}
				}
			}
			require.Positive(t, ok)
			qs := StateQueries(w1)
			s1 := ReadState(testCtx(t), c1, "n1", qs)
			s2 := ReadState(testCtx(t), c2, "n2", qs)
			require.Empty(t, s1.Err)
			require.Empty(t, s2.Err)
			table := qs[0].Table
			require.NotEmpty(t, s1.Tables[table], "the operations wrote rows")
			require.Equal(t, s1.Tables, s2.Tables)
			res := converge.Compare([]converge.State{s1, s2})
			require.Equal(t, checker.Valid, res.Verdict, res.Reason)

			_, err := c2.Exec(testCtx(t), tamper[name])
			require.NoError(t, err)
			s2 = ReadState(testCtx(t), c2, "n2", qs)
			require.Empty(t, s2.Err)
			res = converge.Compare([]converge.State{s1, s2})
			require.Equal(t, checker.Invalid, res.Verdict)
			require.Len(t, res.Anomalies, 1)
			require.Equal(t, converge.KindDiverged, res.Anomalies[0].Kind)
			require.Equal(t, table, res.Anomalies[0].Key)
			t.Log(res.Anomalies[0].Explanation)
		})
	}
}

// The rendered rows are exactly what the operations wrote.
func TestStateRowsAgainstSQLite(t *testing.T) {
	w, c := setUp(t, "register", Params{})
	runSteps(t, w, c, []step{
		{Op{F: "write", Key: "k2", Value: int64(3)}, history.OK, int64(3)},
		{Op{F: "write", Key: "k1", Value: int64(4)}, history.OK, int64(4)},
	})
	st := ReadState(testCtx(t), c, "n1", StateQueries(w))
	require.Equal(t, map[string][]string{"registers": {`{"k":"k1","v":4}`, `{"k":"k2","v":3}`}}, st.Tables)

	w, c = setUp(t, "append", Params{})
	runSteps(t, w, c, []step{
		{Op{F: "txn", Value: []any{[]any{"append", "k1", int64(5)}, []any{"append", "k2", int64(6)}}}, history.OK,
			[]any{[]any{"append", "k1", int64(5)}, []any{"append", "k2", int64(6)}}},
	})
	st = ReadState(testCtx(t), c, "n1", StateQueries(w))
	require.Equal(t, map[string][]string{"appends": {`{"id":1,"k":"k1","v":5}`, `{"id":2,"k":"k2","v":6}`}}, st.Tables)

	w, c = setUp(t, "bank", Params{Accounts: 2, Total: 10})
	st = ReadState(testCtx(t), c, "n1", StateQueries(w))
	require.Equal(t, map[string][]string{"accounts": {`{"id":0,"balance":5}`, `{"id":1,"balance":5}`}}, st.Tables)
}
