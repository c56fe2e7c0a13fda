package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func TestKnownFsCoverEveryWorkload(t *testing.T) {
	for _, w := range Workloads() {
		require.NotEmpty(t, KnownFs(w), w)
	}
	require.Equal(t, []string{"cas", "read", "write"}, KnownFs("register"))
	require.Equal(t, []string{"read", "transfer"}, KnownFs("bank"))
	require.Equal(t, []string{"add", "final-read", "read"}, KnownFs("set"))
	require.Equal(t, []string{"txn"}, KnownFs("append"))
	require.Nil(t, KnownFs("queue"))
	// The f values InferWorkload reads as a workload's are that workload's.
	for f, w := range map[string]string{"txn": "append", "transfer": "bank", "add": "set", "final-read": "set", "write": "register", "cas": "register"} {
		require.Contains(t, KnownFs(w), f)
	}
}

// No verdict from nothing: every checker judges a passing history valid,
// but an empty history, one whose operations all failed, and one with an
// operation of another workload are never valid, and say why.
func TestNoVerdictFromNothing(t *testing.T) {
	appendTxn := func(b *histBuilder, p history.Process, typ history.Type, in, out any) *histBuilder {
		return b.op(p, typ, "txn", "", in, out)
	}
	type histories struct {
		passing, onlyFailed []history.Event
		// foreign is a passing history plus one operation of f foreignF.
		foreign  []history.Event
		foreignF string
	}
	cases := map[string]histories{
		"register": {
			passing:    newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "read", "k", nil, 1).build(),
			onlyFailed: newHist().op(0, history.Fail, "write", "k", 1, 1).op(1, history.Fail, "cas", "k", []int{1, 2}, []int{1, 2}).op(2, history.Info, "read", "k", nil, nil).build(),
			foreign:    newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "read", "k", nil, 1).op(2, history.OK, "add", "", 5, 5).build(),
			foreignF:   "add",
		},
		"bank": {
			passing:    newHist().op(0, history.OK, "transfer", "", transfer(0, 1, 1), transfer(0, 1, 1)).op(1, history.OK, "read", "", nil, map[string]int{"0": 1, "1": 2}).build(),
			onlyFailed: newHist().op(0, history.Fail, "transfer", "", transfer(0, 1, 1), transfer(0, 1, 1)).op(1, history.Fail, "read", "", nil, nil).build(),
			foreign:    newHist().op(0, history.OK, "read", "", nil, map[string]int{"0": 1, "1": 2}).op(1, history.OK, "cas", "k", []int{1, 2}, []int{1, 2}).build(),
			foreignF:   "cas",
		},
		"set": {
			passing:    newHist().op(0, history.OK, "add", "", 1, 1).op(1, history.OK, "final-read", "", nil, []int{1}).build(),
			onlyFailed: newHist().op(0, history.Fail, "add", "", 1, 1).op(1, history.Info, "final-read", "", nil, nil).build(),
			foreign:    newHist().op(0, history.OK, "add", "", 1, 1).op(1, history.OK, "final-read", "", nil, []int{1}).op(2, history.OK, "transfer", "", transfer(0, 1, 1), transfer(0, 1, 1)).build(),
			foreignF:   "transfer",
		},
		"append": {
			passing: appendTxn(appendTxn(newHist(), 0, history.OK, []any{[]any{"append", "x", 1}}, []any{[]any{"append", "x", 1}}),
				1, history.OK, []any{[]any{"r", "x", nil}}, []any{[]any{"r", "x", []int{1}}}).build(),
			onlyFailed: appendTxn(appendTxn(newHist(), 0, history.Fail, []any{[]any{"append", "x", 1}}, []any{[]any{"append", "x", 1}}),
				1, history.Info, []any{[]any{"r", "x", nil}}, []any{[]any{"r", "x", nil}}).build(),
			foreign: appendTxn(appendTxn(newHist(), 0, history.OK, []any{[]any{"append", "x", 1}}, []any{[]any{"append", "x", 1}}),
				1, history.OK, []any{[]any{"r", "x", nil}}, []any{[]any{"r", "x", []int{1}}}).op(2, history.OK, "write", "k", 3, 3).build(),
			foreignF: "write",
		},
	}
	for workload, h := range cases {
		t.Run(workload, func(t *testing.T) {
			c, err := ForWorkload(workload)
			require.NoError(t, err)
			check := func(events []history.Event) Result { return c.Check(context.Background(), events) }

			r := check(h.passing)
			require.Equal(t, Valid, r.Verdict, "passing: %s %+v", r.Reason, r.Anomalies)

			for name, events := range map[string][]history.Event{"empty": nil, "only nemesis": newHist().nemesis("start-kill", "n1").build()} {
				r = check(events)
				require.Equal(t, Unknown, r.Verdict, name)
				require.Contains(t, r.Reason, "nothing to check: the history has no "+workload+" operation", name)
			}

			r = check(h.onlyFailed)
			require.Equal(t, Unknown, r.Verdict, "only failed")
			require.Contains(t, r.Reason, "nothing to check: none of the history's")
			require.Contains(t, r.Reason, "completed ok")

			r = check(h.foreign)
			require.Equal(t, Unknown, r.Verdict, "unknown f: %+v", r.Anomalies)
			require.Contains(t, r.Reason, `1 client operation(s) have an f the `+workload+` workload does not know`)
			require.Contains(t, r.Reason, `"`+h.foreignF+`" x1`)
			require.Equal(t, map[string]int{h.foreignF: 1}, r.Stats["unknown_f"])
		})
	}
}

// Another workload's history given to a checker: nothing of it is judged.
func TestCheckerGivenAnotherWorkloadsHistoryJudgesNothing(t *testing.T) {
	register := newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "read", "k", nil, 1).op(2, history.OK, "cas", "k", []int{1, 2}, []int{1, 2}).build()
	r := NewAppend(AppendOptions{}).Check(context.Background(), register)
	require.Equal(t, Unknown, r.Verdict)
	require.Contains(t, r.Reason, "nothing to check: the history has no append operation")
	require.Contains(t, r.Reason, `"cas" x1, "read" x1, "write" x1 (known: "txn")`)
	require.Equal(t, 0, r.Stats["txns"])
}

// Anomalies among the known operations stand: unknown operations beside
// them do not make an invalid history unknown.
func TestUnknownFDoesNotHideAnAnomaly(t *testing.T) {
	h := newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "read", "k", nil, 2).op(2, history.OK, "txn", "", []any{}, []any{}).build()
	r := NewRegister(RegisterOptions{}).Check(context.Background(), h)
	require.Equal(t, Invalid, r.Verdict)
	require.Equal(t, map[string]int{"txn": 1}, r.Stats["unknown_f"])
}
