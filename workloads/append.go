package workloads

import (
	"context"
	"fmt"

	"github.com/dqtest/dqtest/history"
)

// appendList runs list-append transactions (Elle's model): each transaction
// has 1..TxnLen micro-ops, ["append", k, v] or ["r", k, nil]; a read returns
// the key's whole list in append order. Because every appended value is
// unique per key, each read reveals the order of every append before it,
// from which the checker derives the dependency graph.
//
// A list is rows of the appends table; append order is the rowid order
// (INTEGER PRIMARY KEY: rows are never deleted, so a new row's id is larger
// than every earlier one, and the inserts of one transaction get increasing
// ids in statement order).
//
// Key schedule: all slots share the live key set of their epoch; slot s's
// i-th transaction is in epoch i / OpsPerKey and draws its keys from
// k(epoch*Keys) .. k(epoch*Keys+Keys-1). Slots run at similar rates, so they
// work the same keys at the same time, and lists stop growing once every
// slot has left the epoch (Elle's key retirement keeps reads and checking
// cheap in long runs).
type appendList struct {
	p   Params
	mix mix
}

const (
	appendSchema = `CREATE TABLE IF NOT EXISTS appends (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v INTEGER NOT NULL)`
	appendIndex  = `CREATE INDEX IF NOT EXISTS appends_k_id ON appends (k, id)`
	appendAdd    = `INSERT INTO appends (k, v) VALUES (?, ?)`
	appendRead   = `SELECT v FROM appends WHERE k = ? ORDER BY id`
)

func (w *appendList) Name() string { return "append" }

func (w *appendList) Setup(ctx context.Context, c Client) error {
	_, err := c.Txn(ctx, []Stmt{{SQL: appendSchema}, {SQL: appendIndex}})
	return err
}

// Generator: values are slot-disjoint counters (slot s appends s*1e9,
// s*1e9+1, ...), so they are unique per key without coordination.
func (w *appendList) Generator(seed int64, slot int) Generator {
	next := uniqueValues(slot)
	if next == nil {
		return exhausted
	}
	r := newRand(seed, slot)
	i := 0
	done := false
	return genFunc(func() (Op, bool) {
		if done {
			return Op{}, false
		}
		base := (i / w.p.OpsPerKey) * w.p.Keys
		i++
		// The transaction's keys: KeysPerTxn distinct keys of the epoch.
		perm := r.Perm(w.p.Keys)
		keys := perm[:min(w.p.KeysPerTxn, w.p.Keys)]
		n := 1 + r.IntN(w.p.TxnLen)
		txn := make([]any, 0, n)
		for range n {
			k := keyName(base + keys[r.IntN(len(keys))])
			if w.mix.pick(r) == "r" {
				txn = append(txn, []any{"r", k, nil})
				continue
			}
			v, ok := next()
			if !ok {
				done = true
				return Op{}, false
			}
			txn = append(txn, []any{"append", k, v})
		}
		return Op{F: "txn", Value: txn}, true
	})
}

// MicroOp is one micro-op of a list-append txn.
type MicroOp struct {
	F   string // "append" or "r"
	Key string
	V   int64 // the appended value
}

// ParseTxn parses a list-append txn operation's value: a non-empty list of
// [f, key, value] micro-ops, f "append" (value an integer) or "r". The
// simulator parses the same operations with it.
func ParseTxn(v any) ([]MicroOp, error) {
	txn, ok := v.([]any)
	if !ok || len(txn) == 0 {
		return nil, fmt.Errorf("value must be a non-empty list of micro-ops, got %v", v)
	}
	ops := make([]MicroOp, len(txn))
	for i, m := range txn {
		mop, ok := m.([]any)
		if !ok || len(mop) != 3 {
			return nil, fmt.Errorf("micro-op %d must be [f, key, value], got %v", i, m)
		}
		f, _ := mop[0].(string)
		key, _ := mop[1].(string)
		if key == "" {
			return nil, fmt.Errorf("micro-op %d: key must be a non-empty string, got %v", i, mop[1])
		}
		ops[i] = MicroOp{F: f, Key: key}
		switch f {
		case "append":
			n, err := AsInt(mop[2])
			if err != nil {
				return nil, fmt.Errorf("micro-op %d: %w", i, err)
			}
			ops[i].V = n
		case "r":
		default:
			return nil, fmt.Errorf("micro-op %d: f must be append or r, got %v", i, mop[0])
		}
	}
	return ops, nil
}

func (w *appendList) Invoke(ctx context.Context, c Client, op Op) Completion {
	if op.F != "txn" {
		return refused(op, "unknown operation (append knows txn)")
	}
	mops, err := ParseTxn(op.Value)
	if err != nil {
		return refused(op, "%v", err)
	}
	stmts := make([]Stmt, len(mops))
	for i, m := range mops {
		if m.F == "append" {
			stmts[i] = Stmt{SQL: appendAdd, Args: []any{m.Key, m.V}}
		} else {
			stmts[i] = Stmt{SQL: appendRead, Args: []any{m.Key}}
		}
	}
	res, err := c.Txn(ctx, stmts)
	if err != nil {
		return failed(err, op.Value)
	}
	if len(res) != len(stmts) {
		// The transaction committed but we cannot tell what it read.
		return unreadable(op, "want %d statement results, got %d", len(stmts), len(res))
	}
	// A fresh value: the invocation's value may still be referenced by the
	// recorded invoke event.
	out := make([]any, len(mops))
	for i, m := range mops {
		if m.F == "append" {
			out[i] = []any{"append", m.Key, m.V}
			continue
		}
		vs, err := column(res[i].Rows, "v")
		if err != nil {
			return unreadable(op, "micro-op %d: %v", i, err)
		}
		out[i] = []any{"r", m.Key, list(vs)} // an unwritten key reads as []
	}
	return Completion{Type: history.OK, Value: out}
}

// FinalOps: none. Elle infers everything from the transactions themselves.
func (w *appendList) FinalOps() []Op { return nil }
