//go:build libsqlite3

// These tests run the workloads' SQL against a real SQLite engine (the
// system library, as in the trixie root: build/inroot.sh go test -tags
// "libsqlite3 netgo osusergo" ./workloads/...). The build tag keeps
// go-sqlite3's bundled C amalgamation out of plain host builds.

package workloads

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// sqliteClient is a Client over one local SQLite database. SQLite's own
// errors are definite here: a local engine either ran a statement or
// rolled it back, there is no network in between to lose the answer.
type sqliteClient struct{ db *sql.DB }

func openSQLite(t testing.TB) *sqliteClient {
	t.Helper()
	db, err := sql.Open("sqlite3", filepath.Join(t.TempDir(), "db.sqlite"))
	require.NoError(t, err)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { _ = db.Close() })
	return &sqliteClient{db: db}
}

func definite(err error) error {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return &DefiniteError{Err: err}
	}
	return err
}

func (c *sqliteClient) Exec(ctx context.Context, query string, args ...any) (StmtResult, error) {
	return execOn(ctx, c.db, query, args)
}

func (c *sqliteClient) Query(ctx context.Context, query string, args ...any) ([]map[string]any, error) {
	return queryOn(ctx, c.db, query, args)
}

func (c *sqliteClient) Txn(ctx context.Context, stmts []Stmt) ([]StmtResult, error) {
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, definite(err)
	}
	results := make([]StmtResult, len(stmts))
	for i, s := range stmts {
		if strings.HasPrefix(strings.ToUpper(strings.TrimSpace(s.SQL)), "SELECT") {
			results[i].Rows, err = queryOn(ctx, tx, s.SQL, s.Args)
		} else {
			results[i], err = execOn(ctx, tx, s.SQL, s.Args)
		}
		if err != nil {
			_ = tx.Rollback()
			return nil, err
		}
	}
	return results, definite(tx.Commit())
}

type conn interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func execOn(ctx context.Context, c conn, query string, args []any) (StmtResult, error) {
	res, err := c.ExecContext(ctx, query, args...)
	if err != nil {
		return StmtResult{}, definite(err)
	}
	id, _ := res.LastInsertId()
	n, _ := res.RowsAffected()
	return StmtResult{LastInsertID: id, RowsAffected: n}, nil
}

func queryOn(ctx context.Context, c conn, query string, args []any) ([]map[string]any, error) {
	rows, err := c.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, definite(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, definite(err)
	}
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, definite(err)
		}
		row := make(map[string]any, len(cols))
		for i, c := range cols {
			row[c] = vals[i]
		}
		out = append(out, row)
	}
	return out, definite(rows.Err())
}

// faultyClient injects err into every call. With apply set, the call goes
// through first and only its answer is lost (a commit whose acknowledgement
// never arrived); otherwise nothing reaches the database.
type faultyClient struct {
	Client
	err   error
	apply bool
}

func (c *faultyClient) Exec(ctx context.Context, query string, args ...any) (StmtResult, error) {
	if c.apply {
		_, _ = c.Client.Exec(ctx, query, args...)
	}
	return StmtResult{}, c.err
}

func (c *faultyClient) Query(ctx context.Context, query string, args ...any) ([]map[string]any, error) {
	return nil, c.err
}

func (c *faultyClient) Txn(ctx context.Context, stmts []Stmt) ([]StmtResult, error) {
	if c.apply {
		_, _ = c.Client.Txn(ctx, stmts)
	}
	return nil, c.err
}

var (
	errLost     = errors.New("connection lost after the request was sent")
	errNoLeader = &DefiniteError{Err: errors.New("no leader: nothing was sent")}
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// setUp returns a workload whose schema exists in a fresh database.
func setUp(t testing.TB, name string, p Params) (Workload, *sqliteClient) {
	t.Helper()
	w := mustNew(t, name, p)
	c := openSQLite(t)
	require.NoError(t, w.Setup(testCtx(t), c))
	require.NoError(t, w.Setup(testCtx(t), c), "Setup is idempotent")
	return w, c
}

// step is one operation and the completion it must get.
type step struct {
	op   Op
	typ  history.Type
	want any // the completion's value
}

func runSteps(t *testing.T, w Workload, c Client, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := w.Invoke(testCtx(t), c, s.op)
		require.Equal(t, s.typ, got.Type, "step %d %+v: %s", i, s.op, got.Error)
		require.Equal(t, s.want, got.Value, "step %d %+v", i, s.op)
		if got.Type != history.OK {
			require.NotEmpty(t, got.Error, "a fail or info says why")
		}
	}
}

func TestRegisterAgainstSQLite(t *testing.T) {
	w, c := setUp(t, "register", Params{})
	runSteps(t, w, c, []step{
		{Op{F: "read", Key: "k1"}, history.OK, nil},
		{Op{F: "cas", Key: "k1", Value: []any{int64(0), int64(1)}}, history.Fail, []any{int64(0), int64(1)}},
		{Op{F: "write", Key: "k1", Value: int64(3)}, history.OK, int64(3)},
		{Op{F: "read", Key: "k1"}, history.OK, int64(3)},
		{Op{F: "read", Key: "k2"}, history.OK, nil},
		{Op{F: "cas", Key: "k1", Value: []any{int64(2), int64(4)}}, history.Fail, []any{int64(2), int64(4)}},
		{Op{F: "read", Key: "k1"}, history.OK, int64(3)},
		{Op{F: "cas", Key: "k1", Value: []any{int64(3), int64(4)}}, history.OK, []any{int64(3), int64(4)}},
		{Op{F: "read", Key: "k1"}, history.OK, int64(4)},
		{Op{F: "write", Key: "k1", Value: int64(0)}, history.OK, int64(0)},
		{Op{F: "read", Key: "k1"}, history.OK, int64(0)},
	})
}

func TestBankAgainstSQLite(t *testing.T) {
	w, c := setUp(t, "bank", Params{Accounts: 3, Total: 10})
	transfer := func(from, to, amount int64) Op {
		return Op{F: "transfer", Value: map[string]any{"from": from, "to": to, "amount": amount}}
	}
	balances := func(b ...int64) map[string]any {
		m := map[string]any{}
		for i, v := range b {
			m[string(rune('0'+i))] = v
		}
		return m
	}
	runSteps(t, w, c, []step{
		{Op{F: "read"}, history.OK, balances(4, 3, 3)},
		{transfer(0, 2, 4), history.OK, transfer(0, 2, 4).Value},
		{Op{F: "read"}, history.OK, balances(0, 3, 7)},
		// Overdraft: the CHECK constraint aborts the whole transfer, a
		// definite failure; neither account changed.
		{transfer(1, 0, 5), history.Fail, transfer(1, 0, 5).Value},
		{Op{F: "read"}, history.OK, balances(0, 3, 7)},
	})
}

func TestBankAllowsOverdraftsWhenAskedTo(t *testing.T) {
	w, c := setUp(t, "bank", Params{Accounts: 2, Total: 2, AllowNegative: true})
	runSteps(t, w, c, []step{
		{Op{F: "transfer", Value: map[string]any{"from": int64(0), "to": int64(1), "amount": int64(5)}}, history.OK,
			map[string]any{"from": int64(0), "to": int64(1), "amount": int64(5)}},
		{Op{F: "read"}, history.OK, map[string]any{"0": int64(-4), "1": int64(6)}},
	})
}

func TestBankSetupDoesNotResetBalances(t *testing.T) {
	w, c := setUp(t, "bank", Params{Accounts: 2, Total: 10})
	runSteps(t, w, c, []step{
		{Op{F: "transfer", Value: map[string]any{"from": int64(0), "to": int64(1), "amount": int64(5)}}, history.OK,
			map[string]any{"from": int64(0), "to": int64(1), "amount": int64(5)}},
	})
	require.NoError(t, w.Setup(testCtx(t), c))
	runSteps(t, w, c, []step{{Op{F: "read"}, history.OK, map[string]any{"0": int64(0), "1": int64(10)}}})
}

func TestSetAgainstSQLite(t *testing.T) {
	w, c := setUp(t, "set", Params{})
	runSteps(t, w, c, []step{
		{Op{F: "read"}, history.OK, []any{}},
		{Op{F: "add", Value: int64(2000000000)}, history.OK, int64(2000000000)},
		{Op{F: "add", Value: int64(5)}, history.OK, int64(5)},
		{Op{F: "read"}, history.OK, []any{int64(5), int64(2000000000)}},
		// A duplicate application stays visible to the checker.
		{Op{F: "add", Value: int64(5)}, history.OK, int64(5)},
		{Op{F: "final-read"}, history.OK, []any{int64(5), int64(5), int64(2000000000)}},
	})
	require.Equal(t, []Op{{F: "final-read"}}, w.FinalOps())
}

func TestAppendAgainstSQLite(t *testing.T) {
	w, c := setUp(t, "append", Params{})
	txn := func(mops ...[]any) Op {
		v := make([]any, len(mops))
		for i, m := range mops {
			v[i] = m
		}
		return Op{F: "txn", Value: v}
	}
	runSteps(t, w, c, []step{
		{txn([]any{"r", "k1", nil}), history.OK, txn([]any{"r", "k1", []any{}}).Value},
		{txn([]any{"append", "k1", int64(7)}, []any{"r", "k1", nil}, []any{"append", "k1", int64(3)}, []any{"r", "k1", nil}),
			history.OK,
			txn([]any{"append", "k1", int64(7)}, []any{"r", "k1", []any{int64(7)}}, []any{"append", "k1", int64(3)}, []any{"r", "k1", []any{int64(7), int64(3)}}).Value},
		{txn([]any{"append", "k2", int64(1)}, []any{"r", "k1", nil}), history.OK,
			txn([]any{"append", "k2", int64(1)}, []any{"r", "k1", []any{int64(7), int64(3)}}).Value},
		{txn([]any{"r", "k2", nil}, []any{"append", "k1", int64(9)}, []any{"r", "k1", nil}), history.OK,
			txn([]any{"r", "k2", []any{int64(1)}}, []any{"append", "k1", int64(9)}, []any{"r", "k1", []any{int64(7), int64(3), int64(9)}}).Value},
	})
}

func TestAppendTransactionFailingMidwayIsAFailAndLeavesNoTrace(t *testing.T) {
	w, c := setUp(t, "append", Params{})
	// A trigger makes the second append of the transaction fail inside
	// SQLite; the first one must be rolled back with it.
	_, err := c.Exec(testCtx(t), `CREATE TRIGGER refuse13 BEFORE INSERT ON appends WHEN NEW.v = 13 BEGIN SELECT RAISE(ABORT, 'refused'); END`)
	require.NoError(t, err)
	attempt := []any{[]any{"append", "k1", int64(1)}, []any{"append", "k1", int64(13)}}
	runSteps(t, w, c, []step{
		{Op{F: "txn", Value: attempt}, history.Fail, attempt},
		{Op{F: "txn", Value: []any{[]any{"r", "k1", nil}}}, history.OK, []any{[]any{"r", "k1", []any{}}}},
	})
}

// Every write and read of every workload, under an error of each kind.
func TestOutcomesFollowTheErrorsDefiniteness(t *testing.T) {
	ops := map[string][]Op{
		"register": {{F: "read", Key: "k0"}, {F: "write", Key: "k0", Value: int64(1)}, {F: "cas", Key: "k0", Value: []any{int64(0), int64(1)}}},
		"bank":     {{F: "read"}, {F: "transfer", Value: map[string]any{"from": int64(0), "to": int64(1), "amount": int64(1)}}},
		"set":      {{F: "read"}, {F: "add", Value: int64(1)}, {F: "final-read"}},
		"append":   {{F: "txn", Value: []any{[]any{"r", "k0", nil}}}, {F: "txn", Value: []any{[]any{"append", "k0", int64(1)}, []any{"r", "k0", nil}}}},
	}
	faults := []struct {
		name  string
		err   error
		apply bool
		want  history.Type
	}{
		{"indeterminate error, nothing applied", errLost, false, history.Info},
		{"indeterminate error after applying", errLost, true, history.Info},
		{"wrapped indeterminate error", errors.Join(errLost, errors.New("deadline")), true, history.Info},
		{"definite error", errNoLeader, false, history.Fail},
		{"wrapped definite error", errors.Join(errors.New("exec"), errNoLeader), false, history.Fail},
	}
	for _, name := range Names() {
		for _, f := range faults {
			t.Run(name+"/"+f.name, func(t *testing.T) {
				w, c := setUp(t, name, Params{})
				for _, op := range ops[name] {
					got := w.Invoke(testCtx(t), &faultyClient{Client: c, err: f.err, apply: f.apply}, op)
					require.Equal(t, f.want, got.Type, "%+v", op)
					require.Equal(t, f.err.Error(), got.Error)
					if op.Value != nil {
						require.Equal(t, op.Value, got.Value, "a failed write keeps what it attempted")
					}
				}
			})
		}
	}
}

func TestSQLiteConstraintErrorIsAFail(t *testing.T) {
	// The adapter's contract, pinned: a real constraint error reaches
	// Invoke as definite, which makes the bank's overdraft a fail above.
	c := openSQLite(t)
	_, err := c.Exec(testCtx(t), `CREATE TABLE t (x INTEGER CHECK (x >= 0))`)
	require.NoError(t, err)
	_, err = c.Txn(testCtx(t), []Stmt{{SQL: `INSERT INTO t (x) VALUES (?)`, Args: []any{-1}}})
	var se sqlite3.Error
	require.ErrorAs(t, err, &se)
	require.Equal(t, sqlite3.ErrConstraint, se.Code)
	require.True(t, IsDefinite(err))
}
