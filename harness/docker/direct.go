package docker

import (
	"context"

	"github.com/canonical/go-dqlite/v2/client"

	"github.com/dqtest/dqtest/node/dqclient"
)

// The direct client mode (mode.ClientDirect): a node's client is a
// dqclient.Client in this process whose store holds only that node's dqlite
// address, so the leader is the one that node names, and statements go
// straight to the leader's dqlite port over the run's network (or, in ports
// mode, through the leader's published dqlite port). It is the
// client the node itself runs in the default mode (package node runs its
// statements through dqclient), so errors are classified the same way; only
// the control API hop is gone.

// directClient returns the node's direct client, made on first use and
// closed by Down.
func (c *Cluster) directClient(n *node) *dqclient.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.direct[n.name]; cl != nil {
		return cl
	}
	store := client.NewInmemNodeStore()
	_ = store.Set(context.Background(), []client.NodeInfo{{Address: n.raftAddr()}}) // an in-memory store does not fail
	// Leaders are named by their addresses on the run's network; Dial
	// translates them (reach.go).
	cl := dqclient.New(store, dqclient.Options{Log: c.log.With("node", n.name, "client", "direct"), Dial: c.dialDqlite})
	if c.direct == nil {
		c.direct = map[string]*dqclient.Client{}
	}
	c.direct[n.name] = cl
	return cl
}

// closeDirect closes every direct client.
func (c *Cluster) closeDirect() {
	c.mu.Lock()
	clients := c.direct
	c.direct = nil
	c.mu.Unlock()
	for _, cl := range clients {
		cl.Close()
	}
}
