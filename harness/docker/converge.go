package docker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/workloads"
)

// nodeStateTimeout bounds NodeState when ctx has no deadline.
const nodeStateTimeout = 30 * time.Second

// NodeState reads node's own copy of the workload's data (queries, from
// workloads.StateQueries) for the convergence check (package converge).
//
// dqlite serves statements only on the leader, and a node's control API
// runs them on the leader its own dqlite server names. So NodeState moves
// leadership to node (a Raft transfer, which first brings the node's log up
// to the leader's; as the new leader it applies every committed entry
// before it answers), confirms from the node's own status that it leads,
// runs the queries through it, and confirms afterwards that it still leads:
// a read that leadership left in between is done again. A node that cannot
// be read before ctx's deadline (nodeStateTimeout without one) — its
// container is not running or is paused, or it never leads through a whole
// read — gives a State whose Err says why, with the last error seen.
func (c *Cluster) NodeState(ctx context.Context, node string, queries []workloads.StateQuery) converge.State {
	fail := func(format string, args ...any) converge.State {
		return converge.State{Node: node, Err: fmt.Sprintf(format, args...)}
	}
	n, err := c.node(node)
	if err != nil {
		return fail("%v", err)
	}
	if len(queries) == 0 {
		return fail("no state queries: the workload does not say how to read its state")
	}
	ctx, cancel := withDefaultTimeout(ctx, nodeStateTimeout)
	defer cancel()
	start := time.Now()
	id := c.idOf(n)
	if why, current := c.notAVoter(ctx, n); why != "" {
		return converge.State{Node: node, Skip: why}
	} else if current != 0 {
		// The configuration's ID for the node's address: a node that
		// joined again after a crash may hold another than the one
		// recorded when the cluster formed.
		id = current
	}
	var last error
	for attempt := 1; ; attempt++ {
		if s, err := c.inspect(ctx, n); err == nil && (!s.running || s.paused) {
			what := "not running"
			if s.paused {
				what = "paused"
			}
			return fail("the node's container is %s", what)
		}
		state, err := c.readOwnState(ctx, n, id, queries)
		if err == nil {
			c.log.Debug("node state read", slog.String("node", node), slog.Int("attempt", attempt), slog.Duration("took", time.Since(start)))
			return state
		}
		last = err
		if strings.Contains(err.Error(), "server ID is not valid") && attempt >= 3 {
			// Raft's RAFT_BADID: the leader's configuration has no voter
			// with this ID, so the node holds no replica of its own (it
			// never joined as a voter, e.g. one started with --no-start
			// that crashed before joining). Asked three times, 200 ms
			// apart, so a configuration change in flight settles.
			return converge.State{Node: node, Skip: "the leader refuses to transfer leadership to it: not a voter in its configuration (" + err.Error() + ")"}
		}
		select {
		case <-ctx.Done():
			return fail("could not read the node's own copy within %v (%d attempts): %v", time.Since(start).Round(time.Millisecond), attempt, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// readOwnState is one attempt of NodeState: make n lead, read, confirm.
func (c *Cluster) readOwnState(ctx context.Context, n *node, id uint64, queries []workloads.StateQuery) (converge.State, error) {
	api := c.ctl.client(n)
	status := func(what string) (uint64, string, error) {
		call, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		st, err := api.Status(call)
		if err != nil {
			return 0, "", fmt.Errorf("status%s: %w", what, err)
		}
		if !st.Running {
			return 0, "", fmt.Errorf("dqlite is not running on the node%s", what)
		}
		return st.LeaderID, st.LeaderAddress, nil
	}
	leader, addr, err := status("")
	if err != nil {
		return converge.State{}, err
	}
	if leader != id {
		if err := c.Transfer(ctx, n.name); err != nil {
			return converge.State{}, fmt.Errorf("the leader is %d (%s): %w", leader, addr, err)
		}
		// The transfer returns when the node won its election; its own
		// status may lag a moment.
		if err := c.awaitLeads(ctx, n, id, 5*time.Second); err != nil {
			return converge.State{}, err
		}
	}
	state := workloads.ReadState(ctx, viaNode(n.name, api), n.name, queries)
	if state.Err != "" {
		return converge.State{}, errors.New(state.Err)
	}
	if leader, addr, err = status(" after the read"); err != nil {
		return converge.State{}, err
	}
	if leader != id {
		return converge.State{}, fmt.Errorf("leadership moved to %d (%s) during the read", leader, addr)
	}
	return state, nil
}

// awaitLeads polls n's own status until it names n (id) as leader, for at
// most d.
func (c *Cluster) awaitLeads(ctx context.Context, n *node, id uint64, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	api := c.ctl.client(n)
	var last string
	for {
		call, cancelCall := context.WithTimeout(ctx, time.Second)
		st, err := api.Status(call)
		cancelCall()
		switch {
		case err != nil:
			last = err.Error()
		case st.LeaderID == id:
			return nil
		default:
			last = fmt.Sprintf("it names %d (%s) as leader", st.LeaderID, st.LeaderAddress)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the node does not lead after the transfer: %s", last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// notAVoter says why n holds no replica of its own to compare, when the
// cluster's configuration (as the leader reports it) has no voter at n's
// address: it was removed, is a spare or standby, or never joined (a node
// started with --no-start that failed before it joined). "" when it is a
// voter, or when the configuration cannot be read (NodeState then tries,
// and says why it could not).
func (c *Cluster) notAVoter(ctx context.Context, n *node) (why string, id uint64) {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	leader, err := c.Leader(lctx)
	if err != nil {
		return "", 0
	}
	st, err := c.Status(lctx, leader)
	if err != nil || len(st.Members) == 0 {
		return "", 0
	}
	for _, m := range st.Members {
		if m.Address == n.raftAddr() {
			if m.Role != "" && m.Role != "voter" {
				return fmt.Sprintf("a %s in the cluster's configuration, not a voter", m.Role), 0
			}
			return "", m.ID
		}
	}
	return fmt.Sprintf("not in the cluster's configuration (the leader %s lists %d members)", leader, len(st.Members)), 0
}
