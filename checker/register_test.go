package checker

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func checkRegister(t *testing.T, events []history.Event) Result {
	t.Helper()
	require.NoError(t, history.Validate(events), "test histories must be well formed")
	return NewRegister(RegisterOptions{TimeBudget: time.Minute}).Check(context.Background(), events)
}

func TestRegisterAcceptsLinearizableHistories(t *testing.T) {
	cases := map[string]*histBuilder{
		"sequential write then read": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, 1),
		"read of null before any write": newHist().
			op(0, history.OK, "read", "k", nil, nil).
			op(0, history.OK, "write", "k", 1, 1),
		"concurrent read may see the old value": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			invoke(0, "write", "k", 2).invoke(1, "read", "k", nil).
			ok(1, "read", "k", 1).ok(0, "write", "k", 2),
		"concurrent read may see the new value": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			invoke(0, "write", "k", 2).invoke(1, "read", "k", nil).
			ok(1, "read", "k", 2).ok(0, "write", "k", 2),
		"successful cas": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.OK, "cas", "k", []int{1, 2}, []int{1, 2}).
			op(1, history.OK, "read", "k", nil, 2),
		"cas from null": newHist().
			op(0, history.OK, "cas", "k", []any{nil, 2}, []any{nil, 2}).
			op(1, history.OK, "read", "k", nil, 2),
		"failed cas is dropped": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.Fail, "cas", "k", []int{5, 2}, []int{5, 2}).
			op(1, history.OK, "read", "k", nil, 1),
		"failed write is dropped": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.Fail, "write", "k", 2, 2).
			op(1, history.OK, "read", "k", nil, 1),
		"info write may take effect much later": newHist().
			op(0, history.Info, "write", "k", 7, 7).
			op(1, history.OK, "read", "k", nil, nil).
			op(1, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, 1).
			op(1, history.OK, "read", "k", nil, 7),
		"info write may never take effect": newHist().
			op(0, history.Info, "write", "k", 7, 7).
			op(1, history.OK, "read", "k", nil, nil),
		"open write at the end is unknown": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			invoke(1, "write", "k", 2).
			op(2, history.OK, "read", "k", nil, 2),
		"info cas whose expected value is gone has no effect": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.Info, "cas", "k", []int{1, 9}, []int{1, 9}).
			op(1, history.OK, "read", "k", nil, 9).
			op(1, history.OK, "write", "k", 3, 3).
			op(1, history.OK, "read", "k", nil, 3),
		"info cas that could never apply is harmless": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.Info, "cas", "k", []int{5, 9}, []int{5, 9}).
			op(1, history.OK, "read", "k", nil, 1),
		"keys are independent": newHist().
			op(0, history.OK, "write", "a", 1, 1).
			op(0, history.OK, "write", "b", 2, 2).
			op(1, history.OK, "read", "a", nil, 1).
			op(1, history.OK, "read", "b", nil, 2),
		"info and failed reads say nothing": newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.Info, "read", "k", nil, nil).
			op(2, history.Fail, "read", "k", nil, nil).
			nemesis("start-partition-halves", "n1").
			op(3, history.OK, "read", "k", nil, 1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			r := checkRegister(t, b.build())
			require.Equal(t, Valid, r.Verdict, "%+v", r)
			require.Empty(t, r.Anomalies)
			require.Nil(t, r.Artifacts)
		})
	}
}

func TestRegisterFindsNonlinearizableHistories(t *testing.T) {
	cases := map[string]struct {
		b    *histBuilder
		want string // in the explanation
	}{
		"stale read after an acknowledged write": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.OK, "write", "k", 2, 2).
			op(1, history.OK, "read", "k", nil, 1), "returned 1"},
		"read of a value never written": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, 5), "No operation ever wrote 5"},
		"read of null after a write": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, nil), "returned null"},
		"value of a failed write is read": {newHist().
			op(0, history.Fail, "write", "k", 3, 3).
			op(1, history.OK, "read", "k", nil, 3), "returned 3"},
		"value of a failed cas is read": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.Fail, "cas", "k", []int{1, 3}, []int{1, 3}).
			op(1, history.OK, "read", "k", nil, 3), "returned 3"},
		"cas succeeds on a value the register did not hold": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(0, history.OK, "cas", "k", []int{4, 2}, []int{4, 2}), "cas 4 → 2"},
		"reads go back in time": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			invoke(0, "write", "k", 2).
			op(1, history.OK, "read", "k", nil, 2).
			op(2, history.OK, "read", "k", nil, 1).
			ok(0, "write", "k", 2), "returned"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := checkRegister(t, c.b.build())
			require.Equal(t, Invalid, r.Verdict, "%+v", r)
			require.Len(t, r.Anomalies, 1)
			a := r.Anomalies[0]
			require.Equal(t, "nonlinearizable", a.Kind)
			require.Equal(t, "k", a.Key)
			require.Contains(t, a.Explanation, c.want)
			require.NotEmpty(t, a.Ops)
			require.Contains(t, r.Artifacts, "linearizability.html")
			require.Contains(t, string(r.Artifacts["linearizability.html"]), "<html")
		})
	}
}

func TestRegisterAnomalyNamesTheNodeTheWriteAndTheFault(t *testing.T) {
	events := newHist().
		op(0, history.OK, "write", "k7", 1, 1).on("n1").
		op(0, history.OK, "write", "k7", 2, 2).on("n1").
		nemesis("start-partition-halves", "n3").
		op(1, history.OK, "read", "k7", nil, 1).on("n3").
		nemesis("stop-partition-halves").
		op(2, history.OK, "read", "k7", nil, 2).on("n2").
		build()
	r := checkRegister(t, events)
	require.Equal(t, Invalid, r.Verdict)
	require.Len(t, r.Anomalies, 1)
	a := r.Anomalies[0]
	require.Equal(t, "k7", a.Key)
	require.Contains(t, a.Explanation, "process 1 on n3")
	require.Contains(t, a.Explanation, "write 2")
	require.Contains(t, a.Explanation, "partition-halves (n3)")
	require.Contains(t, a.Explanation, "The last write of 1 invoked before the read ended is the write 1")
	require.Contains(t, a.Explanation, "That read is stale: every write of 1 had been acknowledged before the write 2 of process 0 on n1 (index 2..3) began")
	var stale *history.Event
	for i := range a.Ops {
		if a.Ops[i].F == "read" && a.Ops[i].Type == history.OK {
			stale = &a.Ops[i]
		}
	}
	require.NotNil(t, stale)
	require.Equal(t, "n3", stale.Node)
	html := string(r.Artifacts["linearizability.html"])
	require.Contains(t, html, "partition-halves")
}

func TestRegisterReportsEveryInvalidKeyAndOnlyThose(t *testing.T) {
	b := newHist()
	for k := 0; k < 5; k++ {
		key := fmt.Sprintf("k%d", k)
		b.op(0, history.OK, "write", key, 1, 1).op(0, history.OK, "write", key, 2, 2)
		read := int64(2)
		if k%2 == 1 {
			read = 1
		}
		b.op(1, history.OK, "read", key, nil, read)
	}
	r := checkRegister(t, b.build())
	require.Equal(t, Invalid, r.Verdict)
	var keys []string
	for _, a := range r.Anomalies {
		keys = append(keys, a.Key)
	}
	require.Equal(t, []string{"k1", "k3"}, keys)
	require.Equal(t, 2, r.Stats["keys_invalid"])
}

func TestRegisterIsUnknownWhenItCannotDecide(t *testing.T) {
	invalid := newHist().
		op(0, history.OK, "write", "k", 1, 1).
		op(1, history.OK, "read", "k", nil, 2).build()
	t.Run("time budget spent", func(t *testing.T) {
		r := NewRegister(RegisterOptions{TimeBudget: time.Nanosecond}).Check(context.Background(), invalid)
		require.Equal(t, Unknown, r.Verdict, "never a guess")
		require.Contains(t, r.Reason, "time budget of 1ns ran out")
		require.Contains(t, r.Reason, "k")
	})
	t.Run("context cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		r := NewRegister(RegisterOptions{}).Check(ctx, invalid)
		require.Equal(t, Unknown, r.Verdict)
		require.Contains(t, r.Reason, "cancelled")
	})
	t.Run("no register operations", func(t *testing.T) {
		r := NewRegister(RegisterOptions{}).Check(context.Background(), newHist().op(0, history.OK, "add", "", 1, 1).build())
		require.Equal(t, Unknown, r.Verdict)
		require.Contains(t, r.Reason, "no register operations")
	})
	t.Run("malformed value", func(t *testing.T) {
		h := newHist().op(0, history.OK, "write", "k", "seven", "seven").build()
		r := NewRegister(RegisterOptions{}).Check(context.Background(), h)
		require.Equal(t, Unknown, r.Verdict)
		require.Contains(t, r.Reason, "index 0")
		require.Contains(t, r.Reason, "want an integer")
	})
	t.Run("malformed value elsewhere does not hide an invalid key", func(t *testing.T) {
		h := newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, 2).
			op(2, history.OK, "cas", "j", []int{1}, []int{1}).build()
		r := NewRegister(RegisterOptions{}).Check(context.Background(), h)
		require.Equal(t, Invalid, r.Verdict)
		require.Contains(t, r.Reason, "want [old, new]")
	})
}

func TestRegisterAcceptsEveryHistoryOfACorrectRegister(t *testing.T) {
	for seed := int64(1); seed <= 40; seed++ {
		g := registerGen{Seed: seed, Ops: 300, Keys: 4, Concurrency: 1 + int(seed%8), InfoRate: 0.05, FailRate: 0.05}
		events := g.generate()
		require.NoError(t, history.Validate(events))
		r := NewRegister(RegisterOptions{TimeBudget: time.Minute}).Check(context.Background(), events)
		require.Equal(t, Valid, r.Verdict, "seed %d: %+v", seed, r.Anomalies)
	}
}

// registerMutation breaks one operation of a correct history in a way that
// no linearization can explain, and says which key it broke.
type registerMutation func(rng *rand.Rand, events []history.Event) ([]history.Event, string, bool)

func TestRegisterCatchesOneBrokenOperation(t *testing.T) {
	mutations := map[string]registerMutation{
		"read changed to a value never written": mutateReadToUnwritten,
		"read changed to an overwritten value":  mutateReadToStale,
		"write dropped":                         mutateDropWrite,
	}
	for name, mutate := range mutations {
		t.Run(name, func(t *testing.T) {
			caught := 0
			for seed := int64(1); seed <= 30; seed++ {
				g := registerGen{Seed: seed, Ops: 300, Keys: 4, Concurrency: 2 + int(seed%6), InfoRate: 0.03, FailRate: 0.03}
				events, key, ok := mutate(rand.New(rand.NewSource(seed)), g.generate())
				if !ok {
					continue
				}
				require.NoError(t, history.Validate(events))
				r := NewRegister(RegisterOptions{TimeBudget: time.Minute}).Check(context.Background(), events)
				require.Equal(t, Invalid, r.Verdict, "seed %d", seed)
				require.Len(t, r.Anomalies, 1, "seed %d", seed)
				require.Equal(t, key, r.Anomalies[0].Key)
				caught++
			}
			require.GreaterOrEqual(t, caught, 20, "the mutation must apply to most histories")
		})
	}
}

// genOps pairs a generated history and indexes its operations by position.
func genOps(events []history.Event) []history.Operation { return history.Pair(events) }

func mutateReadToUnwritten(rng *rand.Rand, events []history.Event) ([]history.Event, string, bool) {
	var reads []history.Operation
	for _, op := range genOps(events) {
		if op.Invoke.F == "read" && op.Outcome() == history.OK {
			reads = append(reads, op)
		}
	}
	if len(reads) == 0 {
		return nil, "", false
	}
	r := reads[rng.Intn(len(reads))]
	r.Completion.Value = int64(-1) // generated values are positive
	return events, r.Invoke.Key, true
}

// mutateReadToStale makes a read return the value of a write w0 that a later
// write w1 overwrote: w0 ended before w1 began and w1 ended before the read
// began, so every linearization puts w0, w1, read in that order, and since
// values are unique nothing else wrote w0's value back.
func mutateReadToStale(rng *rand.Rand, events []history.Event) ([]history.Event, string, bool) {
	ops := genOps(events)
	perm := rng.Perm(len(ops))
	for _, i := range perm {
		r := ops[i]
		if r.Invoke.F != "read" || r.Outcome() != history.OK {
			continue
		}
		var w0, w1 *history.Operation
		for j := range ops {
			w := &ops[j]
			if w.Invoke.Key != r.Invoke.Key || w.Outcome() != history.OK || w.Invoke.F == "read" || w.Completion.Time >= r.Invoke.Time {
				continue
			}
			if w1 == nil || w.Invoke.Time > w1.Invoke.Time {
				w1 = w
			}
		}
		if w1 == nil {
			continue
		}
		for j := range ops {
			w := &ops[j]
			if w.Invoke.Key == r.Invoke.Key && w.Outcome() == history.OK && w.Invoke.F != "read" && w.Completion.Time < w1.Invoke.Time {
				w0 = w
			}
		}
		if w0 == nil {
			continue
		}
		v := writtenValue(*w0)
		if v == r.Completion.Value {
			continue
		}
		r.Completion.Value = v
		return events, r.Invoke.Key, true
	}
	return nil, "", false
}

func writtenValue(w history.Operation) any {
	if w.Invoke.F == "cas" {
		return w.Invoke.Value.([]any)[1]
	}
	return w.Invoke.Value
}

// mutateDropWrite removes an acknowledged write whose value some read
// returned; values are unique, so nothing else explains that read.
func mutateDropWrite(rng *rand.Rand, events []history.Event) ([]history.Event, string, bool) {
	ops := genOps(events)
	readValues := map[string]bool{}
	for _, op := range ops {
		if op.Invoke.F == "read" && op.Outcome() == history.OK && op.Completion.Value != nil {
			readValues[fmt.Sprint(op.Invoke.Key, "=", op.Completion.Value)] = true
		}
	}
	var candidates []history.Operation
	for _, op := range ops {
		if op.Invoke.F == "write" && op.Outcome() == history.OK && readValues[fmt.Sprint(op.Invoke.Key, "=", op.Invoke.Value)] {
			candidates = append(candidates, op)
		}
	}
	if len(candidates) == 0 {
		return nil, "", false
	}
	w := candidates[rng.Intn(len(candidates))]
	var out []history.Event
	for _, e := range events {
		if e.Index != w.Invoke.Index && e.Index != w.Completion.Index {
			out = append(out, e)
		}
	}
	return out, w.Invoke.Key, true
}

func TestRegisterGeneratorMakesInterleavedHistoriesWithEveryOutcome(t *testing.T) {
	events := registerGen{Seed: 3, Ops: 2000, Keys: 3, Concurrency: 6, InfoRate: 0.05, FailRate: 0.05}.generate()
	require.NoError(t, history.Validate(events))
	outcomes := map[string]int{}
	open, maxOpen := 0, 0
	for _, e := range events {
		if e.Type == history.Invoke {
			open++
			maxOpen = max(maxOpen, open)
		} else {
			open--
			outcomes[e.F+" "+string(e.Type)]++
		}
	}
	require.GreaterOrEqual(t, maxOpen, 5, "operations overlap")
	for _, k := range []string{"read ok", "read info", "write ok", "write info", "write fail", "cas ok", "cas fail", "cas info"} {
		require.Positive(t, outcomes[k], "%s in %v", k, outcomes)
	}
	require.False(t, strings.Contains(fmt.Sprint(outcomes), "invoke"))
}

func TestRegisterAgreesWithPublishedJepsenVerdicts(t *testing.T) {
	cases := map[string]Verdict{
		"testdata/jepsen_etcd_000.jsonl": Invalid, // porcupine: TestEtcdJepsen000, not linearizable
		"testdata/jepsen_etcd_002.jsonl": Valid,   // porcupine: TestEtcdJepsen002, linearizable
	}
	for path, want := range cases {
		t.Run(path, func(t *testing.T) {
			events, torn, err := history.ReadFile(path)
			require.NoError(t, err)
			require.Zero(t, torn)
			require.NoError(t, history.Validate(events))
			r := checkRegister(t, events)
			require.Equal(t, want, r.Verdict, "%+v", r.Anomalies)
			if want == Invalid {
				require.Len(t, r.Anomalies, 1)
				require.Equal(t, "r", r.Anomalies[0].Key)
				require.Contains(t, r.Artifacts, "linearizability.html")
			}
		})
	}
}

func TestRegisterSaysWhenItsContextsDeadlinePassed(t *testing.T) {
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	h := newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "read", "k", nil, 2).build()
	r := NewRegister(RegisterOptions{TimeBudget: time.Hour}).Check(ctx, h)
	require.Equal(t, Unknown, r.Verdict)
	require.Contains(t, r.Reason, "the check's deadline passed before 1 of 1 key(s) were decided: k")
}

func TestRegisterCallsAReadStaleOnlyWithProof(t *testing.T) {
	cases := map[string]struct {
		b     *histBuilder
		stale string // "" when there is no proof
	}{
		"null after an acknowledged write": {newHist().
			op(0, history.OK, "write", "k", 1, 1).
			op(1, history.OK, "read", "k", nil, nil), "That read is stale: the write 1 of process 0 (index 0..1) was acknowledged before it began, and nothing removes a value."},
		"a write of the value read may still land": {newHist().
			op(0, history.Info, "write", "k", 1, 1).
			op(1, history.OK, "write", "k", 2, 2).
			op(2, history.OK, "read", "k", nil, 1).
			op(2, history.OK, "read", "k", nil, 2), ""},
		"the newer write overlapped the write of the value read": {newHist().
			invoke(0, "write", "k", 1).invoke(1, "write", "k", 2).ok(0, "write", "k", 1).ok(1, "write", "k", 2).
			op(2, history.OK, "read", "k", nil, 1).
			op(2, history.OK, "read", "k", nil, 2), ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := checkRegister(t, c.b.build())
			require.Equal(t, Invalid, r.Verdict)
			if c.stale == "" {
				require.NotContains(t, r.Anomalies[0].Explanation, "stale")
			} else {
				require.Contains(t, r.Anomalies[0].Explanation, c.stale)
			}
		})
	}
}
