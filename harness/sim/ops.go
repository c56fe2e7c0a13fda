package sim

import (
	"fmt"
	"strconv"

	"github.com/dqtest/dqtest/workloads"
)

// The simulator executes the workloads' operations (docs/history.md), not
// their SQL: each operation becomes a short program of statements, one per
// SQL statement the real client would send, so that a transaction takes as
// many round trips to the leader as it does against dqlite and holds the
// write lock for as long.

type stmtKind uint8

const (
	stRegRead stmtKind = iota
	stRegWrite
	stCAS
	stWithdraw
	stDeposit
	stBankRead
	stSetAdd
	stSetRead
	stAppend
	stListRead
)

type stmt struct {
	kind stmtKind
	key  string
	acct int
	a, b int64 // the value; cas's old and new; a transfer's amount
}

// program is one parsed client operation.
type program struct {
	op       workloads.Op
	stmts    []stmt
	readOnly bool
}

// errCAS and errOverdraft are the definite failures a statement can meet.
const (
	errCAS       = "cas: current value is not the expected one"
	errOverdraft = "database: CHECK constraint failed: balance >= 0"
)

// parse turns op of the named workload into a program. A malformed op is an
// error: the client refuses it before sending anything (a definite fail).
func parse(workload string, accounts int, op workloads.Op) (program, error) {
	p := program{op: op}
	add := func(s stmt) { p.stmts = append(p.stmts, s) }
	switch workload + "/" + op.F {
	case "register/read":
		add(stmt{kind: stRegRead, key: op.Key})
	case "register/write":
		v, err := workloads.AsInt(op.Value)
		if err != nil {
			return p, err
		}
		add(stmt{kind: stRegWrite, key: op.Key, a: v})
	case "register/cas":
		ov, ok := op.Value.([]any)
		if !ok || len(ov) != 2 {
			return p, fmt.Errorf("cas value must be [old, new], got %v", op.Value)
		}
		o, err1 := workloads.AsInt(ov[0])
		n, err2 := workloads.AsInt(ov[1])
		if err1 != nil || err2 != nil {
			return p, fmt.Errorf("cas value must be two integers, got %v", op.Value)
		}
		add(stmt{kind: stCAS, key: op.Key, a: o, b: n})
	case "bank/read":
		add(stmt{kind: stBankRead})
	case "bank/transfer":
		t, ok := op.Value.(map[string]any)
		if !ok {
			return p, fmt.Errorf("transfer value must be {from, to, amount}, got %v", op.Value)
		}
		from, err1 := workloads.AsInt(t["from"])
		to, err2 := workloads.AsInt(t["to"])
		amount, err3 := workloads.AsInt(t["amount"])
		if err1 != nil || err2 != nil || err3 != nil || from < 0 || to < 0 || from >= int64(accounts) || to >= int64(accounts) {
			return p, fmt.Errorf("transfer value must be {from, to, amount} with accounts below %d, got %v", accounts, op.Value)
		}
		add(stmt{kind: stWithdraw, acct: int(from), a: amount})
		add(stmt{kind: stDeposit, acct: int(to), a: amount})
	case "set/add":
		v, err := workloads.AsInt(op.Value)
		if err != nil {
			return p, err
		}
		add(stmt{kind: stSetAdd, a: v})
	case "set/read", "set/final-read":
		add(stmt{kind: stSetRead})
	case "append/txn":
		mops, err := workloads.ParseTxn(op.Value)
		if err != nil {
			return p, fmt.Errorf("txn value: %w", err)
		}
		for _, m := range mops {
			if m.F == "append" {
				add(stmt{kind: stAppend, key: m.Key, a: m.V})
			} else {
				add(stmt{kind: stListRead, key: m.Key})
			}
		}
	default:
		return p, fmt.Errorf("the simulator does not know operation %q of workload %q", op.F, workload)
	}
	if (op.F == "read" || op.F == "cas" || op.F == "write") && workload == "register" && op.Key == "" {
		return p, fmt.Errorf("register %s needs a key", op.F)
	}
	p.readOnly = true
	for _, s := range p.stmts {
		if s.isWrite() {
			p.readOnly = false
		}
	}
	return p, nil
}

func (s stmt) isWrite() bool {
	switch s.kind {
	case stRegWrite, stCAS, stWithdraw, stDeposit, stSetAdd, stAppend:
		return true
	}
	return false
}

// exec runs statement s against v, appending its writes to buf. It returns
// the statement's read result (nil for writes) and, when the statement
// fails, why; a failed statement rolls its transaction back.
func (s stmt) exec(v view, buf *[]effect, allowNegative bool) (any, string) {
	switch s.kind {
	case stRegRead:
		if x, ok := v.reg(s.key); ok {
			return x, ""
		}
		return nil, ""
	case stRegWrite:
		*buf = append(*buf, effect{kind: putReg, key: s.key, v: s.a})
	case stCAS:
		if x, ok := v.reg(s.key); !ok || x != s.a {
			return nil, errCAS
		}
		*buf = append(*buf, effect{kind: putReg, key: s.key, v: s.b})
	case stWithdraw:
		b := v.balance(s.acct) - s.a
		if b < 0 && !allowNegative {
			return nil, errOverdraft
		}
		*buf = append(*buf, effect{kind: putBalance, acct: s.acct, v: b})
	case stDeposit:
		*buf = append(*buf, effect{kind: putBalance, acct: s.acct, v: v.balance(s.acct) + s.a})
	case stBankRead:
		n := len(v.s.balances)
		read := make(map[string]any, n)
		for i := range n {
			read[strconv.Itoa(i)] = v.balance(i)
		}
		return read, ""
	case stSetAdd:
		*buf = append(*buf, effect{kind: addSet, v: s.a})
	case stSetRead:
		return v.setMembers(), ""
	case stAppend:
		*buf = append(*buf, effect{kind: appendList, key: s.key, v: s.a})
	case stListRead:
		return v.list(s.key), ""
	}
	return nil, ""
}

// okValue is the value of the ok completion of p, given each statement's
// read result, in the shapes docs/history.md gives.
func (p *program) okValue(results []any) any {
	switch p.op.F {
	case "txn":
		out := make([]any, len(p.stmts))
		for i, s := range p.stmts {
			if s.kind == stAppend {
				out[i] = []any{"append", s.key, s.a}
			} else {
				out[i] = []any{"r", s.key, results[i]}
			}
		}
		return out
	case "read", "final-read":
		return results[0]
	}
	return p.op.Value
}
