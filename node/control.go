package node

import (
	"context"
	"errors"

	"github.com/dqtest/dqtest/node/control"
	"github.com/dqtest/dqtest/node/dqclient"
)

// Control adapts n to the control server's Node interface: the control API
// speaks through it, and the Node's errors become control errors.
func (n *Node) Control() control.Node { return controlNode{n} }

type controlNode struct{ n *Node }

func (c controlNode) Status(ctx context.Context) control.Status { return c.n.Status(ctx) }

func (c controlNode) Exec(ctx context.Context, sql string, args ...any) (control.Result, error) {
	id, affected, err := c.n.Exec(ctx, sql, args...)
	return control.Result{LastInsertID: id, RowsAffected: affected}, controlError(err)
}

func (c controlNode) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	rows, err := c.n.Query(ctx, sql, args...)
	return rows, controlError(err)
}

func (c controlNode) Txn(ctx context.Context, stmts []control.Statement) ([]control.Result, error) {
	res, err := c.n.Txn(ctx, stmts)
	return res, controlError(err)
}

func (c controlNode) HoldTxn(ctx context.Context, stmts []control.Statement) ([]control.Result, error) {
	res, err := c.n.HoldTxn(ctx, stmts)
	return res, controlError(err)
}

func (c controlNode) Handover(ctx context.Context) error { return controlError(c.n.Handover(ctx)) }

func (c controlNode) Transfer(ctx context.Context, toID uint64) error {
	return controlError(c.n.Transfer(ctx, toID))
}

func (c controlNode) AddMember(ctx context.Context, m control.Member) error {
	return controlError(c.n.AddMember(ctx, m))
}

func (c controlNode) RemoveMember(ctx context.Context, id uint64) error {
	return controlError(c.n.RemoveMember(ctx, id))
}

func (c controlNode) Stop(ctx context.Context, mode string) error {
	return controlError(c.n.StopWith(ctx, StopMode(mode)))
}

func (c controlNode) Start(ctx context.Context) error { return controlError(c.n.Start(ctx)) }

// controlError maps a Node error to the control API's error kinds
// (docs/control-api.md). An error it cannot place is internal: unknown
// outcome, unless the error itself says it is definite.
func controlError(err error) error {
	if err == nil {
		return nil
	}
	ce := &control.Error{Message: err.Error()}
	var (
		txnErr *TxnError
		dbErr  *DatabaseError
		nl     *NoLeaderError
		ind    *IndeterminateError
		se     *StartError
		ste    *StopError
		d      interface{ Definite() bool }
	)
	if errors.As(err, &txnErr) {
		i := txnErr.Statement
		ce.Statement = &i
	}
	switch {
	case errors.Is(err, ErrNotRunning), errors.Is(err, ErrClosed):
		ce.Kind = control.KindNotRunning
	case errors.Is(err, ErrAlreadyRunning):
		ce.Kind = control.KindAlreadyRunning
	case txnErr != nil && !txnErr.Commit && (errors.As(err, &ind) || errors.Is(err, ErrTxnAborted)):
		// Lost before COMMIT: the server rolled the transaction back.
		ce.Kind = control.KindAborted
	case errors.As(err, &ind):
		ce.Kind, ce.ExtendedCode = control.KindIndeterminate, ind.ExtendedCode
		ce.Code = ind.ExtendedCode & 0xff
	case errors.As(err, &dbErr):
		ce.Kind, ce.Code, ce.ExtendedCode = control.KindDatabase, dbErr.Code, dbErr.ExtendedCode
	case errors.As(err, &nl):
		ce.Kind, ce.ExtendedCode = control.KindNotLeader, nl.Code
		ce.Code = nl.Code & 0xff
	case errors.As(err, &se):
		ce.Kind = control.KindStart
	case errors.As(err, &ste):
		ce.Kind = control.KindStop
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		ce.Kind = control.KindIndeterminate
	case errors.As(err, &d) && d.Definite():
		ce.Kind = control.KindBadRequest
	default:
		ce.Kind = control.KindInternal
	}
	return ce
}

// OnDB implements control.DBChooser: a request's statements on database
// name, through a client of their own that finds the leader through this
// node's server as the node's own client does; release closes it. The
// node's own database is served by the node itself.
func (c controlNode) OnDB(ctx context.Context, name string) (control.SQL, func(), error) {
	if err := dqclient.CheckDBName(name); err != nil {
		return nil, nil, &control.Error{Kind: control.KindBadRequest, Message: err.Error()}
	}
	c.n.mu.Lock()
	store, db, up := c.n.store, c.n.db, c.n.state == running && c.n.client != nil
	c.n.mu.Unlock()
	if !up {
		return nil, nil, controlError(ErrNotRunning)
	}
	if name == db {
		return c, func() {}, nil
	}
	cl := dqclient.New(store, dqclient.Options{DB: name, Log: c.n.log})
	return dbControl{cl}, cl.Close, nil
}

// dbControl runs a control request's statements on another database.
type dbControl struct{ cl *dqclient.Client }

func (d dbControl) Exec(ctx context.Context, sql string, args ...any) (control.Result, error) {
	id, affected, err := d.cl.Exec(ctx, sql, args...)
	return control.Result{LastInsertID: id, RowsAffected: affected}, controlError(err)
}

func (d dbControl) Query(ctx context.Context, sql string, args ...any) ([]map[string]any, error) {
	rows, err := d.cl.Query(ctx, sql, args...)
	return rows, controlError(err)
}

func (d dbControl) Txn(ctx context.Context, stmts []control.Statement) ([]control.Result, error) {
	res, err := d.cl.Txn(ctx, stmts)
	return res, controlError(err)
}
