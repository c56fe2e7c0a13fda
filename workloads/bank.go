package workloads

import (
	"context"
	"strconv"

	"github.com/dqtest/dqtest/history"
)

// bank moves money between Accounts accounts in transactions and reads every
// balance in one transaction. Serializable transactions conserve the total
// in every read; with the CHECK constraint, no balance is ever negative.
type bank struct {
	p   Params
	mix mix
}

const (
	bankSchema        = `CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL CHECK (balance >= 0))`
	bankSchemaNoCheck = `CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)`
	// INSERT OR IGNORE makes Setup safe to repeat: balances already there
	// (possibly moved by transfers) are left alone.
	bankInit     = `INSERT OR IGNORE INTO accounts (id, balance) VALUES (?, ?)`
	bankWithdraw = `UPDATE accounts SET balance = balance - ? WHERE id = ?`
	bankDeposit  = `UPDATE accounts SET balance = balance + ? WHERE id = ?`
	bankRead     = `SELECT id, balance FROM accounts ORDER BY id`
)

func (w *bank) Name() string { return "bank" }

// Setup creates the accounts in one transaction, so a Setup cut short leaves
// either no accounts or all of them. Total is spread evenly; the first
// Total mod Accounts accounts get one more.
func (w *bank) Setup(ctx context.Context, c Client) error {
	schema := bankSchema
	if w.p.AllowNegative {
		schema = bankSchemaNoCheck
	}
	stmts := []Stmt{{SQL: schema}}
	n := int64(w.p.Accounts)
	for id := int64(0); id < n; id++ {
		b := w.p.Total / n
		if id < w.p.Total%n {
			b++
		}
		stmts = append(stmts, Stmt{SQL: bankInit, Args: []any{id, b}})
	}
	_, err := c.Txn(ctx, stmts)
	return err
}

func (w *bank) Generator(seed int64, slot int) Generator {
	if slot < 0 {
		return exhausted
	}
	r := newRand(seed, slot)
	return genFunc(func() (Op, bool) {
		if w.mix.pick(r) != "transfer" {
			return Op{F: "read"}, true
		}
		from := r.IntN(w.p.Accounts)
		to := r.IntN(w.p.Accounts - 1)
		if to >= from {
			to++
		}
		amount := 1 + r.Int64N(w.p.MaxTransfer)
		return Op{F: "transfer", Value: map[string]any{"from": int64(from), "to": int64(to), "amount": amount}}, true
	})
}

func (w *bank) Invoke(ctx context.Context, c Client, op Op) Completion {
	switch op.F {
	case "read":
		res, err := c.Txn(ctx, []Stmt{{SQL: bankRead}})
		if err != nil {
			return failed(err, nil)
		}
		if len(res) != 1 {
			return unreadable(op, "want 1 statement result, got %d", len(res))
		}
		ids, err := column(res[0].Rows, "id")
		if err != nil {
			return unreadable(op, "%v", err)
		}
		balances, err := column(res[0].Rows, "balance")
		if err != nil {
			return unreadable(op, "%v", err)
		}
		read := make(map[string]any, len(ids))
		for i, id := range ids {
			read[strconv.FormatInt(id, 10)] = balances[i]
		}
		return Completion{Type: history.OK, Value: read}
	case "transfer":
		t, ok := op.Value.(map[string]any)
		if !ok {
			return refused(op, "value must be {from, to, amount}, got %v", op.Value)
		}
		from, err1 := AsInt(t["from"])
		to, err2 := AsInt(t["to"])
		amount, err3 := AsInt(t["amount"])
		if err1 != nil || err2 != nil || err3 != nil {
			return refused(op, "value must be {from, to, amount} integers, got %v", op.Value)
		}
		// Both updates in one transaction: a CHECK violation (overdraft)
		// aborts the whole transfer, which the client reports as a definite
		// database error.
		_, err := c.Txn(ctx, []Stmt{
			{SQL: bankWithdraw, Args: []any{amount, from}},
			{SQL: bankDeposit, Args: []any{amount, to}},
		})
		if err != nil {
			return failed(err, op.Value)
		}
		return Completion{Type: history.OK, Value: op.Value}
	default:
		return refused(op, "unknown operation (bank knows transfer, read)")
	}
}

// FinalOps reads every balance through every node after healing: each node
// must agree on a conserved total.
func (w *bank) FinalOps() []Op { return []Op{{F: "read"}} }
