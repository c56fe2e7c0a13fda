package workloads

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
)

// The workloads' one registry: every workload has a bare checker of its
// own name, its built checker agrees, and the checker knows its operations.
func TestEveryWorkloadHasItsCheckerAndItsOperations(t *testing.T) {
	require.Equal(t, []string{"append", "bank", "register", "set"}, Names())
	for _, name := range Names() {
		bare, err := BareChecker(name)
		require.NoError(t, err)
		require.Equal(t, name, bare.Name())
		w, err := New(name, Params{})
		require.NoError(t, err)
		require.Equal(t, name, w.Checker().Name())
		require.NotEmpty(t, checker.KnownFs(name), "the %s checker knows its operations", name)
	}
	_, err := BareChecker("queue")
	require.ErrorContains(t, err, `no checker for workload "queue" (known: append, bank, register, set)`)
}
