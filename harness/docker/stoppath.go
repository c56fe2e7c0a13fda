package docker

import (
	"context"
	"slices"

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
