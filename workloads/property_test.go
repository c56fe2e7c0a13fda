//go:build libsqlite3

package workloads

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/history"
)

// record runs rounds of every slot's generator against c and returns the
// history, written and read back through the history package so the
// checker sees exactly what a stored history holds. In each round, every
// slot invokes one operation; the operations then run one at a time in a
// shuffled order and complete in another shuffled order. Each operation
// takes effect inside its own invoke..complete interval, so the history
// is correct by construction, yet operations overlap as they do in a real
// run. After the rounds, the final ops run through three "nodes".
func record(t *testing.T, w Workload, c Client, seed int64, slots, rounds int) []history.Event {
	t.Helper()
	var buf bytes.Buffer
	hw := history.NewWriter(&buf)
	now := int64(0)
	write := func(e history.Event) {
		now += 1000
		e.Time = now
		_, err := hw.Write(e)
		require.NoError(t, err)
	}
	r := rand.New(rand.NewPCG(uint64(seed), 7))
	gens := make([]Generator, slots)
	procs := make([]int, slots)
	for s := range slots {
		gens[s] = w.Generator(seed, s)
		procs[s] = s
	}
	nextProc := slots
	type pending struct {
		slot int
		op   Op
		done Completion
	}
	for range rounds {
		var batch []*pending
		for s := range slots {
			op, ok := gens[s].Next()
			if !ok {
				continue
			}
			batch = append(batch, &pending{slot: s, op: op})
			write(history.Event{Process: history.Process(procs[s]), Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: "n1"})
		}
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, p := range batch {
			p.done = w.Invoke(testCtx(t), c, p.op)
		}
		r.Shuffle(len(batch), func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
		for _, p := range batch {
			write(history.Event{Process: history.Process(procs[p.slot]), Type: p.done.Type, F: p.op.F, Key: p.op.Key, Value: p.done.Value, Node: "n1", Error: p.done.Error})
			if p.done.Type == history.Info {
				procs[p.slot] = nextProc
				nextProc++
			}
		}
	}
	for _, node := range []string{"n1", "n2", "n3"} {
		for _, op := range w.FinalOps() {
			p := history.Process(nextProc)
			nextProc++
			write(history.Event{Process: p, Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: node})
			done := w.Invoke(testCtx(t), c, op)
			write(history.Event{Process: p, Type: done.Type, F: op.F, Key: op.Key, Value: done.Value, Node: node, Error: done.Error})
		}
	}
	require.NoError(t, hw.Close())
	events, torn, err := history.ReadAll(&buf)
	require.NoError(t, err)
	require.Zero(t, torn)
	require.NoError(t, history.Validate(events))
	return events
}

// mutation changes one thing in a history so that it must be invalid. It
// reports false when the history offers nothing to change.
type mutation struct {
	name  string
	apply func(events []history.Event) bool
}

func okReads(events []history.Event, f string) []int {
	var idx []int
	for i, e := range events {
		if e.Type == history.OK && e.F == f {
			idx = append(idx, i)
		}
	}
	return idx
}

var mutations = map[string][]mutation{
	"register": {{"a read returns a value nobody wrote", func(events []history.Event) bool {
		for _, i := range okReads(events, "read") {
			if events[i].Value != nil {
				events[i].Value = int64(1000) // values are 0..values-1
				return true
			}
		}
		return false
	}}},
	"bank": {{"a read sees one unit too many", func(events []history.Event) bool {
		for _, i := range okReads(events, "read") {
			b := events[i].Value.(map[string]any)
			b["0"] = b["0"].(int64) + 1
			return true
		}
		return false
	}}},
	"set": {
		{"an acknowledged add is missing from every final read", func(events []history.Event) bool {
			adds := okReads(events, "add")
			if len(adds) == 0 {
				return false
			}
			lost := events[adds[len(adds)/2]].Value
			for _, i := range okReads(events, "final-read") {
				events[i].Value = slices.DeleteFunc(events[i].Value.([]any), func(v any) bool { return v == lost })
			}
			return true
		}},
		{"a final read holds a value nobody added", func(events []history.Event) bool {
			finals := okReads(events, "final-read")
			if len(finals) == 0 {
				return false
			}
			events[finals[0]].Value = append(events[finals[0]].Value.([]any), int64(-1))
			return true
		}},
	},
	"append": {
		{"a read returns a value nobody appended", func(events []history.Event) bool {
			for _, i := range okReads(events, "txn") {
				for _, m := range events[i].Value.([]any) {
					if mop := m.([]any); mop[0] == "r" {
						mop[2] = append(mop[2].([]any), int64(-1))
						return true
					}
				}
			}
			return false
		}},
		{"a read misses the first element another read saw", func(events []history.Event) bool {
			// Every read of a key starts with the key's first element; one
			// of two such reads loses it, so they disagree on the order.
			type read struct{ mop []any }
			byKey := map[string][]read{}
			for _, i := range okReads(events, "txn") {
				for _, m := range events[i].Value.([]any) {
					if mop := m.([]any); mop[0] == "r" && len(mop[2].([]any)) > 0 {
						byKey[mop[1].(string)] = append(byKey[mop[1].(string)], read{mop})
					}
				}
			}
			for _, key := range slices.Sorted(maps.Keys(byKey)) {
				for _, r := range byKey[key] {
					if l := r.mop[2].([]any); len(l) >= 2 && len(byKey[key]) >= 2 {
						r.mop[2] = l[1:]
						return true
					}
				}
			}
			return false
		}},
	},
}

func TestGeneratedHistoriesAgainstSQLiteAreValidAndMutatedOnesInvalid(t *testing.T) {
	params := map[string]Params{
		"register": {Keys: 2, OpsPerKey: 20},
		"bank":     {Accounts: 3, Total: 10}, // overdrafts are frequent: fails in the history
		"set":      {Mix: map[string]int{"add": 4, "read": 1}},
		"append":   {Keys: 4, OpsPerKey: 15},
	}
	for _, name := range Names() {
		for _, seed := range []int64{1, 2, 3} {
			t.Run(fmt.Sprintf("%s/seed=%d", name, seed), func(t *testing.T) {
				w, c := setUp(t, name, params[name])
				events := record(t, w, c, seed, 4, 60)
				if name == "register" || name == "bank" {
					require.NotEmpty(t, slices.DeleteFunc(slices.Clone(events), func(e history.Event) bool { return e.Type != history.Fail }),
						"the history exercises definite failures (cas on another value, overdrafts)")
				}
				res := w.Checker().Check(testCtx(t), events)
				require.Equal(t, checker.Valid, res.Verdict, "%s: %+v", res.Reason, res.Anomalies)
				for _, m := range mutations[name] {
					t.Run(m.name, func(t *testing.T) {
						mutated := copyEvents(t, events)
						require.True(t, m.apply(mutated), "the history offers something to mutate")
						res := w.Checker().Check(testCtx(t), mutated)
						require.Equal(t, checker.Invalid, res.Verdict, "%s", res.Reason)
						require.NotEmpty(t, res.Anomalies)
					})
				}
			})
		}
	}
}

// copyEvents deep-copies events through their JSON form.
func copyEvents(t *testing.T, events []history.Event) []history.Event {
	var buf bytes.Buffer
	hw := history.NewWriter(&buf)
	for _, e := range events {
		_, err := hw.Write(e)
		require.NoError(t, err)
	}
	require.NoError(t, hw.Close())
	out, _, err := history.ReadAll(&buf)
	require.NoError(t, err)
	return out
}
