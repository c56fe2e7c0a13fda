package checker

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
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

// injectHistory merges pattern into background at random places, keeping
// each one's own order of events: the pattern's transactions keep their
// real-time relations to each other. The pattern's keys get the prefix
// "inj-" and its processes an offset, so that it shares no key, value or
// process with the background.
func injectHistory(rng *rand.Rand, background, pattern []history.Event) []history.Event {
	renamed := make([]history.Event, len(pattern))
	for i, e := range pattern {
		e.Process += 1 << 22
		mops := slices.Clone(asList(e.Value))
		for j, m := range mops {
			mop := slices.Clone(m.([]any))
			mop[1] = "inj-" + mop[1].(string)
			mops[j] = mop
		}
		e.Value = mops
		renamed[i] = e
	}
	out := make([]history.Event, 0, len(background)+len(renamed))
	b, p := 0, 0
	for b < len(background) || p < len(renamed) {
		if p < len(renamed) && (b == len(background) || rng.IntN(len(background)+len(renamed)) < len(renamed)) {
			out = append(out, renamed[p])
			p++
		} else {
			out = append(out, background[b])
			b++
		}
		n := int64(len(out) - 1)
		out[n].Index, out[n].Time = n, n*1000
	}
	return out
}

// Each anomaly class, injected into a random valid history, is found: the
// anomaly kinds of every invalid history in testdata/append (the minimal
// ones and Elle's cases) are those of the pattern checked alone: exactly,
// and naming only the pattern's transactions, under serializability; at
// least, plus real-time cycles through the background, under strict
// serializability.
func TestAppendInjectedAnomaliesAreFound(t *testing.T) {
	var patterns []string
	for _, dir := range []string{"", "elle"} {
		files, err := filepath.Glob(filepath.Join("testdata", "append", dir, "*.jsonl"))
		require.NoError(t, err)
		for _, f := range files {
			patterns = append(patterns, filepath.Join(dir, strings.TrimSuffix(filepath.Base(f), ".jsonl")))
		}
	}
	classes := map[string]bool{}
	for _, name := range patterns {
		pattern := loadAppendHistory(t, name)
		for _, model := range []string{StrictSerializable, Serializable} {
			alone := checkAppend(t, model, pattern)
			if alone.Verdict != Invalid {
				continue
			}
			want := anomalyKinds(alone)
			for _, k := range want {
				classes[k] = true
			}
			for seed := range uint64(4) {
				background := generateAppendHistory(appendGen{txns: 150, seed: seed, keys: 4, fail: 0.05, info: 0.05, finalReads: seed%2 == 0})
				events := injectHistory(rand.New(rand.NewPCG(seed, 7)), background, pattern)
				r := checkAppend(t, model, events)
				require.Equal(t, Invalid, r.Verdict, "%s, %s, seed %d", name, model, seed)
				got := anomalyKinds(r)
				if model == Serializable {
					// No edge joins the pattern to the background.
					require.Equal(t, want, got, "%s, %s, seed %d: %+v", name, model, seed, r.Anomalies)
				} else {
					// Real-time edges join them, and a pattern's real-time
					// cycle may also close through background transactions
					// (concurrent ones have data edges both ways), as
					// another kind of real-time cycle.
					require.Subset(t, got, want, "%s, %s, seed %d: %+v", name, model, seed, r.Anomalies)
					for _, k := range got {
						require.True(t, slices.Contains(want, k) || strings.HasSuffix(k, "-realtime"), "%s, %s, seed %d: %s", name, model, seed, k)
					}
				}
				for _, a := range r.Anomalies {
					require.True(t, slices.ContainsFunc(a.Ops, func(e history.Event) bool { return e.Process >= 1<<22 }),
						"%s, %s, seed %d: %s names no pattern transaction: %s", name, model, seed, a.Kind, a.Explanation)
					if model == Serializable {
						for _, e := range a.Ops {
							require.GreaterOrEqual(t, int(e.Process), 1<<22, "%s, %s, seed %d: %s names a background transaction: %s", name, model, seed, a.Kind, a.Explanation)
						}
					}
				}
			}
		}
	}
	for _, k := range []string{"internal", "future-read", "duplicate-elements", "incompatible-order", "G1a", "G1b", "garbage-read",
		"dirty-update", "lost-update", "G0", "G1c", "G-single", "G-nonadjacent", "G2",
		"G0-realtime", "G1c-realtime", "G-single-realtime", "G-nonadjacent-realtime"} {
		require.True(t, classes[k], "no injected pattern shows %s", k)
	}
}

// An acknowledged append that every read lost (its value taken out of
// each read of its key) is found under strict serializability: the reads
// that began after it completed lack it.
func TestAppendLostAcknowledgedAppendIsCaught(t *testing.T) {
	mutated := 0
	for seed := range uint64(40) {
		events := generateAppendHistory(appendGen{txns: 200, seed: seed, keys: 4, fail: 0.05, info: 0.03, finalReads: true})
		rng := rand.New(rand.NewPCG(seed, 3))
		// An ok transaction appending one value to a key it does not read.
		type target struct {
			key   any
			value int64
			inv   int64
		}
		var targets []target
		for _, tx := range appendTxnEvents(events) {
			if tx[1] < 0 || events[tx[1]].Type != history.OK || events[tx[1]].Process >= observerProcess {
				continue
			}
			perKey := map[any]int{}
			read := map[any]bool{}
			for _, m := range events[tx[1]].Value.([]any) {
				mop := m.([]any)
				if mop[0] == "r" {
					read[mop[1]] = true
				} else {
					perKey[mop[1]]++
				}
			}
			for _, m := range events[tx[1]].Value.([]any) {
				mop := m.([]any)
				if mop[0] == "append" && perKey[mop[1]] == 1 && !read[mop[1]] {
					targets = append(targets, target{mop[1], mop[2].(int64), events[tx[0]].Index})
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		tg := targets[rng.IntN(len(targets))]
		for i, e := range events {
			if e.Type != history.OK {
				continue
			}
			for j, m := range e.Value.([]any) {
				if mop := m.([]any); mop[0] == "r" && mop[1] == tg.key {
					list := slices.DeleteFunc(slices.Clone(asList(mop[2])), func(v any) bool { return v == tg.value })
					setRead(events, i, j, list)
				}
			}
		}
		mutated++
		r := checkAppend(t, StrictSerializable, events)
		require.Equal(t, Invalid, r.Verdict, "seed %d: lost append of %d to %v by T%d", seed, tg.value, tg.key, tg.inv)
		require.NotEmpty(t, r.Stats["unobserved_appends"])
		for _, k := range anomalyKinds(r) {
			require.True(t, strings.HasPrefix(k, "G"), "seed %d: only cycles, got %s: %+v", seed, k, r.Anomalies)
		}
	}
	require.Greater(t, mutated, 30)
}

// A read that shows a value its own transaction appends later is a
// future-read.
func TestAppendFutureReadIsCaught(t *testing.T) {
	mutated := 0
	for seed := range uint64(40) {
		events := generateAppendHistory(appendGen{txns: 200, seed: seed, keys: 4, fail: 0.05, info: 0.03, finalReads: true})
		type target struct {
			event, mop int
			value      int64
		}
		var targets []target
		for i, e := range events {
			if e.Type != history.OK || e.Process >= observerProcess {
				continue
			}
			mops := e.Value.([]any)
			for j, m := range mops {
				mop := m.([]any)
				if mop[0] != "r" {
					continue
				}
				for _, later := range mops[j+1:] {
					if l := later.([]any); l[0] == "append" && l[1] == mop[1] {
						targets = append(targets, target{i, j, l[2].(int64)})
						break
					}
				}
			}
		}
		if len(targets) == 0 {
			continue
		}
		tg := targets[rand.New(rand.NewPCG(seed, 5)).IntN(len(targets))]
		setRead(events, tg.event, tg.mop, append(slices.Clone(asList(readOf(events, tg.event, tg.mop))), tg.value))
		mutated++
		for _, c := range []string{StrictSerializable, Serializable} {
			r := checkAppend(t, c, events)
			require.Equal(t, Invalid, r.Verdict, "seed %d", seed)
			require.Contains(t, anomalyKinds(r), "future-read", "seed %d, %s: %+v", seed, c, r.Anomalies)
		}
	}
	require.Greater(t, mutated, 30)
}
