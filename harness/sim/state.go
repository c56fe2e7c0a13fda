package sim

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/dqtest/dqtest/converge"
	"github.com/dqtest/dqtest/workloads"
)

// The replicas' end states, for the convergence check (package converge).
// The docker backend reads a node's own copy by moving leadership to it,
// which first brings its log and database up to the leader's commit index;
// the simulator does the same without the transfer: settle lets every live
// voter catch up, then each node's state is its own store, rendered with
// the workload's state queries' tables and columns.

// settleTimeout bounds settle, in virtual time.
const settleTimeout = 10 * second

// settle runs the cluster until every live voter has applied the leader's
// commit index, or settleTimeout passes (the laggards then read as
// unreadable, as a node leadership cannot move to does on Docker). No
// client runs any more: it records no history.
func (c *cluster) settle() {
	c.runUntil(func() bool {
		l := c.leaderNode()
		if l == nil {
			return false
		}
		for _, n := range c.nodes {
			if c.readable(n, l) == "" && n.applied < l.commit {
				return false
			}
		}
		return true
	}, c.sched.now+settleTimeout)
}

func (c *cluster) leaderNode() *node {
	name, err := c.Leader(c.ctx)
	if err != nil {
		return nil
	}
	return c.byName[name]
}

// readable says why n's own copy cannot be read with l leading, or "".
func (c *cluster) readable(n, l *node) string {
	switch {
	case !n.up:
		return "the node's process is not running"
	case !n.running:
		return "dqlite is stopped on the node"
	case n.paused:
		return "the node is paused"
	case l == nil:
		return "the cluster has no leader to bring the node's copy up to date"
	case !l.isVoter(n.id):
		return "the node is not a voter: leadership cannot move to it"
	}
	return ""
}

// nodeStates are every node's state, in node order, or nil when the
// workload has no state queries.
func (c *cluster) nodeStates() []converge.State {
	queries := workloads.StateQueries(c.cfg.Workload)
	if len(queries) == 0 {
		return nil
	}
	l := c.leaderNode()
	states := make([]converge.State, len(c.nodes))
	for i, n := range c.nodes {
		states[i] = c.nodeState(n, l, queries)
	}
	return states
}

func (c *cluster) nodeState(n, l *node, queries []workloads.StateQuery) converge.State {
	if n.up && n.running && !n.paused && l != nil && !l.isVoter(n.id) {
		// No replica of its own to compare (removed, or never joined), as
		// the docker backend says of a node its configuration does not
		// list as a voter.
		return converge.State{Node: n.name, Skip: "not a voter in the cluster's configuration"}
	}
	if why := c.readable(n, l); why != "" {
		return converge.State{Node: n.name, Err: why}
	}
	if n.applied < l.commit {
		return converge.State{Node: n.name, Err: fmt.Sprintf("the node applied %d of the leader's %d committed entries within %v of the final reads", n.applied, l.commit, time.Duration(settleTimeout))}
	}
	tables := make(map[string][]string, len(queries))
	for _, q := range queries {
		rows, err := n.db.rows(q)
		if err != nil {
			return converge.State{Node: n.name, Err: err.Error()}
		}
		tables[q.Table] = rows
	}
	return converge.State{Node: n.name, Tables: tables}
}

// rows renders the table q reads as converge.Row renders the rows SQL
// returns: q's columns, in q's order; sorted.
func (s *store) rows(q workloads.StateQuery) ([]string, error) {
	var cols []map[string]any
	switch q.Table {
	case "registers":
		keys := make([]string, 0, len(s.regs))
		for k := range s.regs {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			cols = append(cols, map[string]any{"k": k, "v": s.regs[k]})
		}
	case "accounts":
		for id, b := range s.balances {
			cols = append(cols, map[string]any{"id": int64(id), "balance": b})
		}
	case "sets":
		for _, v := range s.set {
			cols = append(cols, map[string]any{"v": v})
		}
	case "appends":
		for i, r := range s.appends {
			cols = append(cols, map[string]any{"id": int64(i + 1), "k": r.key, "v": r.v})
		}
	default:
		return nil, fmt.Errorf("the simulator has no table %q", q.Table)
	}
	out := make([]string, len(cols))
	vals := make([]any, len(q.Columns))
	for i, row := range cols {
		for j, col := range q.Columns {
			v, ok := row[col]
			if !ok {
				return nil, fmt.Errorf("the simulator's table %s has no column %q (it has %s)", q.Table, col, strconv.Quote(fmt.Sprint(mapKeys(row))))
			}
			vals[j] = v
		}
		out[i] = converge.Row(q.Columns, vals)
	}
	slices.Sort(out)
	return out, nil
}

func mapKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// States are the nodes' end states in node order, for converge.Compare, or
// nil when the run has none (the workload has no state queries, or the run
// failed).
func (s Summary) States() []converge.State {
	var out []converge.State
	for _, n := range s.Nodes {
		if n.State == nil {
			return nil
		}
		out = append(out, *n.State)
	}
	return out
}
