package workloads

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEveryWorkloadSaysHowToReadItsState(t *testing.T) {
	want := map[string]string{"register": "registers", "bank": "accounts", "set": "sets", "append": "appends"}
	for _, name := range Names() {
		w := mustNew(t, name, Params{})
		qs := StateQueries(w)
		require.NotEmpty(t, qs, name)
		require.Equal(t, want[name], qs[0].Table, name)
		for _, q := range qs {
			require.Contains(t, q.SQL, "ORDER BY", "%s: a deterministic result", name)
			require.NotEmpty(t, q.Columns, name)
			for _, col := range q.Columns {
				require.Contains(t, q.SQL, col, "%s selects %s", name, col)
			}
		}
	}
	require.Nil(t, StateQueries(noState{}), "a workload that does not say has nothing to compare")
}

// noState is a Workload without StateQueries.
type noState struct{ Workload }

type errClient struct {
	scriptedClient
	err error
}

func (c *errClient) Query(context.Context, string, ...any) ([]map[string]any, error) {
	return nil, c.err
}

func TestReadStateRendersSortedCanonicalRows(t *testing.T) {
	c := &scriptedClient{rows: []map[string]any{
		{"k": "k2", "v": int64(1)},
		{"k": "k1", "v": float64(7)}, // a JSON client's number
	}}
	qs := []StateQuery{{Table: "registers", SQL: "SELECT k, v FROM registers ORDER BY k", Columns: []string{"k", "v"}}}
	st := ReadState(context.Background(), c, "n2", qs)
	require.Empty(t, st.Err)
	require.Equal(t, "n2", st.Node)
	require.Equal(t, []string{`{"k":"k1","v":7}`, `{"k":"k2","v":1}`}, st.Tables["registers"])

	// An empty table is an empty (not missing) table.
	st = ReadState(context.Background(), &scriptedClient{}, "n1", qs)
	require.Empty(t, st.Err)
	require.NotNil(t, st.Tables["registers"])
	require.Empty(t, st.Tables["registers"])
}

func TestReadStateUnreadable(t *testing.T) {
	qs := []StateQuery{{Table: "registers", SQL: "SELECT k, v FROM registers ORDER BY k", Columns: []string{"k", "v"}}}
	st := ReadState(context.Background(), &errClient{err: errors.New("not leader")}, "n3", qs)
	require.Nil(t, st.Tables)
	require.Equal(t, "n3", st.Node)
	require.Equal(t, "table registers: not leader", st.Err)

	st = ReadState(context.Background(), &scriptedClient{rows: []map[string]any{{"k": "k1"}}}, "n1", qs)
	require.Nil(t, st.Tables, "half a state is no state")
	require.True(t, strings.HasPrefix(st.Err, `table registers: row 0 has no column "v"`), st.Err)
}
