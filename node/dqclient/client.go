// Package dqclient runs SQL on the leader of a dqlite cluster, each
// statement exactly once, and says of every failure whether the statement
// certainly did not take effect. It is the client half of package node
// (a Node runs its statements through one), without cgo, so that a program
// can talk to a cluster's dqlite ports directly with the same guarantees:
// dqtest's harness does, in its "direct" client mode.
//
// Statements bypass database/sql on purpose. database/sql retries a
// statement that fails with driver.ErrBadConn on a new connection, and
// go-dqlite returns ErrBadConn both when nothing was sent and when a write
// was sent and its outcome is unknown (ENVIRONMENT.md): through database/sql
// an autocommit write can be applied twice without anyone noticing. Here each
// statement runs exactly once on one go-dqlite driver connection, and every
// failure is classified instead of retried.
//
// Errors: ErrNotRunning (closed), *ArgError, *DatabaseError and
// *NoLeaderError are definite; *IndeterminateError is not (sent, outcome
// unknown); a transaction's failures are *TxnError. Each has a Definite
// method.
package dqclient

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/canonical/go-dqlite/v2/client"

	"github.com/dqtest/dqtest/node/control"
)

// DefaultTimeout bounds a call whose context has no deadline: go-dqlite
// retries leader discovery forever otherwise.
const DefaultTimeout = 10 * time.Second

// DefaultDB is the database statements use unless Options or OpenDB name
// another.
const DefaultDB = "db.sqlite"

// Statement is one SQL statement with placeholder arguments; Result is the
// result of one statement of a Txn: for a write its last insert id and rows
// affected, for a query its rows. Both are the control API's types.
type (
	Statement = control.Statement
	Result    = control.Result
)

// Options configure a Client.
type Options struct {
	// DB is the database statements run on; "" is DefaultDB.
	DB string
	// MaxIdle is how many idle connections to the leader are kept; 0 is 16.
	MaxIdle int
	// Log gets go-dqlite's messages at debug level; nil discards them.
	Log *slog.Logger
	// Dial opens every connection to a dqlite node, the store's and the
	// leader's (go-dqlite's client.WithDialFunc); nil is go-dqlite's
	// default (TCP to the address as given). A program that reaches the
	// nodes other than at their dqlite addresses (published ports)
	// translates the address here.
	Dial client.DialFunc
}

// Client runs statements on the leader, found through the nodes of its
// store: with one node in it, the leader as that node sees it (a node in a
// minority that still believes it leads is asked, and answers). It keeps a
// pool of connections to the leader; every error that says the leader moved
// or vanished drops them all. Its methods are safe for concurrent use.
type Client struct {
	store client.NodeStore
	log   *slog.Logger
	dial  client.DialFunc

	mu    sync.Mutex
	db    string
	conns *pool
}

// New returns a client that finds the leader through store. It connects to
// nothing until a statement runs.
func New(store client.NodeStore, o Options) *Client {
	if o.DB == "" {
		o.DB = DefaultDB
	}
	if o.MaxIdle <= 0 {
		o.MaxIdle = 16
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Dial == nil {
		o.Dial = client.DefaultDialFunc
	}
	return &Client{store: store, log: o.Log, dial: o.Dial, db: o.DB, conns: &pool{max: o.MaxIdle}}
}

// Close closes every connection; statements afterwards are ErrNotRunning,
// and a connection in use is closed when its statement returns. A Tx keeps
// its connection until it ends.
func (cl *Client) Close() { cl.conns.drain(true) }

// CheckDBName says whether name can name a database: a file name, no path.
func CheckDBName(name string) error {
	if strings.ContainsAny(name, "/\x00") {
		return fmt.Errorf("database name %q: want a file name without directories", name)
	}
	return nil
}

// OpenDB selects the database statements run on ("" means DefaultDB) and
// checks that the leader can be reached with it. dqlite creates a database
// on first use.
func (cl *Client) OpenDB(ctx context.Context, name string) error {
	if name == "" {
		name = DefaultDB
	}
	if err := CheckDBName(name); err != nil {
		return err
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	cl.mu.Lock()
	if cl.db != name {
		cl.db = name
		cl.conns.drain(false)
	}
	cl.mu.Unlock()
	c, gen, err, bad := cl.first(ctx, func(c *conn) (error, bool) {
		_, err, bad := c.query(ctx, "SELECT 1", nil)
		return err, bad
	})
	if c != nil {
		cl.release(c, gen, bad, err)
	}
	return err
}

// WithDeadline gives ctx DefaultTimeout when it has no deadline.
func WithDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, DefaultTimeout)
}

// acquire returns an idle connection to the leader (reused) or dials one.
func (cl *Client) acquire(ctx context.Context) (c *conn, gen int, reused bool, err error) {
	cl.mu.Lock()
	db := cl.db
	cl.mu.Unlock()
	c, gen, err = cl.conns.get()
	if err != nil || c != nil {
		return c, gen, c != nil, err
	}
	c, err = dial(ctx, cl.store, db, cl.dial, cl.log)
	return c, gen, false, err
}

// first runs the first statement of a piece of work (a statement, or a
// transaction's BEGIN) and hands the connection to the caller, who must
// release it. A pooled connection may point at a former leader, which
// answers "not leader" or "no database opened" before running anything, or
// at one that is gone, so that writing the request fails: then, and only
// then, the statement runs once more on a fresh connection. That is no retry
// of a write that may have happened.
func (cl *Client) first(ctx context.Context, f func(*conn) (error, bool)) (c *conn, gen int, err error, bad bool) {
	if err := ctx.Err(); err != nil {
		return nil, 0, &NoLeaderError{Err: fmt.Errorf("deadline passed before sending: %w", err)}, false
	}
	for attempt := 0; ; attempt++ {
		var reused bool
		c, gen, reused, err = cl.acquire(ctx)
		if err != nil {
			return nil, 0, err, false
		}
		err, bad = f(c)
		var nl *NoLeaderError
		if err != nil && reused && attempt == 0 && errors.As(err, &nl) && nl.stale {
			cl.log.Debug("pooled connection pointed at a former leader; running on a fresh one", "err", err)
			cl.release(c, gen, bad, err)
			continue
		}
		return c, gen, err, bad
	}
}

// release hands a connection back after a statement: a bad one is closed,
// and an error that says the leader moved or vanished drops every idle
// connection, since they all point at the same old leader.
func (cl *Client) release(c *conn, gen int, bad bool, err error) {
	if bad {
		c.close()
		var nl *NoLeaderError
		var ind *IndeterminateError
		if errors.As(err, &nl) || errors.As(err, &ind) {
			cl.conns.drain(false)
		}
		return
	}
	cl.conns.put(c, gen)
}

// Exec runs a statement that returns no rows, exactly once, on the leader.
func (cl *Client) Exec(ctx context.Context, sql string, args ...any) (lastInsertID, rowsAffected int64, err error) {
	named, err := toDriver(args)
	if err != nil {
		return 0, 0, &ArgError{Err: err}
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	var id, affected int64
	c, gen, err, bad := cl.first(ctx, func(c *conn) (err error, bad bool) {
		id, affected, err, bad = c.exec(ctx, sql, named)
		return err, bad
	})
	if c != nil {
		cl.release(c, gen, bad, err)
	}
	return id, affected, err
}

// Query runs a statement on the leader and returns its rows as maps keyed by
// column name, with values int64, float64, string, []byte or nil (see
// TimeLayout for time columns).
func (cl *Client) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	named, err := toDriver(args)
	if err != nil {
		return nil, &ArgError{Err: err}
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	var rows []map[string]any
	c, gen, err, bad := cl.first(ctx, func(c *conn) (err error, bad bool) {
		rows, err, bad = c.query(ctx, sql, named)
		return err, bad
	})
	if c != nil {
		cl.release(c, gen, bad, err)
	}
	return rows, err
}

// Txn runs stmts in one transaction on one connection and commits. A
// statement that returns rows (SELECT, VALUES, WITH, PRAGMA, EXPLAIN, or
// RETURNING) runs as a query and fills Rows. Any failure before COMMIT rolls
// the transaction back and is a definite *TxnError; a COMMIT whose outcome
// is unknown is a *TxnError wrapping an *IndeterminateError.
func (cl *Client) Txn(ctx context.Context, stmts []Statement) ([]Result, error) {
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	tx, results, err := cl.BeginWith(ctx, stmts)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// Tx is an open transaction on a connection of its own. Its methods are
// safe for concurrent use, one statement at a time.
type Tx struct {
	cl    *Client
	mu    sync.Mutex
	c     *conn // nil once the transaction ended or its connection was lost
	gen   int
	count int // statements run so far, BEGIN not counted
}

// Begin opens a transaction.
func (cl *Client) Begin(ctx context.Context) (*Tx, error) {
	tx, _, err := cl.BeginWith(ctx, nil)
	if err != nil {
		var te *TxnError
		if errors.As(err, &te) && te.Statement < 0 {
			return nil, te.Err // Begin's own failure, as Exec would give it
		}
	}
	return tx, err
}

// BeginWith begins a transaction and runs stmts in it, returning their
// results and the transaction, still open. Any failure rolls the
// transaction back and is a definite *TxnError (Statement -1 for BEGIN).
func (cl *Client) BeginWith(ctx context.Context, stmts []Statement) (*Tx, []Result, error) {
	named := make([][]driver.NamedValue, len(stmts))
	for i, s := range stmts {
		var err error
		if named[i], err = toDriver(s.Args); err != nil {
			return nil, nil, &TxnError{Statement: i, Err: &ArgError{Err: err}}
		}
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	c, gen, err, bad := cl.first(ctx, func(c *conn) (error, bool) {
		_, _, err, bad := c.exec(ctx, "BEGIN", nil)
		return err, bad
	})
	if err != nil {
		if c != nil {
			cl.release(c, gen, bad, err)
		}
		return nil, nil, &TxnError{Statement: -1, Err: err}
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
			cl.release(c, gen, bad, err)
			return nil, nil, &TxnError{Statement: i, Err: err}
		}
	}
	return &Tx{cl: cl, c: c, gen: gen, count: len(stmts)}, results, nil
}

// Exec runs a statement inside the transaction. A lost connection ends the
// transaction (the server rolls it back): the error is then a definite
// *TxnError wrapping ErrTxnAborted, and so is every later statement's.
func (t *Tx) Exec(ctx context.Context, sql string, args ...any) (lastInsertID, rowsAffected int64, err error) {
	named, err := toDriver(args)
	if err != nil {
		return 0, 0, &ArgError{Err: err}
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return 0, 0, ErrTxnAborted
	}
	id, affected, err, bad := t.c.exec(ctx, sql, named)
	return id, affected, t.after(err, bad)
}

// Query runs a query inside the transaction; errors as Exec's.
func (t *Tx) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	named, err := toDriver(args)
	if err != nil {
		return nil, &ArgError{Err: err}
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.c == nil {
		return nil, ErrTxnAborted
	}
	rows, err, bad := t.c.query(ctx, sql, named)
	return rows, t.after(err, bad)
}

// after books a statement's outcome. A lost connection ends the
// transaction: what it did will never commit, so the error is definite.
// Caller holds t.mu.
func (t *Tx) after(err error, bad bool) error {
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

// end takes the transaction's connection: nil when it was lost or the
// transaction already ended.
func (t *Tx) end() (*conn, int, int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.c
	t.c = nil
	return c, t.gen, t.count
}

// Commit commits. After the connection was lost it is ErrTxnAborted; an
// unknown outcome is a *TxnError wrapping an *IndeterminateError.
func (t *Tx) Commit(ctx context.Context) error {
	c, gen, count := t.end()
	if c == nil {
		return ErrTxnAborted
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	if _, _, err, _ := c.exec(ctx, "COMMIT", nil); err != nil {
		// Whatever state a failed COMMIT left the connection in, the server
		// rolls back an open transaction when the connection closes.
		t.cl.release(c, gen, true, err)
		return &TxnError{Statement: count, Commit: true, Err: err}
	}
	t.cl.release(c, gen, false, nil)
	return nil
}

// Rollback rolls back. A transaction whose connection was lost is already
// rolled back: nil.
func (t *Tx) Rollback(ctx context.Context) error {
	c, gen, _ := t.end()
	if c == nil {
		return nil
	}
	ctx, cancel := WithDeadline(ctx)
	defer cancel()
	_, _, err, bad := c.exec(ctx, "ROLLBACK", nil)
	if bad {
		// The connection is gone, and with it the transaction.
		t.cl.release(c, gen, true, err)
		return nil
	}
	t.cl.release(c, gen, false, nil)
	return err
}

// Abandon closes the transaction's connection without ending the
// transaction: the server rolls it back (or, if the server is being
// stopped, meets it open). It waits for a statement in flight.
func (t *Tx) Abandon() {
	if c, _, _ := t.end(); c != nil {
		c.close()
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
