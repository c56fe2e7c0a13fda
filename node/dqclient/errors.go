package dqclient

import (
	"errors"
	"fmt"
)

// SQLite and dqlite result codes the client classifies. dqlite sends
// extended codes; the primary code is the low byte.
const (
	CodeBusy           = 5              // SQLITE_BUSY
	CodeNotLeader      = 10 | (40 << 8) // SQLITE_IOERR_NOT_LEADER (10250): dqlite ran nothing
	CodeLeadershipLost = 10 | (41 << 8) // SQLITE_IOERR_LEADERSHIP_LOST (10506): outcome unknown
	sqliteIOErr        = 10             // SQLITE_IOERR: with a write, outcome unknown (see conn.classify)
	sqliteFull         = 13             // SQLITE_FULL: likewise
	codeNotLeaderOld   = 10 | (32 << 8) // the same two codes before SQLite 3.32.1+replication4
	codeLostOld        = 10 | (33 << 8)
	codeNotFound       = 12 // SQLITE_NOTFOUND: "no database opened" after a leader change
)

// stateError is a misuse of the client: it is closed, or a transaction is
// used after its connection was lost. It is definite: the call did nothing.
type stateError struct{ msg string }

func (e *stateError) Error() string  { return "node: " + e.msg }
func (e *stateError) Definite() bool { return true }

// Errors matched with errors.Is. The messages say "node" because a Node
// (package node) is this client's main user: a stopped node closes its
// client.
var (
	ErrNotRunning error = &stateError{"not running"}
	ErrTxnAborted error = &stateError{"the transaction was aborted: its connection was lost before COMMIT; nothing of it was committed"}
)

// ArgError is a statement argument of a type the client cannot send. It is
// definite: nothing was sent.
type ArgError struct{ Err error }

func (e *ArgError) Error() string  { return "node: " + e.Err.Error() }
func (e *ArgError) Unwrap() error  { return e.Err }
func (e *ArgError) Definite() bool { return true }

// DatabaseError is an error SQLite or dqlite returned for a statement that
// did not take effect: a constraint, a syntax error, SQLITE_BUSY and so on.
// Code is SQLite's primary result code, ExtendedCode the extended one.
type DatabaseError struct {
	Code         int
	ExtendedCode int
	Message      string
}

func (e *DatabaseError) Error() string {
	return fmt.Sprintf("database error %d (extended %d): %s", e.Code, e.ExtendedCode, e.Message)
}
func (e *DatabaseError) Definite() bool { return true }

// NoLeaderError says a statement did not run: no leader could be reached
// before the deadline, the deadline had passed before sending, or writing
// the request to the leader failed (Code 0); or the server it reached was no
// longer the leader: SQLITE_IOERR_NOT_LEADER (Code 10250) or SQLITE_NOTFOUND
// "no database opened" (Code 12, the connection's database went with the
// leadership), both of which dqlite answers before it runs anything.
type NoLeaderError struct {
	Code int
	Err  error
	// stale: the connection's server went away or stopped leading, so a
	// fresh connection may find the leader.
	stale bool
}

func (e *NoLeaderError) Error() string  { return fmt.Sprintf("no leader: %v", e.Err) }
func (e *NoLeaderError) Unwrap() error  { return e.Err }
func (e *NoLeaderError) Definite() bool { return true }

// IndeterminateError says the statement was sent and its outcome is unknown:
// the connection was lost after sending, leadership was lost while it was
// being committed (ExtendedCode 10506), or the deadline passed while waiting
// for the answer. A history records such an operation as info, never fail:
// the write may have been applied, and may still be applied later.
type IndeterminateError struct {
	ExtendedCode int // 10506 for leadership lost, 0 otherwise
	Err          error
}

func (e *IndeterminateError) Error() string {
	if e.ExtendedCode != 0 {
		return fmt.Sprintf("outcome unknown (code %d): %v", e.ExtendedCode, e.Err)
	}
	return fmt.Sprintf("outcome unknown: %v", e.Err)
}
func (e *IndeterminateError) Unwrap() error  { return e.Err }
func (e *IndeterminateError) Definite() bool { return false }

// TxnError is the failure of one step of Txn. Statement is the index of the
// failing statement, -1 for BEGIN and len(statements) for COMMIT. A failure
// before COMMIT was sent is definite whatever its cause: dqlite replicates a
// transaction only at COMMIT, and a transaction whose connection is lost is
// rolled back by the server.
type TxnError struct {
	Statement int
	Commit    bool // the failing step was COMMIT
	Err       error
}

func (e *TxnError) Error() string {
	switch {
	case e.Commit:
		return fmt.Sprintf("txn: commit: %v", e.Err)
	case e.Statement < 0:
		return fmt.Sprintf("txn: begin: %v", e.Err)
	}
	return fmt.Sprintf("txn: statement %d: %v", e.Statement, e.Err)
}
func (e *TxnError) Unwrap() error { return e.Err }

// Definite is true for any failure before COMMIT, and for a COMMIT failure
// that is itself definite.
func (e *TxnError) Definite() bool {
	if !e.Commit {
		return true
	}
	var d interface{ Definite() bool }
	return errors.As(e.Err, &d) && d.Definite()
}
