package docker

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/dqtest/dqtest/node/control"
)

// What the stop-path faults need from the backend (nemesis/shutdown.go).

// NoStartFlag is the `dqtest node` flag of a node that never starts: it
// takes no part in forming the cluster, and the never-started faults stop
// and hand it over (canonical/dqlite#848).
const NoStartFlag = "--no-start"

// heldTable is where HoldTxn's transactions write: a table of their own, so
// that the rollback a stop makes of them touches no workload's data.
const heldTable = "dqtest_held"

// HoldTxn implements nemesis.TxnHolder: through node's control API (and its
// connection to the leader) it begins a transaction, writes a row and leaves
// the transaction open, holding the leader's write lock, until the node
// stops. Aimed at the leader itself, the leader's own stop meets it.
func (c *Cluster) HoldTxn(ctx context.Context, name string) error {
	return c.nodeOp(ctx, "hold a transaction through", name, func(ctx context.Context, n *node) error {
		api := c.ctl.client(n)
		if _, err := api.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+heldTable+" (id INTEGER PRIMARY KEY AUTOINCREMENT, node TEXT)"); err != nil {
			return err
		}
		_, err := api.HoldTxn(ctx, []control.Statement{{SQL: "INSERT INTO " + heldTable + " (node) VALUES (?)", Args: []any{name}}})
		return err
	})
}

// neverStarts reports whether the node runs with NoStartFlag.
func (c *Cluster) neverStarts(name string) bool {
	return slices.Contains(c.spec.NodeArgs[name], NoStartFlag)
}

// forming keeps the statuses of the nodes that form the cluster (not the
// never-started ones), and says how many they are.
func (p controlPlane) forming(sts []nodeStatus) ([]nodeStatus, int) {
	var out []nodeStatus
	for i, n := range p.c.nodes {
		if !p.c.neverStarts(n.name) {
			out = append(out, sts[i])
		}
	}
	return out, len(out)
}

// OpenConnections lists the established TCP connections of node's dqlite
// port (its server side), as `ss` inside the container sees them: the
// peers' addresses. After dqlite_node_stop has returned there should be
// none; canonical/dqlite PR 761 fixed connections left open, unresponsive,
// after a stop while a barrier was in progress.
func (c *Cluster) OpenConnections(ctx context.Context, name string) ([]string, error) {
	var peers []string
	err := c.nodeOp(ctx, "list open connections of", name, func(ctx context.Context, n *node) error {
		out, err := execOutput(ctx, n.ctr, []string{"ss", "-Htn", "state", "established", fmt.Sprintf("( sport = :%d )", raftPort)})
		if err != nil {
			return err
		}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			// Recv-Q Send-Q Local Peer (state is left out with a filter).
			if f := strings.Fields(line); len(f) >= 4 {
				peers = append(peers, f[3])
			}
		}
		return nil
	})
	return peers, err
}
