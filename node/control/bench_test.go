package control

import (
	"context"
	"net/http/httptest"
	"testing"
)

// benchNode answers at once, as the register workload's statements would:
// a write's result, a read's one row.
type benchNode struct{ *fakeNode }

func (benchNode) Exec(context.Context, string, ...any) (Result, error) {
	return Result{LastInsertID: 1, RowsAffected: 1}, nil
}

func (benchNode) Query(context.Context, string, ...any) ([]map[string]any, error) {
	return []map[string]any{{"v": int64(42)}}, nil
}

func (benchNode) Txn(_ context.Context, stmts []Statement) ([]Result, error) {
	res := make([]Result, len(stmts))
	res[0].Rows = []map[string]any{{"v": int64(42)}}
	res[1].RowsAffected = 1
	return res, nil
}

// BenchmarkControlPath is one register operation (a read, a write, a cas
// transaction in turn) through the control API over loopback: client and
// server, JSON against frames.
func BenchmarkControlPath(b *testing.B) {
	srv := httptest.NewServer(Handler(benchNode{&fakeNode{}}, nil))
	defer srv.Close()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		c    *Client
	}{
		{"json", NewClient(srv.URL, nil)},
		{"frames", NewClient(srv.URL, nil).WithFrames(&Frames{})},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			cas := []Statement{{SQL: "SELECT v FROM registers WHERE k = ?", Args: []any{"k1"}}, {SQL: "UPDATE registers SET v = ? WHERE k = ? AND v = ?", Args: []any{int64(3), "k1", int64(2)}}}
			for i := 0; b.Loop(); i++ {
				var err error
				switch i % 3 {
				case 0:
					_, err = tc.c.Query(ctx, "SELECT v FROM registers WHERE k = ?", "k1")
				case 1:
					_, err = tc.c.Exec(ctx, "INSERT INTO registers (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v", "k1", int64(2))
				case 2:
					_, err = tc.c.Txn(ctx, cas)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
