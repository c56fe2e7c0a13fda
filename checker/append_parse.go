package checker

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/dqtest/dqtest/history"
)

// appendTxn is one list-append transaction: its invocation, its completion
// and its micro-ops (with reads filled in when it completed ok).
type appendTxn struct {
	// status is OK, Fail, or Info (also for an invocation the history
	// never completed: its outcome is just as unknown).
	status history.Type
	// invokeAt and completeAt are positions in the events slice;
	// completeAt is -1 when the history ended before the completion.
	invokeAt, completeAt int
	mops                 []appendMop
}

// appendMop is one micro-op: an append of value to key, or a read of key.
type appendMop struct {
	read  bool
	key   int32
	value int64
	// list is what the read returned (ok transactions only; a null read is
	// the empty list, as Elle reads it: the key does not exist yet).
	list []int64
	// incompatible marks a read that is not a prefix of its key's order:
	// it adds its wr edge to the graph, and no rw edge.
	incompatible bool
}

// appendKey gathers what the history says about one key.
type appendKey struct {
	name string
	// writers maps each appended value to the transaction that appended it.
	writers map[int64]int32
	// reads are the reads of this key by ok transactions.
	reads []mopRef
	// order is the key's version order: its longest read, without
	// repeated elements. ordered says every read is a prefix of it.
	order   []int64
	ordered bool
	// pos maps each value of order to its position.
	pos map[int64]int32
	// seen holds every value some read shows, when the key is not
	// ordered (values beyond the order; otherwise pos is enough).
	seen map[int64]struct{}
}

// mopRef names micro-op mop of transaction txn.
type mopRef struct{ txn, mop int32 }

func (a *appendAnalysis) mop(r mopRef) *appendMop { return &a.txns[r.txn].mops[r.mop] }

// parse pairs invocations with completions per process and reads their
// micro-ops; then it indexes appends and reads by key.
func (a *appendAnalysis) parse(ctx context.Context) error {
	a.keyIDs = map[string]int32{}
	open := map[history.Process]int32{}
	for i := range a.events {
		if i%4096 == 0 {
			if err := appendStopped(ctx, "parsing"); err != nil {
				return err
			}
		}
		e := &a.events[i]
		if !e.IsClient() {
			continue
		}
		if e.F != "txn" {
			a.ignored++
			if e.Type == history.Invoke {
				if a.unknownF == nil {
					a.unknownF = map[string]int{}
				}
				a.unknownF[e.F]++
			}
			continue
		}
		switch e.Type {
		case history.Invoke:
			if t, busy := open[e.Process]; busy {
				return a.eventErr(i, fmt.Errorf("process %s invoked a txn while its txn invoked at index %d is still open",
					e.Process, a.events[a.txns[t].invokeAt].Index))
			}
			mops, err := a.parseMops(e.Value, false)
			if err != nil {
				return a.eventErr(i, err)
			}
			open[e.Process] = int32(len(a.txns))
			a.txns = append(a.txns, appendTxn{invokeAt: i, completeAt: -1, mops: mops})
		case history.OK, history.Fail, history.Info:
			t, busy := open[e.Process]
			if !busy {
				return a.eventErr(i, fmt.Errorf("%s completion of process %s has no open invocation", e.Type, e.Process))
			}
			delete(open, e.Process)
			tx := &a.txns[t]
			tx.status, tx.completeAt = e.Type, i
			if e.Type != history.OK {
				// Reads of a failed or indeterminate txn tell nothing; its
				// appends are the invoked ones.
				continue
			}
			mops, err := a.parseMops(e.Value, true)
			if err != nil {
				return a.eventErr(i, err)
			}
			if err := sameMops(tx.mops, mops); err != nil {
				return a.eventErr(i, err)
			}
			tx.mops = mops
		default:
			return a.eventErr(i, fmt.Errorf("unknown event type %q", e.Type))
		}
	}
	for _, t := range open {
		a.txns[t].status = history.Info
	}
	return a.index()
}

// index fills in each key's writers and reads.
func (a *appendAnalysis) index() error {
	for t := range a.txns {
		tx := &a.txns[t]
		for m, mop := range tx.mops {
			k := &a.keys[mop.key]
			if mop.read {
				if tx.status == history.OK {
					k.reads = append(k.reads, mopRef{int32(t), int32(m)})
				}
				continue
			}
			if prev, dup := k.writers[mop.value]; dup {
				return a.eventErr(tx.invokeAt, fmt.Errorf(
					"value %d is appended to key %q twice (also by %s): appended values must be unique per key, or reads cannot say which append they saw",
					mop.value, k.name, a.txnName(prev)))
			}
			k.writers[mop.value] = int32(t)
		}
	}
	return nil
}

func (a *appendAnalysis) eventErr(pos int, err error) error {
	return fmt.Errorf("malformed txn at history index %d (process %s): %w", a.events[pos].Index, a.events[pos].Process, err)
}

// parseMops reads a txn value: a list of [f, key, value] micro-ops. Reads'
// results are kept only withReads (an ok completion).
func (a *appendAnalysis) parseMops(v any, withReads bool) ([]appendMop, error) {
	mops, err := a.readMops(v, withReads)
	if err != nil {
		// A history read from a file is normalised already; one built in
		// memory may hold other integer types. Normalising costs a walk,
		// so it is done only when the value needs it.
		return a.readMops(history.Normalize(v), withReads)
	}
	return mops, nil
}

func (a *appendAnalysis) readMops(v any, withReads bool) ([]appendMop, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf(`value must be a list of micro-ops like [["append","k1",3],["r","k2",null]], got %s`, appendShow(v))
	}
	mops := make([]appendMop, 0, len(list))
	for j, raw := range list {
		m, ok := raw.([]any)
		if !ok || len(m) != 3 {
			return nil, fmt.Errorf("micro-op %d must be [f, key, value], got %s", j, appendShow(raw))
		}
		f, _ := m[0].(string)
		name, ok := m[1].(string)
		if !ok {
			return nil, fmt.Errorf("micro-op %d: key must be a string, got %s", j, appendShow(m[1]))
		}
		mop := appendMop{key: a.keyID(name)}
		switch f {
		case "append":
			n, ok := m[2].(int64)
			if !ok {
				return nil, fmt.Errorf("micro-op %d appends %s: appended values must be integers", j, appendShow(m[2]))
			}
			mop.value = n
		case "r":
			mop.read = true
			if !withReads || m[2] == nil {
				break
			}
			elems, ok := m[2].([]any)
			if !ok {
				return nil, fmt.Errorf("micro-op %d reads %s: a read returns a list of integers or null", j, appendShow(m[2]))
			}
			mop.list = make([]int64, len(elems))
			for i, e := range elems {
				if mop.list[i], ok = e.(int64); !ok {
					return nil, fmt.Errorf("micro-op %d reads %s: element %d is not an integer", j, appendShow(m[2]), i)
				}
			}
		default:
			return nil, fmt.Errorf(`micro-op %d has f %s: want "append" or "r"`, j, appendShow(m[0]))
		}
		mops = append(mops, mop)
	}
	return mops, nil
}

// sameMops checks that a completion reports the micro-ops that were invoked.
func sameMops(invoked, completed []appendMop) error {
	if len(invoked) != len(completed) {
		return fmt.Errorf("completion has %d micro-ops, invocation had %d", len(completed), len(invoked))
	}
	for j := range invoked {
		i, c := invoked[j], completed[j]
		if i.read != c.read || i.key != c.key || i.value != c.value {
			return fmt.Errorf("completion's micro-op %d differs from the invoked one", j)
		}
	}
	return nil
}

func (a *appendAnalysis) keyID(name string) int32 {
	id, ok := a.keyIDs[name]
	if !ok {
		id = int32(len(a.keys))
		a.keyIDs[name] = id
		a.keys = append(a.keys, appendKey{name: name, writers: map[int64]int32{}})
	}
	return id
}

// appendShow renders v for an error message, cut to a readable length.
func appendShow(v any) string {
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprintf("%v", v)
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
