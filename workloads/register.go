package workloads

import (
	"context"
	"math/rand/v2"

	"github.com/dqtest/dqtest/history"
)

// register is a set of independent read/write/cas registers, one row per key.
// Its history is checked for linearizability per key, so keys retire after a
// bounded number of operations (Jepsen's independent keys): a key's history
// must stay small for porcupine's search to finish.
//
// Key schedule: slot s belongs to group g = s mod Keys; its i-th operation
// uses key index (i / OpsPerKey) * Keys + g. So at any moment about Keys keys
// are live; every slot of a group works the same key at the same time (they
// all run at similar rates), which is what makes operations on a key
// concurrent; and a key sees at most OpsPerKey operations from each slot of
// its group, then never again. The schedule is a pure function of slot and
// i, so it needs no coordination between slots and survives a process being
// replaced after an info.
type register struct {
	p   Params
	mix mix
}

const (
	registerSchema = `CREATE TABLE IF NOT EXISTS registers (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`
	registerRead   = `SELECT v FROM registers WHERE k = ?`
	registerWrite  = `INSERT INTO registers (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v`
	registerCAS    = `UPDATE registers SET v = ? WHERE k = ? AND v = ?`
)

func (w *register) Name() string { return "register" }

func (w *register) Setup(ctx context.Context, c Client) error {
	_, err := c.Exec(ctx, registerSchema)
	return err
}

func (w *register) Generator(seed int64, slot int) Generator {
	if slot < 0 {
		return exhausted
	}
	r := newRand(seed, slot)
	group := slot % w.p.Keys
	i := 0
	return genFunc(func() (Op, bool) {
		key := keyName((i/w.p.OpsPerKey)*w.p.Keys + group)
		i++
		switch w.mix.pick(r) {
		case "write":
			return Op{F: "write", Key: key, Value: w.value(r)}, true
		case "cas":
			return Op{F: "cas", Key: key, Value: []any{w.value(r), w.value(r)}}, true
		default:
			return Op{F: "read", Key: key}, true
		}
	})
}

func (w *register) value(r *rand.Rand) int64 { return int64(r.IntN(w.p.Values)) }

func (w *register) Invoke(ctx context.Context, c Client, op Op) Completion {
	if op.Key == "" {
		return refused(op, "no key")
	}
	switch op.F {
	case "read":
		rows, err := c.Query(ctx, registerRead, op.Key)
		if err != nil {
			return failed(err, nil)
		}
		vs, err := column(rows, "v")
		if err != nil || len(vs) > 1 {
			return unreadable(op, "want at most one row with an integer v, got %v (%v)", rows, err)
		}
		if len(vs) == 0 {
			return Completion{Type: history.OK, Value: nil} // never written
		}
		return Completion{Type: history.OK, Value: vs[0]}
	case "write":
		v, err := AsInt(op.Value)
		if err != nil {
			return refused(op, "value: %v", err)
		}
		if _, err := c.Exec(ctx, registerWrite, op.Key, v); err != nil {
			return failed(err, op.Value)
		}
		return Completion{Type: history.OK, Value: op.Value}
	case "cas":
		ov, err := asInts(op.Value)
		if err != nil || len(ov) != 2 {
			return refused(op, "value must be [old, new], got %v", op.Value)
		}
		res, err := c.Exec(ctx, registerCAS, ov[1], op.Key, ov[0])
		if err != nil {
			return failed(err, op.Value)
		}
		if res.RowsAffected == 0 {
			// The UPDATE matched no row: the value was not old (or the key
			// was never written). Nothing changed, so this is definite.
			return Completion{Type: history.Fail, Value: op.Value, Error: "cas: current value is not the expected one"}
		}
		return Completion{Type: history.OK, Value: op.Value}
	default:
		return refused(op, "unknown operation (register knows read, write, cas)")
	}
}

func (w *register) FinalOps() []Op { return nil }
