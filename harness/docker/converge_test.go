package docker

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/checker"
	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/workloads"
)

// Every workload's data written through the cluster, then each node's own
// copy read by moving leadership to it: the copies are identical, each read
// left the node leading, and a killed node is unreadable (unknown, not
// valid).
func TestNodeStateReadsEachNodesOwnCopy(t *testing.T) {
	requireDockerAndImage(t)
	c := up(t, "converge", 3, nil)
	ctx := ctxFor(t, 4*time.Minute)

	var queries []workloads.StateQuery
	for _, name := range workloads.Names() {
		w, err := workloads.New(name, workloads.Params{})
		require.NoError(t, err)
		require.NoError(t, w.Setup(ctx, c.Client("n1")), name)
		ok := 0
		for slot := range 3 {
			g := w.Generator(5, slot)
			for range 10 {
				op, more := g.Next()
				if !more {
					break
				}
				// Through every node in turn: the control API forwards to
				// the leader.
				done := w.Invoke(ctx, c.Client(c.Nodes()[slot]), op)
				if done.Type == history.OK {
					ok++
				}
			}
		}
		require.Positive(t, ok, name)
		queries = append(queries, workloads.StateQueries(w)...)
	}

	// Some bulk, for a timing closer to a real run's tables (thousands of
	// rows): 5000 more rows in the set table, in one statement.
	_, err := c.Client("n2").Exec(ctx, `INSERT INTO sets (v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5000) SELECT x FROM c`)
	require.NoError(t, err)

	var states []converge.State
	for _, n := range c.Nodes() {
		start := time.Now()
		st := c.NodeState(ctx, n, queries)
		took := time.Since(start)
		require.Empty(t, st.Err, n)
		require.Equal(t, n, st.Node)
		rows := 0
		for _, q := range queries {
			require.Contains(t, st.Tables, q.Table)
			rows += len(st.Tables[q.Table])
		}
		require.Greater(t, rows, 5000)
		leader, err := c.Leader(ctx)
		require.NoError(t, err)
		require.Equal(t, n, leader, "reading %s's own copy made it the leader", n)
		t.Logf("NodeState(%s): %d rows in %d tables in %v", n, rows, len(queries), took)
		states = append(states, st)
	}
	res := converge.Compare(states)
	require.Equal(t, checker.Valid, res.Verdict, "%s %v", res.Reason, res.Anomalies)

	// Reading the node that already leads moves nothing.
	start := time.Now()
	again := c.NodeState(ctx, "n3", queries)
	require.Empty(t, again.Err)
	require.Equal(t, states[2].Tables, again.Tables)
	t.Logf("NodeState(n3) again, already the leader: %v", time.Since(start))

	// A killed node: its state says why, at once, and the check is unknown.
	require.NoError(t, c.Kill(ctx, "n2"))
	start = time.Now()
	down := c.NodeState(ctx, "n2", queries)
	require.Nil(t, down.Tables)
	require.Contains(t, down.Err, "not running")
	require.Less(t, time.Since(start), 5*time.Second)
	res = converge.Compare([]converge.State{states[0], down, states[2]})
	require.Equal(t, checker.Unknown, res.Verdict)
	require.Contains(t, res.Reason, "n2: ")

	// An unknown node and no queries are errors in the state, not panics.
	require.Contains(t, c.NodeState(ctx, "n9", queries).Err, `no node "n9"`)
	require.Contains(t, c.NodeState(ctx, "n1", nil).Err, "no state queries")
}

// A node that is up but can never lead (paused here: it cannot answer)
// gives up at the caller's deadline with the reason.
func TestNodeStatePausedNodeIsUnreadable(t *testing.T) {
	requireDockerAndImage(t)
	c := up(t, "converge-pause", 3, nil)
	ctx := ctxFor(t, 2*time.Minute)
	w, err := workloads.New("set", workloads.Params{})
	require.NoError(t, err)
	require.NoError(t, w.Setup(ctx, c.Client("n1")))
	require.NoError(t, c.Pause(ctx, "n3"))
	defer func() { _ = c.Resume(context.Background(), "n3") }()
	short, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st := c.NodeState(short, "n3", workloads.StateQueries(w))
	require.Nil(t, st.Tables)
	require.Contains(t, st.Err, "paused")
}

// BenchmarkNodeState is the time to read one node's own copy of 5000 rows
// (the set table), leadership moving to it each time (the nodes are read in
// turn, so every read but the very first is a transfer). Run with
// -benchtime=30x -count=5 and take the median.
func BenchmarkNodeState(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := Available(ctx, ""); err != nil {
		b.Skip(err)
	}
	c, err := (&Backend{}).Start(ctx, harness.ClusterSpec{RunID: testRunID("bench-converge"), Nodes: 3})
	require.NoError(b, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		require.NoError(b, c.Down(ctx))
	}()
	w, err := workloads.New("set", workloads.Params{})
	require.NoError(b, err)
	require.NoError(b, w.Setup(ctx, c.Client("n1")))
	_, err = c.Client("n1").Exec(ctx, `INSERT INTO sets (v) WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 5000) SELECT x FROM c`)
	require.NoError(b, err)
	queries := workloads.StateQueries(w)
	nodes := c.Nodes()
	i := 0
	for b.Loop() {
		st := c.NodeState(ctx, nodes[i%len(nodes)], queries)
		require.Empty(b, st.Err)
		require.Len(b, st.Tables["sets"], 5000)
		i++
	}
}
