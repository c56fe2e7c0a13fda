package checker

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

// finalReads adds one final read per node, each returning elems.
func finalReads(b *histBuilder, p history.Process, elems []int, nodes ...string) *histBuilder {
	for _, n := range nodes {
		b.invoke(p, "final-read", "", nil).on(n).ok(p, "final-read", "", elems).on(n)
	}
	return b
}

func TestSetAcceptsHistoriesWhereEveryAcknowledgedAddSurvives(t *testing.T) {
	b := newHist().
		op(0, history.OK, "add", "", 1, 1).
		op(1, history.OK, "add", "", 2, 2).
		op(2, history.Info, "add", "", 3, 3). // recovered
		op(3, history.Info, "add", "", 4, 4). // unknown, absent: fine
		op(4, history.Fail, "add", "", 5, 5).
		invoke(5, "add", "", 6). // never completed, absent: fine
		op(6, history.OK, "read", "", nil, []int{1}).
		nemesis("start-partition-halves", "n1")
	h := finalReads(b, 7, []int{1, 2, 3}, "n1", "n2", "n3").build()
	r := NewSet().Check(context.Background(), h)
	require.Equal(t, Valid, r.Verdict, "%+v", r.Anomalies)
	require.Equal(t, 1, r.Stats["recovered"])
	require.Equal(t, 2, r.Stats["unknown_absent"])
	require.Equal(t, 3, r.Stats["final_reads"])
	require.Equal(t, 6, r.Stats["attempted"])
}

func TestSetDoesNotRequireAnAddAcknowledgedAfterTheFinalReadBegan(t *testing.T) {
	h := newHist().
		invoke(0, "add", "", 1).
		invoke(1, "final-read", "", nil).on("n1").
		ok(0, "add", "", 1).
		ok(1, "final-read", "", []int{}).on("n1").
		build()
	r := NewSet().Check(context.Background(), h)
	require.Equal(t, Valid, r.Verdict, "%+v", r.Anomalies)
}

func TestSetFindsEachAnomalyAlone(t *testing.T) {
	cases := map[string]struct {
		h    []history.Event
		kind string
		want []string
	}{
		"acknowledged add lost on one node": {finalReads(newHist().
			op(0, history.OK, "add", "", 1, 1).
			op(0, history.OK, "add", "", 2, 2), 1, []int{1, 2}, "n1").
			invoke(1, "final-read", "", nil).on("n2").ok(1, "final-read", "", []int{1}).on("n2").build(),
			"lost", []string{"final read through n2", "1 add(s) acknowledged before it began: 2"}},
		"element seen then gone": {newHist().
			op(0, history.Info, "add", "", 7, 7).
			op(1, history.OK, "read", "", nil, []int{7}).on("n1").
			invoke(2, "final-read", "", nil).on("n3").ok(2, "final-read", "", []int{}).on("n3").build(),
			"lost", []string{"final read through n3", "7 (seen by the read by process 1 on n1"}},
		"element never added": {finalReads(newHist().
			op(0, history.OK, "add", "", 1, 1), 1, []int{1, 99}, "n1").build(),
			"unexpected", []string{"no client ever added: 99"}},
		"element whose add failed": {finalReads(newHist().
			op(0, history.Fail, "add", "", 4, 4), 1, []int{4}, "n2").build(),
			"unexpected", []string{"whose add failed", ": 4"}},
		"element twice in one read": {finalReads(newHist().
			op(0, history.OK, "add", "", 5, 5), 1, []int{5, 5}, "n1").build(),
			"duplicated", []string{"5 (2 times)", "final read through n1"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, history.Validate(c.h))
			r := NewSet().Check(context.Background(), c.h)
			require.Equal(t, Invalid, r.Verdict)
			require.Equal(t, []string{c.kind}, kindsOf(r), "%+v", r.Anomalies)
			for _, w := range c.want {
				require.Contains(t, r.Anomalies[0].Explanation, w)
			}
			require.NotEmpty(t, r.Anomalies[0].Ops)
		})
	}
}

func TestSetReportsEveryNodeThatLostAnElement(t *testing.T) {
	b := newHist().op(0, history.OK, "add", "", 1, 1).op(0, history.OK, "add", "", 2, 2)
	h := finalReads(b, 1, []int{1}, "n1", "n2").build()
	r := NewSet().Check(context.Background(), h)
	require.Equal(t, []string{"lost", "lost"}, kindsOf(r))
	require.Contains(t, r.Anomalies[0].Explanation, "n1")
	require.Contains(t, r.Anomalies[1].Explanation, "n2")
}

func TestSetIsUnknownWithoutAnOkFinalRead(t *testing.T) {
	cases := map[string]struct {
		h    []history.Event
		want string
	}{
		"no final read": {newHist().op(0, history.OK, "add", "", 1, 1).
			op(0, history.OK, "read", "", nil, []int{1}).build(), "no ok final-read"},
		"final read timed out": {newHist().op(0, history.OK, "add", "", 1, 1).
			op(1, history.Info, "final-read", "", nil, nil).build(), "no ok final-read"},
		"malformed read": {newHist().op(0, history.OK, "final-read", "", nil, map[string]int{"a": 1}).build(), "want a list of integers"},
		"malformed add":  {newHist().op(0, history.OK, "add", "", "x", "x").build(), "add of x"},
		"repeated add": {newHist().op(0, history.OK, "add", "", 1, 1).
			op(0, history.OK, "add", "", 1, 1).build(), "adds must be unique"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r := NewSet().Check(context.Background(), c.h)
			require.Equal(t, Unknown, r.Verdict)
			require.Contains(t, r.Reason, c.want)
		})
	}
}
