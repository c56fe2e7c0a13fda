package node

import (
	"context"
	"sync"

	"github.com/dqtest/dqtest/node/dqclient"
)

// Statement is one SQL statement with placeholder arguments; Result is the
// result of one statement of a Txn: for a write its last insert id and rows
// affected, for a query its rows. Both are the control API's types.
type (
	Statement = dqclient.Statement
	Result    = dqclient.Result
)

// The Node's statements run through a dqclient.Client whose store holds only
// this node: the leader is the one this node's own dqlite server names. A
// stop closes the client; a start makes a new one.

// sql returns the running node's client, or ErrNotRunning.
func (n *Node) sql() (*dqclient.Client, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.state != running || n.client == nil {
		return nil, ErrNotRunning
	}
	return n.client, nil
}

// OpenDB selects the database statements run on (DefaultDB until called;
// "" means DefaultDB) and checks that the leader can be reached with it.
// dqlite creates a database on first use; name is a file name, no path.
func (n *Node) OpenDB(ctx context.Context, name string) error {
	if name == "" {
		name = DefaultDB
	}
	if err := dqclient.CheckDBName(name); err != nil {
		return err
	}
	cl, err := n.sql()
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.db = name
	n.mu.Unlock()
	return cl.OpenDB(ctx, name)
}

// Exec runs a statement that returns no rows, exactly once, on the leader.
// Between Begin and Commit/Rollback it runs inside that transaction.
// Errors: ErrNotRunning, *NoLeaderError (not sent), *DatabaseError (did not
// take effect), *IndeterminateError (sent, outcome unknown).
func (n *Node) Exec(ctx context.Context, sql string, args ...any) (lastInsertID, rowsAffected int64, err error) {
	if t := n.openTxn(); t != nil {
		return t.exec(ctx, sql, args)
	}
	cl, err := n.sql()
	if err != nil {
		return 0, 0, err
	}
	return cl.Exec(ctx, sql, args...)
}

// Query runs a statement on the leader and returns its rows as maps keyed by
// column name, with values int64, float64, string, []byte or nil (see
// TimeLayout for time columns). Between Begin and Commit/Rollback it runs
// inside that transaction. Errors as Exec's.
func (n *Node) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	if t := n.openTxn(); t != nil {
		return t.query(ctx, sql, args)
	}
	cl, err := n.sql()
	if err != nil {
		return nil, err
	}
	return cl.Query(ctx, sql, args...)
}

// Txn runs stmts in one transaction on one connection and commits. A
// statement that returns rows (SELECT, VALUES, WITH, PRAGMA, EXPLAIN, or
// RETURNING) runs as a query and fills Rows. Any failure before COMMIT rolls
// the transaction back and is a definite *TxnError; a COMMIT whose outcome
// is unknown is a *TxnError wrapping an *IndeterminateError. Txn is
// independent of Begin/Commit.
func (n *Node) Txn(ctx context.Context, stmts []Statement) ([]Result, error) {
	cl, err := n.sql()
	if err != nil {
		return nil, err
	}
	return cl.Txn(ctx, stmts)
}

// txn is the transaction Begin opened: Exec, Query, Commit and Rollback use
// it until the transaction ends. mu is held while Begin runs.
type txn struct {
	mu sync.Mutex
	tx *dqclient.Tx // nil when Begin failed or the transaction ended
}

func (n *Node) openTxn() *txn {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.txn
}

// Begin opens a transaction on a connection of its own. Until Commit or
// Rollback, Exec and Query of this Node run inside it, from whichever
// goroutine calls them: Begin/Commit/Rollback are the seed's
// one-caller-at-a-time API; concurrent callers use Txn. Begin while a
// transaction is open is ErrTxnOpen.
func (n *Node) Begin(ctx context.Context) error {
	t := &txn{}
	t.mu.Lock()
	defer t.mu.Unlock()
	n.mu.Lock()
	switch {
	case n.state != running || n.client == nil:
		n.mu.Unlock()
		return ErrNotRunning
	case n.txn != nil:
		n.mu.Unlock()
		return ErrTxnOpen
	}
	n.txn = t
	cl := n.client
	n.mu.Unlock()
	tx, err := cl.Begin(ctx)
	if err != nil {
		n.mu.Lock()
		if n.txn == t {
			n.txn = nil
		}
		n.mu.Unlock()
		return err
	}
	t.tx = tx
	return nil
}

func (t *txn) exec(ctx context.Context, sql string, args []any) (int64, int64, error) {
	t.mu.Lock()
	tx := t.tx
	t.mu.Unlock()
	if tx == nil {
		return 0, 0, ErrTxnAborted
	}
	return tx.Exec(ctx, sql, args...)
}

func (t *txn) query(ctx context.Context, sql string, args []any) ([]map[string]any, error) {
	t.mu.Lock()
	tx := t.tx
	t.mu.Unlock()
	if tx == nil {
		return nil, ErrTxnAborted
	}
	return tx.Query(ctx, sql, args...)
}

// abandon closes the transaction's connection (the server rolls it back),
// once a statement in flight returns.
func (t *txn) abandon() {
	t.mu.Lock()
	tx := t.tx
	t.tx = nil
	t.mu.Unlock()
	if tx != nil {
		tx.Abandon()
	}
}

// endTxn ends the Node's transaction state and hands over the transaction:
// nil when Begin failed.
func (n *Node) endTxn() (*dqclient.Tx, error) {
	n.mu.Lock()
	t := n.txn
	n.txn = nil
	state := n.state
	n.mu.Unlock()
	switch {
	case t == nil && state != running:
		return nil, ErrNotRunning
	case t == nil:
		return nil, ErrNoTxn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tx := t.tx
	t.tx = nil
	return tx, nil
}

// Commit commits the transaction Begin opened. Commit without Begin is
// ErrNoTxn; after the transaction's connection was lost it is ErrTxnAborted.
// An unknown outcome is a *TxnError wrapping an *IndeterminateError.
func (n *Node) Commit(ctx context.Context) error {
	tx, err := n.endTxn()
	if err != nil {
		return err
	}
	if tx == nil {
		return ErrTxnAborted
	}
	return tx.Commit(ctx)
}

// Rollback rolls back the transaction Begin opened; without Begin it is
// ErrNoTxn. A transaction whose connection was lost is already rolled back.
func (n *Node) Rollback(ctx context.Context) error {
	tx, err := n.endTxn()
	if err != nil || tx == nil {
		return err
	}
	return tx.Rollback(ctx)
}
