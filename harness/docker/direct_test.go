package docker

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dqtest/dqtest/harness"
	"github.com/dqtest/dqtest/mode"
	"github.com/dqtest/dqtest/workloads"
)

// TestDirectClients runs the direct client mode against a real cluster:
// statements go from this process to the leader's dqlite port, not through
// the nodes' control APIs.
func TestDirectClients(t *testing.T) {
	requireDockerAndImage(t)
	c := upSpec(t, harness.ClusterSpec{RunID: testRunID("direct"), Nodes: 3, ClientMode: mode.ClientDirect})
	require.Equal(t, mode.ClientDirect, c.Client("n1").(stmtClient).path)
	_, err := c.Client("n1").Exec(ctxFor(t, 10*time.Second), "CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
	require.NoError(t, err)

	t.Run("a row written through n1 is read back through every node", func(t *testing.T) {
		writeAndReadEverywhere(t, c, "direct", 5)
	})

	t.Run("statements do not touch the control API", func(t *testing.T) {
		// With n2's control port closed to everyone, a node-mode client of
		// n2 could not run anything; the direct one still does.
		rule := fmt.Sprintf("-p tcp --dport %d -j DROP", controlPort)
		code, out := execIn(t, c, "n2", "iptables -I INPUT "+rule)
		require.Equal(t, 0, code, out)
		defer execIn(t, c, "n2", "iptables -D INPUT "+rule)
		_, err := c.ctl.client(c.byName["n2"]).Status(ctxFor(t, time.Second))
		require.Error(t, err, "n2's control API is cut off")
		write(t, c, "n2", "no-control-api", 6)
		v, err := readValue(ctxFor(t, 10*time.Second), c.Client("n2"), "no-control-api")
		require.NoError(t, err)
		require.Equal(t, int64(6), v)
	})

	t.Run("SQLite's refusal is definite, and so is an unknown node", func(t *testing.T) {
		_, err := c.Client("n3").Exec(ctxFor(t, 10*time.Second), "INSERT INTO no_such_table VALUES (1)")
		require.ErrorContains(t, err, "no such table")
		require.True(t, workloads.IsDefinite(err), "%v", err)
		_, err = c.Client("n9").Query(ctxFor(t, time.Second), "SELECT 1")
		require.True(t, workloads.IsDefinite(err))
	})

	t.Run("after the leader is SIGKILLed the clients find the new one", func(t *testing.T) {
		for _, n := range c.Nodes() {
			_, err := readValue(ctxFor(t, 10*time.Second), c.Client(n), "direct") // every pool holds a connection to the leader
			require.NoError(t, err)
		}
		victim, err := c.Leader(ctxFor(t, 10*time.Second))
		require.NoError(t, err)
		require.NoError(t, c.Kill(ctxFor(t, 10*time.Second), victim))
		for _, n := range otherThan(c, victim) {
			eventually(t, 30*time.Second, "a write through "+n+" after the leader died", func(ctx context.Context) error {
				_, err := c.Client(n).Exec(ctx, "INSERT INTO kv(k, v) VALUES(?, 1) ON CONFLICT(k) DO NOTHING", "after-kill-"+n)
				if err != nil && !workloads.IsDefinite(err) {
					t.Logf("through %s: outcome unknown (a statement on a connection to the dead leader): %v", n, err)
				}
				return err
			})
		}
		require.NoError(t, c.Restart(ctxFor(t, 30*time.Second), victim))
		eventually(t, 30*time.Second, "a read through the restarted "+victim, func(ctx context.Context) error {
			_, err := readValue(ctx, c.Client(victim), "after-kill-"+otherThan(c, victim)[0])
			return err
		})
	})
}
