package workloads

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// scriptedClient answers every call with the same canned result and counts
// the calls. It stands in for a client that misbehaves in ways real SQLite
// never does (the SQLite tests cover real behaviour).
type scriptedClient struct {
	rows    []map[string]any
	results []StmtResult
	calls   int
}

func (c *scriptedClient) Exec(context.Context, string, ...any) (StmtResult, error) {
	c.calls++
	return StmtResult{RowsAffected: 1}, nil
}

func (c *scriptedClient) Query(context.Context, string, ...any) ([]map[string]any, error) {
	c.calls++
	return c.rows, nil
}

func (c *scriptedClient) Txn(context.Context, []Stmt) ([]StmtResult, error) {
	c.calls++
	return c.results, nil
}

func TestMalformedOperationsFailWithoutReachingTheDatabase(t *testing.T) {
	tests := []struct {
		workload string
		op       Op
	}{
		{"register", Op{F: "read"}},
		{"register", Op{F: "delete", Key: "k0"}},
		{"register", Op{F: "write", Key: "k0", Value: "three"}},
		{"register", Op{F: "write", Key: "k0", Value: 1.5}},
		{"register", Op{F: "cas", Key: "k0", Value: []any{int64(1)}}},
		{"register", Op{F: "cas", Key: "k0", Value: int64(1)}},
		{"bank", Op{F: "transfer", Value: []any{0, 1, 2}}},
		{"bank", Op{F: "transfer", Value: map[string]any{"from": int64(0), "to": int64(1)}}},
		{"bank", Op{F: "withdraw"}},
		{"set", Op{F: "add", Value: nil}},
		{"set", Op{F: "remove", Value: int64(1)}},
		{"append", Op{F: "read"}},
		{"append", Op{F: "txn", Value: []any{}}},
		{"append", Op{F: "txn", Value: []any{[]any{"append", "k1"}}}},
		{"append", Op{F: "txn", Value: []any{[]any{"w", "k1", int64(1)}}}},
		{"append", Op{F: "txn", Value: []any{[]any{"append", "", int64(1)}}}},
		{"append", Op{F: "txn", Value: []any{[]any{"append", "k1", "x"}}}},
		{"append", Op{F: "txn", Value: "append k1 1"}},
	}
	for _, tt := range tests {
		t.Run(tt.workload+"/"+tt.op.F, func(t *testing.T) {
			c := &scriptedClient{}
			got := mustNew(t, tt.workload, Params{}).Invoke(context.Background(), c, tt.op)
			require.Equal(t, history.Fail, got.Type)
			require.NotEmpty(t, got.Error)
			require.Zero(t, c.calls, "a malformed operation is never sent")
		})
	}
}

func TestUnreadableResultsAreInfoNotGuesses(t *testing.T) {
	bad := []map[string]any{{"v": "seven"}}
	tests := []struct {
		name     string
		workload string
		op       Op
		client   *scriptedClient
	}{
		{"register read of text", "register", Op{F: "read", Key: "k0"}, &scriptedClient{rows: bad}},
		{"register read of two rows", "register", Op{F: "read", Key: "k0"}, &scriptedClient{rows: []map[string]any{{"v": int64(1)}, {"v": int64(2)}}}},
		{"register read without column", "register", Op{F: "read", Key: "k0"}, &scriptedClient{rows: []map[string]any{{"x": int64(1)}}}},
		{"set read of text", "set", Op{F: "read"}, &scriptedClient{rows: bad}},
		{"bank read without results", "bank", Op{F: "read"}, &scriptedClient{}},
		{"bank read of text", "bank", Op{F: "read"}, &scriptedClient{results: []StmtResult{{Rows: []map[string]any{{"id": int64(0), "balance": "x"}}}}}},
		{"append with results missing", "append", Op{F: "txn", Value: []any{[]any{"append", "k1", int64(1)}, []any{"r", "k1", nil}}}, &scriptedClient{results: []StmtResult{{}}}},
		{"append read of text", "append", Op{F: "txn", Value: []any{[]any{"r", "k1", nil}}}, &scriptedClient{results: []StmtResult{{Rows: bad}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustNew(t, tt.workload, Params{}).Invoke(context.Background(), tt.client, tt.op)
			require.Equal(t, history.Info, got.Type, got.Error)
			require.Contains(t, got.Error, "unreadable result")
		})
	}
}

func TestNumbersDecodedFromJSONAreAccepted(t *testing.T) {
	// A client that decodes the control API's JSON may hand over float64
	// or json.Number; integral ones are integers.
	c := &scriptedClient{rows: []map[string]any{{"v": float64(3)}, {"v": json.Number("1")}}}
	got := mustNew(t, "set", Params{}).Invoke(context.Background(), c, Op{F: "read"})
	require.Equal(t, history.OK, got.Type, got.Error)
	require.Equal(t, []any{int64(1), int64(3)}, got.Value)

	w := mustNew(t, "register", Params{})
	got = w.Invoke(context.Background(), &scriptedClient{}, Op{F: "cas", Key: "k0", Value: []any{float64(1), json.Number("2")}})
	require.Equal(t, history.OK, got.Type, got.Error)
}

func TestAppendDoesNotMutateTheInvokedValue(t *testing.T) {
	v := []any{[]any{"r", "k1", nil}}
	c := &scriptedClient{results: []StmtResult{{Rows: []map[string]any{{"v": int64(4)}}}}}
	got := mustNew(t, "append", Params{}).Invoke(context.Background(), c, Op{F: "txn", Value: v})
	require.Equal(t, history.OK, got.Type, got.Error)
	require.Equal(t, []any{[]any{"r", "k1", []any{int64(4)}}}, got.Value)
	require.Equal(t, []any{[]any{"r", "k1", nil}}, v, "the recorded invoke keeps its null read")
}
