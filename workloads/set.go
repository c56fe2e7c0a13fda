package workloads

import (
	"context"
	"slices"

	"github.com/dqtest/dqtest/history"
)

// set adds unique integers to a set and reads it whole. After healing, the
// harness runs the final read through every node: every acknowledged add
// must be in it.
//
// The table deliberately has no UNIQUE constraint on v: a write applied
// twice (a retried insert whose first attempt did commit) must show up as a
// duplicate in the reads, not be absorbed by a constraint error.
type set struct {
	mix mix
}

const (
	setSchema = `CREATE TABLE IF NOT EXISTS sets (v INTEGER NOT NULL)`
	setAdd    = `INSERT INTO sets (v) VALUES (?)`
	setRead   = `SELECT v FROM sets ORDER BY v`
)

func (w *set) Name() string { return "set" }

func (w *set) Setup(ctx context.Context, c Client) error {
	_, err := c.Exec(ctx, setSchema)
	return err
}

// Generator: slot s adds s*1e9, s*1e9+1, ...: unique across slots without
// coordination.
func (w *set) Generator(seed int64, slot int) Generator {
	next := uniqueValues(slot)
	if next == nil {
		return exhausted
	}
	r := newRand(seed, slot)
	done := false
	return genFunc(func() (Op, bool) {
		if done {
			return Op{}, false
		}
		if w.mix.pick(r) == "read" {
			return Op{F: "read"}, true
		}
		v, ok := next()
		if !ok {
			done = true
			return Op{}, false
		}
		return Op{F: "add", Value: v}, true
	})
}

func (w *set) Invoke(ctx context.Context, c Client, op Op) Completion {
	switch op.F {
	case "add":
		v, err := AsInt(op.Value)
		if err != nil {
			return refused(op, "value: %v", err)
		}
		if _, err := c.Exec(ctx, setAdd, v); err != nil {
			return failed(err, op.Value)
		}
		return Completion{Type: history.OK, Value: op.Value}
	case "read", "final-read":
		rows, err := c.Query(ctx, setRead)
		if err != nil {
			return failed(err, nil)
		}
		vs, err := column(rows, "v")
		if err != nil {
			return unreadable(op, "%v", err)
		}
		// The documented shape is a sorted list; sort here too so a client
		// that ignores ORDER BY cannot break it. Duplicates stay.
		slices.Sort(vs)
		return Completion{Type: history.OK, Value: list(vs)}
	default:
		return refused(op, "unknown operation (set knows add, read, final-read)")
	}
}

// FinalOps is one read of the whole set, which the harness runs through
// every node after healing.
func (w *set) FinalOps() []Op { return []Op{{F: "final-read"}} }
