package node

import (
	"context"
	"errors"

	"github.com/dqtest/dqtest/node/control"
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
