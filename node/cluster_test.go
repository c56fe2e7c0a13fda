package node_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/node"
)

// startCluster starts an n-node cluster in this process, node i on
// 127.0.0.(20+i): node 1 forms it, the others join through the list.
func startCluster(t *testing.T, size int) []*node.Node {
	t.Helper()
	addrs := make([]string, size)
	for i := range addrs {
		addrs[i] = freeAddr(t, fmt.Sprintf("127.0.0.%d", 21+i))
	}
	nodes := make([]*node.Node, size)
	for i := range nodes {
		n, err := node.New(addrs[i], t.TempDir(), node.Options{
			ID: uint64(i + 1), Cluster: addrs, Logger: testLogger(t).With("n", i+1),
		})
		require.NoError(t, err)
		t.Cleanup(func() { _ = n.Close() })
		require.NoError(t, n.Start(ctxT(t, 30*time.Second)), "node %d", i+1)
		nodes[i] = n
	}
	return nodes
}

// leaderIndex waits until every running node names the same leader and
// returns its index.
func leaderIndex(t *testing.T, nodes []*node.Node) int {
	t.Helper()
	var last string
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		leader, agreed := uint64(0), true
		for _, n := range nodes {
			if !n.IsRunning() {
				continue
			}
			st := n.Status(ctxT(t, 2*time.Second))
			last = fmt.Sprintf("%s sees leader %d (%s)", n.Address(), st.LeaderID, st.ClusterError)
			if st.LeaderID == 0 || (leader != 0 && st.LeaderID != leader) {
				agreed = false
				break
			}
			leader = st.LeaderID
		}
		if agreed && leader != 0 {
			for i, n := range nodes {
				if n.ID() == leader {
					return i
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no agreed leader: %s", last)
	return -1
}

// makeLeader transfers leadership to nodes[i] and waits until all agree.
func makeLeader(t *testing.T, nodes []*node.Node, i int) {
	t.Helper()
	if leaderIndex(t, nodes) == i {
		return
	}
	require.NoError(t, nodes[i].Transfer(ctxT(t, 10*time.Second), nodes[i].ID()))
	require.Equal(t, i, leaderIndex(t, nodes))
}

func countRows(t *testing.T, n *node.Node) int64 {
	t.Helper()
	rows, err := n.Query(ctxT(t, 10*time.Second), "SELECT count(*) AS c FROM kv")
	require.NoError(t, err)
	return rows[0]["c"].(int64)
}

func TestThreeNodeCluster(t *testing.T) {
	nodes := startCluster(t, 3)
	ctx := ctxT(t, 2*time.Minute)

	t.Run("forms with three voters that agree on the leader", func(t *testing.T) {
		require.Equal(t, 0, leaderIndex(t, nodes), "node 1 formed the cluster")
		for _, n := range nodes {
			st := n.Status(ctx)
			require.Empty(t, st.ClusterError)
			require.Equal(t, node.RoleVoter, st.Role)
			require.Len(t, st.Members, 3)
		}
	})

	t.Run("replication is visible from every node", func(t *testing.T) {
		_, _, err := nodes[1].Exec(ctx, "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)")
		require.NoError(t, err)
		_, _, err = nodes[2].Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "a", 1)
		require.NoError(t, err, "a write through a follower goes to the leader")
		// dqlite serves every statement on the leader, so each node must
		// lead in turn for its own copy to be the one read.
		for i, n := range nodes {
			makeLeader(t, nodes, i)
			rows, err := n.Query(ctx, "SELECT v FROM kv WHERE k = ?", "a")
			require.NoError(t, err)
			require.Equal(t, []map[string]any{{"v": int64(1)}}, rows, "node %d's copy", i+1)
		}
	})

	t.Run("handover moves the leader", func(t *testing.T) {
		before := leaderIndex(t, nodes)
		require.NoError(t, nodes[before].Handover(ctx))
		after := leaderIndex(t, nodes)
		require.NotEqual(t, before, after)
		// Pooled connections still point at the old leader: a statement
		// on one either succeeds or fails definitely, never silently.
		for _, n := range nodes {
			_, _, err := n.Exec(ctx, "INSERT INTO kv VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = v + 1", "h", 1)
			if err != nil {
				require.True(t, definite(err), "after a handover: %v", err)
			}
		}
	})

	t.Run("a stopped node starts again and catches up with its data", func(t *testing.T) {
		f := (leaderIndex(t, nodes) + 1) % 3
		require.NoError(t, nodes[f].Stop(ctx))
		require.NoError(t, nodes[f].Stop(ctx), "second stop is a no-op")
		_, _, err := nodes[(f+1)%3].Exec(ctx, "INSERT INTO kv VALUES (?, ?)", "b", 2)
		require.NoError(t, err, "two of three voters still commit")
		require.NoError(t, nodes[f].Start(ctx))
		makeLeader(t, nodes, f)
		require.Equal(t, int64(3), countRows(t, nodes[f]), "rows a, h and b, the last written while it was stopped")
	})

	// A stopped leader's sockets reset (writing fails: not sent) or close
	// (peerClosed): either way the statement runs on a fresh connection
	// instead of ending indeterminate.
	t.Run("after the leader stops, pooled connections to it are not used", func(t *testing.T) {
		for _, n := range nodes {
			_, err := n.Query(ctx, "SELECT count(*) FROM kv") // every pool holds a connection to the leader
			require.NoError(t, err)
		}
		l := leaderIndex(t, nodes)
		require.NoError(t, nodes[l].Stop(ctx))
		leaderIndex(t, nodes) // a new one among the other two
		for i, n := range nodes {
			if i == l {
				continue
			}
			_, _, err := n.Exec(ctx, "INSERT INTO kv VALUES (?, ?)", fmt.Sprintf("s%d", i), i)
			require.NoError(t, err, "node %d: its pooled connection's peer had closed it", i+1)
		}
		require.NoError(t, nodes[l].Start(ctx))
		leaderIndex(t, nodes)
	})

	t.Run("a member can be removed and added back", func(t *testing.T) {
		l := leaderIndex(t, nodes)
		f := (l + 1) % 3
		require.NoError(t, nodes[l].RemoveMember(ctx, nodes[f].ID()))
		require.Len(t, nodes[l].Status(ctx).Members, 2)
		require.NoError(t, nodes[l].AddMember(ctx, node.Member{ID: nodes[f].ID(), Address: nodes[f].Address(), Role: node.RoleVoter}))
		st := nodes[l].Status(ctx)
		require.Len(t, st.Members, 3)
		for _, m := range st.Members {
			require.Equal(t, node.RoleVoter, m.Role, "member %d", m.ID)
		}
	})

	t.Run("a write in flight when the leader dies is indeterminate", func(t *testing.T) {
		l := leaderIndex(t, nodes)
		for i, n := range nodes {
			if i != l {
				require.NoError(t, n.Stop(ctx))
			}
		}
		// Without a quorum the leader cannot commit: the write waits.
		type outcome struct{ err error }
		done := make(chan outcome, 1)
		go func() {
			wctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, _, err := nodes[l].Exec(wctx, "INSERT INTO kv VALUES (?, ?)", "lost?", 9)
			done <- outcome{err}
		}()
		select {
		case o := <-done:
			t.Fatalf("the write returned without a quorum: %v", o.err)
		case <-time.After(500 * time.Millisecond):
		}
		require.NoError(t, nodes[l].Stop(ctx))
		o := <-done
		require.Error(t, o.err)
		var ind *node.IndeterminateError
		require.ErrorAs(t, o.err, &ind, "a write whose leader died after it was sent")
		require.False(t, definite(o.err), "must be recorded as info, never fail")
		t.Logf("the in-flight write: %v", o.err)

		// Either outcome is legal; the history must just not claim one.
		for _, n := range nodes {
			go func() { _ = n.Start(ctx) }()
		}
		require.Eventually(t, func() bool {
			for _, n := range nodes {
				if !n.IsRunning() {
					return false
				}
			}
			return true
		}, 30*time.Second, 50*time.Millisecond)
		rows, err := nodes[l].Query(ctx, "SELECT v FROM kv WHERE k = ?", "lost?")
		require.NoError(t, err)
		t.Logf("after restart the indeterminate write is %s", map[bool]string{true: "present", false: "absent"}[len(rows) == 1])
	})
}

func TestAJoinerWithNoReachableClusterFailsToStartWithItsCause(t *testing.T) {
	n, err := node.New(freeAddr(t, "127.0.0.31"), t.TempDir(), node.Options{
		ID: 2, Cluster: []string{freeAddr(t, "127.0.0.32")}, Logger: testLogger(t),
	})
	require.NoError(t, err)
	defer n.Close()
	err = n.Start(ctxT(t, 2*time.Second))
	var se *node.StartError
	require.ErrorAs(t, err, &se)
	require.ErrorContains(t, err, "join through")
	require.False(t, n.IsRunning())
}
