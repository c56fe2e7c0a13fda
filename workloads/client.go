// Package workloads holds what clients do: op generators, the client logic
// that turns an operation into SQL against one node, the schema each workload
// needs, its final reads, and the checker it needs. A workload does not know
// which backend runs it.
package workloads

import (
	"context"
	"errors"
)

// Stmt is one SQL statement with placeholder arguments. SQL is never built by
// string concatenation of values.
type Stmt struct {
	SQL  string `json:"sql"`
	Args []any  `json:"args,omitempty"`
}

// StmtResult is the result of one statement: for a write, the last insert id
// and rows affected; for a query, its rows keyed by column name (int64,
// float64, string, []byte or nil).
type StmtResult struct {
	LastInsertID int64            `json:"last_insert_id"`
	RowsAffected int64            `json:"rows_affected"`
	Rows         []map[string]any `json:"rows,omitempty"`
}

// Client is the small interface a workload needs: statements through one node.
// Every call must honour ctx's deadline.
//
// Errors are indeterminate unless they say otherwise: an error is a definite
// failure (the operation certainly did not take effect) only when IsDefinite
// reports true for it. A client that cannot tell must not claim definiteness.
type Client interface {
	Exec(ctx context.Context, sql string, args ...any) (StmtResult, error)
	Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error)
	// Txn runs stmts in one transaction and commits; any statement error
	// rolls the transaction back.
	Txn(ctx context.Context, stmts []Stmt) ([]StmtResult, error)
}

// IsDefinite reports whether err certainly means the operation did not take
// effect. An error is definite when some error in its chain has a method
// Definite() bool that returns true.
func IsDefinite(err error) bool {
	var d interface{ Definite() bool }
	return err != nil && errors.As(err, &d) && d.Definite()
}

// DefiniteError wraps an error known to mean "did not happen".
type DefiniteError struct{ Err error }

func (e *DefiniteError) Error() string  { return e.Err.Error() }
func (e *DefiniteError) Unwrap() error  { return e.Err }
func (e *DefiniteError) Definite() bool { return true }
