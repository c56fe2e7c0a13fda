package sim

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/nemesis"
	"github.com/dqtest/dqtest/workloads"
)

// defaultishConfig is scenarios/default.yaml's run (3 nodes, 6 clients at
// 60 ops/s for 40 s, the network split in halves and a node killed on a
// fixed 10 s / 5 s schedule) with workload w.
func defaultishConfig(t testing.TB, w string, seed int64, bug string) Config {
	t.Helper()
	wl, err := workloads.New(w, workloads.Params{})
	require.NoError(t, err)
	nodes := []string{"n1", "n2", "n3"}
	spec := nemesis.Spec{Faults: []string{"partition-halves", "kill"}, Schedule: nemesis.Schedule{Kind: "fixed", Interval: 10 * time.Second, Duration: 5 * time.Second}}
	plan, err := nemesis.Plan(spec, nodes, 40*time.Second, seed)
	require.NoError(t, err)
	return Config{
		Nodes: 3, Workload: wl, Concurrency: 6, Rate: 60, Duration: 40 * time.Second,
		Seed: seed, Plan: plan, Applier: nemesis.NewApplier(), Bug: bug,
	}
}

func statesOf(t testing.TB, sum Summary) []converge.State {
	t.Helper()
	var states []converge.State
	for _, n := range sum.Nodes {
		require.NotNil(t, n.State, "node %s has a state", n.Name)
		require.Equal(t, n.Name, n.State.Node)
		states = append(states, *n.State)
	}
	require.Equal(t, states, sum.States())
	return states
}

// The bug-free simulator always converges; the diverge bug is caught by
// the convergence check in at least 19 of 20 seeds, on every workload.
func TestConvergenceCatchesDivergeBug(t *testing.T) {
	if testing.Short() {
		t.Skip("160 simulated runs")
	}
	const seeds = 20
	for _, w := range []string{"register", "bank", "set", "append"} {
		t.Run(w, func(t *testing.T) {
			caught := 0
			for seed := int64(1); seed <= seeds; seed++ {
				sum, err := Run(context.Background(), defaultishConfig(t, w, seed, ""))
				require.NoError(t, err)
				states := statesOf(t, sum)
				res := converge.Compare(states)
				require.Equal(t, checker.Valid, res.Verdict, "bug-free, seed %d: %s %v", seed, res.Reason, res.Anomalies)
				rows := 0
				for _, tab := range states[0].Tables {
					rows += len(tab)
				}
				require.Positive(t, rows, "seed %d: the run wrote data", seed)

				sum, err = Run(context.Background(), defaultishConfig(t, w, seed, BugDiverge))
				require.NoError(t, err)
				res = converge.Compare(statesOf(t, sum))
				require.NotEqual(t, checker.Unknown, res.Verdict, "seed %d: %s", seed, res.Reason)
				if res.Verdict == checker.Invalid {
					caught++
					require.Equal(t, converge.KindDiverged, res.Anomalies[0].Kind)
					// The last node is the one that skips.
					require.Contains(t, res.Anomalies[0].Explanation, "node n3 (")
					require.Contains(t, res.Anomalies[0].Explanation, "only on n1,n2: ")
				}
			}
			t.Logf("%s: diverge caught by the convergence check in %d/%d seeds", w, caught, seeds)
			require.GreaterOrEqual(t, caught, 19)
		})
	}
}

// A node that is down at the end cannot be read: the state says why, and
// the check is unknown, not valid.
func TestConvergenceUnreadableNode(t *testing.T) {
	c, err := newCluster(context.Background(), defaultishConfig(t, "set", 3, ""))
	require.NoError(t, err)
	c.run()
	require.NoError(t, c.err)
	c.settle()
	require.NoError(t, c.Kill(context.Background(), "n2"))
	states := c.nodeStates()
	require.Len(t, states, 3)
	require.Equal(t, "n2", states[1].Node)
	require.Equal(t, "the node's process is not running", states[1].Err)
	require.Nil(t, states[1].Tables)
	res := converge.Compare(states)
	require.Equal(t, checker.Unknown, res.Verdict)
	require.Contains(t, res.Reason, "n2: the node's process is not running")

	// A run whose workload says nothing about its state has no states.
	c, err = newCluster(context.Background(), defaultishConfig(t, "set", 3, ""))
	require.NoError(t, err)
	c.cfg.Workload = noStateWorkload{c.cfg.Workload}
	require.Nil(t, c.nodeStates())
	require.Nil(t, Summary{Nodes: []NodeReport{{Name: "n1"}}}.States())
}

type noStateWorkload struct{ workloads.Workload }

// The simulator renders rows as the SQL state queries do on SQLite (see
// workloads' TestStateRowsAgainstSQLite for the same rows read from SQL).
func TestSimStateRows(t *testing.T) {
	s := newStore([]int64{5, 5})
	s.apply([]effect{
		{kind: putReg, key: "k2", v: 3}, {kind: putReg, key: "k1", v: 4},
		{kind: appendList, key: "k1", v: 5}, {kind: appendList, key: "k2", v: 6},
		{kind: addSet, v: 9}, {kind: addSet, v: 9},
	})
	want := map[string][]string{
		"register": {`{"k":"k1","v":4}`, `{"k":"k2","v":3}`},
		"append":   {`{"id":1,"k":"k1","v":5}`, `{"id":2,"k":"k2","v":6}`},
		"bank":     {`{"id":0,"balance":5}`, `{"id":1,"balance":5}`},
		"set":      {`{"v":9}`, `{"v":9}`},
	}
	for w, rows := range want {
		wl, err := workloads.New(w, workloads.Params{})
		require.NoError(t, err)
		got, err := s.rows(workloads.StateQueries(wl)[0])
		require.NoError(t, err)
		require.Equal(t, rows, got, w)
	}
	_, err := s.rows(workloads.StateQuery{Table: "nope", Columns: []string{"v"}})
	require.ErrorContains(t, err, `no table "nope"`)
	_, err = s.rows(workloads.StateQuery{Table: "sets", Columns: []string{"w"}})
	require.ErrorContains(t, err, `no column "w"`)
}

// changes is what makes the diverge bug's skipped write visible.
func TestStoreChanges(t *testing.T) {
	s := newStore([]int64{5})
	require.True(t, s.changesAfter(nil, []effect{{kind: putReg, key: "k", v: 0}}), "a new row")
	s.apply([]effect{{kind: putReg, key: "k", v: 0}})
	require.False(t, s.changesAfter(nil, []effect{{kind: putReg, key: "k", v: 0}}), "the same value")
	require.True(t, s.changesAfter(nil, []effect{{kind: putReg, key: "k", v: 1}}))
	require.False(t, s.changesAfter(nil, []effect{{kind: putBalance, acct: 0, v: 5}}))
	require.True(t, s.changesAfter(nil, []effect{{kind: putBalance, acct: 0, v: 4}}))
	require.True(t, s.changesAfter(nil, []effect{{kind: addSet, v: 1}}))
	require.True(t, s.changesAfter(nil, []effect{{kind: appendList, key: "k", v: 1}}))
	require.False(t, s.changesAfter(nil, nil))
	// After a held write: the value it writes changes nothing more.
	held := []effect{{kind: putReg, key: "k", v: 7}, {kind: putBalance, acct: 0, v: 1}}
	require.False(t, s.changesAfter(held, []effect{{kind: putReg, key: "k", v: 7}}))
	require.True(t, s.changesAfter(held, []effect{{kind: putReg, key: "k", v: 0}}))
	require.False(t, s.changesAfter(held, []effect{{kind: putBalance, acct: 0, v: 1}}))
	require.True(t, s.changesAfter(held, []effect{{kind: putBalance, acct: 0, v: 5}}))
}
