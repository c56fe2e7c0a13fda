package node

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dqtest/dqtest/node/control"
)

// Statement is one SQL statement with placeholder arguments; Result is the
// result of one statement of a Txn: for a write its last insert id and rows
// affected, for a query its rows. Both are the control API's types.
type (
	Statement = control.Statement
	Result    = control.Result
)

// OpenDB selects the database statements run on (DefaultDB until called;
// "" means DefaultDB) and checks that the leader can be reached with it.
// dqlite creates a database on first use; name is a file name, no path.
func (n *Node) OpenDB(ctx context.Context, name string) error {
	if name == "" {
		name = DefaultDB
	}
	if strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("database name %q: want a file name without directories", name)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	n.mu.Lock()
	if n.state != running {
		n.mu.Unlock()
		return ErrNotRunning
	}
	if n.db != name {
		n.db = name
		n.conns.drain(false)
	}
	n.mu.Unlock()
	c, gen, err, bad := n.first(ctx, func(c *conn) (error, bool) {
		_, err, bad := c.query(ctx, "SELECT 1", nil)
		return err, bad
	})
	if c != nil {
		n.release(c, gen, bad, err)
	}
	return err
}

// acquire returns an idle connection to the leader (reused) or dials one.
func (n *Node) acquire(ctx context.Context) (c *conn, gen int, reused bool, err error) {
	n.mu.Lock()
	if n.state != running {
		n.mu.Unlock()
		return nil, 0, false, ErrNotRunning
	}
	p, store, db := n.conns, n.store, n.db
	n.mu.Unlock()
	c, gen, err = p.get()
	if err != nil || c != nil {
		return c, gen, c != nil, err
	}
	c, err = dial(ctx, store, db, n.log)
	return c, gen, false, err
}

// first runs the first statement of a piece of work (a statement, or a
// transaction's BEGIN) and hands the connection to the caller, who must
// release it. A pooled connection may point at a former leader, which
// answers "not leader" or "no database opened" before running anything, or
// at one that is gone, so that writing the request fails: then, and only
// then, the statement runs once more on a fresh connection. That is no retry
// of a write that may have happened.
func (n *Node) first(ctx context.Context, f func(*conn) (error, bool)) (c *conn, gen int, err error, bad bool) {
	if err := ctx.Err(); err != nil {
		return nil, 0, &NoLeaderError{Err: fmt.Errorf("deadline passed before sending: %w", err)}, false
	}
	for attempt := 0; ; attempt++ {
		var reused bool
		c, gen, reused, err = n.acquire(ctx)
		if err != nil {
			return nil, 0, err, false
		}
		err, bad = f(c)
		var nl *NoLeaderError
		if err != nil && reused && attempt == 0 && errors.As(err, &nl) && nl.stale {
			n.log.Debug("pooled connection pointed at a former leader; running on a fresh one", "err", err)
			n.release(c, gen, bad, err)
			continue
		}
		return c, gen, err, bad
	}
}

// release hands a connection back after a statement: a bad one is closed,
// and an error that says the leader moved or vanished drops every idle
// connection, since they all point at the same old leader.
func (n *Node) release(c *conn, gen int, bad bool, err error) {
	n.mu.Lock()
	p := n.conns
	n.mu.Unlock()
	if bad {
		c.close()
		var nl *NoLeaderError
		var ind *IndeterminateError
		if errors.As(err, &nl) || errors.As(err, &ind) {
			p.drain(false)
		}
		return
	}
	p.put(c, gen)
}

// Exec runs a statement that returns no rows, exactly once, on the leader.
// Between Begin and Commit/Rollback it runs inside that transaction.
// Errors: ErrNotRunning, *NoLeaderError (not sent), *DatabaseError (did not
// take effect), *IndeterminateError (sent, outcome unknown).
func (n *Node) Exec(ctx context.Context, sql string, args ...any) (lastInsertID, rowsAffected int64, err error) {
	named, err := toDriver(args)
	if err != nil {
		return 0, 0, &stateError{err.Error()}
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if t := n.openTxn(); t != nil {
		return t.exec(ctx, sql, named)
	}
	var id, affected int64
	c, gen, err, bad := n.first(ctx, func(c *conn) (err error, bad bool) {
		id, affected, err, bad = c.exec(ctx, sql, named)
		return err, bad
	})
	if c != nil {
		n.release(c, gen, bad, err)
	}
	return id, affected, err
}

// Query runs a statement on the leader and returns its rows as maps keyed by
// column name, with values int64, float64, string, []byte or nil (see
// TimeLayout for time columns). Between Begin and Commit/Rollback it runs
// inside that transaction. Errors as Exec's.
func (n *Node) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	named, err := toDriver(args)
	if err != nil {
		return nil, &stateError{err.Error()}
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if t := n.openTxn(); t != nil {
		return t.query(ctx, sql, named)
	}
	var rows []map[string]any
	c, gen, err, bad := n.first(ctx, func(c *conn) (err error, bad bool) {
		rows, err, bad = c.query(ctx, sql, named)
		return err, bad
	})
	if c != nil {
		n.release(c, gen, bad, err)
	}
	return rows, err
}

// Txn runs stmts in one transaction on one connection and commits. A
// statement that returns rows (see returnsRows: SELECT, VALUES, WITH,
// PRAGMA, EXPLAIN, or RETURNING) runs as a query and fills Rows. Any failure
// before COMMIT rolls the transaction back and is a definite *TxnError; a
// COMMIT whose outcome is unknown is a *TxnError wrapping an
// *IndeterminateError. Txn is independent of Begin/Commit.
func (n *Node) Txn(ctx context.Context, stmts []Statement) ([]Result, error) {
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	c, gen, results, err := n.beginAndRun(ctx, stmts)
	if err != nil {
		return nil, err
	}
	if _, _, err, _ := c.exec(ctx, "COMMIT", nil); err != nil {
		// Whatever state a failed COMMIT left the connection in, the server
		// rolls back an open transaction when the connection closes.
		n.release(c, gen, true, err)
		return nil, &TxnError{Statement: len(stmts), Commit: true, Err: err}
	}
	n.release(c, gen, false, nil)
	return results, nil
}

// beginAndRun begins a transaction and runs stmts in it, on a connection
// the caller must commit on and release. Any failure rolls the transaction
// back, releases the connection and is a definite *TxnError (Statement -1
// for BEGIN).
func (n *Node) beginAndRun(ctx context.Context, stmts []Statement) (*conn, int, []Result, error) {
	named := make([][]driver.NamedValue, len(stmts))
	for i, s := range stmts {
		var err error
		if named[i], err = toDriver(s.Args); err != nil {
			return nil, 0, nil, &TxnError{Statement: i, Err: &stateError{err.Error()}}
		}
	}
	c, gen, err, bad := n.first(ctx, begin(ctx))
	if err != nil {
		if c != nil {
			n.release(c, gen, bad, err)
		}
		return nil, 0, nil, &TxnError{Statement: -1, Err: err}
	}
	results := make([]Result, len(stmts))
	for i, s := range stmts {
		var err error
		var bad bool
		if returnsRows(s.SQL) {
			results[i].Rows, err, bad = c.query(ctx, s.SQL, named[i])
		} else {
			results[i].LastInsertID, results[i].RowsAffected, err, bad = c.exec(ctx, s.SQL, named[i])
		}
		if err != nil {
			if !bad {
				bad = !c.rollback(ctx)
			}
			n.release(c, gen, bad, err)
			return nil, 0, nil, &TxnError{Statement: i, Err: err}
		}
	}
	return c, gen, results, nil
}

func begin(ctx context.Context) func(*conn) (error, bool) {
	return func(c *conn) (error, bool) {
		_, _, err, bad := c.exec(ctx, "BEGIN", nil)
		return err, bad
	}
}

// rollback ends the connection's transaction; it reports whether the
// connection is fit for reuse. It has a short deadline of its own: ctx may
// be what just ran out.
func (c *conn) rollback(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_, _, err, bad := c.exec(ctx, "ROLLBACK", nil)
	return err == nil && !bad
}

// txn is the transaction Begin opened: one dedicated connection that Exec,
// Query, Commit and Rollback use until the transaction ends.
type txn struct {
	mu    sync.Mutex
	c     *conn // nil once the connection was lost: the server rolled back
	gen   int
	count int // statements run so far
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
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	t := &txn{}
	t.mu.Lock()
	defer t.mu.Unlock()
	n.mu.Lock()
	switch {
	case n.state != running:
		n.mu.Unlock()
		return ErrNotRunning
	case n.txn != nil:
		n.mu.Unlock()
		return ErrTxnOpen
	}
	n.txn = t
	n.mu.Unlock()
	c, gen, err, bad := n.first(ctx, begin(ctx))
	if err != nil {
		if c != nil {
			n.release(c, gen, bad, err)
		}
		n.mu.Lock()
		if n.txn == t {
			n.txn = nil
		}
		n.mu.Unlock()
		return err
	}
	t.c, t.gen = c, gen
	return nil
}

func (t *txn) exec(ctx context.Context, sql string, args []driver.NamedValue) (int64, int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return 0, 0, ErrTxnAborted
	}
	id, affected, err, bad := t.c.exec(ctx, sql, args)
	return id, affected, t.after(err, bad)
}

func (t *txn) query(ctx context.Context, sql string, args []driver.NamedValue) ([]map[string]any, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return nil, ErrTxnAborted
	}
	rows, err, bad := t.c.query(ctx, sql, args)
	return rows, t.after(err, bad)
}

// after books a statement's outcome. A lost connection ends the
// transaction: what it did will never commit, so the error is definite.
// Caller holds t.mu.
func (t *txn) after(err error, bad bool) error {
	i := t.count
	t.count++
	if err == nil {
		return nil
	}
	if bad {
		t.c.close()
		t.c = nil
		return &TxnError{Statement: i, Err: fmt.Errorf("%w (%w)", err, ErrTxnAborted)}
	}
	return err
}

// endTxn ends the Node's transaction state and hands over the
// transaction's connection: nil when it was lost (the server rolled the
// transaction back).
func (n *Node) endTxn() (*conn, *txn, error) {
	n.mu.Lock()
	t := n.txn
	n.txn = nil
	state := n.state
	n.mu.Unlock()
	switch {
	case t == nil && state != running:
		return nil, nil, ErrNotRunning
	case t == nil:
		return nil, nil, ErrNoTxn
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	t.c = nil
	return c, t, nil
}

// Commit commits the transaction Begin opened. Commit without Begin is
// ErrNoTxn; after the transaction's connection was lost it is ErrTxnAborted.
// An unknown outcome is a *TxnError wrapping an *IndeterminateError.
func (n *Node) Commit(ctx context.Context) error {
	c, t, err := n.endTxn()
	if err != nil {
		return err
	}
	if c == nil {
		return ErrTxnAborted
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, _, err, _ := c.exec(ctx, "COMMIT", nil); err != nil {
		n.release(c, t.gen, true, err)
		return &TxnError{Statement: t.count, Commit: true, Err: err}
	}
	n.release(c, t.gen, false, nil)
	return nil
}

// Rollback rolls back the transaction Begin opened; without Begin it is
// ErrNoTxn. A transaction whose connection was lost is already rolled back.
func (n *Node) Rollback(ctx context.Context) error {
	c, t, err := n.endTxn()
	if err != nil || c == nil {
		return err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	_, _, err, bad := c.exec(ctx, "ROLLBACK", nil)
	if bad {
		// The connection is gone, and with it the transaction.
		n.release(c, t.gen, true, err)
		return nil
	}
	n.release(c, t.gen, false, nil)
	return err
}
