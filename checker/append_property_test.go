package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// Histories of a correct sequential model, interleaved at random, with
// failed and indeterminate transactions, are valid under both models.
func TestAppendModelHistoriesAreValid(t *testing.T) {
	for seed := range uint64(60) {
		g := appendGen{
			txns: 300, seed: seed, processes: 1 + int(seed%10), keys: 2 + int(seed%7),
			perKey: 5 + int(seed%40), fail: 0.05, info: 0.05, finalReads: seed%2 == 0,
		}
		events := generateAppendHistory(g)
		for _, c := range []string{"strict-serializable", "serializable"} {
			r := checkAppend(t, c, events)
			require.Equal(t, Valid, r.Verdict, "seed %d, %s: %+v", seed, c, r.Anomalies)
		}
	}
}

// A transaction whose two appends become visible one at a time is caught:
// a reader in between sees half of it (G1b on one key, G-single on two).
func TestAppendSplitTransactionIsCaught(t *testing.T) {
	for seed := range uint64(40) {
		g := appendGen{txns: 200, seed: seed, keys: 3 + int(seed%5), fail: 0.03, info: 0.03, finalReads: true,
			splitAt: 1 + int(seed*7%200)}
		events := generateAppendHistory(g)
		split := nthInvoke(events, g.splitAt)
		for _, c := range []string{"strict-serializable", "serializable"} {
			r := checkAppend(t, c, events)
			require.Equal(t, Invalid, r.Verdict, "seed %d, %s", seed, c)
			found := false
			for _, a := range r.Anomalies {
				if (a.Kind == "G1b" || a.Kind == "G-single") && slices.ContainsFunc(a.Ops, func(e history.Event) bool { return e.Index == split.Index }) {
					found = true
				}
			}
			require.True(t, found, "seed %d, %s: the split transaction T%d is not named by a G1b or G-single: %+v", seed, c, split.Index, r.Anomalies)
		}
	}
}

// One changed read, or one dropped write, in an otherwise valid history
// is caught.
func TestAppendChangedReadOrDroppedWriteIsCaught(t *testing.T) {
	tests := []struct {
		name string
		// mutate changes events in place and reports whether it found a
		// place to do so.
		mutate      func(rng *rand.Rand, events []history.Event) bool
		consistency string
		kind        string
	}{
		{"first element of a read dropped", mutateRead(func(rng *rand.Rand, l []any) []any { return l[1:] }), "serializable", "incompatible-order"},
		{"two elements of a read swapped", mutateRead(func(rng *rand.Rand, l []any) []any {
			i := rng.IntN(len(l) - 1)
			l[i], l[i+1] = l[i+1], l[i]
			return l
		}), "serializable", "incompatible-order"},
		{"element of a read duplicated", mutateRead(func(rng *rand.Rand, l []any) []any {
			return append(l, l[rng.IntN(len(l))])
		}), "serializable", "duplicate-elements"},
		{"read misses an append completed before it began", staleRead, "strict-serializable", "G-single-realtime"},
		{"read sees a failed append", readFailedAppend, "serializable", "G1a"},
		{"an observed append dropped", dropObservedAppend, "serializable", "garbage-read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mutated := 0
			for seed := range uint64(40) {
				events := generateAppendHistory(appendGen{txns: 200, seed: seed, keys: 4, fail: 0.05, info: 0.03, finalReads: true})
				if !tt.mutate(rand.New(rand.NewPCG(seed, 1)), events) {
					continue
				}
				mutated++
				r := checkAppend(t, tt.consistency, events)
				require.Equal(t, Invalid, r.Verdict, "seed %d", seed)
				require.Contains(t, anomalyKinds(r), tt.kind, "seed %d: %+v", seed, r.Anomalies)
			}
			require.Greater(t, mutated, 30, "too few histories had a place for the change")
		})
	}
}

// nthInvoke returns the n-th (1-based) invocation of the random
// interleaving.
func nthInvoke(events []history.Event, n int) history.Event {
	for _, e := range events {
		if e.Type == history.Invoke && e.Process < observerProcess {
			if n--; n == 0 {
				return e
			}
		}
	}
	panic(fmt.Sprintf("no invocation %d", n))
}

// appendTxnEvents pairs the events of each transaction: positions of
// invocation and completion, in invocation order.
func appendTxnEvents(events []history.Event) [][2]int {
	open := map[history.Process]int{}
	var txns [][2]int
	for i, e := range events {
		if e.Type == history.Invoke {
			open[e.Process] = len(txns)
			txns = append(txns, [2]int{i, -1})
			continue
		}
		txns[open[e.Process]][1] = i
	}
	return txns
}

// mutateRead changes the list of one random non-final read of two or more
// elements, in a copy of its micro-op.
func mutateRead(change func(rng *rand.Rand, l []any) []any) func(*rand.Rand, []history.Event) bool {
	return func(rng *rand.Rand, events []history.Event) bool {
		type target struct{ event, mop int }
		var targets []target
		for i, e := range events {
			if e.Type != history.OK || e.Process == finalReadProcess {
				continue
			}
			for j, m := range e.Value.([]any) {
				if mop := m.([]any); mop[0] == "r" && len(asList(mop[2])) >= 2 {
					targets = append(targets, target{i, j})
				}
			}
		}
		if len(targets) == 0 {
			return false
		}
		tg := targets[rng.IntN(len(targets))]
		setRead(events, tg.event, tg.mop, change(rng, slices.Clone(asList(readOf(events, tg.event, tg.mop)))))
		return true
	}
}

// staleRead truncates a read just before a value whose transaction
// completed before the reader was invoked. The reader must not have
// appended to the key itself (that would be an internal anomaly instead).
func staleRead(rng *rand.Rand, events []history.Event) bool {
	completedAt := map[int64]int{} // appended value → position of its ok
	type target struct{ event, mop, cut int }
	var targets []target
	for _, tx := range appendTxnEvents(events) {
		inv, done := tx[0], tx[1]
		if done < 0 || events[done].Type != history.OK {
			continue
		}
		ownKeys := map[any]bool{}
		for j, m := range events[done].Value.([]any) {
			mop := m.([]any)
			if mop[0] == "append" {
				ownKeys[mop[1]] = true
				continue
			}
			if ownKeys[mop[1]] {
				continue
			}
			for p, v := range asList(mop[2]) {
				if at, ok := completedAt[v.(int64)]; ok && at < inv {
					targets = append(targets, target{done, j, p})
					break
				}
			}
		}
		for _, m := range events[done].Value.([]any) {
			if mop := m.([]any); mop[0] == "append" {
				completedAt[mop[2].(int64)] = done
			}
		}
	}
	if len(targets) == 0 {
		return false
	}
	tg := targets[rng.IntN(len(targets))]
	setRead(events, tg.event, tg.mop, slices.Clone(asList(readOf(events, tg.event, tg.mop))[:tg.cut]))
	return true
}

// readFailedAppend adds, to the end of a read, a value that a failed
// transaction tried to append to the same key.
func readFailedAppend(rng *rand.Rand, events []history.Event) bool {
	failed := map[any][]int64{} // key → values of failed appends
	for _, e := range events {
		if e.Type != history.Fail {
			continue
		}
		for _, m := range e.Value.([]any) {
			if mop := m.([]any); mop[0] == "append" {
				failed[mop[1]] = append(failed[mop[1]], mop[2].(int64))
			}
		}
	}
	type target struct{ event, mop int }
	var targets []target
	for i, e := range events {
		if e.Type != history.OK {
			continue
		}
		for j, m := range e.Value.([]any) {
			if mop := m.([]any); mop[0] == "r" && len(failed[mop[1]]) > 0 {
				targets = append(targets, target{i, j})
			}
		}
	}
	if len(targets) == 0 {
		return false
	}
	tg := targets[rng.IntN(len(targets))]
	mop := events[tg.event].Value.([]any)[tg.mop].([]any)
	vs := failed[mop[1]]
	setRead(events, tg.event, tg.mop, append(slices.Clone(asList(mop[2])), vs[rng.IntN(len(vs))]))
	return true
}

// dropObservedAppend removes, from a transaction's invocation and
// completion, an append that the final reads show.
func dropObservedAppend(rng *rand.Rand, events []history.Event) bool {
	var targets [][3]int // invocation, completion, micro-op
	for _, tx := range appendTxnEvents(events) {
		if tx[1] < 0 || events[tx[1]].Type != history.OK || events[tx[1]].Process >= observerProcess {
			continue
		}
		for j, m := range events[tx[1]].Value.([]any) {
			if m.([]any)[0] == "append" {
				targets = append(targets, [3]int{tx[0], tx[1], j})
			}
		}
	}
	if len(targets) == 0 {
		return false
	}
	tg := targets[rng.IntN(len(targets))]
	for _, at := range tg[:2] {
		mops := slices.Clone(events[at].Value.([]any))
		events[at].Value = slices.Delete(mops, tg[2], tg[2]+1)
	}
	return true
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

func readOf(events []history.Event, event, mop int) any {
	return events[event].Value.([]any)[mop].([]any)[2]
}

// setRead replaces one read's list, copying the containers it changes:
// the generator shares micro-ops between events.
func setRead(events []history.Event, event, mop int, list []any) {
	mops := slices.Clone(events[event].Value.([]any))
	old := mops[mop].([]any)
	mops[mop] = []any{old[0], old[1], list}
	events[event].Value = mops
}

// The properties above must hold for the checker's own reasons: the
// history before the change is valid.
func TestAppendMutationBaseHistoriesAreValid(t *testing.T) {
	for seed := range uint64(40) {
		events := generateAppendHistory(appendGen{txns: 200, seed: seed, keys: 4, fail: 0.05, info: 0.03, finalReads: true})
		r := NewAppend(AppendOptions{}).Check(context.Background(), events)
		require.Equal(t, Valid, r.Verdict, "seed %d: %+v", seed, r.Anomalies)
	}
}
