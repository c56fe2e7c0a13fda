package docker

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/node/control"
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
		return directClient{name: name, cl: c.directClient(n)}
	}
	return nodeClient{name: name, api: c.ctl.client(n)}
}

// DirectClient is Client in the direct client mode, whatever the cluster's
// spec says: a program driving one cluster both ways (cmd/dqtest-bench
// does) gets either.
func (c *Cluster) DirectClient(name string) workloads.Client {
	n, err := c.node(name)
	if err != nil {
		return unknownNode{err}
	}
	return directClient{name: name, cl: c.directClient(n)}
}

type nodeClient struct {
	name string
	api  *control.Client
}

// Every call carries a deadline: the caller's, or defaultCallTimeout. The
// control client sends the remaining time as the request's timeout_ms, so
// the node gives up when the caller does.

func (nc nodeClient) Exec(ctx context.Context, sql string, args ...any) (workloads.StmtResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	res, err := nc.api.Exec(ctx, sql, args...)
	if err != nil {
		return workloads.StmtResult{}, fmt.Errorf("%s: %w", nc.name, err)
	}
	return workloads.StmtResult{LastInsertID: res.LastInsertID, RowsAffected: res.RowsAffected}, nil
}

func (nc nodeClient) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	rows, err := nc.api.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nc.name, err)
	}
	return rows, nil
}

func (nc nodeClient) Txn(ctx context.Context, stmts []workloads.Stmt) ([]workloads.StmtResult, error) {
	ctx, cancel := withDefaultTimeout(ctx, defaultCallTimeout)
	defer cancel()
	req := make([]control.Statement, len(stmts))
	for i, s := range stmts {
		req[i] = control.Statement{SQL: s.SQL, Args: s.Args}
	}
	results, err := nc.api.Txn(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", nc.name, err)
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
