package docker

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/node/control"
	"github.com/dqtest/dqtest/node/dqclient"
	"github.com/dqtest/dqtest/workloads"
)

// Client implements harness.Cluster: a workloads.Client bound to one node's
// control API (in the direct client mode, to a dqclient.Client that finds
// the leader through the node: direct.go). Errors are the control client's *control.Error (wrapped with
// the node's name), whose Definite method workloads.IsDefinite reads: only
// an answer that says the statement did not take effect (or a request that
// never left) is definite; a lost answer is not.
func (c *Cluster) Client(name string) workloads.Client {
	n, err := c.node(name)
	if err != nil {
		return unknownNode{err}
	}
	if c.spec.ClientMode == mode.ClientDirect {
		return viaDirect(name, c.directClient(n))
	}
	return viaNode(name, c.ctl.client(n))
}

// DirectClient is Client in the direct client mode, whatever the cluster's
// spec says: a program driving one cluster both ways (cmd/dqtest-bench
// does) gets either.
func (c *Cluster) DirectClient(name string) workloads.Client {
	n, err := c.node(name)
	if err != nil {
		return unknownNode{err}
	}
	return viaDirect(name, c.directClient(n))
}

// stmtClient is the one workloads.Client adapter, over either path to
// dqlite: a node's control API (viaNode) or dqclient straight to the leader
// (viaDirect). Both speak control.Statement and control.Result, and both
// classify errors the same way (dqclient's classification, which the node
// runs too); errors are wrapped with the node's name. Every call carries a
// deadline: the caller's, or defaultCallTimeout (the control client sends
// the remaining time as the request's timeout_ms, so the node gives up when
// the caller does).
type stmtClient struct {
	name string
	// path is "node" or "direct" (mode.Client), for tests and logs.
	path  mode.Client
	exec  func(ctx context.Context, sql string, args ...any) (control.Result, error)
	query func(ctx context.Context, sql string, args ...any) ([]map[string]any, error)
	txn   func(ctx context.Context, stmts []control.Statement) ([]control.Result, error)
}

// viaNode is a node's client through its control API.
func viaNode(name string, api *control.Client) stmtClient {
	return stmtClient{name: name, path: mode.ClientNode, exec: api.Exec, query: api.Query, txn: api.Txn}
}

// viaDirect is a node's client straight to the leader it names (direct.go).
func viaDirect(name string, cl *dqclient.Client) stmtClient {
	exec := func(ctx context.Context, sql string, args ...any) (control.Result, error) {
		id, affected, err := cl.Exec(ctx, sql, args...)
		return control.Result{LastInsertID: id, RowsAffected: affected}, err
	}
	return stmtClient{name: name, path: mode.ClientDirect, exec: exec, query: cl.Query, txn: cl.Txn}
}

func (sc stmtClient) Exec(ctx context.Context, sql string, args ...any) (workloads.StmtResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	res, err := sc.exec(ctx, sql, args...)
	if err != nil {
		return workloads.StmtResult{}, fmt.Errorf("%s: %w", sc.name, err)
	}
	return workloads.StmtResult{LastInsertID: res.LastInsertID, RowsAffected: res.RowsAffected}, nil
}

func (sc stmtClient) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	rows, err := sc.query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.name, err)
	}
	return rows, nil
}

func (sc stmtClient) Txn(ctx context.Context, stmts []workloads.Stmt) ([]workloads.StmtResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	req := make([]control.Statement, len(stmts))
	for i, s := range stmts {
		req[i] = control.Statement{SQL: s.SQL, Args: s.Args}
	}
	results, err := sc.txn(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", sc.name, err)
	}
	out := make([]workloads.StmtResult, len(results))
	for i, r := range results {
		out[i] = workloads.StmtResult{LastInsertID: r.LastInsertID, RowsAffected: r.RowsAffected, Rows: r.Rows}
	}
	return out, nil
}

// unknownNode is the client of a node name the cluster does not have: every
// call fails, definitely, since nothing was sent.
type unknownNode struct{ err error }

func (u unknownNode) Exec(context.Context, string, ...any) (workloads.StmtResult, error) {
	return workloads.StmtResult{}, &workloads.DefiniteError{Err: u.err}
}

func (u unknownNode) Query(context.Context, string, ...any) ([]map[string]any, error) {
	return nil, &workloads.DefiniteError{Err: u.err}
}

func (u unknownNode) Txn(context.Context, []workloads.Stmt) ([]workloads.StmtResult, error) {
	return nil, &workloads.DefiniteError{Err: u.err}
}
