package node

import (
	"context"

	"github.com/dqtest/dqtest/node/dqclient"
)

// HoldTxn begins a transaction on a connection of its own, runs stmts in it
// and leaves it open: nothing commits it or rolls it back. It exists for the
// stop-with-open-txn fault, which stops a leader while a write transaction
// is open on it, to see what dqlite_node_stop does with it.
//
// The connection stays open across a guarded or unguarded stop, so the C
// stop meets the transaction, and is closed at the next Start or at Close.
// A bypass stop closes it at once: the C node runs on, and a write
// transaction left open would block every other writer for good. Any number
// of transactions may be held; they do not touch Begin's transaction.
//
// Results and errors are Txn's: a failure before the statements all ran
// rolls the transaction back and is a definite *TxnError.
func (n *Node) HoldTxn(ctx context.Context, stmts []Statement) ([]Result, error) {
	cl, err := n.sql()
	if err != nil {
		return nil, err
	}
	tx, results, err := cl.BeginWith(ctx, stmts)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	if n.state != running {
		// Stopped meanwhile: nothing to hold it open for.
		n.mu.Unlock()
		tx.Abandon()
		return nil, ErrNotRunning
	}
	n.held = append(n.held, tx)
	n.mu.Unlock()
	n.log.Info("holding a transaction open", "statements", len(stmts))
	return results, nil
}

// takeHeld empties the list of held transactions, for the caller to abandon
// outside mu. Caller holds mu.
func (n *Node) takeHeld() []*dqclient.Tx {
	held := n.held
	n.held = nil
	return held
}

func closeAll(held []*dqclient.Tx) {
	for _, tx := range held {
		tx.Abandon()
	}
}
