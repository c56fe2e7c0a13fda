package checker

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/history"
)

func TestForWorkloadKnowsEveryWorkload(t *testing.T) {
	for _, name := range []string{"register", "bank", "set", "append"} {
		c, err := ForWorkload(name)
		require.NoError(t, err)
		require.Equal(t, name, c.Name())
	}
	_, err := ForWorkload("queue")
	require.ErrorContains(t, err, `no checker for workload "queue" (known: append, bank, register, set)`)
}

func TestInferWorkloadFromTheOperations(t *testing.T) {
	cases := map[string][]history.Event{
		"register": newHist().op(0, history.OK, "read", "k", nil, nil).op(0, history.OK, "cas", "k", []int{1, 2}, []int{1, 2}).build(),
		"bank":     newHist().op(0, history.OK, "read", "", nil, map[string]int{"0": 1}).build(),
		"set":      newHist().op(0, history.OK, "read", "", nil, []int{1}).op(0, history.Info, "add", "", 2, 2).build(),
		"append":   newHist().op(0, history.OK, "txn", "", []any{[]any{"r", "x", nil}}, []any{[]any{"r", "x", []int{}}}).build(),
	}
	for want, h := range cases {
		t.Run(want, func(t *testing.T) {
			got, err := InferWorkload(h)
			require.NoError(t, err)
			require.Equal(t, want, got)
		})
	}
}

func TestInferWorkloadRefusesToGuess(t *testing.T) {
	_, err := InferWorkload(newHist().op(0, history.OK, "read", "", nil, nil).nemesis("start-kill").build())
	require.ErrorContains(t, err, "no client operation has an f that names one")
	_, err = InferWorkload(newHist().op(0, history.OK, "write", "k", 1, 1).op(1, history.OK, "add", "", 1, 1).build())
	require.ErrorContains(t, err, "register (write) and set (add)")
}
