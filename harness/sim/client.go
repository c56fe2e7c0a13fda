package sim

import (
	"github.com/dqtest/dqtest/history"
	"github.com/dqtest/dqtest/workloads"
)

// This file is the client side: client slots issuing their generator's
// operations, each bound to one node (its control API), and that node
// forwarding the request to the leader the way go-dqlite's driver does:
// find the leader, send, and report honestly what came back.

// client is one client slot. Its process number changes after an info
// (Jepsen's rule: a process with an unknown outcome never issues again).
type client struct {
	slot    int
	process int
	node    *node
	gen     workloads.Generator
	next    int64 // when the slot may issue its next operation
	done    bool  // the generator is exhausted
}

// request is one client operation from invocation to completion.
type request struct {
	prog     program
	process  int
	origin   *node // the node the client is bound to
	deadline int64
	cur      *attempt // the attempt in flight, if any
	unknown  bool     // an earlier attempt may have taken effect
	retries  int      // duplicate-write bug: blind retries so far
	waiting  bool     // in origin.waiting, looking for a leader
	armed    bool     // the origin's deadline timer is set
	done     bool     // the origin has answered or given up
	recorded bool     // the completion is in the history
	then     func(history.Type)
}

// maxRetries bounds the duplicate-write bug's blind retries, as
// database/sql retries a bad connection twice.
const maxRetries = 2

// invoke records op's invocation by process through node x and starts it.
// then runs once the completion is recorded.
func (c *cluster) invoke(process int, x *node, op workloads.Op, then func(history.Type)) {
	c.record(history.Event{Process: history.Process(process), Type: history.Invoke, F: op.F, Key: op.Key, Value: op.Value, Node: x.name})
	c.stats.Ops++
	prog, err := parse(c.workload, len(c.balances), op)
	if err != nil {
		// Malformed: refused before anything was sent.
		c.record(history.Event{Process: history.Process(process), Type: history.Fail, F: op.F, Key: op.Key, Value: op.Value, Node: x.name, Error: err.Error()})
		c.stats.Fail++
		// The client goes on after a client hop, so that even a stream of
		// malformed operations lets virtual time advance.
		c.sched.after(c.clientDelay(), func() { then(history.Fail) })
		return
	}
	r := &request{prog: prog, process: process, origin: x, deadline: c.sched.now + c.opTimeout, then: then}
	c.inFlight++
	proc := x.proc
	c.sched.after(c.clientDelay(), func() { c.arrive(x, proc, r) })
	c.addDeadline(r)
}

// addDeadline queues r's client deadline. Every deadline is its invocation
// time plus the same timeout, so they come due in the order queued: one
// queue and one pending event serve them all, which keeps thousands of
// far-off timers out of the scheduler.
func (c *cluster) addDeadline(r *request) {
	c.deadlines = append(c.deadlines, r)
	if len(c.deadlines) == 1 {
		c.sched.at(r.deadline, c.expireDeadlines)
	}
}

func (c *cluster) expireDeadlines() {
	i := 0
	for ; i < len(c.deadlines) && c.deadlines[i].deadline <= c.sched.now; i++ {
		if r := c.deadlines[i]; !r.recorded {
			r.done = true
			c.complete(r, outcome{kind: outUnknown, err: "timeout: no answer before the deadline"})
		}
	}
	clear(c.deadlines[:i])
	c.deadlines = c.deadlines[i:]
	if len(c.deadlines) > 0 {
		c.sched.at(c.deadlines[0].deadline, c.expireDeadlines)
	}
}

// arrive is the request reaching its node's control API.
func (c *cluster) arrive(x *node, proc uint64, r *request) {
	switch {
	case !x.up && x.proc == proc:
		c.finish(r, outcome{kind: outFail, err: "connection refused: the node's process is not running"})
		return
	case x.proc != proc:
		return // the connection died with the process: the client times out
	case x.paused:
		x.deferred = append(x.deferred, func() { c.arrive(x, proc, r) })
		return
	case !x.running:
		c.finish(r, outcome{kind: outFail, err: "not_running: the node is stopped"})
		return
	}
	if len(x.active) == cap(x.active) {
		x.active = compact(x.active)
	}
	x.active = append(x.active, r)
	c.route(x, r)
}

func compact(rs []*request) []*request {
	live := rs[:0]
	for _, r := range rs {
		if !r.done {
			live = append(live, r)
		}
	}
	clear(rs[len(live):])
	return live
}

// route sends r from its origin x to the leader, executes it at x if x
// leads, or parks it until a leader can be found.
func (c *cluster) route(x *node, r *request) {
	if r.done {
		return
	}
	if c.bug == BugStaleRead && r.prog.readOnly && x.deposed && x.role != leader {
		c.finish(r, outcome{kind: outOK, value: c.read(x, &r.prog)})
		return
	}
	l := c.findLeader(x)
	switch {
	case l == nil:
		c.wait(x, r)
	case l == x:
		a := &attempt{req: r}
		r.cur = a
		c.leaderReceive(x, a)
	default:
		a := &attempt{req: r, at: l}
		r.cur = a
		c.send(x, l, func() { c.leaderReceive(l, a) })
	}
}

// findLeader is the leader x's driver connects to, as go-dqlite finds it:
// x itself if it leads, else the leader x knows of if x can reach it, else
// the first reachable node that says it leads (the driver asks the nodes it
// knows). Nil when there is none: a node cut off from every leader.
func (c *cluster) findLeader(x *node) *node {
	if x.role == leader {
		return x
	}
	if x.leader >= 0 && x.leader != x.id {
		if l := c.nodes[x.leader]; c.canReach(x, l) {
			return l
		}
	}
	for _, p := range c.nodes {
		if p != x && p.role == leader && !p.paused && c.canReach(x, p) {
			return p
		}
	}
	return nil
}

// canReach reports whether x can open a connection to l and send to it.
// A paused l is reachable: its kernel accepts, its process never answers.
func (c *cluster) canReach(x, l *node) bool {
	return l.up && l.running && !c.cut[x.id][l.id] && !c.cut[l.id][x.id]
}

// wait parks r at x until x learns of a leader, retrying leader discovery
// every retryInterval (go-dqlite's driver does the same until its
// deadline). At the deadline, a request that never reached a leader is a
// definite not_leader failure; one that may have is unknown.
func (c *cluster) wait(x *node, r *request) {
	r.cur = nil
	r.waiting = true
	x.waiting = append(x.waiting, r)
	if !x.retryArmed {
		x.retryArmed = true
		c.procAfter(x, retryInterval, func() {
			x.retryArmed = false
			c.routeWaiting(x)
		})
	}
	if !r.armed {
		r.armed = true
		c.procAfter(x, r.deadline-c.sched.now-millisecond, func() {
			if r.done || !r.waiting {
				return
			}
			if r.unknown {
				c.finish(r, outcome{kind: outUnknown, err: "indeterminate: deadline hit after the request was sent"})
			} else {
				c.finish(r, outcome{kind: outFail, err: "not_leader: no leader could be reached before the deadline, nothing was sent"})
			}
		})
	}
}

func (c *cluster) routeWaiting(x *node) {
	if len(x.waiting) == 0 || !x.running || x.paused {
		return
	}
	waiting := x.waiting
	x.waiting = nil
	for _, r := range waiting {
		if r.waiting && !r.done {
			r.waiting = false
			c.route(x, r)
		}
	}
}

// originResult is the leader's answer reaching the request's origin x.
func (c *cluster) originResult(x *node, a *attempt, out outcome) {
	r := a.req
	if r.done || r.cur != a {
		return
	}
	r.cur = nil
	switch out.kind {
	case outOK, outFail:
		c.finish(r, out)
	case outNotLeader:
		// Nothing happened there: look for the leader again.
		if out.hint >= 0 && x.role != leader {
			c.setLeader(x, out.hint)
		}
		c.wait(x, r)
	case outUnknown:
		r.unknown = true
		if c.bug == BugDuplicateWrite && !r.prog.readOnly && r.retries < maxRetries {
			r.retries++
			c.wait(x, r)
			return
		}
		c.finish(r, out)
	}
}

// lostConnections fails, at their origins, the forwarded requests whose
// connection to the leader a fault has just cut: with REJECT rules or a dead
// peer the driver learns at once, and cannot know whether its request ran.
func (c *cluster) lostConnections() {
	for _, x := range c.nodes {
		for _, r := range x.active {
			if a := r.cur; a != nil && !r.done && a.at != nil && a.at != x && !c.canReach(x, a.at) {
				c.originResult(x, a, outcome{kind: outUnknown, err: "indeterminate: connection to the leader lost"})
			}
		}
	}
}

// dropRequests answers every request bound to x when x's process dies or
// its dqlite stops: the client cannot know what became of them.
func (c *cluster) dropRequests(x *node, why string) {
	for _, r := range x.active {
		if !r.done {
			c.finish(r, outcome{kind: outUnknown, err: why})
		}
	}
	x.active = x.active[:0]
	x.waiting = nil
}

// finish is the origin answering the client; the answer takes a client hop.
func (c *cluster) finish(r *request, out outcome) {
	r.done = true
	r.cur = nil
	r.waiting = false
	c.sched.after(c.clientDelay(), func() { c.complete(r, out) })
}

// complete records r's completion.
func (c *cluster) complete(r *request, out outcome) {
	if r.recorded {
		return
	}
	r.recorded = true
	c.inFlight--
	e := history.Event{Process: history.Process(r.process), F: r.prog.op.F, Key: r.prog.op.Key, Value: r.prog.op.Value, Node: r.origin.name, Error: out.err}
	switch out.kind {
	case outOK:
		e.Type, e.Value, e.Error = history.OK, out.value, ""
		c.stats.OK++
	case outFail, outNotLeader:
		e.Type = history.Fail
		c.stats.Fail++
	default:
		e.Type = history.Info
		c.stats.Info++
	}
	c.record(e)
	r.then(e.Type)
}

// gap is the pause before a slot's next operation, as the harness paces
// slots (Jepsen's stagger): uniform in [0, 2*interval), so operations of
// different slots overlap at random.
func (c *cluster) gap() int64 {
	if c.interval <= 0 {
		return 0
	}
	return c.rng.Int64N(2 * c.interval)
}

// nextOp runs client slot cl's next operation. Slots are paced as the
// harness paces them: a random gap averaging one interval (Concurrency/Rate)
// between operations, and a slot that fell behind does not burst to catch up.
func (c *cluster) nextOp(cl *client) {
	if c.sched.now >= c.end || cl.done {
		return
	}
	op, ok := cl.gen.Next()
	if !ok {
		cl.done = true
		return
	}
	cl.next = max(cl.next+c.gap(), c.sched.now)
	c.invoke(cl.process, cl.node, op, func(t history.Type) {
		if t == history.Info {
			cl.process += len(c.clients)
		}
		c.sched.at(cl.next, func() { c.nextOp(cl) })
	})
}
