package node_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/dqtest/dqtest/node"
	"github.com/dqtest/dqtest/node/control"
)

// Statement latency on a single node (one raft voter, so a write commits
// locally), directly and through the control API.

func benchNode(b *testing.B) *node.Node {
	n, err := node.New(freeAddrB(b), b.TempDir(), node.Options{Logger: testLogger(nil)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	if _, _, err := n.Exec(ctx, "CREATE TABLE kv (k INTEGER PRIMARY KEY, v INTEGER)"); err != nil {
		b.Fatal(err)
	}
	return n
}

func BenchmarkExecInsert(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, _, err := n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", i, i); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkQueryPoint(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	if _, _, err := n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (1, 1)"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := n.Query(ctx, "SELECT v FROM kv WHERE k = ?", 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTxnTwoUpdatesAndARead(b *testing.B) {
	n := benchNode(b)
	ctx := context.Background()
	if _, _, err := n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (1, 0), (2, 0)"); err != nil {
		b.Fatal(err)
	}
	stmts := []node.Statement{
		{SQL: "UPDATE kv SET v = v + 1 WHERE k = ?", Args: []any{1}},
		{SQL: "UPDATE kv SET v = v - 1 WHERE k = ?", Args: []any{2}},
		{SQL: "SELECT k, v FROM kv ORDER BY k"},
	}
	for b.Loop() {
		if _, err := n.Txn(ctx, stmts); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkControlExecInsert(b *testing.B) {
	n := benchNode(b)
	srv := httptest.NewServer(control.Handler(n.Control(), testLogger(nil)))
	defer srv.Close()
	c := control.NewClient(srv.URL, nil)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		if _, err := c.Exec(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", i, i); err != nil {
			b.Fatal(err)
		}
	}
}
