package node

import (
	"fmt"

	"github.com/dqtest/dqtest/node/dqclient"
)

// SQLite and dqlite result codes the Node classifies (package dqclient,
// which runs the Node's statements).
const (
	CodeBusy           = dqclient.CodeBusy           // SQLITE_BUSY
	CodeNotLeader      = dqclient.CodeNotLeader      // SQLITE_IOERR_NOT_LEADER (10250): dqlite ran nothing
	CodeLeadershipLost = dqclient.CodeLeadershipLost // SQLITE_IOERR_LEADERSHIP_LOST (10506): outcome unknown
)

// stateError is a misuse of the Node's lifecycle or transaction state. It is
// definite: the call did nothing.
type stateError struct{ msg string }

func (e *stateError) Error() string  { return "node: " + e.msg }
func (e *stateError) Definite() bool { return true }

// Lifecycle and transaction-state errors, matched with errors.Is.
var (
	ErrNotRunning     error = dqclient.ErrNotRunning
	ErrAlreadyRunning error = &stateError{"already running"}
	ErrClosed         error = &stateError{"closed"}
	ErrTxnOpen        error = &stateError{"a transaction is already open (Begin twice)"}
	ErrNoTxn          error = &stateError{"no transaction is open (Commit or Rollback without Begin)"}
	ErrTxnAborted     error = dqclient.ErrTxnAborted
)

// StartError says why Start failed. The node is not running afterwards.
type StartError struct {
	Address string
	Err     error
}

func (e *StartError) Error() string  { return fmt.Sprintf("node %s: start: %v", e.Address, e.Err) }
func (e *StartError) Unwrap() error  { return e.Err }
func (e *StartError) Definite() bool { return true }

// StopError says why Stop failed: the C stop returned an error, or it did not
// return within the stop timeout (it may still be running; Start refuses until
// it ends).
type StopError struct {
	Address string
	Err     error
}

func (e *StopError) Error() string  { return fmt.Sprintf("node %s: stop: %v", e.Address, e.Err) }
func (e *StopError) Unwrap() error  { return e.Err }
func (e *StopError) Definite() bool { return true }

// The errors of statements, from package dqclient (see there): an
// *ArgError, *DatabaseError or *NoLeaderError is definite (the statement did
// not take effect), an *IndeterminateError is not (sent, outcome unknown); a
// *TxnError says which step of a transaction failed.
type (
	ArgError           = dqclient.ArgError
	DatabaseError      = dqclient.DatabaseError
	NoLeaderError      = dqclient.NoLeaderError
	IndeterminateError = dqclient.IndeterminateError
	TxnError           = dqclient.TxnError
)
