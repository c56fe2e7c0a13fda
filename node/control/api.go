// Package control is the HTTP/JSON control API of a dqtest node (docs/control-api.md):
// the server that `dqtest node` runs in front of its node.Node, and the Go
// client the harness drives nodes with. It is plain Go with no cgo, so the
// client builds anywhere; package node adapts its Node to the server's Node
// interface.
package control

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Node is what the server drives. Errors it returns should be *Error; any
// other error is reported as kind internal (outcome unknown).
type Node interface {
	Status(ctx context.Context) Status
	Exec(ctx context.Context, sql string, args ...any) (Result, error)
	Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error)
	Txn(ctx context.Context, stmts []Statement) ([]Result, error)
	// HoldTxn begins a transaction, runs stmts in it and leaves it open
	// until the node stops (the stop-with-open-txn fault).
	HoldTxn(ctx context.Context, stmts []Statement) ([]Result, error)
	Handover(ctx context.Context) error
	Transfer(ctx context.Context, toID uint64) error
	AddMember(ctx context.Context, m Member) error
	RemoveMember(ctx context.Context, id uint64) error
	// Stop stops the node in mode (guarded, unguarded, bypass; "" for the
	// node's own mode). The process keeps running.
	Stop(ctx context.Context, mode string) error
	Start(ctx context.Context) error
}

// SQL is the part of a Node that exec, query and txn requests use.
type SQL interface {
	Exec(ctx context.Context, sql string, args ...any) (Result, error)
	Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error)
	Txn(ctx context.Context, stmts []Statement) ([]Result, error)
}

// DBChooser is a Node that can run statements on a database other than its
// own: the server asks it for an exec, query or txn request whose db field
// names one. The SQL it returns serves that one request; release is called
// when the request is done. Its errors should be *Error, as a Node's.
type DBChooser interface {
	OnDB(ctx context.Context, name string) (sql SQL, release func(), err error)
}

// MaxDBName is the longest database name a request may give.
const MaxDBName = 255

// CheckDBName says why name cannot name a database, or nil: dqlite keeps a
// database as a file of that name in the node's data directory, so it is a
// plain file name.
func CheckDBName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("db: empty name")
	case len(name) > MaxDBName:
		return fmt.Errorf("db: name of %d bytes: at most %d", len(name), MaxDBName)
	case name == "." || name == "..":
		return fmt.Errorf("db %q: want a file name", name)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("db %q: want a file name without directories", name)
	}
	return nil
}

// Statement is one SQL statement with placeholder arguments. Values are
// int64, float64, string, []byte or nil.
type Statement struct {
	SQL  string
	Args []any
}

// Result is the result of one statement: for a write its last insert id and
// rows affected, for a query its rows keyed by column name.
type Result struct {
	LastInsertID int64
	RowsAffected int64
	Rows         []map[string]any
}

// Member is one node of the cluster configuration.
type Member struct {
	ID      uint64 `json:"id"`
	Address string `json:"address"`
	Role    string `json:"role"` // voter, standby, spare; "" when unknown
}

// Status is what a node reports about itself and its server's view of the
// cluster. Role, the leader and Members are empty when the node is not
// running; ClusterError says why they are missing on a running node.
type Status struct {
	ID            uint64   `json:"id"`
	Address       string   `json:"address"`
	BindAddress   string   `json:"bind_address"`
	Running       bool     `json:"running"`
	StopMode      string   `json:"stop_mode"`
	DqliteVersion string   `json:"dqlite_version"`
	Role          string   `json:"role"`
	LeaderID      uint64   `json:"leader_id"`
	LeaderAddress string   `json:"leader_address"`
	Members       []Member `json:"members"`
	ClusterError  string   `json:"cluster_error,omitempty"`
}

// Error kinds (docs/control-api.md).
const (
	KindBadRequest     = "bad_request"     // 400, 404, 405, 413: the request itself is wrong
	KindNotRunning     = "not_running"     // 409
	KindAlreadyRunning = "already_running" // 409
	KindDatabase       = "database"        // 422: SQLite refused the statement; it did not take effect
	KindAborted        = "aborted"         // 409: the transaction was rolled back before COMMIT
	KindNotLeader      = "not_leader"      // 503: no leader reached, nothing ran
	KindIndeterminate  = "indeterminate"   // 504: sent, outcome unknown
	KindStart          = "start"           // 500
	KindStop           = "stop"            // 500
	KindInternal       = "internal"        // 500: anything else; outcome unknown
	// KindUnreachable is the client's own: the request was certainly never
	// (completely) written to the server, so nothing happened.
	KindUnreachable = "unreachable"
)

// Error is a control API error: the "error" object of a failed answer, or a
// transport failure the client classified.
type Error struct {
	Status       int    `json:"-"` // HTTP status; 0 for a transport error
	Kind         string `json:"kind"`
	Message      string `json:"message"`
	Code         int    `json:"code,omitempty"`          // SQLite primary code
	ExtendedCode int    `json:"extended_code,omitempty"` // SQLite extended code
	// Statement is the index of the failing statement of a txn (-1 BEGIN,
	// len(statements) COMMIT).
	Statement *int `json:"statement,omitempty"`
}

func (e *Error) Error() string {
	s := e.Kind + ": " + e.Message
	if e.ExtendedCode != 0 {
		s += fmt.Sprintf(" (code %d, extended %d)", e.Code, e.ExtendedCode)
	}
	if e.Statement != nil {
		s += fmt.Sprintf(" (statement %d)", *e.Statement)
	}
	return s
}

// Definite reports whether the operation certainly did not take effect.
func (e *Error) Definite() bool {
	switch e.Kind {
	case KindIndeterminate, KindInternal:
		return false
	}
	return true
}

// HTTPStatus is the status the server answers an error of this kind with.
func (e *Error) HTTPStatus() int {
	if e.Status != 0 {
		return e.Status
	}
	switch e.Kind {
	case KindBadRequest:
		return 400
	case KindNotRunning, KindAlreadyRunning, KindAborted:
		return 409
	case KindDatabase:
		return 422
	case KindNotLeader:
		return 503
	case KindIndeterminate:
		return 504
	}
	return 500
}

// Deadlines: a request's timeout_ms (or X-Dqtest-Timeout header) is capped
// at MaxTimeout; without one the server uses DefaultTimeout.
const (
	DefaultTimeout = 10 * time.Second
	MaxTimeout     = 60 * time.Second
	// MaxBody is the largest request body the server reads.
	MaxBody = 1 << 20
	// TimeoutHeader carries a timeout in milliseconds, for bodiless requests.
	TimeoutHeader = "X-Dqtest-Timeout"
)
