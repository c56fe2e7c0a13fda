package node_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/dqtest/dqtest/node"
)

// The seed's Python Node, in Go (docs/node.md shows this example).
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dir, _ := os.MkdirTemp("", "dqtest-example")
	defer os.RemoveAll(dir)

	// A node with no other cluster members forms a cluster (id 1). A
	// second node would pass Options{Cluster: []string{"127.0.0.1:9001"}}
	// and join it.
	n, err := node.New("127.0.0.1:9001", dir, node.Options{})
	if err != nil {
		log.Fatal(err) // a bad address or data dir, named in the message
	}
	defer n.Close() // safe in any state, any number of times

	if err := n.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if err := n.OpenDB(ctx, "db.sqlite"); err != nil {
		log.Fatal(err)
	}
	if _, _, err := n.Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)"); err != nil {
		log.Fatal(err)
	}
	id, affected, err := n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", "a", 1)
	fmt.Println(id, affected, err)

	rows, err := n.Query(ctx, "SELECT k, v FROM kv WHERE k = ?", "a")
	fmt.Println(rows, err) // [map[k:a v:1]] <nil>: values are int64, float64, string, []byte or nil

	// One transaction on one dedicated connection.
	if err := n.Begin(ctx); err != nil {
		log.Fatal(err)
	}
	_, _, _ = n.Exec(ctx, "UPDATE kv SET v = v + 1 WHERE k = ?", "a")
	if err := n.Commit(ctx); err != nil {
		log.Fatal(err)
	}

	// Errors say what happened.
	_, _, err = n.Exec(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)", "a", 2)
	var dbErr *node.DatabaseError
	var unknown *node.IndeterminateError
	switch {
	case errors.As(err, &dbErr):
		fmt.Println("refused, did not happen:", dbErr.Code, dbErr.ExtendedCode) // 19 1555
	case errors.As(err, &unknown):
		fmt.Println("may or may not have happened:", unknown)
	}

	_ = n.Handover(ctx) // nothing to hand over on a single node
	_ = n.Stop(ctx)     // guarded: a second Stop is a no-op
	_ = n.Start(ctx)    // the same data directory, the same data
}
